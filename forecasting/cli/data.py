"""`ehcp data` commands: argument parsing and display only; the work is done in the library."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Folder with the DfE SEN2 zips (default: data/raw or $EHCP_DATA_DIR)."),
]
NoCorrections = Annotated[
    bool,
    typer.Option("--no-corrections", help="Keep published values the plausibility rules flag."),
]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``ehcp`` app."""
    data_app = typer.Typer(
        help="Load, inspect, export and validate the DfE SEN2 data.", no_args_is_help=True
    )

    @data_app.command("show")
    def show(
        la: Annotated[str, typer.Option("--la", help="LA name (any case), ONS code or DfE code.")],
        data_dir: DataDir = None,
        first_year: Annotated[int, typer.Option("--from", help="First year shown.")] = 2015,
        no_corrections: NoCorrections = False,
    ) -> None:
        """Print an LA's headline SEN2 series: measures as rows, years as columns."""
        from forecasting.data import find_la, headline_table, load_panel

        panel = load_panel(data_dir, correct_known_errors=not no_corrections)
        uid = find_la(panel, la)
        name = panel.loc[panel["unique_id"] == uid, "name"].iloc[-1]
        _print_table(headline_table(panel, uid, first_year=first_year), f"{name} ({uid})")

    @data_app.command("export")
    def export(
        out: Annotated[Path, typer.Option("--out", help="Output file: .csv or .parquet.")],
        data_dir: DataDir = None,
        no_corrections: NoCorrections = False,
    ) -> None:
        """Write the whole SEN2 panel (long format) to a CSV or Parquet file."""
        from forecasting.data import load_panel
        from forecasting.data.export import write_table

        if out.suffix.lower() not in (".csv", ".parquet"):  # fail before the slow load
            write_table(__import__("pandas").DataFrame(), out)
        panel = load_panel(data_dir, correct_known_errors=not no_corrections)
        write_table(panel, out)
        print(f"wrote {len(panel)} rows to {out}")

    @data_app.command("validate")
    def validate(
        paths: Annotated[list[Path] | None, typer.Argument(help="Files to check (default: every file in the data folder).")] = None,
        data_dir: DataDir = None,
    ) -> None:
        """Check DfE zips, CSVs from them or case-level extracts; exit 2 if any is invalid."""
        from forecasting.data import default_data_dir
        from forecasting.data.sen2_validate import validate_data_dir, validate_path
        from forecasting.errors import EhcpError

        if paths:
            reports = [validate_path(p) for p in paths]
        else:
            reports = validate_data_dir(data_dir or default_data_dir())
        for report in reports:
            print(report.format())
        bad = [r for r in reports if not r.ok]
        print(f"{len(reports) - len(bad)} of {len(reports)} files valid")
        if bad:
            first = (bad[0].errors + bad[0].rejects)[0]
            raise EhcpError(f"{len(bad)} invalid file(s); first problem: {first}")

    app.add_typer(data_app, name="data")


def _print_table(table, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if Console().is_terminal else 200)
    flags: dict = table.attrs.get("flags", {})
    out = Table(title=title, title_justify="left")
    out.add_column("measure")
    for year in table.columns:
        out.add_column(str(year), justify="right")
    notes: list[str] = []
    for measure, row in table.iterrows():
        cells = []
        for year, value in row.items():
            flag = flags.get((measure, int(year)), "")
            cells.append(_cell(value, flag, notes, f"{measure} {year}"))
        out.add_row(str(measure), *cells)
    console.print(out)
    console.print(
        "x = not available, z = not applicable, c = suppressed; blank = not published. "
        "Flows are calendar years; stock_plans is the January count. "
        "Person-level SEN2 starts with calendar 2022 (January 2023 stock): break in series."
    )
    for i, note in enumerate(notes, start=1):
        console.print(f"[{i}] {note}", highlight=False)


def _cell(value: float, flag: str, notes: list[str], where: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        code = flag.split(":", 1)[0] if flag else ""
        return code if code in ("x", "z", "c") else ""
    percent = where.startswith("pct_") or "_rate" in where
    text = f"{value:.1f}" if percent else f"{value:,.0f}"
    shown = [f for f in flag.split(";") if f and f != "break_in_series"]
    if shown:
        notes.append(f"{where}: {'; '.join(shown)}")
        text += f" [{len(notes)}]"
    return text
