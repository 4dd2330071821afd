"""The capacity simulator engine: a generic case-by-case discrete-event simulation.

``run(network, arrivals, capacity, horizon_days, seed)`` simulates many sample paths of a
:class:`~forecasting.capacity.network.Network` in compiled code (numba, one binary-heap event loop
per path, paths in parallel), tracking every case in continuous time (days). The EHCP pipeline
is one network; an M/M/c queue and a tandem of exponential stages are others (see the tests).

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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecasting.capacity.network import Network
from forecasting.errors import EhcpError

__all__ = [
    "DEFAULT_LATE_EDGES_WEEKS",
    "Arrivals",
    "Capacity",
    "SimResult",
    "run",
]

#: Default lateness bands (weeks past deadline) of open cases at each week end:
#: not_yet_due, late_0_4, late_4_13, late_13_26, late_26_52, late_52_plus.
DEFAULT_LATE_EDGES_WEEKS: tuple[float, ...] = (0.0, 4.0, 13.0, 26.0, 52.0)


@dataclass(frozen=True)
class Arrivals:
    """Cases for every path, stored path after path (CSR layout).

    Cases of path ``p`` are ``offsets[p] : offsets[p + 1]``; within a path any order is allowed
    (the engine sorts by time) and a case's index within its path is its identity for random
    numbers, so keep the order the same across scenarios.

    Parameters
    ----------
    offsets : int array, shape (n_paths + 1,)
        Start of each path's cases; ``offsets[0] == 0``, ``offsets[-1] == n_cases``.
    time : float array, shape (n_cases,)
        Arrival (request) time in days from the start. Negative for cases already open at the
        start: they join ``stage`` at time 0, in order of ``time`` (their original arrival,
        which also sets their place in ``oldest`` queues).
    stage : int array
        Stage the case enters (for open cases: the stage they are in at the start; a case in
        service at the start is treated as waiting at time 0).
    case_class : int array
        Class used for pool priorities (e.g. 0 = new assessment, 1 = annual review).
    work_multiplier : float array
        Multiplies the work content of every pool stage for this case (complexity); 1 = average.
    deadline : float array
        Absolute deadline in days (e.g. ``time + 140`` for 20 weeks); ``inf`` for none.

    Examples
    --------
    >>> a = Arrivals.from_arrays([0, 2, 3], time=[0.5, 1.0, 2.0], stage=0)
    >>> a.n_paths, a.n_cases, a.deadline.tolist()
    (2, 3, [inf, inf, inf])
    """

    offsets: np.ndarray
    time: np.ndarray
    stage: np.ndarray
    case_class: np.ndarray
    work_multiplier: np.ndarray
    deadline: np.ndarray

    @classmethod
    def from_arrays(
        cls,
        offsets: np.ndarray | list[int],
        time: np.ndarray | list[float],
        stage: np.ndarray | list[int] | int = 0,
        case_class: np.ndarray | list[int] | int = 0,
        work_multiplier: np.ndarray | list[float] | float = 1.0,
        deadline: np.ndarray | list[float] | float = np.inf,
    ) -> Arrivals:
        """Build from array-likes, broadcasting scalars and fixing dtypes."""
        t = np.ascontiguousarray(time, dtype=np.float64)
        n = t.shape[0]

        def col(x: object, dtype: type) -> np.ndarray:
            return np.ascontiguousarray(np.broadcast_to(np.asarray(x, dtype=dtype), (n,)))

        return cls(
            offsets=np.ascontiguousarray(offsets, dtype=np.int64),
            time=t,
            stage=col(stage, np.int64),
            case_class=col(case_class, np.int64),
            work_multiplier=col(work_multiplier, np.float64),
            deadline=col(deadline, np.float64),
        )

    @classmethod
    def concat(cls, parts: list[Arrivals]) -> Arrivals:
        """Join blocks of paths (e.g. new requests and reviews must be merged per path by the
        caller first; this only stacks whole paths)."""
        offs = [np.zeros(1, np.int64)]
        base = 0
        for a in parts:
            offs.append(a.offsets[1:] + base)
            base += a.n_cases
        return cls(
            offsets=np.concatenate(offs),
            time=np.concatenate([a.time for a in parts]),
            stage=np.concatenate([a.stage for a in parts]),
            case_class=np.concatenate([a.case_class for a in parts]),
            work_multiplier=np.concatenate([a.work_multiplier for a in parts]),
            deadline=np.concatenate([a.deadline for a in parts]),
        )

    @property
    def n_paths(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def n_cases(self) -> int:
        return int(self.time.shape[0])


@dataclass(frozen=True)
class Capacity:
    """Servers and speed per path, pool and day.

    Parameters
    ----------
    servers : int array, shape (n_paths or 1, n_pools, n_days)
        Concurrent servers available on each day. A first dimension of 1 is shared by all paths.
    speed : float array, same shape rules
        Work hours one server delivers per day.

    Examples
    --------
    >>> cap = Capacity.constant(servers=[2], speed=[24.0], n_days=10)
    >>> cap.servers.shape, cap.speed[0, 0, 0]
    ((1, 1, 10), np.float64(24.0))
    """

    servers: np.ndarray
    speed: np.ndarray

    def __post_init__(self) -> None:
        s = np.ascontiguousarray(self.servers, dtype=np.int64)
        v = np.ascontiguousarray(self.speed, dtype=np.float64)
        if s.ndim != 3 or v.ndim != 3:
            raise EhcpError("capacity arrays must have shape (paths, pools, days)",
                            field="capacity", fix="reshape servers and speed to 3 dimensions")
        if np.any(s < 0) or np.any(~np.isfinite(v)) or np.any(v < 0):
            raise EhcpError("servers and speed must be non-negative and finite",
                            field="capacity", fix="check the staffing calendar for negative FTE")
        object.__setattr__(self, "servers", s)
        object.__setattr__(self, "speed", v)

    @classmethod
    def constant(cls, servers: list[int] | np.ndarray, speed: list[float] | np.ndarray,
                 n_days: int) -> Capacity:
        """The same servers and speed for every path and day, one value per pool."""
        s = np.asarray(servers, dtype=np.int64)[None, :, None]
        v = np.asarray(speed, dtype=np.float64)[None, :, None]
        return cls(np.repeat(s, n_days, axis=2), np.repeat(v, n_days, axis=2))


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
      delay) at week end, by lateness band: band 0 = not yet due, band ``k`` = between
      ``late_edges_weeks[k-1]`` and ``late_edges_weeks[k]`` weeks past the deadline, last band
      open-ended.
    - ``work_hours[path, pool, week]`` float: work hours of jobs completed in the week.
    - ``events[path]`` int64: number of case-stage visits simulated (for throughput).

    ``records`` (only if asked): a dict of equal-length arrays ``path, case, stage, arrive,
    start, end`` (one row per case-stage visit; ``case`` is the index within the path;
    ``start`` is service start, equal to ``arrive`` for pure delays; ``end`` is ``nan`` if the
    visit was not finished by the horizon).
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
    late_edges_weeks: tuple[float, ...]
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
    raise NotImplementedError
