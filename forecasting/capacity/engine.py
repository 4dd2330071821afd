"""The capacity simulator engine: a generic case-by-case discrete-event simulation.

``run(network, arrivals, capacity, horizon_days, seed)`` simulates many sample paths of a
:class:`~forecasting.capacity.network.Network` in compiled code (numba, one calendar-queue event
loop per path, blocks of paths on parallel threads), tracking every case in continuous time
(days). The EHCP pipeline is one network; an M/M/c queue and a tandem of exponential stages are
others (see the tests).

How capacity is treated
-----------------------
``capacity.servers[path, pool, day]`` is the number of concurrent servers available on day
``day`` (``[day, day + 1)``); ``capacity.speed[path, pool, day]`` is the work hours one server
delivers per day on that day (e.g. productive hours x share on statutory work x availability;
0 at weekends or in school holidays if the calendar says so). A job of ``h`` hours that starts
at time ``t`` finishes when the integral of ``speed`` from ``t`` reaches ``h``; the speed
calendar is known in advance, so speed changes during service are honoured exactly. When
``servers`` falls, jobs in service carry on (no pre-emption): the cut takes effect as servers
free up. When it rises, waiting jobs start at the start of that day. Beyond the last day of the
arrays, the last day's values are used.

Random numbers and common random numbers
----------------------------------------
Each path's key depends only on ``(seed, first_path + path)``. Each draw (work content, parallel
delays, routing) is a hash of (path key, case, hop, purpose), not of event order, so scenarios
that differ only in capacity give each case the same work, delays and route; the same seed gives
identical output; a run split into blocks of paths equals one big run.

Performance notes
-----------------
On the Leeds-scale EHCP pipeline of ``make bench-simulate`` (113.6 million case-stage visits
for 1,000 paths) the engine costs 152-155 ns per visit on one thread (10 paths, best of 12
runs, 2026-11-27); with two threads on this shared 2-core machine each thread's visits cost
157-215 ns, so 1,000 paths take 9.4-12.8 s of engine alone. The draws are inlined (a call
made the loop save and reload its registers) and need no ``log`` or ``cos`` most of the time
(ziggurat normals, Marsaglia-Tsang's squeezed gamma); a job's finish time steps over each run
of days with one speed at once; the per-path set-up (ordering the cases by time, copying them
in, the pass after the loop) about 13%. The rest is spread over the event loop with no
single hot spot (``perf`` on the JIT code: no 512-byte stretch above 10% of the samples;
knocking out the lateness bands, the wait histogram or the speed calendar one at a time each
saved 5% or less). What helped was touching less memory per event (bucket lists through the
cases' rows, exits kept in the row until the end) and hashing a stage visit's stream once; an
int32 case row, one 128-byte row per case, software prefetch, branch-free searches and drawing
the first stage's work before the loop did not.

Memory is the arrivals plus the weekly arrays, so run blocks of paths (``first_path``) for
many paths. To keep the threads busy from block to block, :func:`prepare_run` checks and sets
up a block (on another thread, while the engine runs the one before) and
:meth:`PreparedRun.start` queues it on one pool of threads kept for all the blocks, behind the
block still running (``simulate_capacity`` does this). The kernel is compiled once and cached
on disk (``cache=True``; the first compilation takes tens of seconds; the cache is keyed by the
kernel file's text only, see ``engine_kernel.DRAWS``). Inputs are converted to contiguous,
writeable int64/float64 arrays so that one cached kernel serves every call.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numba
import numpy as np

from forecasting.capacity.distributions import path_keys
from forecasting.capacity.engine_inputs import Arrivals, Capacity, check_edges, check_inputs
from forecasting.capacity.engine_kernel import route_table, run_paths, scratch, sim_path
from forecasting.capacity.network import POLICIES, Network
from forecasting.errors import EhcpError

__all__ = [
    "DEFAULT_LATE_EDGES_WEEKS",
    "DEFAULT_WAIT_EDGES_WEEKS",
    "Arrivals",
    "Capacity",
    "PreparedRun",
    "SimResult",
    "default_threads",
    "prepare_run",
    "run",
]

#: Default lateness bands (weeks past deadline) of open cases at each week end:
#: not_yet_due, late_0_4, late_4_13, late_13_26, late_26_52, late_52_plus.
DEFAULT_LATE_EDGES_WEEKS: tuple[float, ...] = (0.0, 4.0, 13.0, 26.0, 52.0)

#: Default bands of time waited for a server (weeks): <1, 1-2, 2-4, 4-8, 8-13, 13-26, 26-52, 52+.
DEFAULT_WAIT_EDGES_WEEKS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 13.0, 26.0, 52.0)


@dataclass(frozen=True)
class SimResult:
    """What :func:`run` returns. Week ``w`` ends at day ``7 * (w + 1)``.

    Per case (aligned with the :class:`Arrivals` given, CSR by path):

    - ``exit_time`` float: day the case left, ``nan`` if still open at the horizon or not
      arrived.
    - ``exit_code`` int: exit index (into ``network.exits``) when it left; ``-1`` open at the
      horizon; ``-2`` arrived after the horizon.
    - ``stage_at_horizon`` int: stage the case is in at the horizon, ``-1`` otherwise.

    Weekly aggregates (int32 unless noted):

    - ``entries[path, stage, week]``: cases entering the stage during the week.
    - ``completions[path, stage, week]``: cases finishing the stage during the week.
    - ``exits[path, exit, week]``: cases leaving by each exit during the week.
    - ``exits_late[path, exit, week]``: of those, leaving after their deadline.
    - ``waiting[path, stage, week]``: cases waiting for a server (not yet started) at week end.
    - ``in_stage[path, stage, band, week]``: cases in the stage (waiting, in service or in a
      delay) at week end, by lateness band: band 0 = not yet due (up to
      ``late_edges_weeks[0]`` weeks past the deadline), band ``k`` = more than
      ``late_edges_weeks[k-1]`` and up to ``late_edges_weeks[k]`` weeks past it, the last band
      open-ended.

    "At week end" means just before the instant ``7 (w + 1)``: an event at exactly that time
    counts in week ``w + 1``, so ``cumsum(entries - completions)`` over weeks equals
    ``in_stage`` summed over bands.
    - ``work_hours[path, pool, week]`` float: work hours of jobs completed in the week.
    - ``started[path, stage, week]``: jobs that started service (got a server) in the week.
    - ``wait_sum[path, stage, week]`` float: their total days waited for a server (mean wait =
      ``wait_sum / started``).
    - ``wait_hist[path, stage, week, band]``: the same jobs by time waited, band ``k`` from
      ``wait_edges_weeks[k-1]`` (0 for ``k = 0``) up to ``wait_edges_weeks[k]`` weeks, the last
      band open-ended.
    - ``events[path]`` int64: number of case-stage visits simulated (for throughput).

    ``records`` (only if asked): a dict of equal-length arrays ``path, case, stage, arrive,
    start, end, served`` (one row per case-stage visit, sorted by path, case and arrival;
    ``case`` is the index within the path; ``start`` is service start, equal to ``arrive`` for
    pure delays, ``nan`` if still waiting at the horizon; ``end`` is the end of the stage
    (after any parallel delays), ``nan`` if not finished by the horizon; ``served`` is when the
    work was done and the server freed).
    """

    network: Network
    horizon_days: float
    first_path: int
    offsets: np.ndarray
    exit_time: np.ndarray
    exit_code: np.ndarray
    stage_at_horizon: np.ndarray
    entries: np.ndarray
    completions: np.ndarray
    exits: np.ndarray
    exits_late: np.ndarray
    waiting: np.ndarray
    in_stage: np.ndarray
    work_hours: np.ndarray
    events: np.ndarray
    started: np.ndarray
    wait_sum: np.ndarray
    wait_hist: np.ndarray
    late_edges_weeks: tuple[float, ...]
    wait_edges_weeks: tuple[float, ...]
    records: dict[str, np.ndarray] | None = None

    @property
    def n_paths(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def n_weeks(self) -> int:
        return int(self.entries.shape[2])

    @property
    def band_names(self) -> tuple[str, ...]:
        """Names of the lateness bands, e.g. ``late_0_4``."""
        e = self.late_edges_weeks
        names = ["not_yet_due"]
        for k in range(len(e)):
            lo = f"{e[k]:g}"
            names.append(f"late_{lo}_{e[k + 1]:g}" if k + 1 < len(e) else f"late_{lo}_plus")
        return tuple(names)


def run(
    network: Network,
    arrivals: Arrivals,
    capacity: Capacity,
    horizon_days: float,
    seed: int,
    *,
    record_cases: bool | int | list[int] = False,
    first_path: int = 0,
    late_edges_weeks: tuple[float, ...] = DEFAULT_LATE_EDGES_WEEKS,
    wait_edges_weeks: tuple[float, ...] = DEFAULT_WAIT_EDGES_WEEKS,
    n_threads: int | None = None,
    buffers: dict[str, np.ndarray] | None = None,
) -> SimResult:
    """Simulate every path of ``arrivals`` through ``network`` with ``capacity``.

    Parameters
    ----------
    network : Network
    arrivals : Arrivals
        Cases per path (CSR); ``arrivals.n_paths`` paths are simulated.
    capacity : Capacity
        ``servers`` and ``speed`` of shape ``(n_paths or 1, n_pools, n_days)``.
    horizon_days : float
        Simulated time; events after it are not processed.
    seed : int
        Master seed; path ``p`` uses the key of ``first_path + p``.
    record_cases : bool, int or list of int
        ``True`` records every case-stage visit of every path; an int or list of ints records
        those path indices only; ``False`` records none (fastest).
    first_path : int
        Global index of the first path, so blocks of paths can be run separately and joined.
    late_edges_weeks : tuple of float
        Increasing edges (weeks past deadline) of the lateness bands of ``in_stage``.
    wait_edges_weeks : tuple of float
        Increasing edges (weeks waited for a server) of the bands of ``wait_hist``.
    n_threads : int, optional
        Threads running blocks of paths; default ``NUMBA_NUM_THREADS`` (the number of cores).
        The result does not depend on it.
    buffers : dict, optional
        Arrays kept by the caller and reused from call to call for the outputs (filled or
        zeroed here): fresh memory costs page faults, a few per cent of the run. The result's
        arrays are then views into them, valid until the next call with the same buffers.

    Returns
    -------
    SimResult

    Examples
    --------
    One server, two cases of 24 hours' work at 24 hours a day:

    >>> from forecasting.capacity.distributions import Dist
    >>> from forecasting.capacity.network import Network, Pool, Stage
    >>> net = Network((Stage("s", "p", Dist("fixed", 24.0)),), (Pool("p"),), ("done",),
    ...               [[0.0, 1.0]])
    >>> arr = Arrivals.from_arrays([0, 2], time=[0.0, 0.0])
    >>> res = run(net, arr, Capacity.constant([1], [24.0], 10), horizon_days=10, seed=1)
    >>> res.exit_time.tolist()
    [1.0, 2.0]
    """
    prepared = prepare_run(network, arrivals, capacity, horizon_days, seed,
                           record_cases=record_cases, first_path=first_path,
                           late_edges_weeks=late_edges_weeks, wait_edges_weeks=wait_edges_weeks,
                           buffers=buffers)
    n_workers = max(1, min(n_threads or default_threads(), arrivals.n_paths))
    if n_workers == 1:
        prepared.start(None)
        return prepared.result()
    with ThreadPoolExecutor(n_workers) as pool:
        prepared.start(pool, n_workers)
        return prepared.result()


def prepare_run(
    network: Network,
    arrivals: Arrivals,
    capacity: Capacity,
    horizon_days: float,
    seed: int,
    *,
    record_cases: bool | int | list[int] = False,
    first_path: int = 0,
    late_edges_weeks: tuple[float, ...] = DEFAULT_LATE_EDGES_WEEKS,
    wait_edges_weeks: tuple[float, ...] = DEFAULT_WAIT_EDGES_WEEKS,
    buffers: dict[str, np.ndarray] | None = None,
) -> PreparedRun:
    """:func:`run` in steps: check the inputs and set up the outputs, without simulating.

    Same parameters as :func:`run` (and the same errors for bad inputs). The returned
    :class:`PreparedRun` is started on a pool of threads with :meth:`PreparedRun.start` and
    gives the :class:`SimResult` with :meth:`PreparedRun.result`. A caller running many blocks
    of paths prepares block ``k + 1`` on another thread while block ``k`` runs, keeps one pool
    of engine threads for all blocks, and starts block ``k + 1`` before block ``k`` has finished,
    so the engine's threads never wait for Python in between.

    Examples
    --------
    >>> from forecasting.capacity.distributions import Dist
    >>> from forecasting.capacity.network import Network, Pool, Stage
    >>> net = Network((Stage("s", "p", Dist("fixed", 24.0)),), (Pool("p"),), ("done",),
    ...               [[0.0, 1.0]])
    >>> arr = Arrivals.from_arrays([0, 2, 3], time=[0.0, 0.0, 1.0])
    >>> prepared = prepare_run(net, arr, Capacity.constant([1], [24.0], 10), 10, seed=1)
    >>> with ThreadPoolExecutor(2) as pool:
    ...     prepared.start(pool, 2)
    ...     prepared.result().exit_time.tolist()
    [1.0, 2.0, 2.0]
    """
    n_paths = arrivals.n_paths
    check_inputs(network, arrivals, capacity, horizon_days, late_edges_weeks)
    check_edges(wait_edges_weeks, "wait_edges_weeks")
    dists, par_start, par_len = network.packed()
    n_classes = int(arrivals.case_class.max()) + 1 if arrivals.n_cases else 1
    class_rank = np.stack([p.class_rank(n_classes) for p in network.pools]) if network.n_pools \
        else np.zeros((0, n_classes), np.int64)
    policy = np.array([POLICIES[p.policy] for p in network.pools], dtype=np.int64)
    prio = np.array([s.priority for s in network.stages], dtype=np.int64)
    routes = route_table(np.cumsum(network.routing, axis=1))
    keys = path_keys(seed, first_path, n_paths)
    band_off = 7.0 * np.asarray(late_edges_weeks, dtype=np.float64)
    n_weeks = int(horizon_days // 7)
    n_s, n_e, n_q, n_b = network.n_stages, network.n_exits, network.n_pools, len(band_off) + 1
    n = arrivals.n_cases
    out = _Outputs(buffers)
    exit_time = out.empty("exit_time", (n,), np.float64)
    exit_code = out.empty("exit_code", (n,), np.int64)
    stage_h = out.empty("stage_h", (n,), np.int64)
    entries = out.zeros("entries", (n_paths, n_s, n_weeks), np.int32)
    completions = out.zeros("completions", (n_paths, n_s, n_weeks), np.int32)
    exits = out.zeros("exits", (n_paths, n_e, n_weeks), np.int32)
    exits_late = out.zeros("exits_late", (n_paths, n_e, n_weeks), np.int32)
    waiting = out.zeros("waiting", (n_paths, n_s, n_weeks), np.int32)
    in_stage = out.zeros("in_stage", (n_paths, n_s, n_b, n_weeks), np.int32)
    work_hours = out.zeros("work_hours", (n_paths, n_q, n_weeks), np.float64)
    visits = out.zeros("visits", (n_paths,), np.int64)
    wait_edges = 7.0 * np.asarray(wait_edges_weeks, dtype=np.float64)
    n_wb = len(wait_edges) + 1
    started = out.zeros("started", (n_paths, n_s, n_weeks), np.int32)
    wait_sum = out.zeros("wait_sum", (n_paths, n_s, n_weeks), np.float64)
    wait_hist = out.zeros("wait_hist", (n_paths, n_s, n_weeks, n_wb), np.int32)
    net_args = (network.pool_of_stage(), prio, *routes, dists.kind, dists.p1, dists.p2,
                dists.emp_start, dists.emp_len, dists.emp, par_start, par_len, class_rank, policy,
                float(horizon_days), band_off, wait_edges)
    a = arrivals
    args = (keys, a.offsets, a.time, a.stage, a.case_class, a.work_multiplier, a.deadline,
            capacity.servers, capacity.speed, *net_args, exit_time, exit_code, stage_h,
            entries, completions, exits, exits_late, waiting, in_stage, work_hours,
            started, wait_sum, wait_hist, visits)
    return PreparedRun(network=network, arrivals=a, capacity=capacity,
                       horizon_days=float(horizon_days), first_path=first_path,
                       record_cases=record_cases, keys=keys, net_args=net_args, args=args,
                       outputs=(exit_time, exit_code, stage_h, entries, completions, exits,
                                exits_late, waiting, in_stage, work_hours, visits, started,
                                wait_sum, wait_hist),
                       shape=(n_s, n_e, n_q, n_b, n_wb, n_weeks),
                       late_edges_weeks=tuple(float(x) for x in late_edges_weeks),
                       wait_edges_weeks=tuple(float(x) for x in wait_edges_weeks))


@dataclass(eq=False)
class PreparedRun:
    """A :func:`run` whose inputs are checked and outputs set up (see :func:`prepare_run`)."""

    network: Network
    arrivals: Arrivals
    capacity: Capacity
    horizon_days: float
    first_path: int
    record_cases: bool | int | list[int]
    keys: np.ndarray
    net_args: tuple
    args: tuple
    outputs: tuple[np.ndarray, ...]
    shape: tuple[int, ...]
    late_edges_weeks: tuple[float, ...]
    wait_edges_weeks: tuple[float, ...]
    _futures: list[Future[None]] | None = field(default=None, init=False, repr=False)

    def start(self, executor: Executor | None, n_threads: int | None = None,
              n_tasks: int | None = None) -> None:
        """Simulate on ``executor``'s threads (returns at once), or here if it is ``None``.

        The paths are split into ``n_tasks`` tasks (default 16 per thread of ``n_threads``,
        itself :func:`default_threads` by default); the result does not depend on the split.
        Many small tasks balance paths of unequal size when nothing is queued behind them;
        when the next run is, fewer, bigger ones cost less (a call into the kernel is ~0.2 ms
        of Python, which waits for the GIL).
        """
        if self._futures is not None:
            raise RuntimeError("this run has already been started")
        n_paths = self.arrivals.n_paths
        n_q = self.network.n_pools
        sizes = np.diff(self.arrivals.offsets)
        args = self.args

        def run_block(lo: int, hi: int) -> None:
            biggest = int(sizes[lo:hi].max())
            buf = _take_scratch(biggest, n_q)
            try:
                run_paths(lo, hi, *args, *buf[2])
            finally:
                _give_scratch(buf)

        n_workers = max(1, min(n_threads or default_threads(), n_paths))
        if executor is None or n_workers == 1:
            self._futures = []
            run_block(0, n_paths)
            return
        n_blocks = min(n_paths, n_tasks or 16 * n_workers)
        edges = np.linspace(0, n_paths, n_blocks + 1).astype(int)
        self._futures = [executor.submit(run_block, int(lo), int(hi))
                         for lo, hi in zip(edges[:-1], edges[1:], strict=True) if hi > lo]

    def result(self) -> SimResult:
        """Wait for the simulation started by :meth:`start` and return its :class:`SimResult`."""
        if self._futures is None:
            raise RuntimeError("start the run before asking for its result")
        for f in self._futures:
            f.result()
        a, record_cases = self.arrivals, self.record_cases
        n_s, n_e, n_q, n_b, n_wb, n_weeks = self.shape
        records = None
        if record_cases is not False:
            if record_cases is True:
                which = list(range(a.n_paths))
            elif isinstance(record_cases, int):
                which = [record_cases]
            else:
                which = list(record_cases)
            records = _record(which, self.keys, a, self.capacity, self.net_args, n_s, n_e, n_q,
                              n_b, n_wb, n_weeks)
        (exit_time, exit_code, stage_h, entries, completions, exits, exits_late, waiting,
         in_stage, work_hours, visits, started, wait_sum, wait_hist) = self.outputs
        return SimResult(
            network=self.network, horizon_days=self.horizon_days, first_path=self.first_path,
            offsets=a.offsets, exit_time=exit_time, exit_code=exit_code,
            stage_at_horizon=stage_h, entries=entries, completions=completions, exits=exits,
            exits_late=exits_late, waiting=waiting, in_stage=in_stage, work_hours=work_hours,
            events=visits, started=started, wait_sum=wait_sum, wait_hist=wait_hist,
            late_edges_weeks=self.late_edges_weeks, wait_edges_weeks=self.wait_edges_weeks,
            records=records,
        )


class _Outputs:
    """Output arrays of :func:`run`: fresh, or views into a caller's ``buffers`` dict."""

    def __init__(self, buffers: dict[str, np.ndarray] | None) -> None:
        self.buffers = buffers

    def empty(self, name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        if self.buffers is None:
            return np.empty(shape, dtype)
        size = math.prod(shape)
        buf = self.buffers.get(name)
        if buf is None or buf.shape[0] < size or buf.dtype != dtype:
            # Room for a slightly bigger next block, so that the buffer is made once per run.
            buf = np.empty(size + size // 8 + 16, dtype)
            self.buffers[name] = buf
        return buf[:size].reshape(shape)

    def zeros(self, name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        if self.buffers is None:
            return np.zeros(shape, dtype)
        view = self.empty(name, shape, dtype)
        view.fill(0)
        return view


# Scratch buffers of finished blocks, reused by later ones (and later calls): a Leeds-scale
# path needs ~17 MB, and fresh memory costs a page fault per 4 KB, a tenth of a block's time.
_SCRATCH: list[tuple[int, int, tuple[np.ndarray, ...]]] = []
_SCRATCH_LOCK = threading.Lock()
_SCRATCH_KEEP_BYTES = 160 << 20


def _take_scratch(n: int, n_pools: int) -> tuple[int, int, tuple[np.ndarray, ...]]:
    with _SCRATCH_LOCK:
        for i, (cap, q, _) in enumerate(_SCRATCH):
            if cap >= n and q == n_pools:
                return _SCRATCH.pop(i)
    m = n + n // 8 + 16  # room for the next block's slightly bigger paths
    return m, n_pools, tuple(scratch(m, n_pools))


def _give_scratch(item: tuple[int, int, tuple[np.ndarray, ...]]) -> None:
    with _SCRATCH_LOCK:
        _SCRATCH.append(item)
        _SCRATCH.sort(key=lambda s: s[0])
        # Keep the smallest sets up to a memory budget (a path of millions of cases in a test
        # is not worth holding on to).
        kept = 0
        for i, (_, _, bufs) in enumerate(_SCRATCH):
            kept += sum(b.nbytes for b in bufs)
            if kept > _SCRATCH_KEEP_BYTES:
                del _SCRATCH[i:]
                break


def default_threads() -> int:
    """Engine threads by default: ``NUMBA_NUM_THREADS`` (the number of cores)."""
    return int(getattr(numba.config, "NUMBA_NUM_THREADS", os.cpu_count() or 1))


def _record(which: list[int], keys: np.ndarray, a: Arrivals, capacity: Capacity,
            net_args: tuple, n_s: int, n_e: int, n_q: int, n_b: int, n_wb: int,
            n_weeks: int) -> dict[str, np.ndarray]:
    # Re-simulating a path gives exactly the same events (counter-based random numbers), so
    # records are produced by a serial second pass over the chosen paths only.
    parts = []
    for p in which:
        if not 0 <= p < a.n_paths:
            raise EhcpError(f"cannot record path {p}: there are {a.n_paths} paths",
                            field="record_cases", fix=f"use a path from 0 to {a.n_paths - 1}")
        lo, hi = int(a.offsets[p]), int(a.offsets[p + 1])
        cp = 0 if capacity.servers.shape[0] == 1 else p
        m = hi - lo
        _, rec = sim_path(  # type: ignore[call-arg]
            keys[p], a.time[lo:hi], a.stage[lo:hi], a.case_class[lo:hi],
            a.work_multiplier[lo:hi], a.deadline[lo:hi], capacity.servers[cp], capacity.speed[cp],
            *net_args, np.empty(m), np.empty(m, np.int64), np.empty(m, np.int64),
            np.zeros((n_s, n_weeks), np.int32), np.zeros((n_s, n_weeks), np.int32),
            np.zeros((n_e, n_weeks), np.int32), np.zeros((n_e, n_weeks), np.int32),
            np.zeros((n_s, n_weeks), np.int32), np.zeros((n_s, n_b, n_weeks), np.int32),
            np.zeros((n_q, n_weeks), np.float64), np.zeros((n_s, n_weeks), np.int32),
            np.zeros((n_s, n_weeks), np.float64), np.zeros((n_s, n_weeks, n_wb), np.int32), True,
            *scratch(m, n_q))
        order = np.lexsort((rec[:, 2], rec[:, 1]))
        parts.append((p, rec[order]))
    def col(j: int, dtype: type) -> np.ndarray:
        if not parts:
            return np.zeros(0, dtype)
        return np.concatenate([r[:, j] for _, r in parts]).astype(dtype)
    path = (np.concatenate([np.full(r.shape[0], p, np.int64) for p, r in parts])
            if parts else np.zeros(0, np.int64))
    return {"path": path, "case": col(1, np.int64), "stage": col(0, np.int64),
            "arrive": col(2, np.float64), "start": col(3, np.float64),
            "end": col(4, np.float64), "served": col(5, np.float64)}
