"""`ehcp batch` and `ehcp history`: argument parsing and display only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DEFAULT_CONFIG = Path("configs/batch.yaml")


def register(app: typer.Typer) -> None:
    """Add ``batch`` and ``history`` to the ``ehcp`` app."""

    @app.command("batch")
    def batch(
        config: Annotated[Path | None, typer.Option(
            "--config", help="Batch settings (default: configs/batch.yaml if present).")] = None,
        la: Annotated[list[str] | None, typer.Option(
            "--la", help="LA name or code; repeat for several.")] = None,
        all_las: Annotated[bool, typer.Option("--all", help="Every LA in the data.")] = False,
        workers: Annotated[int | None, typer.Option(
            "--workers", min=1, help="Local worker processes (default: all cores).")] = None,
        scheduler: Annotated[str | None, typer.Option(
            "--scheduler", help="Dask scheduler address, tcp://HOST:PORT.")] = None,
        store: Annotated[Path | None, typer.Option(
            "--store", help="Run store file (default: data/ehcp_runs.duckdb).")] = None,
        quarter: Annotated[str | None, typer.Option(
            "--quarter", help="Vintage label, e.g. 2026Q4 (default: this quarter).")] = None,
        resume: Annotated[str | None, typer.Option(
            "--resume", help="Continue this run id (skips its committed LAs).")] = None,
        data_dir: Annotated[Path | None, typer.Option(
            "--data-dir", help="Folder with the DfE SEN2 zips.")] = None,
        paths: Annotated[int | None, typer.Option(
            "--paths", min=1, help="Sample paths per capacity scenario.")] = None,
        history_end: Annotated[int | None, typer.Option(
            "--history-end", help="Use data up to this year only (backfill an earlier "
            "vintage, e.g. to see how it did with `ehcp history`).")] = None,
        no_progress: Annotated[bool, typer.Option(
            "--no-progress", help="No progress bar (for logs).")] = False,
    ) -> None:
        """Forecast, backtest and simulate every scenario for many LAs; keep each vintage.

        Rerunning with the same quarter, data and settings resumes an interrupted run. Exits 1
        if any LA failed (each failure is listed with its reason; the others still finish).
        """
        from forecasting.batch_config import load_batch_config
        from forecasting.batch_main import quarterly_batch

        path = config if config is not None else (
            DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
        cfg = load_batch_config(path, quarter=quarter, workers=workers,
                                store=None if store is None else str(store),
                                data_dir=None if data_dir is None else str(data_dir),
                                history_end=history_end)
        if paths is not None:
            cfg = cfg.model_copy(update={"scenarios": cfg.scenarios.model_copy(
                update={"n_paths": paths})})
        outcome = quarterly_batch(cfg, las=la or (), all_las=all_las, resume=resume,
                                  scheduler=scheduler, progress=not no_progress)
        rep = outcome.report
        for note in outcome.notes:
            print(f"note: {note}")
        verb = "resumed" if rep.resumed else "ran"
        print(f"{verb} run {rep.run_id} ({outcome.quarter}): {rep.status}; "
              f"{len(rep.done)} done, {len(rep.skipped)} already done, {len(rep.failed)} failed "
              f"in {rep.seconds:.1f} s")
        for key, reason in sorted(rep.failed.items()):
            print(f"  failed {key}: {reason}")
        ranking = outcome.summary.get("la_ranking")
        if ranking is not None and len(ranking):
            cols = [c for c in ("la_name", "backlog_growth", "pct_within_20wk_last_year",
                                "requests_growth_pct", "pct_within_20wk_latest",
                                "rank_backlog_growth", "rank_timeliness") if c in ranking]
            print(f"LAs ranked by {ranking['ranked_by'].iloc[0]} (top 10):")
            print(ranking[cols].head(10).round(1).to_string(index=False))
        england = outcome.summary.get("england_capacity")
        if england is not None and len(england):
            e = england.iloc[0]
            print(f"England, scenario {e['scenario']} summed over {e['n_las']} LAs: backlog "
                  f"{e['backlog_start']:,.0f} -> {e['backlog_end']:,.0f}; "
                  f"{e['las_backlog_growing']} LAs' backlogs grow; the median LA issues "
                  f"{e['pct_within_20wk_median_la']:.1f}% of plans within 20 weeks in the "
                  "last simulated year")
        print(f"outputs: {outcome.out_dir.parent if outcome.out_dir else '-'}; "
              f"store: {cfg.store}")
        if rep.failed:
            raise typer.Exit(1)

    @app.command("history")
    def history(
        la: Annotated[str | None, typer.Option("--la", help="LA name or code.")] = None,
        measure: Annotated[str | None, typer.Option(
            "--measure", help="e.g. requests, plans, new_plans or a SEN2 measure name.")] = None,
        store: Annotated[Path, typer.Option("--store", help="Run store file.")] = Path(
            "data/ehcp_runs.duckdb"),
        data_dir: Annotated[Path | None, typer.Option(
            "--data-dir", help="Folder with the DfE SEN2 zips (the actuals).")] = None,
        runs: Annotated[bool, typer.Option("--runs", help="List the stored runs.")] = False,
        pending: Annotated[bool, typer.Option(
            "--pending", help="Also list forecasts whose actual has not arrived.")] = False,
    ) -> None:
        """How each earlier vintage's forecasts compare with the actuals that came later."""
        from forecasting.batch_config import MEASURE_ALIASES
        from forecasting.batch_main import headline_actuals
        from forecasting.data import find_la, load_panel
        from forecasting.errors import EhcpError
        from forecasting.store import RunStore
        from forecasting.store_history import forecast_history, history_summary

        with RunStore(store, read_only=True) as st:
            if runs:
                cols = ["run_id", "quarter", "status", "n_las", "started", "seconds",
                        "code_version", "data_checksum"]
                table = st.runs()[cols]
                table["data_checksum"] = table["data_checksum"].str[:12]
                print(table.to_string(index=False))
                return
            if la is None:
                raise EhcpError("say which LA", field="--la", fix="e.g. --la Leeds, or --runs")
            panel = load_panel(data_dir)
            code = find_la(panel, la)
            name = None if measure is None else MEASURE_ALIASES.get(measure, measure)
            if name is not None and name not in set(panel["measure"]):
                raise EhcpError(f"unknown measure {measure!r}", field="--measure",
                                fix="use requests, plans, new_plans or a SEN2 measure name "
                                    "such as requests_received")
            hist = forecast_history(st, headline_actuals(panel), la=code, measure=name,
                                    include_pending=pending)
        if hist.empty:
            print(f"no stored forecast of {la} ({code}) has an actual yet; "
                  "run `ehcp history --runs` to see the vintages, or add --pending")
            return
        show = hist.assign(vintage=hist["vintage"].dt.strftime("%Y-%m-%d"))
        cols = ["quarter", "vintage", "measure", "ds", "yhat", "lo_80", "hi_80", "actual",
                "error", "pct_error", "inside_80"]
        print(f"{la} ({code}): stored forecasts against SEN2 actuals")
        print(show[cols].round(1).to_string(index=False))
        summ = history_summary(hist)
        if len(summ):
            print("\nby vintage: mean absolute % error and share inside the 80% interval")
            print(summ.round(1).to_string(index=False))
