"""`ehcp forecast` and `ehcp backtest`: argument parsing and display only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Folder with the DfE SEN2 zips (default: data/raw or $EHCP_DATA_DIR)."),
]
Measure = Annotated[
    str, typer.Option("--measure", help="requests, new_plans or stock (January stock of plans).")
]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``ehcp`` app."""

    @app.command("forecast")
    def forecast_cmd(
        la: Annotated[str, typer.Option("--la", help="LA name (any case), ONS code or DfE code.")],
        measure: Measure = "requests",
        h: Annotated[int, typer.Option("--h", help="Years ahead.")] = 5,
        model: Annotated[str, typer.Option("--model", help="auto, or a model name (see ehcp forecast --help).")] = "auto",
        out: Annotated[Path | None, typer.Option("--out", help="Folder for the forecast CSV and fan chart PNG.")] = None,
        data_dir: DataDir = None,
    ) -> None:
        """Forecast one LA's measure with 80/95% intervals; writes a fan chart PNG.

        Every LA is fitted together (the global and auto models borrow strength from the
        national trend); the table shows the chosen LA.
        """
        from forecasting.forecast import la_forecast

        result = la_forecast(la, measure, h=h, model=model, data_dir=data_dir, out=out)
        _print(result.table, result.title)
        for path in result.files:
            print(f"wrote {path}")

    @app.command("backtest")
    def backtest_cmd(
        measure: Measure = "requests",
        la: Annotated[str | None, typer.Option("--la", help="Score this LA only (models still fitted on all).")] = None,
        models: Annotated[str | None, typer.Option("--models", help="Comma-separated model names (default: baselines, global, auto).")] = None,
        h: Annotated[int, typer.Option("--h", help="Horizons scored.")] = 3,
        windows: Annotated[int, typer.Option("--windows", help="Rolling origins (the latest ones).")] = 3,
        out: Annotated[Path | None, typer.Option("--out", help="Folder for the leaderboard CSV and plot.")] = None,
        data_dir: DataDir = None,
    ) -> None:
        """Rolling-origin backtest: print MASE, RMSSE, sMAPE, coverage and CRPS by model."""
        from forecasting.backtest import run_backtest

        names = None if models is None else [m.strip() for m in models.split(",") if m.strip()]
        result = run_backtest(measure, la=la, models=names, h=h, n_windows=windows,
                              data_dir=data_dir, out=out)
        _print(result.table, result.title)
        for path in result.files:
            print(f"wrote {path}")


def _print(table, title: str) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    print(title)
    with pd.option_context("display.width", 160, "display.max_columns", 30,
                           "display.float_format", "{:,.2f}".format):
        print(table.to_string(index=False))
