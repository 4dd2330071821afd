"""`ehcp simulate`: argument parsing and display only; the work is done in the library."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``ehcp`` app."""

    @app.command("simulate")
    def simulate(
        config: Annotated[Path, typer.Option("--config", help="Config YAML (simulation, pipeline, staff, demand sections).")],
        paths: Annotated[int | None, typer.Option("--paths", min=1, max=100_000, help="Sample paths (default: simulation.n_paths).")] = None,
        seed: Annotated[int | None, typer.Option("--seed", min=0, help="Random seed (default: simulation.seed).")] = None,
        out: Annotated[Path, typer.Option("--out", help="Output folder (replaced atomically).")] = Path("reports/simulate"),
        data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Folder with the DfE SEN2 zips, for demand.source: forecast.")] = None,
        scenario: Annotated[str, typer.Option("--scenario", help="Label written on every row.")] = "baseline",
        record_path: Annotated[int | None, typer.Option("--record-path", min=0, help="Also write per-case records of this path.")] = None,
    ) -> None:
        """Simulate EP and caseworker capacity: backlog by weeks late, % within 20 weeks, reviews."""
        from rich.console import Console
        from rich.table import Table

        from forecasting.capacity.config import load_capacity_config
        from forecasting.capacity.disputes import add_dispute_columns, with_dispute_workload
        from forecasting.capacity.ehcp_summary import write_simulation, yearly_summary
        from forecasting.capacity.simulate import demand_from_sen2, simulate_capacity
        from forecasting.errors import EhcpWarning

        cfg = load_capacity_config(config)
        n_paths = paths or cfg.simulation.n_paths
        seed_ = cfg.simulation.seed if seed is None else seed
        demand = None
        if cfg.demand.source == "forecast":
            demand = demand_from_sen2(cfg, n_paths, seed_, None if data_dir is None else str(data_dir))
        console = Console()
        console.width = max(console.width, 110)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", EhcpWarning)
            # Mediation and tribunal hours (pipeline.disputes) are set aside from staff time.
            result = simulate_capacity(with_dispute_workload(cfg, demand), demand,
                                       n_paths=n_paths, seed=seed_, scenario=scenario,
                                       record_path=record_path)
        result = replace(result, weekly=add_dispute_columns(result.weekly, cfg.pipeline))
        summary = yearly_summary(result.weekly)
        table = Table(title=f"{scenario}: {n_paths} paths, seed {seed_} (medians across paths)")
        headers = {"last": "year to", "not_yet_due": "not due", "late_0_4": "0-4",
                   "late_4_13": "4-13", "late_13_26": "13-26", "late_26_52": "26-52",
                   "late_52_plus": "52+", "pct_within_20wk": "% in 20 wk",
                   "reviews_overdue": "reviews overdue", "ep_fte_in_post": "EP FTE",
                   "caseworker_fte_in_post": "CW FTE"}
        summary["last"] = summary["period"].str.split(" to ").str[-1]
        for label in headers.values():
            table.add_column(label, justify="left" if label == "year to" else "right")
        for row in summary.to_dict("records"):
            cells = []
            for key in headers:
                value = row[key]
                if key == "last":
                    cells.append(str(value))
                elif key == "pct_within_20wk":
                    cells.append("-" if value != value else f"{value:.1f}")
                elif key.endswith("fte_in_post"):
                    cells.append(f"{value:.1f}")
                else:
                    cells.append(f"{value:,.0f}")
            table.add_row(*cells)
        console.print(table)
        console.print("Open new assessments at each year's end by weeks past the 20-week deadline; "
                      "% of plans issued within 20 weeks in the year (exceptions excluded); "
                      "annual reviews overdue at the year's end; FTE in post (year mean).")
        for w in caught:
            if issubclass(w.category, EhcpWarning):
                console.print(f"[bold yellow]warning:[/] {w.message}")
        files = write_simulation(result, out)
        console.print(f"wrote {len(files)} files to {out}: {', '.join(f.name for f in files)}")
