"""How the batch's tasks run: in this process, on local worker processes, or on Dask.

Each executor yields ``(input, result)`` pairs as tasks finish; the caller
(:func:`forecasting.batch.run_batch`) writes them. Also the progress bar.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from forecasting.batch import LaInput, TaskFn, _failed, call_task
from forecasting.errors import EhcpError
from forecasting.store import LaResult

__all__ = ["Progress", "dask_client", "largest_first", "results"]


def _serial(task: TaskFn, inputs: Sequence[LaInput]) -> Iterator[tuple[LaInput, LaResult]]:
    for inp in inputs:
        yield inp, call_task(task, inp)


def _init_worker(threads: int) -> None:
    # Each worker is one of several processes: numba's parallel loops (the capacity simulator)
    # get a share of the cores, not all of them, so workers do not fight over cores.
    try:
        import numba

        numba.set_num_threads(max(1, min(threads, getattr(numba.config, "NUMBA_NUM_THREADS", 1))))
    except ImportError:  # pragma: no cover - numba is a dependency
        pass


def _pool(
    task: TaskFn, inputs: Sequence[LaInput], workers: int
) -> Iterator[tuple[LaInput, LaResult]]:
    # forkserver: workers fork from a clean server, not from this process, which holds DuckDB's
    # threads and a rich progress thread (forking those is unsafe).
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)
    if method == "forkserver":
        # Workers fork from a server that has already imported the task's modules, so each
        # worker starts in milliseconds instead of importing pandas, scipy, numba... again. A
        # task module may list its heavy lazy imports in PRELOAD. (No effect once the server
        # runs: it keeps the modules it started with.)
        # "__main__" too: the server runs the main script's imports (e.g. the `ehcp` entry
        # point's CLI, typer and rich: ~0.1 CPU-s) once; otherwise multiprocessing runs them
        # again in every worker before its first task.
        module = sys.modules.get(task.__module__)
        preload = ["__main__", task.__module__, *getattr(module, "PRELOAD", ())]
        ctx.set_forkserver_preload(list(dict.fromkeys(preload)))
    threads = max(1, (os.cpu_count() or 1) // workers)
    # The capacity engine sizes its own thread pool from numba's NUMBA_NUM_THREADS, read when
    # numba is imported: give the worker processes (and the server they fork from) their share
    # of the cores through the environment, unless the user chose a value. Restored after.
    saved = os.environ.get("NUMBA_NUM_THREADS")
    os.environ["NUMBA_NUM_THREADS"] = saved or str(threads)
    try:
        yield from _pool_run(task, inputs, workers, ctx, threads)
    finally:
        if saved is None:
            os.environ.pop("NUMBA_NUM_THREADS", None)


def _pool_run(
    task: TaskFn, inputs: Sequence[LaInput], workers: int, ctx: Any, threads: int
) -> Iterator[tuple[LaInput, LaResult]]:
    pending: list[LaInput] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(threads,)) as pool:
        futures = {pool.submit(call_task, task, inp): inp for inp in inputs}
        try:
            for fut in as_completed(futures):
                inp = futures[fut]
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    pending.append(inp)
                    continue
                except Exception as err:  # e.g. a result that cannot be unpickled
                    result = _failed(inp, f"{type(err).__name__}: {err}")
                yield inp, result
        finally:
            for fut in futures:
                fut.cancel()
    # A worker died (killed, out of memory, a crash in C code) and took the pool down with every
    # task in flight. We cannot tell which LA did it, so each unfinished one runs again alone:
    # the culprit fails with a reason and the others still get done.
    for inp in sorted(pending, key=lambda i: i.la):
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_init_worker,
                                 initargs=(threads,)) as solo:
            try:
                result = solo.submit(call_task, task, inp).result()
            except BrokenProcessPool:
                result = _failed(inp, "its worker process died (killed, out of memory or a crash)")
            except Exception as err:
                result = _failed(inp, f"{type(err).__name__}: {err}")
        yield inp, result


@contextmanager
def dask_client(scheduler: Any) -> Iterator[Any]:
    """A Dask client for ``scheduler`` (an address such as ``tcp://HOST:PORT``, or a client),
    closed on exit if this opened it; None when ``scheduler`` is None (local cores).

    A wrong or unreachable address is the user's error, raised before any run is started.

    Examples
    --------
    >>> with dask_client(None) as client:
    ...     client is None
    True
    >>> with dask_client("http://localhost:8786"):  # doctest: +ELLIPSIS
    ...     pass
    Traceback (most recent call last):
    ...
    forecasting.errors.EhcpError: field '--scheduler': cannot use the Dask scheduler at http://localhost:8786 (unknown address scheme 'http' ...
    """
    if scheduler is None:
        yield None
        return
    from distributed import Client

    if isinstance(scheduler, Client):
        yield scheduler
        return
    try:
        client = Client(scheduler, timeout=20)
    except (OSError, ValueError, TypeError) as err:
        raise EhcpError(
            f"cannot use the Dask scheduler at {scheduler} ({err})",
            field="--scheduler",
            fix="give the scheduler's address as tcp://HOST:PORT (start one with `dask "
                "scheduler` and workers with `dask worker ADDRESS`), or leave --scheduler "
                "out to use local cores",
        ) from None
    try:
        yield client
    finally:
        client.close()


def _dask(
    task: TaskFn, inputs: Sequence[LaInput], scheduler: Any
) -> Iterator[tuple[LaInput, LaResult]]:
    from distributed import as_completed as dask_completed

    # The workers need this package installed (same version): they import the task by name.
    with dask_client(scheduler) as client:
        futures = {
            client.submit(call_task, task, inp, pure=False,
                          key=f"la-{inp.la}-{uuid.uuid4().hex[:12]}"): inp
            for inp in inputs
        }
        for fut in dask_completed(list(futures)):
            inp = futures[fut]
            try:
                yield inp, fut.result()
            except Exception as err:  # a worker lost mid-task, a result that will not transfer
                yield inp, _failed(inp, f"{type(err).__name__}: {err}")


def results(
    task: TaskFn, inputs: Sequence[LaInput], workers: int, scheduler: Any
) -> Iterator[tuple[LaInput, LaResult]]:
    """Run ``task`` over ``inputs``: on Dask if ``scheduler`` is given, else on ``workers``
    local processes (in this process when ``workers`` is 1)."""
    if scheduler is not None:
        return _dask(task, largest_first(inputs), scheduler)
    if workers <= 1 or len(inputs) <= 1:
        return _serial(task, inputs)
    return _pool(task, largest_first(inputs), min(workers, len(inputs)))


def largest_first(inputs: Sequence[LaInput]) -> list[LaInput]:
    """The inputs by decreasing ``cost`` (ties keep their order).

    Workers take tasks in this order, so the small ones fill the gaps at the end instead of a
    big LA starting last and running alone while the other workers wait.

    Examples
    --------
    >>> import pandas as pd
    >>> inputs = [LaInput(la, pd.DataFrame(), {}, 0, cost=c) for la, c in [("A", 1), ("B", 9), ("C", 1)]]
    >>> [i.la for i in largest_first(inputs)]
    ['B', 'A', 'C']
    """
    return sorted(inputs, key=lambda inp: -inp.cost)


class Progress:
    """A rich progress bar with an ETA, or nothing when disabled.

    The bar shows the run id, LAs done out of all (LAs committed before a resume count as
    done), the last LA finished and how many failed, the time elapsed and the time remaining.
    """

    def __init__(
        self, enabled: bool, *, total: int, completed: int, run_id: str, console: Any = None
    ) -> None:
        self.enabled = enabled
        self.failed = 0
        if not enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[last]}"), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), console=console,
        )
        self.task = self.progress.add_task(run_id, total=total, completed=completed, last="")

    def __enter__(self) -> Progress:
        if self.enabled:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.stop()

    def advance(self, name: str, *, ok: bool) -> None:
        if not self.enabled:
            return
        self.failed += not ok
        note = f"{name}" + (f" [red]({self.failed} failed)[/red]" if self.failed else "")
        self.progress.update(self.task, advance=1, last=note)
