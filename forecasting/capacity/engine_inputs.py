"""Inputs of :func:`forecasting.capacity.engine.run`: cases per path and capacity per day.

Both are re-exported by :mod:`forecasting.capacity.engine`; their checks against a network are
here too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from forecasting.errors import EhcpError

if TYPE_CHECKING:
    from forecasting.capacity.network import Network

__all__ = ["Arrivals", "Capacity", "check_edges", "check_inputs"]


def _plain(x: object, dtype: type) -> np.ndarray:
    """A C-contiguous, writeable array: numba compiles (and caches) one kernel per array type,
    and read-only or strided inputs would each trigger another long compilation."""
    arr: np.ndarray = np.ascontiguousarray(x, dtype=dtype)
    return arr if arr.flags.writeable else arr.copy()


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

    def __post_init__(self) -> None:
        # Fixed dtypes keep the compiled kernel's cache to one signature.
        for name, dtype in (("offsets", np.int64), ("time", np.float64), ("stage", np.int64),
                            ("case_class", np.int64), ("work_multiplier", np.float64),
                            ("deadline", np.float64)):
            object.__setattr__(self, name, _plain(getattr(self, name), dtype))

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
    def poisson(cls, rate: float, horizon_days: float, n_paths: int, seed: int, *,
                stage: int = 0, case_class: int = 0, deadline_days: float = np.inf
                ) -> Arrivals:
        """Poisson arrivals at ``rate`` per day over ``[0, horizon_days)`` for each path.

        ``deadline_days`` is added to each arrival time to give its deadline.

        Examples
        --------
        >>> a = Arrivals.poisson(2.0, 100.0, n_paths=3, seed=0)
        >>> a.n_paths, 450 < a.n_cases < 750, bool((a.time < 100).all())
        (3, True, True)
        """
        rng = np.random.default_rng(seed)
        counts = rng.poisson(rate * horizon_days, size=n_paths)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        # Given the count, Poisson arrival times are sorted uniforms on the interval.
        t = rng.uniform(0.0, horizon_days, size=int(offsets[-1]))
        for p in range(n_paths):
            t[offsets[p]:offsets[p + 1]].sort()
        return cls.from_arrays(offsets, t, stage=stage, case_class=case_class,
                               deadline=t + deadline_days)

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
        s = _plain(self.servers, np.int64)
        v = _plain(self.speed, np.float64)
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


def check_inputs(network: Network, arrivals: Arrivals, capacity: Capacity,
                 horizon_days: float, late_edges_weeks: tuple[float, ...]) -> None:
    """Raise :class:`~forecasting.errors.EhcpError` for inputs :func:`run` cannot take."""
    a = arrivals
    if not (np.isfinite(horizon_days) and horizon_days > 0):
        raise EhcpError(f"horizon must be a positive number of days, got {horizon_days!r}",
                        field="horizon_days", fix="give the simulated period in days")
    if a.offsets.ndim != 1 or a.offsets.shape[0] < 2 or a.offsets[0] != 0 \
            or a.offsets[-1] != a.n_cases or np.any(np.diff(a.offsets) < 0):
        raise EhcpError("arrival offsets must start at 0, never decrease and end at the number "
                        "of cases", field="arrivals.offsets", fix="build with Arrivals.from_arrays")
    for name in ("stage", "case_class", "work_multiplier", "deadline"):
        if getattr(a, name).shape != a.time.shape:
            raise EhcpError(f"arrivals.{name} has {getattr(a, name).shape[0]} values for "
                            f"{a.n_cases} cases", field=f"arrivals.{name}",
                            fix="give one value per case")
    bad = _case_checks(a.time, a.stage, a.case_class, a.work_multiplier, a.deadline,
                       network.n_stages)
    if bad[0]:
        raise EhcpError("arrival times must be finite numbers of days", field="arrivals.time",
                        fix="drop or date the cases with no arrival time")
    if bad[1]:
        raise EhcpError(f"entry stage out of range 0..{network.n_stages - 1}",
                        field="arrivals.stage", fix="use an index into network.stages")
    if bad[2]:
        raise EhcpError("case classes must be 0 or more", field="arrivals.case_class",
                        fix="number the classes from 0")
    if bad[3]:
        raise EhcpError("work multipliers must be finite and non-negative",
                        field="arrivals.work_multiplier", fix="check the complexity weights")
    if bad[4]:
        raise EhcpError("deadlines must not be missing (use inf for none)",
                        field="arrivals.deadline", fix="give a deadline or inf")
    shape = capacity.servers.shape
    if shape != capacity.speed.shape or shape[1] != network.n_pools or shape[2] < 1 \
            or shape[0] not in (1, a.n_paths):
        raise EhcpError(f"capacity arrays have shape {shape} and {capacity.speed.shape}; "
                        f"expected ({a.n_paths} or 1, {network.n_pools}, days >= 1)",
                        field="capacity", fix="one row per path (or one shared), one per pool")
    check_edges(late_edges_weeks, "late_edges_weeks")


@njit(cache=True, nogil=True)
def _case_checks(time, stage, case_class, mult, deadline, n_stages):
    """Which per-case checks fail, in one pass over the cases (numpy would make one pass and
    one temporary per check, on the main thread while the engine's threads wait): non-finite
    time, stage out of range, negative class, bad work multiplier, missing deadline."""
    bad = np.zeros(5, np.bool_)
    for i in range(time.shape[0]):
        if not math.isfinite(time[i]):
            bad[0] = True
        if stage[i] < 0 or stage[i] >= n_stages:
            bad[1] = True
        if case_class[i] < 0:
            bad[2] = True
        if not (math.isfinite(mult[i]) and mult[i] >= 0.0):
            bad[3] = True
        if math.isnan(deadline[i]):
            bad[4] = True
    return bad


def check_edges(edges: tuple[float, ...], name: str) -> None:
    """Raise :class:`~forecasting.errors.EhcpError` unless ``edges`` are finite and increasing."""
    e = np.asarray(edges, dtype=float)
    if e.ndim != 1 or e.size == 0 or np.any(np.diff(e) <= 0) or not np.all(np.isfinite(e)):
        raise EhcpError("band edges must be a non-empty, finite, increasing list of weeks",
                        field=name, fix="e.g. (0, 4, 13, 26, 52)")
