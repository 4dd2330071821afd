"""The quarterly batch: one task per LA, run in parallel, every result kept in the run store.

:func:`run_batch` takes the per-LA inputs and a task function (``LaInput -> LaResult``), runs
the tasks in this process, on local worker processes or on a Dask cluster, and writes each
result as it arrives: first the LA's files under ``<out_dir>/<run_id>/<la>/``, then its rows in
the :class:`~forecasting.store.RunStore` in one transaction. Only this (the parent) process
writes, because DuckDB allows one writer. A task that raises is recorded as failed with its
reason and does not stop the others. A run killed part-way is resumed by calling again with
``resume=run_id`` (or with the same quarter, data and config, which finds the unfinished run):
committed LAs are skipped, so no row is lost or written twice.

Every LA's seed is derived from the run seed and the LA's key, never from the order the tasks
run in, so serial, process-pool and Dask runs give identical stores.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import subprocess
import time
import traceback
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.errors import EhcpError
from forecasting.store import LaResult, RunStore

__all__ = [
    "BatchReport",
    "LaInput",
    "TaskFn",
    "call_task",
    "checksum_files",
    "code_version",
    "config_checksum",
    "la_seed",
    "run_batch",
]


@dataclass(frozen=True)
class LaInput:
    """What one LA's task needs; small enough to send to a worker process or a Dask worker.

    Attributes
    ----------
    la : str
        The LA's key (its ONS code, or the panel's ``unique_id``).
    data : DataFrame
        That LA's own slice of the panel (not the whole panel: it is pickled to the worker).
    params : mapping
        The batch settings the task reads (horizon, models, scenarios, paths...).
    seed : int
        The LA's own seed, from :func:`la_seed`.
    la_name : str, optional
        The LA's name, for people.
    level : str
        ``"la"``, ``"regional"`` or ``"national"`` (as in the panel); scenarios run for LAs
        only.
    cost : float
        A relative estimate of the task's work (any unit). Parallel runs start the costliest
        tasks first, so the run does not end with one worker busy on a big LA while the others
        sit idle; results do not depend on it.
    """

    la: str
    data: pd.DataFrame
    params: Mapping[str, Any]
    seed: int
    la_name: str | None = None
    level: str = "la"
    cost: float = 0.0


TaskFn = Callable[[LaInput], LaResult]


@dataclass
class BatchReport:
    """What a batch did: its run id, final status, and each LA's outcome."""

    run_id: str
    status: str
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    resumed: bool = False


def la_seed(base_seed: int, la: str) -> int:
    """A seed for one LA from the run's seed and the LA's key (independent of task order).

    Examples
    --------
    >>> la_seed(1, "E08000035") == la_seed(1, "E08000035") != la_seed(2, "E08000035")
    True
    """
    seq = np.random.SeedSequence([int(base_seed), zlib.crc32(la.encode("utf-8"))])
    return int(seq.generate_state(1, dtype=np.uint32)[0])


def checksum_files(paths: Iterable[str | Path]) -> str:
    """The sha256 of the files' bytes, in name order (e.g. the DfE zips of a data release).

    Examples
    --------
    >>> checksum_files([]) == hashlib.sha256().hexdigest()
    True
    """
    digest = hashlib.sha256()
    for p in sorted(Path(x) for x in paths):
        digest.update(p.name.encode("utf-8"))
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def config_checksum(config: Mapping[str, Any]) -> str:
    """The sha256 of a config's canonical JSON (key order does not matter).

    Examples
    --------
    >>> config_checksum({"a": 1, "b": 2}) == config_checksum({"b": 2, "a": 1})
    True
    """
    text = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.cache
def code_version() -> str:
    """The package version, plus the git commit (and ``.dirty``) when run from a checkout.

    Computed once per process: the code a process runs is what it imported at the start.
    """
    from forecasting import __version__

    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--",
             "forecasting"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{sha}{'.dirty' if dirty else ''}"


def call_task(task: TaskFn, inp: LaInput) -> LaResult:
    """Run one task, timing it; an exception becomes a failed :class:`LaResult` with its reason.

    Examples
    --------
    >>> def boom(inp):
    ...     raise ValueError("no data for 2024")
    >>> r = call_task(boom, LaInput("X", pd.DataFrame(), {}, seed=0))
    >>> r.ok, r.error.startswith("ValueError: no data for 2024 (at ")
    (False, True)
    """
    start = time.perf_counter()
    try:
        result = task(inp)
    except Exception as err:  # isolation: one LA's failure must not stop the batch
        last = traceback.extract_tb(err.__traceback__)[-1:] if err.__traceback__ else []
        where = f" (at {Path(last[0].filename).name}:{last[0].lineno})" if last else ""
        result = LaResult(inp.la, la_name=inp.la_name, error=f"{type(err).__name__}: {err}{where}")
    result.la_name = result.la_name or inp.la_name
    result.level = result.level or inp.level
    result.seconds = time.perf_counter() - start
    return result


def _failed(inp: LaInput, reason: str) -> LaResult:
    return LaResult(inp.la, la_name=inp.la_name, level=inp.level, error=reason)


# -- the batch ---------------------------------------------------------------------------------
def _new_run_id(store: RunStore, quarter: str) -> str:
    # A random part as well as the time: two runs started within one second stay apart.
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    taken = set(store.runs()["run_id"])
    while True:
        run_id = f"{quarter}-{stamp}-{uuid.uuid4().hex[:6]}"
        if run_id not in taken:
            return run_id


def _resolve_run(
    store: RunStore,
    *,
    quarter: str,
    data_checksum: str,
    cfg_checksum: str,
    run_id: str | None,
    resume: str | None,
) -> tuple[str, bool]:
    if resume is not None:
        row = store.run(resume)
        for key, want in (("data_checksum", data_checksum), ("config_checksum", cfg_checksum)):
            if row[key] != want:
                what = "data release" if key == "data_checksum" else "config"
                raise EhcpError(
                    f"run {resume} was made with a different {what}; resuming would mix two "
                    "vintages in one run",
                    field="--resume",
                    fix=f"restore the {what} that run used, or start a new run without --resume",
                )
        if row["quarter"] != quarter:
            raise EhcpError(
                f"run {resume} is for quarter {row['quarter']}, not {quarter}",
                field="--quarter", fix=f"pass --quarter {row['quarter']} or leave it out",
            )
        return resume, True
    if run_id is None:
        found = store.find_unfinished(
            quarter=quarter, data_checksum=data_checksum, config_checksum=cfg_checksum
        )
        if found is not None:
            return found, True
        return _new_run_id(store, quarter), False
    if (store.runs()["run_id"] == run_id).any():
        # An existing id continues that run, under the same checks as --resume.
        return _resolve_run(store, quarter=quarter, data_checksum=data_checksum,
                            cfg_checksum=cfg_checksum, run_id=None, resume=run_id)
    return run_id, False


def run_batch(
    inputs: Sequence[LaInput],
    task: TaskFn,
    store: RunStore,
    *,
    quarter: str,
    data_checksum: str,
    config: Mapping[str, Any],
    run_id: str | None = None,
    resume: str | None = None,
    workers: int = 1,
    scheduler: Any = None,
    out_dir: str | Path | None = None,
    models_dir: str | Path | None = None,
    on_result: Callable[[LaResult], None] | None = None,
    progress: bool = False,
) -> BatchReport:
    """Run ``task`` for every LA in ``inputs`` and keep every result in ``store``.

    Parameters
    ----------
    inputs : sequence of LaInput
        One per LA (see :func:`forecasting.batch_tasks.make_inputs`).
    task : callable
        ``LaInput -> LaResult``; a module-level function (it is pickled to workers).
    store : RunStore
        Where runs, tasks and results are written (by this process only).
    quarter : str
        The vintage label, e.g. ``"2026Q4"``.
    data_checksum : str
        sha256 of the data release (:func:`checksum_files` of the zips).
    config : mapping
        The batch settings, stored with the run; its checksum identifies the run for resuming.
    run_id : str, optional
        Use this id (a new run, or continue it if it exists); default: resume the unfinished
        run of this quarter, data and config, else a new id ``<quarter>-<UTC time>-<random>``.
    resume : str, optional
        Continue this run: its committed LAs are skipped, failed ones are tried again.
    workers : int
        Local worker processes; 1 runs the tasks in this process.
    scheduler : str or distributed.Client, optional
        A Dask scheduler address (``tcp://HOST:PORT``) or client; overrides ``workers``.
    out_dir : str or Path, optional
        Per-LA files go to ``<out_dir>/<run_id>/<la>/`` before the LA is committed.
    models_dir : str or Path, optional
        Fitted models a task returns (``extras["models"]``, see :mod:`forecasting.persist`)
        go to ``<models_dir>/<run_id>/<la>/<measure>.json`` (+ ``.npz``).
    on_result : callable, optional
        Called with each result after it is committed (e.g. to log progress).
    progress : bool
        Show a progress bar with an ETA (rich).

    Returns
    -------
    BatchReport

    Examples
    --------
    >>> from forecasting.batch_tasks import synthetic_task
    >>> inputs = [LaInput(la, pd.DataFrame(), {"h": 2}, la_seed(1, la)) for la in ("A", "B")]
    >>> with RunStore(":memory:") as store:
    ...     rep = run_batch(inputs, synthetic_task, store, quarter="2026Q4", data_checksum="d",
    ...                     config={"h": 2}, run_id="r1")
    ...     rep.status, rep.done, len(store.table("forecasts"))
    ('finished', ['A', 'B'], 8)
    """
    # Imported here: the executors import this module's task wrapper.
    from forecasting.batch_exec import Progress, dask_client, results

    keys = [inp.la for inp in inputs]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})
        raise EhcpError(f"LA(s) listed more than once: {', '.join(dup)}", field="--la",
                        fix="list each LA once")
    # Connect before the run is recorded: a wrong address must not leave a run behind.
    with dask_client(scheduler) as client:
        cfg_sum = config_checksum(config)
        rid, resumed = _resolve_run(store, quarter=quarter, data_checksum=data_checksum,
                                    cfg_checksum=cfg_sum, run_id=run_id, resume=resume)
        start = time.perf_counter()
        done_before = store.done_las(rid) if resumed else set()
        n_total = len(inputs)
        store.start_run(rid, quarter=quarter, data_checksum=data_checksum, config_checksum=cfg_sum,
                        code_version=code_version(), n_las=n_total,
                        config_json=json.dumps(config, sort_keys=True, default=str))
        todo = [inp for inp in inputs if inp.la not in done_before]
        report = BatchReport(run_id=rid, status="running", resumed=resumed,
                             skipped=[inp.la for inp in inputs if inp.la in done_before])
        la_dir = None if out_dir is None else Path(out_dir) / rid
        model_dir = None if models_dir is None else Path(models_dir) / rid
        bar = Progress(progress, total=n_total, completed=n_total - len(todo), run_id=rid)
        try:
            with bar:
                for inp, result in results(task, todo, workers, client):
                    began = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(
                        seconds=result.seconds)
                    if result.ok:
                        try:
                            write_la_files(result, la_dir, model_dir)
                        except OSError as err:
                            result = _failed(inp, f"cannot write outputs: {err}")
                    store.write_result(rid, result, started=began)
                    if result.ok:
                        report.done.append(inp.la)
                    else:
                        report.failed[inp.la] = result.error or "unknown error"
                    bar.advance(inp.la_name or inp.la, ok=result.ok)
                    if on_result is not None:
                        on_result(result)
        except BaseException:
            # Ctrl-C or a crash in the parent: what is committed stays; the run can be resumed.
            store.finish_run(rid, status="interrupted")
            raise
        report.done.sort()
        report.status = store.finish_run(rid)
        report.seconds = time.perf_counter() - start
        return report


def _safe_name(la: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in la)


def write_la_files(result: LaResult, out_dir: Path | None, models_dir: Path | None) -> None:
    """Write one LA's tables as CSV under ``out_dir/<la>/`` and its fitted models
    (``extras['models']``) as JSON/npz under ``models_dir/<la>/<measure>.json``.

    Files are written before the LA's rows are committed, so a committed LA always has them
    (a rerun overwrites them with identical content).
    """
    la = _safe_name(result.la)
    if out_dir is not None:
        from forecasting.reporting.outputs import neutralise_frame

        folder = out_dir / la
        folder.mkdir(parents=True, exist_ok=True)
        for name, frame in result.tables.items():
            if frame is not None and len(frame):
                # Names from data files must not reach a spreadsheet as formulas.
                neutralise_frame(frame).to_csv(folder / f"{name}.csv", index=False)
    models = result.extras.get("models") or {}
    if models_dir is not None and models:
        from forecasting.persist import write_state

        for measure, state in models.items():
            write_state(state, models_dir / la / f"{_safe_name(str(measure))}.json")
    unsaved = result.extras.get("unsaved_models") or []
    if models_dir is not None and unsaved:
        # A model holding something that cannot be stored without pickle: say which, and why.
        (models_dir / la).mkdir(parents=True, exist_ok=True)
        (models_dir / la / "UNSAVED.txt").write_text("\n".join(unsaved) + "\n", encoding="utf-8")
