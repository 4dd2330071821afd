"""Property tests of the engine on random networks, arrivals and staffing calendars.

Invariants: no case is lost or duplicated (each case's visits form one unbroken chain from its
arrival to its exit or to the horizon), queues and counts are never negative, flows balance,
no job starts when every server is busy, the same seed gives identical output, and (for a
first-come-first-served pool under common random numbers) more servers never raise the backlog.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecasting.capacity.distributions import Dist
from forecasting.capacity.engine import Arrivals, Capacity, run
from forecasting.capacity.engine_kernel import route_table
from forecasting.capacity.network import Network, Pool, Stage

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def dists(draw: st.DrawFn) -> Dist:
    kind = draw(st.sampled_from(["fixed", "exponential", "gamma", "lognormal", "empirical"]))
    if kind == "empirical":
        return Dist(kind, sample=tuple(draw(st.lists(st.floats(0, 20), min_size=1, max_size=4))))
    return Dist(kind, draw(st.floats(0.0, 20.0)), draw(st.floats(0.0, 2.0)))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Network, Arrivals, Capacity, float]:
    n_stages = draw(st.integers(1, 4))
    n_pools = draw(st.integers(1, 2))
    n_exits = draw(st.integers(1, 2))
    stages = []
    for i in range(n_stages):
        pool = draw(st.sampled_from([None] + [f"p{q}" for q in range(n_pools)]))
        parallel = tuple(draw(st.lists(dists(), max_size=2)))
        stages.append(Stage(f"s{i}", pool, draw(dists()), parallel, draw(st.integers(0, 1))))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    routing = rng.dirichlet(np.ones(n_stages + n_exits), size=n_stages)
    # At least a 20% chance of leaving at every stage, so no loop traps cases.
    routing[:, :n_stages] *= 0.8
    routing[:, n_stages:] = routing[:, n_stages:] * 0.8 + 0.2 / n_exits
    policies = [draw(st.sampled_from(["fifo", "oldest", "edf"])) for _ in range(n_pools)]
    pools = tuple(Pool(f"p{q}", policies[q], class_priority=(1, 0)) for q in range(n_pools))
    net = Network(tuple(stages), pools, tuple(f"e{k}" for k in range(n_exits)), routing)
    n_paths = draw(st.integers(1, 3))
    counts = rng.integers(0, 40, n_paths)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    n = int(offsets[-1])
    horizon = float(draw(st.integers(5, 80)))
    t = rng.uniform(-20.0, horizon + 10.0, n)
    arr = Arrivals.from_arrays(offsets, t, rng.integers(0, n_stages, n), rng.integers(0, 2, n),
                               rng.gamma(2.0, 0.5, n), t + rng.uniform(0, 60, n))
    n_days = draw(st.integers(1, 90))
    cap_paths = draw(st.sampled_from([1, n_paths]))
    servers = rng.integers(0, 4, (cap_paths, n_pools, n_days))
    servers[..., -1] = np.maximum(servers[..., -1], 1)
    speed = rng.choice([0.0, 3.0, 7.5, 24.0], size=(cap_paths, n_pools, n_days))
    speed[..., -1] = 7.5
    return net, arr, Capacity(servers, speed), horizon


@SETTINGS
@given(scenarios(), st.integers(0, 2**31))
def test_no_case_lost_or_duplicated_and_counts_balance(scn, seed: int) -> None:
    net, arr, cap, horizon = scn
    res = run(net, arr, cap, horizon, seed, record_cases=True)
    rec = res.records
    assert rec is not None
    arrived = arr.time < horizon
    assert (res.exit_code[~arrived] == -2).all()
    assert (res.exit_code[arrived] >= -1).all()
    exited = res.exit_code >= 0
    assert np.isfinite(res.exit_time[exited]).all() and np.isnan(res.exit_time[~exited]).all()
    if arr.n_cases == 0:
        assert rec["case"].size == 0 and res.in_stage.sum() == 0
        return
    gid = rec["case"] + arr.offsets[rec["path"]]
    order = np.lexsort((rec["arrive"], gid))
    gid, stage = gid[order], rec["stage"][order]
    a, s, e = rec["arrive"][order], rec["start"][order], rec["end"][order]
    served = rec["served"][order]
    # Visits exist exactly for arrived cases; the chain has no gaps and no overlaps.
    assert set(np.unique(gid)) == set(np.flatnonzero(arrived))
    first = np.r_[True, gid[1:] != gid[:-1]]
    last = np.r_[gid[1:] != gid[:-1], True]
    np.testing.assert_allclose(a[first], np.maximum(arr.time[gid[first]], 0.0))
    assert (stage[first] == arr.stage[gid[first]]).all()
    np.testing.assert_array_equal(a[~first], e[np.flatnonzero(~first) - 1])
    assert np.isfinite(e[~last]).all()
    np.testing.assert_array_equal(e[last], res.exit_time[gid[last]])
    open_last = last & np.isnan(e)
    assert (stage[open_last] == res.stage_at_horizon[gid[open_last]]).all()
    ok_start = ~np.isnan(s)
    assert (s[ok_start] >= a[ok_start]).all()
    done = ~np.isnan(e)
    assert (e[done] >= served[done]).all() and (served[done] >= s[done]).all()
    assert int(res.events.sum()) == int(done.sum())
    # Weekly counts: never negative, and flows balance.
    for name in ("entries", "completions", "exits", "waiting", "in_stage", "started"):
        assert (getattr(res, name) >= 0).all(), name
    assert (res.waiting <= res.in_stage.sum(axis=2)).all()
    np.testing.assert_array_equal(res.in_stage.sum(axis=2),
                                  np.cumsum(res.entries - res.completions, axis=2))
    # A job only starts when a server is free on that day (cuts may leave more busy later).
    pool_of = net.pool_of_stage()
    for p in range(arr.n_paths):
        cp = p if cap.servers.shape[0] > 1 else 0
        on_p = rec["path"][order] == p
        for q in range(net.n_pools):
            jobs = on_p & (pool_of[stage] == q) & ok_start
            st_, en = s[jobs], np.where(np.isnan(served[jobs]), np.inf, served[jobs])
            for t0 in np.unique(st_):
                day = min(int(np.floor(t0)), cap.servers.shape[2] - 1)
                assert ((st_ <= t0) & (en > t0)).sum() <= cap.servers[cp, q, day]


@SETTINGS
@given(scenarios(), st.integers(0, 2**31))
def test_same_seed_gives_identical_output(scn, seed: int) -> None:
    net, arr, cap, horizon = scn
    a = run(net, arr, cap, horizon, seed)
    b = run(net, arr, cap, horizon, seed, n_threads=1)
    for name in ("exit_time", "exit_code", "in_stage", "waiting", "entries", "wait_sum",
                 "work_hours"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.integers(1, 4), st.integers(1, 3), dists(), st.integers(0, 2**31),
       st.booleans())
def test_more_servers_never_raise_the_backlog(c: int, extra: int, work: Dist, seed: int,
                                              then_delay: bool) -> None:
    # First come, first served with the same work per case (common random numbers): every
    # start, so every exit, is no later with more servers, hence the backlog is no larger.
    stages = [Stage("serve", "p", work)]
    routing = [[0.0, 1.0]]
    if then_delay:
        stages.append(Stage("wait", None, Dist("gamma", 5.0, 1.0)))
        routing = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    net = Network(tuple(stages), (Pool("p", "fifo"),), ("done",), routing)
    arr = Arrivals.poisson(0.8 * c, 120.0, n_paths=2, seed=seed % 1000)
    small = run(net, arr, Capacity.constant([c], [2.0], 1), 150.0, seed)
    big = run(net, arr, Capacity.constant([c + extra], [2.0], 1), 150.0, seed)
    backlog_small = small.in_stage.sum(axis=(1, 2))
    backlog_big = big.in_stage.sum(axis=(1, 2))
    assert (backlog_big <= backlog_small).all()
    assert backlog_big.mean() <= backlog_small.mean()
    t_small = np.where(small.exit_code >= 0, small.exit_time, np.inf)
    t_big = np.where(big.exit_code >= 0, big.exit_time, np.inf)
    assert (t_big <= t_small + 1e-9).all()


@SETTINGS
@given(st.lists(st.lists(st.sampled_from([0.0, 0.0, 0.013, 0.05, 0.18, 0.25, 0.5, 1.0]),
                         min_size=1, max_size=8), min_size=1, max_size=4),
       st.lists(st.floats(1e-12, 1.0 - 1e-12), min_size=1, max_size=20))
def test_route_table_picks_the_same_destination_as_the_full_search(rows, us) -> None:
    width = max(len(r) for r in rows)
    probs = np.zeros((len(rows), width))
    for s, r in enumerate(rows):
        probs[s, : len(r)] = r
    probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-300)
    cum = np.cumsum(probs, axis=1)
    r_cum, r_col, r_len = route_table(cum)
    for s in range(len(rows)):
        for u in [*us, float(cum[s, -1])]:
            full = next((j for j in range(width) if u < cum[s, j]), width - 1)
            short = next((int(r_col[s, j]) for j in range(r_len[s]) if u < r_cum[s, j]),
                         width - 1)
            assert short == full
        # only columns whose probability is positive are searched
        assert all(probs[s, r_col[s, j]] > 0 for j in range(r_len[s]))
