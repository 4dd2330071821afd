"""The engine's generic network, written again in SimPy: a test oracle and a speed baseline.

One path of a :class:`~forecasting.capacity.network.Network` with constant servers and speed per
pool, simulated by SimPy's event scheduler with one process per case and a
``simpy.PriorityResource`` per pool. Used by ``tests/test_engine_simpy.py`` (the same
configuration run by both) and by the ``make bench-simulate`` benchmark (events per second).

Random numbers: ``rng="numpy"`` draws from ``numpy.random.default_rng(seed)`` in event order (an
independent simulation, for statistical comparison); ``rng="engine"`` uses the engine's
counter-based draws for the same ``(seed, path)``, so both simulators see exactly the same work
contents, delays and routes and must produce the same case times (up to ties in event order).

Not supported here (raises ``ValueError``): capacity that changes over time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy

from forecasting.capacity.distributions import Dist, case_draw, case_uniform, path_keys
from forecasting.capacity.network import Network

__all__ = ["SimpyResult", "simulate_simpy"]


@dataclass(frozen=True)
class SimpyResult:
    """Per case ``exit_time`` (nan if open), ``exit_code`` (-1 open, -2 not arrived); per visit
    ``records`` (``case, stage, arrive, start, end``); ``events`` = case-stage visits finished."""

    exit_time: np.ndarray
    exit_code: np.ndarray
    records: dict[str, np.ndarray]
    events: int


def _numpy_draw(d: Dist, rng: np.random.Generator) -> float:
    if d.kind == "fixed":
        return d.mean
    if d.kind == "exponential":
        return float(rng.exponential(d.mean))
    if d.kind == "gamma":
        if d.cv < 1e-8 or d.mean == 0:
            return d.mean
        return float(rng.gamma(1.0 / d.cv**2, d.mean * d.cv**2))
    if d.kind == "lognormal":
        if d.cv < 1e-8 or d.mean == 0:
            return d.mean
        s2 = np.log1p(d.cv**2)
        return float(rng.lognormal(np.log(d.mean) - s2 / 2.0, np.sqrt(s2)))
    return float(d.sample[int(rng.integers(len(d.sample)))])


def simulate_simpy(
    network: Network,
    time: np.ndarray,
    stage: np.ndarray,
    servers: list[int] | np.ndarray,
    speed: list[float] | np.ndarray,
    horizon_days: float,
    seed: int,
    *,
    case_class: np.ndarray | None = None,
    work_multiplier: np.ndarray | None = None,
    deadline: np.ndarray | None = None,
    rng: str = "numpy",
    path: int = 0,
) -> SimpyResult:
    """Simulate one path in SimPy.

    Parameters
    ----------
    network : Network
    time, stage : arrays
        Arrival times (days; negative = open at the start, joins at 0) and entry stages.
    servers, speed : one value per pool
        Constant servers and work hours per server-day.
    horizon_days, seed : float, int
    case_class, work_multiplier, deadline : arrays, optional
        As in :class:`forecasting.capacity.engine.Arrivals` (defaults 0, 1, inf).
    rng : {"numpy", "engine"}
        Independent NumPy draws, or exactly the engine's draws for ``(seed, path)``.
    path : int
        The path index whose engine random stream to use with ``rng="engine"``.

    Examples
    --------
    >>> from forecasting.capacity.network import Pool, Stage
    >>> net = Network((Stage("s", "p", Dist("fixed", 24.0)),), (Pool("p"),), ("done",),
    ...               [[0.0, 1.0]])
    >>> simulate_simpy(net, np.array([0.0, 0.0]), np.array([0, 0]), [1], [24.0], 10, 1
    ...                ).exit_time.tolist()
    [1.0, 2.0]
    """
    servers = np.asarray(servers)
    speed = np.asarray(speed, dtype=float)
    if servers.ndim != 1 or speed.ndim != 1:
        raise ValueError("the SimPy reference takes constant capacity: one value per pool")
    n = len(time)
    cls = np.zeros(n, np.int64) if case_class is None else np.asarray(case_class)
    mult = np.ones(n) if work_multiplier is None else np.asarray(work_multiplier, dtype=float)
    dl = np.full(n, np.inf) if deadline is None else np.asarray(deadline, dtype=float)
    n_classes = int(cls.max()) + 1 if n else 1
    ranks = [p.class_rank(n_classes) for p in network.pools]
    pool_of = network.pool_of_stage()
    cum = np.cumsum(network.routing, axis=1)
    n_stages = network.n_stages
    packed, par_start, par_len = network.packed()
    key = path_keys(seed, path, 1)[0]
    gen = np.random.default_rng(seed)

    def sample(c: int, hop: int, s: int, purpose: int) -> float:
        if rng == "engine":
            i = s if purpose <= 1 else int(par_start[s]) + purpose - 2
            return float(case_draw(packed.kind[i], packed.p1[i], packed.p2[i],
                                   packed.emp_start[i], packed.emp_len[i], packed.emp, key, c,
                                   hop, purpose))
        st = network.stages[s]
        return _numpy_draw(st.work if purpose == 1 else st.parallel[purpose - 2], gen)

    def route(c: int, hop: int, s: int) -> int:
        u = float(case_uniform(key, c, hop, 0)) if rng == "engine" else gen.random()
        j = int(np.searchsorted(cum[s], u, side="right"))
        return min(j, cum.shape[1] - 1)

    env = simpy.Environment()
    res = [simpy.PriorityResource(env, capacity=int(k)) for k in servers]
    exit_time = np.full(n, np.nan)
    exit_code = np.full(n, -2, np.int64)
    rec: list[tuple[int, int, float, float, float]] = []
    where: dict[int, tuple[int, float, float]] = {}

    def case(c: int):
        s = int(stage[c])
        hop = 0
        exit_code[c] = -1
        while True:
            t_in = env.now
            where[c] = (s, t_in, np.nan)
            ends = t_in
            for j in range(int(par_len[s])):
                ends = max(ends, t_in + sample(c, hop, s, 2 + j))
            q = int(pool_of[s])
            if q < 0:
                ends = max(ends, t_in + sample(c, hop, s, 1))
                start = t_in
                where[c] = (s, t_in, start)
                yield env.timeout(ends - t_in)
            else:
                work = mult[c] * sample(c, hop, s, 1)
                pol = network.pools[q].policy
                k2 = t_in if pol == "fifo" else (time[c] if pol == "oldest" else dl[c])
                prio = (network.stages[s].priority * (n_classes + 1) + ranks[q][cls[c]], k2)
                with res[q].request(priority=prio) as req:
                    yield req
                    start = env.now
                    where[c] = (s, t_in, start)
                    yield env.timeout(work / speed[q] if work > 0 else 0.0)
                if ends > env.now:
                    yield env.timeout(ends - env.now)
            rec.append((c, s, t_in, start, env.now))
            j = route(c, hop, s)
            hop += 1
            if j >= n_stages:
                exit_time[c] = env.now
                exit_code[c] = j - n_stages
                del where[c]
                return
            s = j

    def source():
        for c in np.argsort(time, kind="mergesort"):
            t = max(float(time[c]), 0.0)
            if t >= horizon_days:
                return
            if t > env.now:
                yield env.timeout(t - env.now)
            env.process(case(int(c)))

    env.process(source())
    env.run(until=horizon_days)
    events = len(rec)
    for c, (s, t_in, start) in where.items():
        rec.append((c, s, t_in, start, np.nan))
    arr = np.array(rec, dtype=float).reshape(-1, 5)
    order = np.lexsort((arr[:, 2], arr[:, 0]))
    arr = arr[order]
    records = {"case": arr[:, 0].astype(np.int64), "stage": arr[:, 1].astype(np.int64),
               "arrive": arr[:, 2], "start": arr[:, 3], "end": arr[:, 4]}
    return SimpyResult(exit_time, exit_code, records, events)
