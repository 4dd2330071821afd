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
            console.print(f"Calibration (CY {cal.year}, DfE SEN2): published {cal.published_pct:.1f}% "
                          f"vs simulated {cal.simulated_pct:.1f}% of new plans within 20 weeks "
                          f"(face value {cal.uncalibrated_pct:.1f}%); productivity factor "
                          f"{cal.factor:.2f}: staff get {100 * cal.factor:.0f}% as much statutory "
                          "work done per hour as the config assumes.", markup=False)
        if result.optimisation is not None:
            console.print(f"Optimiser: {result.optimisation.message}", markup=False)
        if result.phased is not None:
            console.print(f"Optimiser: {result.phased.message}", markup=False)
        for note in result.notes:
            console.print(f"Note: {note}", markup=False)
        console.print(f"Report: {result.out / 'report.html'}", markup=False)
        console.print(f"Workbook: {result.out / 'report.xlsx'}", markup=False)
