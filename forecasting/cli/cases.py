"""`ehcp cases` commands for case-level extracts: argument parsing only."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

cases_app = typer.Typer(
    name="cases",
    help="Case-level extracts (one row per request): synthetic data, checks and summaries.",
    no_args_is_help=True,
)


@cases_app.command("synth")
def synth(
    la: Annotated[str, typer.Option("--la", help="Local authority name, ONS or DfE code.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the extract into.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same file).")] = 0,
    start: Annotated[str | None, typer.Option("--start", help="First day, YYYY-MM-DD "
                                              "(default: 1 Jan of the latest SEN2 year).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last day, YYYY-MM-DD "
                                            "(default: 31 Dec of the latest SEN2 year).")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Folder with the DfE "
                                                  "SEN2 zips (default: data/raw).")] = None,
) -> None:
    """Write a SYNTHETIC case-level extract calibrated to an LA's SEN2 totals."""
    from forecasting.data.caselevel_derived import timeliness_by_year
    from forecasting.data.synthetic import synthesise_la

    path, cal, df = synthesise_la(la, out, seed=seed, start=start, end=end, data_dir=data_dir)
    print(f"wrote {path} ({len(df)} SYNTHETIC requests) and {path.stem}.meta.json")
    over = "" if cal.pct_over_1yr is None else f", {cal.pct_over_1yr:.1f}% over a year"
    print(f"calibrated to {cal.source}: refusal rate {cal.refusal_rate:.1%}, not issued "
          f"{cal.not_issued_rate:.1%}, {cal.pct_within_20wk:.1f}% of plans within 20 weeks"
          f"{over}")
    print("simulated plans issued by year (excluding exceptions; calibration is per request "
          "cohort, so a year of rising requests shows a higher share within 20 weeks):")
    print(timeliness_by_year(df).to_string(index=False))


@cases_app.command("summary")
def summary(
    path: Annotated[Path, typer.Argument(help="Extract file (CSV or Parquet).")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Day to count the open "
                                              "backlog on, YYYY-MM-DD (default: the synthetic "
                                              "sidecar's end, else the latest date in the "
                                              "file).")] = None,
    today: Annotated[str | None, typer.Option("--today", help="No date may be after this "
                                              "day, YYYY-MM-DD (default: today).")] = None,
    keep_going: Annotated[bool, typer.Option("--keep-going", help="Load the valid rows and "
                                             "list the rejected ones instead of stopping.")]
    = False,
    months: Annotated[int, typer.Option("--months", min=1, help="Latest months to list.")] = 12,
) -> None:
    """Print monthly counts, timeliness by year and today's backlog by weeks late."""
    from forecasting.data.caselevel import load_extract
    from forecasting.data.caselevel_report import format_rejects, summary_text

    extract = load_extract(path, today=today, strict=not keep_going)
    if not extract.rejects.empty:
        print(format_rejects(extract.rejects), file=sys.stderr)
    print(summary_text(extract, as_of=as_of, months=months))


@cases_app.command("validate")
def validate(
    path: Annotated[Path, typer.Argument(help="Extract file (CSV or Parquet).")],
    today: Annotated[str | None, typer.Option("--today", help="No date may be after this "
                                              "day, YYYY-MM-DD (default: today).")] = None,
) -> None:
    """Check an extract against the schema and list every rejected row (exit 2 if any)."""
    from forecasting.data.caselevel import validate_extract

    report = validate_extract(path, today=today)
    print(report.format(), file=sys.stdout if report.ok else sys.stderr)
    if not report.ok:
        raise typer.Exit(code=2)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``ehcp`` app."""
    app.add_typer(cases_app, name="cases")
