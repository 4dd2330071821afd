"""`ehcp run`: the main job (what `make run` calls); argument parsing only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``ehcp`` app."""

    @app.command("run")
    def run_command(
        config: Annotated[
            Path, typer.Option("--config", help="Scenario file, e.g. configs/leeds.yaml.")
        ],
        out: Annotated[
            Path | None,
            typer.Option("--out", help="Report folder (default reports/<run-id>); must not exist."),
        ] = None,
        paths: Annotated[
            int | None,
            typer.Option("--paths", help="Sample paths per scenario (default: report.n_paths)."),
        ] = None,
        data_dir: Annotated[
            Path | None,
            typer.Option("--data-dir", help="Folder of the DfE SEN2 zips (default: data/raw)."),
        ] = None,
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Replace an existing --out folder.")
        ] = False,
        progress: Annotated[
            bool, typer.Option("--progress/--no-progress", help="Show progress bars.")
        ] = True,
    ) -> None:
        """Forecast, backtest, simulate every scenario, optimise staffing and write the report."""
        from rich.console import Console
        from rich.table import Table

        from forecasting.pipeline import run_pipeline

        result = run_pipeline(
            config, out=out, paths=paths, data_dir=data_dir, overwrite=overwrite, progress=progress
        )
        console = Console()
        table = Table(title=f"Run {result.run_id} (medians across paths; FY = April-March)")
        for col in result.summary.columns:
            table.add_column(str(col), justify="left" if col == "scenario" else "right")
        for rec in result.summary.itertuples(index=False):
            table.add_row(*[f"{v:,.1f}" if isinstance(v, float) else str(v) for v in rec])
        console.print(table)
        if result.calibration is not None:
            cal = result.calibration
            pub, rep = cal.published, cal.replay
            console.print(
                f"Calibration (CY {cal.year}, DfE SEN2): productivity factors EP "
                f"{cal.factors['ep']:.2f}, caseworker {cal.factors['caseworker']:.2f}"
                f"{'' if cal.converged else ' (not converged)'}; replay vs published: new "
                f"plans {rep['plans_issued']:,.0f} vs {pub['plans_issued']:,.0f}, requests "
                f"decided {rep['requests_decided']:,.0f} vs {pub['requests_decided']:,.0f}, "
                f"annual review decisions {rep['reviews_decided']:,.0f} vs "
                f"{pub['reviews_decided']:,.0f}, % of new plans within 20 weeks "
                f"{rep['pct_within_20wk']:.1f}% vs {pub['pct_within_20wk']:.1f}%.", markup=False)
        if result.optimisation is not None:
            console.print(f"Optimiser: {result.optimisation.message}", markup=False)
        if result.phased is not None:
            console.print(f"Optimiser: {result.phased.message}", markup=False)
        for note in result.notes:
            console.print(f"Note: {note}", markup=False)
        console.print(f"Report: {result.out / 'report.html'}", markup=False)
        console.print(f"Workbook: {result.out / 'report.xlsx'}", markup=False)
