"""The quarterly batch end to end: data -> per-LA tasks -> run store -> national summary.

This is what ``ehcp batch`` calls. It loads the SEN2 panel, checksums the data release, builds
one input per LA, runs :func:`forecasting.batch_la.la_task` for each (locally or on a Dask
cluster), keeps every result in the run store, and writes the national summary under
``<out_dir>/<run_id>/national/``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from forecasting.batch import BatchReport, checksum_files, run_batch
from forecasting.batch_config import BatchConfig, current_quarter, result_settings
from forecasting.errors import EhcpError
from forecasting.store import LaResult, RunStore

__all__ = ["BatchOutcome", "headline_actuals", "quarterly_batch"]


@dataclass
class BatchOutcome:
    """A finished (or partly failed) batch: the report, the summary and where files went."""

    report: BatchReport
    quarter: str
    summary: dict[str, pd.DataFrame] = field(default_factory=dict)
    out_dir: Path | None = None
    notes: list[str] = field(default_factory=list)


def headline_actuals(panel: pd.DataFrame) -> pd.DataFrame:
    """The panel's headline rows as ``unique_id, measure, ds, y`` (the actuals to compare).

    Examples
    --------
    >>> p = pd.DataFrame({"unique_id": "E1", "measure": "new_plans", "breakdown": ["all", "age:0-4"],
    ...                   "ds": 2024, "y": [5.0, 1.0]})
    >>> headline_actuals(p).values.tolist()
    [['E1', 'new_plans', 2024, 5.0]]
    """
    rows = panel[panel["breakdown"] == "all"]
    return rows[["unique_id", "measure", "ds", "y"]].reset_index(drop=True)


def quarterly_batch(
    cfg: BatchConfig,
    *,
    las: Sequence[str] = (),
    all_las: bool = False,
    resume: str | None = None,
    scheduler: Any = None,
    progress: bool = False,
    on_result: Callable[[LaResult], None] | None = None,
) -> BatchOutcome:
    """Run the batch for ``las`` (names or codes) or every LA, and summarise it.

    Parameters
    ----------
    cfg : BatchConfig
        Settings (``configs/batch.yaml`` plus command-line overrides).
    las : sequence of str
        LA names (any case), ONS or DfE codes.
    all_las : bool
        Every LA in the panel (``las`` must then be empty).
    resume : str, optional
        A run id to continue.
    scheduler : str or distributed.Client, optional
        A Dask scheduler address (``tcp://HOST:PORT``) or client; default runs on
        ``cfg.workers`` local processes.
    progress : bool
        Show a progress bar with an ETA.
    on_result : callable, optional
        Called with each committed LA's result.
    """
    from forecasting.batch_exec import dask_client

    if bool(las) == bool(all_las):
        raise EhcpError("say which LAs to run", field="--la",
                        fix="give --la NAME (repeatable) or --all, not both")
    # A wrong scheduler address is reported before the data is read and before any run starts.
    with dask_client(scheduler) as client:
        return _quarterly_batch(cfg, las, all_las, resume, client, progress, on_result)


def _quarterly_batch(
    cfg: BatchConfig,
    las: Sequence[str],
    all_las: bool,
    resume: str | None,
    scheduler: Any,
    progress: bool,
    on_result: Callable[[LaResult], None] | None,
) -> BatchOutcome:
    from forecasting.batch_la import make_inputs, scenario_file_text
    from forecasting.batch_summary import national_summary, write_national_summary
    from forecasting.data import find_la, load_panel
    from forecasting.data.sen2_panel import discover_zips

    data_dir = Path(cfg.data_dir)
    zips = discover_zips(data_dir)
    panel = load_panel(data_dir)
    codes = [find_la(panel, name) for name in las] if las else None
    notes = []
    text = scenario_file_text(cfg.scenarios.file)
    if text is None:
        notes.append("no scenario file configured (scenarios.file): capacity scenarios skipped")
    else:
        from forecasting.batch_la import _scenario_set

        try:
            # Check the file here, once, so a mistake in it is one clear error, not a failure
            # in every LA's worker.
            sset = _scenario_set(text)
        except EhcpError as err:
            raise EhcpError(err.message, file=cfg.scenarios.file, row=err.row,
                            field=err.field, fix=err.fix) from None
        for name in cfg.scenarios.names or ():
            sset[name]
    inputs = make_inputs(panel, cfg, codes, scenario_yaml=text)
    if all_las:
        from forecasting.batch_la import current_las

        every = set(panel.loc[panel["level"] == "la", "unique_id"].astype(str))
        gone = sorted(every - set(current_las(panel)))
        if gone:
            notes.append(f"--all leaves out {len(gone)} LA code(s) without figures for the "
                         f"latest year (boundary changes): {', '.join(gone)}")
    quarter = cfg.quarter or current_quarter()
    workers = cfg.workers or os.cpu_count() or 1
    with RunStore(cfg.store) as store:
        report = run_batch(
            inputs, _la_task(), store, quarter=quarter, data_checksum=checksum_files(zips),
            config=result_settings(cfg), resume=resume, workers=workers, scheduler=scheduler,
            out_dir=cfg.out_dir,
            models_dir=cfg.models_dir if cfg.forecast.save_models else None,
            on_result=on_result, progress=progress,
        )
        summary = national_summary(store, report.run_id, headline_actuals(panel))
    out = write_national_summary(summary, Path(cfg.out_dir) / report.run_id)
    return BatchOutcome(report, quarter, summary, out, notes)


def _la_task() -> Callable[[Any], LaResult]:
    from forecasting.batch_la import la_task

    return la_task
