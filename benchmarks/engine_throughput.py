"""Engine throughput on a Leeds-scale pipeline (a measurement script, not a test).

Leeds scale: ~3,500 requests a year and ~6,000 plans in stock generating annual reviews, over
5 years, through ~4 stages, for many sample paths. Prints case-stage events per second and peak
memory. Usage: ``python benchmarks/engine_throughput.py [n_paths] [years]``.
"""

from __future__ import annotations

import resource
import sys
import time

import numpy as np

from forecasting.capacity.distributions import Dist
from forecasting.capacity.engine import Arrivals, Capacity, run
from forecasting.capacity.network import Network, Pool, Stage


def leeds_like_network() -> Network:
    """A 5-stage EHCP-like pipeline (decision, advice, draft, final; annual review)."""
    stages = (
        Stage("decide", "caseworker", Dist("gamma", 3.0, 0.5)),
        Stage("advice", "ep", Dist("gamma", 12.0, 0.4),
              parallel=(Dist("gamma", 35.0, 0.3), Dist("lognormal", 30.0, 0.5))),
        Stage("draft", "caseworker", Dist("gamma", 6.0, 0.5)),
        Stage("final", "caseworker", Dist("gamma", 3.0, 0.5), parallel=(Dist("fixed", 15.0),)),
        Stage("review", "caseworker", Dist("gamma", 4.0, 0.5), priority=1),
    )
    routing = np.zeros((5, 5 + 3))
    routing[0, 1], routing[0, 5] = 0.78, 0.22  # assess or refuse
    routing[1, 2] = 1.0
    routing[2, 3], routing[2, 6] = 0.95, 0.05  # draft or not issued
    routing[3, 7] = 1.0
    routing[4, 7] = 1.0
    return Network(stages, (Pool("caseworker", "oldest"), Pool("ep", "fifo")),
                   ("refused", "not_issued", "done"), routing)


def leeds_like_arrivals(n_paths: int, years: float, seed: int) -> Arrivals:
    horizon = 365.0 * years
    rng = np.random.default_rng(seed)
    n_req = rng.poisson(3500 * years, n_paths)
    n_rev = rng.poisson(6000 * years, n_paths)
    counts = n_req + n_rev
    offsets = np.concatenate([[0], np.cumsum(counts)])
    n = int(offsets[-1])
    t = rng.uniform(0.0, horizon, n)
    stage = np.zeros(n, np.int64)
    cls = np.zeros(n, np.int64)
    for p in range(n_paths):
        a = offsets[p] + n_req[p]
        stage[a:offsets[p + 1]] = 4
        cls[a:offsets[p + 1]] = 1
    deadline = t + np.where(cls == 0, 140.0, 28.0)
    mult = rng.gamma(4.0, 0.25, n)
    return Arrivals.from_arrays(offsets, t, stage, cls, mult, deadline)


def main() -> None:
    n_paths = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    years = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    block = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    net = leeds_like_network()
    horizon = 365.0 * years
    # caseworker hours needed ~ 3500*(3+0.78*(6+0.95*3)) + 6000*4 ~ 59k h/yr -> ~45 servers x
    # 1,650 h/yr would be load ~0.8; EP ~ 3500*0.78*12 ~ 33k h/yr -> ~25 servers.
    cap = Capacity.constant([45, 25], [1650 / 365, 1650 / 365], int(horizon) + 1)
    t0 = time.perf_counter()
    run(net, leeds_like_arrivals(2, 0.1, seed=2), cap, 36.5, seed=1)  # compile / load cache
    t1 = time.perf_counter()
    # Blocks of paths keep memory bounded; first_path keeps each path's random stream.
    t_gen = t_run = c_run = 0.0
    ev = cases = 0
    for lo in range(0, n_paths, block):
        hi = min(lo + block, n_paths)
        g = time.perf_counter()
        arr = leeds_like_arrivals(hi - lo, years, seed=lo + 1)
        t_gen += time.perf_counter() - g
        w, c = time.perf_counter(), time.process_time()
        res = run(net, arr, cap, horizon, seed=1, first_path=lo)
        t_run += time.perf_counter() - w
        c_run += time.process_time() - c
        ev += int(res.events.sum())
        cases += arr.n_cases
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"paths={n_paths} years={years} cases={cases:,} case-stage events={ev:,}")
    print(f"warm-up {t1 - t0:.2f}s  arrivals {t_gen:.2f}s  engine {t_run:.2f}s wall, "
          f"{c_run:.2f}s CPU -> {ev / t_run:,.0f} events/s (wall), "
          f"{ev / c_run:,.0f} events per CPU-second; peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
