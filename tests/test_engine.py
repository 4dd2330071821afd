"""Engine mechanics on small hand-checkable cases, input validation, and output consistency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.capacity.distributions import Dist
from forecasting.capacity.engine import Arrivals, Capacity, SimResult, prepare_run, run
from forecasting.capacity.network import Network, Pool, Stage
from forecasting.errors import EhcpError

ONE_EXIT = [[0.0, 1.0]]


def single(work: Dist, policy: str = "fifo", class_priority: tuple[int, ...] = (),
           parallel: tuple[Dist, ...] = ()) -> Network:
    return Network((Stage("s", "p", work, parallel=parallel),),
                   (Pool("p", policy, class_priority),), ("done",), ONE_EXIT)


def fixed_run(net: Network, arr: Arrivals, servers: np.ndarray | list[int],
              speed: np.ndarray | list[float], horizon: float = 60.0) -> SimResult:
    s = np.asarray(servers)
    v = np.asarray(speed, dtype=float)
    if s.ndim == 1 and s.shape[0] > net.n_pools:  # a calendar for one pool
        cap = Capacity(s[None, None, :], v[None, None, :])
    else:
        cap = Capacity.constant(s, v, 1)
    return run(net, arr, cap, horizon, seed=0, record_cases=True)


def test_capacity_rise_starts_waiting_jobs_at_the_start_of_the_day() -> None:
    # 4 jobs of 10 days' work at t=0; 1 server on days 0-2, 3 servers from day 3.
    net = single(Dist("fixed", 10.0))
    arr = Arrivals.from_arrays([0, 4], time=[0.0, 0.0, 0.0, 0.0])
    res = fixed_run(net, arr, [1, 1, 1, 3, 3], [1.0] * 5)
    assert res.exit_time.tolist() == [10.0, 13.0, 13.0, 20.0]


def test_capacity_cut_takes_effect_as_servers_free_up() -> None:
    # 2 servers on day 0 then 1: both jobs started at 0 carry on; the third waits for both.
    net = single(Dist("fixed", 5.0))
    arr = Arrivals.from_arrays([0, 3], time=[0.0, 0.0, 0.0])
    res = fixed_run(net, arr, [2, 1, 1], [1.0] * 3)
    assert res.exit_time.tolist() == [5.0, 5.0, 10.0]


def test_speed_calendar_is_integrated_during_service() -> None:
    # 36 hours of work from t=0: 24 on day 0, then 12 at 12 a day -> done at day 2;
    # a weekend-style zero day pauses the work.
    net = single(Dist("fixed", 36.0))
    arr = Arrivals.from_arrays([0, 1], time=[0.0])
    assert fixed_run(net, arr, [1, 1, 1], [24.0, 12.0, 12.0]).exit_time[0] == 2.0
    assert fixed_run(net, arr, [1, 1, 1, 1], [24.0, 0.0, 12.0, 12.0]).exit_time[0] == 3.0


def _finish_by_days(t: float, hours: float, speed: list[float]) -> float:
    """Reference: integrate the speed calendar day by day (the last day's speed holds on)."""
    d = int(np.floor(t))
    while True:
        sp = speed[min(d, len(speed) - 1)]
        if d >= len(speed) - 1:
            return t + hours / sp
        if sp * (d + 1 - t) >= hours:
            return t + hours / sp
        hours -= sp * (d + 1 - t)
        t, d = float(d + 1), d + 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 2.5, 7.0, 24.0]), st.integers(1, 6)),
                min_size=1, max_size=8),
       st.floats(0.0, 20.0), st.floats(0.1, 200.0))
def test_finish_time_over_runs_of_equal_speed_matches_day_by_day(
        runs: list[tuple[float, int]], start: float, hours: float) -> None:
    # The engine steps over each run of days with one speed at once; the reference steps a day
    # at a time. Zero-speed days (weekends, holidays) pause the work.
    speed = [v for v, n in runs for _ in range(n)] + [5.0]
    net = single(Dist("fixed", hours))
    arr = Arrivals.from_arrays([0, 1], time=[start])
    res = fixed_run(net, arr, [1] * len(speed), speed, horizon=1e6)
    assert res.exit_time[0] == pytest.approx(_finish_by_days(start, hours, speed), rel=1e-12,
                                             abs=1e-9)


def test_parallel_delays_and_work_multiplier() -> None:
    # Stage ends at max(work done, entry + each delay).
    net = single(Dist("fixed", 24.0), parallel=(Dist("fixed", 3.0), Dist("fixed", 1.5)))
    arr = Arrivals.from_arrays([0, 2], time=[0.0, 0.0], work_multiplier=[1.0, 5.0])
    res = fixed_run(net, arr, [2], [24.0])
    assert res.exit_time.tolist() == [3.0, 5.0]


def test_pure_delay_stage_uses_no_capacity() -> None:
    net = Network((Stage("wait", None, Dist("fixed", 4.0)),), (), ("done",), ONE_EXIT)
    arr = Arrivals.from_arrays([0, 3], time=[0.0, 0.0, 1.0])
    res = run(net, arr, Capacity(np.zeros((1, 0, 1)), np.zeros((1, 0, 1))), 30.0, seed=0)
    assert res.exit_time.tolist() == [4.0, 4.0, 5.0]


@pytest.mark.parametrize(("policy", "order"), [("fifo", [2, 3, 1]), ("oldest", [1, 2, 3]),
                                               ("edf", [3, 1, 2])])
def test_queue_policies(policy: str, order: list[int]) -> None:
    # Case 0 (open at the start) holds the one "main" server until day 1. Cases 1-3 arrive at
    # 0.1, 0.2, 0.3 and pass a quick "intake" stage whose length depends on their multiplier,
    # so they join the main queue in the order 2, 3, 1; their deadlines are 20, 30, 10.
    stages = (Stage("intake", "fast", Dist("fixed", 1.0)), Stage("main", "p", Dist("fixed", 24.0)))
    net = Network(stages, (Pool("fast"), Pool("p", policy)), ("done",),
                  [[0, 1.0, 0], [0, 0, 1.0]])
    arr = Arrivals.from_arrays([0, 4], time=[-5.0, 0.1, 0.2, 0.3], stage=[1, 0, 0, 0],
                               work_multiplier=[1.0, 12.0, 2.4, 0.24],
                               deadline=[0.0, 20.0, 30.0, 10.0])
    res = run(net, arr, Capacity.constant([10, 1], [24.0, 24.0], 1), 30.0, seed=0)
    assert res.exit_time[0] == 1.0
    assert np.argsort(res.exit_time)[1:].tolist() == order


def test_class_priority_and_stage_priority() -> None:
    net = single(Dist("fixed", 24.0), class_priority=(1, 0))
    arr = Arrivals.from_arrays([0, 3], time=[0.0, 0.1, 0.2], case_class=[0, 0, 1])
    res = fixed_run(net, arr, [1], [24.0])
    assert res.exit_time.tolist() == [1.0, 3.0, 2.0]  # class 1 jumps the queue
    stages = (Stage("a", "p", Dist("fixed", 24.0), priority=1),
              Stage("b", "p", Dist("fixed", 24.0), priority=0))
    net2 = Network(stages, (Pool("p"),), ("done",), [[0, 0, 1.0], [0, 0, 1.0]])
    arr2 = Arrivals.from_arrays([0, 3], time=[0.0, 0.1, 0.2], stage=[0, 0, 1])
    assert fixed_run(net2, arr2, [1], [24.0]).exit_time.tolist() == [1.0, 3.0, 2.0]


def test_routing_frequencies_and_named_exits() -> None:
    stages = (Stage("decide", None, Dist("exponential", 1.0)),
              Stage("rework", None, Dist("exponential", 1.0)))
    r = [[0.0, 0.5, 0.3, 0.2], [0.5, 0.0, 0.0, 0.5]]
    net = Network(stages, (), ("refused", "issued"), r)
    arr = Arrivals.poisson(50.0, 200.0, n_paths=2, seed=1)
    res = run(net, arr, Capacity(np.zeros((1, 0, 1)), np.zeros((1, 0, 1))), 1e6, seed=4)
    done = res.exit_code >= 0
    assert done.all()
    # Absorption probabilities: refused = 0.3 / (1 - 0.5 * 0.5) = 0.4.
    assert (res.exit_code == 0).mean() == pytest.approx(0.4, abs=0.01)


def test_weekly_counts_agree_with_case_records() -> None:
    stages = (Stage("a", "p", Dist("gamma", 30.0, 0.7), parallel=(Dist("gamma", 12.0, 0.5),)),
              Stage("b", "p", Dist("exponential", 20.0)),
              Stage("c", None, Dist("lognormal", 9.0, 0.4)))
    r = [[0, 0.7, 0.1, 0.2, 0], [0.1, 0, 0.6, 0, 0.3], [0, 0, 0, 0, 1.0]]
    net = Network(stages, (Pool("p", "edf"),), ("out", "done"), r)
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(-50, 300, 700))
    arr = Arrivals.from_arrays([0, 400, 700], t, stage=rng.integers(0, 3, 700),
                               deadline=t + rng.uniform(10, 80, 700))
    cap = Capacity(rng.integers(1, 6, (2, 1, 200)), rng.uniform(10, 30, (2, 1, 200)))
    res = run(net, arr, cap, 350.0, seed=3, record_cases=True, late_edges_weeks=(0, 2, 6))
    rec = res.records
    assert rec is not None
    n_weeks = res.n_weeks
    ends = 7.0 * (np.arange(n_weeks) + 1)
    for p in range(2):
        sel = rec["path"] == p
        cases = rec["case"][sel] + arr.offsets[p]
        arrive, start, end = rec["arrive"][sel], rec["start"][sel], rec["end"][sel]
        stage = rec["stage"][sel]
        end = np.where(np.isnan(end), np.inf, end)
        start = np.where(np.isnan(start), np.inf, start)
        dl = arr.deadline[cases]
        for s in range(3):
            m = stage == s
            inside = (arrive[m, None] < ends) & (end[m, None] >= ends)
            late_w = (ends - dl[m, None]) / 7.0
            band = np.searchsorted(np.array([0.0, 2.0, 6.0]), late_w, side="left")
            for b in range(4):
                np.testing.assert_array_equal(res.in_stage[p, s, b], (inside & (band == b)).sum(0))
            waiting = (arrive[m, None] < ends) & (start[m, None] >= ends)
            np.testing.assert_array_equal(res.waiting[p, s], waiting.sum(0))
            wk_end = np.floor(end[m] / 7.0)
            np.testing.assert_array_equal(
                res.completions[p, s], np.bincount(wk_end[wk_end < n_weeks].astype(int),
                                                   minlength=n_weeks))
    # Conservation: entries - completions accumulate into cases in the stage.
    total_in = res.in_stage.sum(axis=2)
    flow = np.cumsum(res.entries - res.completions, axis=2)
    np.testing.assert_array_equal(total_in, flow)
    assert res.band_names == ("not_yet_due", "late_0_2", "late_2_6", "late_6_plus")


def test_records_of_a_looping_network_overflow_and_rerun_the_path() -> None:
    # Rework 90% of the time: ~10 visits per case, more than the record buffer's first size
    # (4 per case), so the recording pass runs the path again with a bigger buffer.
    stages = (Stage("work", "p", Dist("exponential", 6.0)),)
    net = Network(stages, (Pool("p"),), ("done",), [[0.9, 0.1]])
    arr = Arrivals.poisson(0.5, 200.0, n_paths=2, seed=8)
    cap = Capacity.constant([2], [24.0], 400)
    res = run(net, arr, cap, 400.0, seed=5, record_cases=[0, 1])
    rec = res.records
    assert rec is not None
    for p in range(2):
        sel = rec["path"] == p
        finished = ~np.isnan(rec["end"][sel])
        assert int(finished.sum()) == int(res.events[p])
        assert sel.sum() > 4 * (arr.offsets[p + 1] - arr.offsets[p])
        lo, hi = arr.offsets[p], arr.offsets[p + 1]
        exit_time = res.exit_time[lo:hi]
        for c in np.flatnonzero(np.isfinite(exit_time)):
            last = sel & (rec["case"] == c)
            assert rec["end"][last].max() == exit_time[c]


def test_case_states_at_horizon_are_complete() -> None:
    net = single(Dist("exponential", 30.0))
    arr = Arrivals.poisson(2.0, 100.0, n_paths=3, seed=2)
    late = Arrivals.from_arrays([0, 1], time=[500.0])
    both = Arrivals.concat([arr, late])
    res = run(net, both, Capacity.constant([1], [24.0], 1), 100.0, seed=1)
    assert res.exit_code[-1] == -2  # arrives after the horizon
    open_ = res.exit_code == -1
    assert (res.stage_at_horizon[open_] == 0).all()
    assert (res.stage_at_horizon[~open_] == -1).all()
    assert np.isnan(res.exit_time[~(res.exit_code >= 0)]).all()


def test_same_seed_same_output_and_blocks_equal_one_run() -> None:
    net = single(Dist("gamma", 20.0, 0.8))
    arr = Arrivals.poisson(1.5, 200.0, n_paths=6, seed=3)
    cap = Capacity.constant([1], [24.0], 1)
    a = run(net, arr, cap, 250.0, seed=42, n_threads=2)
    b = run(net, arr, cap, 250.0, seed=42, n_threads=1)
    np.testing.assert_array_equal(a.exit_time, b.exit_time)
    np.testing.assert_array_equal(a.in_stage, b.in_stage)
    o = arr.offsets
    first = Arrivals(o[:4], arr.time[:o[3]], arr.stage[:o[3]], arr.case_class[:o[3]],
                     arr.work_multiplier[:o[3]], arr.deadline[:o[3]])
    rest = Arrivals(o[3:] - o[3], arr.time[o[3]:], arr.stage[o[3]:], arr.case_class[o[3]:],
                    arr.work_multiplier[o[3]:], arr.deadline[o[3]:])
    r1 = run(net, first, cap, 250.0, seed=42)
    r2 = run(net, rest, cap, 250.0, seed=42, first_path=3)
    np.testing.assert_array_equal(np.concatenate([r1.exit_time, r2.exit_time]), a.exit_time)
    c = run(net, arr, cap, 250.0, seed=43)
    assert not np.array_equal(np.nan_to_num(c.exit_time), np.nan_to_num(a.exit_time))


OUTPUT_FIELDS = ("exit_time", "exit_code", "stage_at_horizon", "entries", "completions", "exits",
                 "exits_late", "waiting", "in_stage", "work_hours", "events", "started",
                 "wait_sum", "wait_hist")


def test_output_buffers_are_reused_and_give_the_fresh_result() -> None:
    net = single(Dist("gamma", 20.0, 0.8))
    cap = Capacity.constant([1], [24.0], 1)
    big = Arrivals.poisson(1.5, 200.0, n_paths=4, seed=3)
    small = Arrivals.poisson(1.0, 200.0, n_paths=3, seed=4)
    buffers: dict[str, np.ndarray] = {}
    # A bigger block, then a smaller one into the same (now dirty) buffers, then the bigger
    # again: each must equal a run into fresh arrays, so every counter is zeroed.
    for arr in (big, small, big):
        fresh = run(net, arr, cap, 250.0, seed=42)
        reused = run(net, arr, cap, 250.0, seed=42, buffers=buffers)
        for name in OUTPUT_FIELDS:
            np.testing.assert_array_equal(getattr(reused, name), getattr(fresh, name), name)
        assert np.shares_memory(reused.exit_time, buffers["exit_time"])
        assert np.shares_memory(reused.in_stage, buffers["in_stage"])
    first_buffer = buffers["exit_time"]
    run(net, small, cap, 250.0, seed=42, buffers=buffers)
    assert buffers["exit_time"] is first_buffer  # made once, reused for smaller blocks


def test_prepared_blocks_queued_on_one_pool_equal_one_run() -> None:
    # simulate_capacity's pattern: blocks prepared ahead, each started on one shared pool
    # before the previous one has finished, into two alternating sets of output buffers.
    net = single(Dist("gamma", 20.0, 0.8))
    cap = Capacity.constant([1], [24.0], 1)
    arr = Arrivals.poisson(1.5, 200.0, n_paths=7, seed=3)
    whole = run(net, arr, cap, 250.0, seed=42, record_cases=[1, 5])
    o = arr.offsets
    edges = [0, 3, 5, 7]
    buffers: list[dict[str, np.ndarray]] = [{}, {}]
    results = []
    with ThreadPoolExecutor(2) as pool:
        running = None
        for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
            part = Arrivals(o[lo:hi + 1] - o[lo], *(getattr(arr, f)[o[lo]:o[hi]] for f in
                            ("time", "stage", "case_class", "work_multiplier", "deadline")))
            want = [p - lo for p in (1, 5) if lo <= p < hi]
            prepared = prepare_run(net, part, cap, 250.0, seed=42, first_path=lo,
                                   record_cases=want, buffers=buffers[k % 2])
            prepared.start(pool, 2, n_tasks=(1, 2, 5)[k])  # any split gives the same
            if running is not None:
                results.append(copy_result(running.result()))
            running = prepared
        assert running is not None
        results.append(copy_result(running.result()))
    for name in ("exit_time", "exit_code", "in_stage", "wait_hist", "events"):
        np.testing.assert_array_equal(np.concatenate([r[name] for r in results]),
                                      getattr(whole, name), name)
    assert whole.records is not None
    for name in ("case", "stage", "arrive", "end"):
        np.testing.assert_array_equal(np.concatenate([r["rec_" + name] for r in results]),
                                      whole.records[name], name)


def copy_result(res: SimResult) -> dict[str, np.ndarray]:
    out = {name: getattr(res, name).copy() for name in ("exit_time", "exit_code", "in_stage",
                                                         "wait_hist", "events")}
    recs = res.records or {}
    for name in ("case", "stage", "arrive", "end"):
        out["rec_" + name] = recs.get(name, np.zeros(0))
    return out


def test_prepared_run_must_start_once_before_its_result() -> None:
    net = single(Dist("fixed", 24.0))
    arr = Arrivals.from_arrays([0, 2], time=[0.0, 0.0])
    prepared = prepare_run(net, arr, Capacity.constant([1], [24.0], 10), 10, seed=1)
    with pytest.raises(RuntimeError, match="start"):
        prepared.result()
    prepared.start(None)
    assert prepared.result().exit_time.tolist() == [1.0, 2.0]
    with pytest.raises(RuntimeError, match="already"):
        prepared.start(None)
    # Bad inputs fail when the run is prepared, with run's errors.
    bad = Arrivals.from_arrays([0, 1], time=[np.nan])
    with pytest.raises(EhcpError, match="finite"):
        prepare_run(net, bad, Capacity.constant([1], [24.0], 10), 10, seed=1)


def test_common_random_numbers_across_capacity() -> None:
    # Same seed, different staffing: each case gets the same work and the same route.
    stages = (Stage("a", "p", Dist("gamma", 10.0, 0.5)), Stage("b", "p", Dist("lognormal", 5.0, 1)))
    net = Network(stages, (Pool("p"),), ("x", "y"), [[0, 0.5, 0.5, 0], [0, 0, 0, 1.0]])
    arr = Arrivals.poisson(3.0, 100.0, n_paths=2, seed=5)
    lo = run(net, arr, Capacity.constant([2], [8.0], 1), 1e5, seed=9, record_cases=True)
    hi = run(net, arr, Capacity.constant([6], [8.0], 1), 1e5, seed=9, record_cases=True)
    np.testing.assert_array_equal(lo.exit_code, hi.exit_code)
    assert lo.records is not None and hi.records is not None
    work_lo = (lo.records["end"] - lo.records["start"]) * 8.0
    work_hi = (hi.records["end"] - hi.records["start"]) * 8.0
    np.testing.assert_allclose(work_lo, work_hi, rtol=1e-9)
    assert np.nanmean(hi.exit_time - arr.time) < np.nanmean(lo.exit_time - arr.time)


def test_unsorted_arrivals_give_the_same_case_results() -> None:
    net = single(Dist("exponential", 20.0))
    arr = Arrivals.poisson(2.0, 100.0, n_paths=1, seed=8)
    perm = np.random.default_rng(0).permutation(arr.n_cases)
    shuffled = Arrivals.from_arrays(arr.offsets, arr.time[perm])
    a = run(net, arr, Capacity.constant([2], [24.0], 1), 150.0, seed=1)
    b = run(net, shuffled, Capacity.constant([2], [24.0], 1), 150.0, seed=1)
    # Work is keyed by the case index, so shuffling changes draws but not the bookkeeping.
    assert (a.exit_code >= 0).sum() == a.completions.sum()
    assert (b.exit_code >= 0).sum() == b.completions.sum()
    assert a.entries.sum() == b.entries.sum() == arr.n_cases


# --- validation -----------------------------------------------------------------------------------

def test_network_validation_names_the_stage() -> None:
    a = Stage("assess", "ep", Dist("fixed", 1.0))
    b = Stage("draft", "ep", Dist("fixed", 1.0))
    pools = (Pool("ep"),)
    with pytest.raises(EhcpError, match="'assess' sum to 0.9") as e:
        Network((a, b), pools, ("done",), [[0, 0.5, 0.4], [0, 0, 1]])
    assert e.value.field == "routing.assess"
    with pytest.raises(EhcpError, match=r"in \[0, 1\]"):
        Network((a, b), pools, ("done",), [[0, 1.5, -0.5], [0, 0, 1]])
    with pytest.raises(EhcpError, match="no exit can be reached") as e:
        Network((a, b), pools, ("done",), [[0, 0.5, 0.5], [0, 1.0, 0]])
    assert e.value.field == "routing.draft"
    with pytest.raises(EhcpError, match="unknown pool"):
        Network((Stage("x", "cw", Dist("fixed", 1.0)),), pools, ("done",), ONE_EXIT)
    with pytest.raises(EhcpError, match="duplicate"):
        Network((a, a), pools, ("done",), [[0, 0, 1], [0, 0, 1]])
    with pytest.raises(EhcpError, match="shape"):
        Network((a,), pools, ("done",), [[1.0]])
    with pytest.raises(EhcpError, match="unknown queue policy"):
        Pool("ep", "lifo")


def test_distribution_validation() -> None:
    with pytest.raises(EhcpError, match="unknown distribution"):
        Dist("weibull", 1.0)
    with pytest.raises(EhcpError, match="non-negative"):
        Dist("gamma", -1.0, 0.5)
    with pytest.raises(EhcpError, match="at least one"):
        Dist("empirical")


def test_run_input_validation() -> None:
    net = single(Dist("fixed", 1.0))
    arr = Arrivals.from_arrays([0, 1], time=[0.0])
    good = Capacity.constant([1], [1.0], 1)
    with pytest.raises(EhcpError, match="entry stage"):
        run(net, Arrivals.from_arrays([0, 1], time=[0.0], stage=3), good, 10, 0)
    with pytest.raises(EhcpError, match="capacity arrays"):
        run(net, arr, Capacity.constant([1, 1], [1.0, 1.0], 1), 10, 0)
    with pytest.raises(EhcpError, match="non-negative"):
        Capacity.constant([-1], [1.0], 1)
    with pytest.raises(EhcpError, match="horizon"):
        run(net, arr, good, 0, 0)
    with pytest.raises(EhcpError, match="offsets"):
        run(net, Arrivals.from_arrays([0, 2], time=[0.0]), good, 10, 0)
    with pytest.raises(EhcpError, match="record path"):
        run(net, arr, good, 10, 0, record_cases=5)


def test_time_order_is_a_stable_argsort() -> None:
    from forecasting.capacity.engine_heaps import time_order

    rng = np.random.default_rng(1)
    cases = [rng.uniform(0, 1825, 5000), np.round(rng.uniform(-50, 50, 2000)), np.zeros(7),
             rng.exponential(1.0, 3000) ** 4, np.array([2.0, 1.0]),
             np.concatenate([-1e-6 * rng.permutation(3000), [1e6]])]  # bunched: fallback
    for t in cases:
        order = np.empty(len(t), np.int64)
        time_order(t, order, np.empty(len(t), np.int64))
        np.testing.assert_array_equal(order, np.argsort(t, kind="stable"))


def test_path_keys_are_numpys_spawned_children() -> None:
    from forecasting.capacity.distributions import path_keys

    children = np.random.SeedSequence(11).spawn(7)
    expected = [c.generate_state(1, np.uint64)[0] for c in children]
    assert path_keys(11, 0, 7).tolist() == expected
    assert path_keys(11, 4, 3).tolist() == expected[4:]
