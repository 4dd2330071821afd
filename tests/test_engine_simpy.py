"""The engine against SimPy running the same network (``benchmarks/simpy_reference.py``).

1. Same random numbers (``rng="engine"``): SimPy's scheduler and the engine must give every case
   the same exit time and route, on a network with multi-server pools, parallel delays, a pure
   delay, a rework loop, class priorities, oldest-first and deadline-first queues, complexity
   multipliers and cases open at the start.
2. Independent random numbers (``rng="numpy"``): a 3-stage exponential tandem; mean sojourn and
   P(sojourn <= t) agree within 3%.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from forecasting.capacity.distributions import Dist
from forecasting.capacity.engine import Arrivals, Capacity, run
from forecasting.capacity.network import Network, Pool, Stage

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def simpy_ref() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "simpy_reference", ROOT / "benchmarks" / "simpy_reference.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["simpy_reference"] = mod
    spec.loader.exec_module(mod)
    return mod


def rich_network() -> Network:
    stages = (
        Stage("decide", "cw", Dist("gamma", 4.0, 0.6)),
        Stage("advice", "ep", Dist("lognormal", 10.0, 0.5),
              parallel=(Dist("gamma", 20.0, 0.3), Dist("empirical", sample=(5.0, 12.0, 30.0)))),
        Stage("draft", "cw", Dist("exponential", 6.0)),
        Stage("comment", None, Dist("gamma", 15.0, 0.2)),
        Stage("review", "cw", Dist("gamma", 3.0, 0.5), priority=1),
    )
    r = np.zeros((5, 5 + 3))
    r[0, 1], r[0, 5] = 0.8, 0.2
    r[1, 2] = 1.0
    r[2, 3], r[2, 6] = 0.9, 0.1
    r[3, 2], r[3, 7] = 0.1, 0.9  # rework loop back to drafting
    r[4, 7] = 1.0
    pools = (Pool("cw", "oldest", class_priority=(0, 1)), Pool("ep", "edf"))
    return Network(stages, pools, ("refused", "not_issued", "done"), r)


def rich_arrivals(n: int, horizon: float, seed: int) -> Arrivals:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(-60.0, horizon, n))
    cls = (rng.random(n) < 0.4).astype(np.int64)
    stage = np.where(cls == 1, 4, 0)
    stage[t < 0] = rng.integers(0, 5, (t < 0).sum())
    dl = t + np.where(cls == 0, 140.0, 28.0)
    return Arrivals.from_arrays([0, n], t, stage, cls, rng.gamma(4.0, 0.25, n), dl)


def test_same_random_numbers_give_identical_case_histories(simpy_ref: ModuleType) -> None:
    net = rich_network()
    arr = rich_arrivals(1500, 400.0, seed=3)
    servers, speed = [3, 2], [6.0, 5.0]
    horizon = 420.0
    res = run(net, arr, Capacity.constant(servers, speed, 1), horizon, seed=21, record_cases=0)
    ref = simpy_ref.simulate_simpy(
        net, arr.time, arr.stage, servers, speed, horizon, 21, case_class=arr.case_class,
        work_multiplier=arr.work_multiplier, deadline=arr.deadline, rng="engine", path=0)
    assert (res.exit_code >= 0).sum() > 1000  # most cases finished: the comparison has teeth
    np.testing.assert_array_equal(res.exit_code, ref.exit_code)
    np.testing.assert_allclose(res.exit_time, ref.exit_time, rtol=0, atol=1e-9)
    assert res.records is not None
    for col in ("case", "stage", "arrive", "start", "end"):
        np.testing.assert_allclose(res.records[col], ref.records[col], atol=1e-9, err_msg=col)
    assert int(res.events[0]) == ref.events


@pytest.mark.slow
def test_tandem_matches_independent_simpy_run(simpy_ref: ModuleType) -> None:
    lam, mus = 0.6, [1.0, 0.9, 1.2]  # per day
    stages = tuple(Stage(f"s{i}", f"p{i}", Dist("exponential", 24.0 / m))
                   for i, m in enumerate(mus))
    routing = np.zeros((3, 4))
    routing[0, 1] = routing[1, 2] = routing[2, 3] = 1.0
    net = Network(stages, tuple(Pool(f"p{i}") for i in range(3)), ("done",), routing)
    rng = np.random.default_rng(17)
    n_paths, window, horizon = 7000, 5.0, 400.0
    # Both simulators start every path from the same stationary (product-form) state and see
    # the same arrivals; only the work contents differ (independent random numbers).
    initial = np.stack([rng.geometric(1 - lam / m, n_paths) - 1 for m in mus], axis=1)
    k = rng.poisson(lam * window, n_paths)
    soj_engine: list[np.ndarray] = []
    soj_simpy: list[np.ndarray] = []
    times, stages_in, offsets = [], [], [0]
    for p in range(n_paths):
        m = int(initial[p].sum())
        t = np.concatenate([-1.0 - np.arange(m)[::-1] * 1e-6,
                            np.sort(rng.uniform(0.0, window, k[p]))])
        s = np.concatenate([np.repeat(np.arange(3), initial[p]), np.zeros(k[p], np.int64)])
        times.append(t)
        stages_in.append(s)
        offsets.append(offsets[-1] + len(t))
        ref = simpy_ref.simulate_simpy(net, t, s, [1, 1, 1], [24.0] * 3, horizon, 1000 + p)
        new = t >= 0
        assert (ref.exit_code[new] == 0).all()
        soj_simpy.append(ref.exit_time[new] - t[new])
    arr = Arrivals.from_arrays(offsets, np.concatenate(times), np.concatenate(stages_in))
    res = run(net, arr, Capacity.constant([1, 1, 1], [24.0] * 3, 1), horizon, seed=5)
    new = arr.time >= 0
    assert (res.exit_code[new] == 0).all()
    soj_engine.append(res.exit_time[new] - arr.time[new])
    e, s_ = np.concatenate(soj_engine), np.concatenate(soj_simpy)
    assert len(e) == len(s_) > 15_000
    assert e.mean() == pytest.approx(s_.mean(), rel=0.03)
    # Around and above the median, where 3% is a few standard errors of the difference.
    for t in (7.5, 12.0):
        assert (e <= t).mean() == pytest.approx((s_ <= t).mean(), rel=0.03)
