"""``make bench-simulate``: the EHCP capacity simulator at Leeds scale against SimPy.

Leeds scale: about 3,500 requests a year and about 6,000 plans in stock (annual reviews), over
5 years, with staffing held constant (so the SimPy reference, which takes constant capacity,
runs exactly the same pipeline). Prints, honestly and without pass/fail:

- our simulator (``simulate_capacity``: cases, engine, weekly rows, diagnostics) for N paths
  (default 1,000): wall time, case-stage events per second, peak memory (max RSS);
- the same network and the same cases in SimPy (``benchmarks/simpy_reference.py``) for a few
  paths (default 5): events per second;
- the ratio of the two throughputs, and a check that both give the same mean time to issue.

Usage: ``python benchmarks/bench_simulate.py [n_paths] [simpy_paths]``.
Targets from the issue: >= 100x SimPy's throughput; 1,000 paths < 10 s on 2 cores; < 2 GB.
"""

from __future__ import annotations

import os
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from simpy_reference import simulate_simpy  # noqa: E402

from forecasting.capacity.config import CapacityConfig, capacity_config, load_capacity_config  # noqa: E402
from forecasting.capacity.demand import (  # noqa: E402
    CaseArrays,
    block_cases,
    day_weights,
    demand_paths_from_frame,
    path_cases,
)
from forecasting.capacity.ehcp import POOLS, build_network  # noqa: E402
from forecasting.capacity.initial import initial_cases  # noqa: E402
from forecasting.capacity.simulate import simulate_capacity  # noqa: E402
from forecasting.capacity.staff import to_servers_speed  # noqa: E402
from forecasting.errors import EhcpWarning  # noqa: E402

SEED = 2025


def leeds_scale() -> CapacityConfig:
    """configs/leeds.yaml with 3,500 requests a year, 6,000 plans and constant staffing."""
    data = load_capacity_config(ROOT / "configs" / "leeds.yaml").model_dump(mode="json")
    data["demand"]["source"] = "fixed"
    data["demand"]["requests_per_year"] = 3500
    data["demand"]["growth_per_year"] = 0.0
    data["demand"]["stock"]["plans_at_start"] = 6000
    data["simulation"]["years"] = 5
    for pool, fte in (("ep", 38.0), ("caseworker", 48.0)):
        p = data["staff"][pool]
        p["fte"] = [{"date": data["simulation"]["start"], "fte": fte}]
        p.update(vacant_fte=0.0, attrition_per_year=0.0, trainees=[], locum_hours=[],
                 term_time_share=0.0)
    return capacity_config(data)


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KB on Linux


def main(n_paths: int = 1000, simpy_paths: int = 5) -> None:
    cfg = leeds_scale()
    print(f"Leeds-scale pipeline: 3,500 requests/year, 6,000 plans in stock, "
          f"{cfg.simulation.years} years, constant staffing; {os.cpu_count()} CPUs visible")

    # Compile the engine once so the timing is of the simulation, not of numba.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EhcpWarning)
        t0 = time.perf_counter()
        simulate_capacity(cfg, n_paths=2, seed=SEED)
        print(f"warm-up (2 paths, includes any numba compilation): {time.perf_counter() - t0:.1f} s")
        t0, c0 = time.perf_counter(), time.process_time()
        ours = simulate_capacity(cfg, n_paths=n_paths, seed=SEED)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    ours_rate = ours.events / wall
    print(f"ours:  {n_paths} paths in {wall:.2f} s wall, {cpu:.2f} CPU-s (all threads); "
          f"{ours.events:,} case-stage events; {ours_rate:,.0f} events/s wall, "
          f"{ours.events / cpu:,.0f} events per CPU-s (whole simulate_capacity call); "
          f"peak memory (max RSS) {max_rss_mb():,.0f} MB")
    peak_ours = max_rss_mb()
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
          "(wall times on a shared machine are upper bounds)")
    engine_floor(cfg, min(n_paths, 100))

    # SimPy on the first paths: the same network, the same cases, the same capacity.
    network = build_network(cfg.pipeline)
    horizon = float(cfg.simulation.horizon_days)
    demand = demand_paths_from_frame(None, cfg, simpy_paths)
    weights = day_weights(cfg.simulation.start, cfg.simulation.horizon_days,
                          cfg.demand.seasonality)
    servers, speed = [], []
    from forecasting.capacity.staff import simulate_pool

    for pool in POOLS:
        pc = getattr(cfg.staff, pool)
        st = simulate_pool(pc, cfg.simulation.start, 7, 1, np.random.default_rng(0))
        s, v = to_servers_speed(st.hours[:, :1], pc.hours_per_fte_day())
        servers.append(int(s[0, 0]))
        speed.append(float(v[0, 0]))
    simpy_events = 0
    simpy_time = 0.0
    simpy_cpu = 0.0
    sojourn_simpy, sojourn_ours = [], []
    for p in range(simpy_paths):
        initial = initial_cases(cfg, p, SEED, float(demand.requests[p, 0]))
        cases = CaseArrays.concat(path_cases(cfg, demand, p, SEED, weights, initial))
        # SimPy runs in this thread only: thread CPU time excludes any idle engine worker threads.
        t0, c0 = time.perf_counter(), time.thread_time()
        res = simulate_simpy(network, cases.time, cases.stage, servers, speed, horizon, SEED,
                             case_class=cases.case_class, work_multiplier=cases.work_multiplier,
                             deadline=cases.deadline, rng="engine", path=p)
        simpy_time += time.perf_counter() - t0
        simpy_cpu += time.thread_time() - c0
        simpy_events += res.events
        issued = (res.exit_code == 2) & (cases.time >= 0)
        sojourn_simpy.append(np.mean(res.exit_time[issued] - cases.time[issued]))
    simpy_rate = simpy_events / simpy_time
    print(f"SimPy: {simpy_paths} paths in {simpy_time:.2f} s wall, {simpy_cpu:.2f} CPU-s; "
          f"{simpy_events:,} case-stage events; {simpy_rate:,.0f} events/s wall, "
          f"{simpy_events / simpy_cpu:,.0f} events per CPU-s")
    print(f"throughput ratio ours / SimPy: {ours_rate / simpy_rate:,.1f}x wall, "
          f"{(ours.events / cpu) / (simpy_events / simpy_cpu):,.1f}x per CPU-second "
          "(target >= 100x)")
    print(f"1,000-path equivalent wall time: {wall * 1000 / n_paths:.2f} s; on 2 idle cores about "
          f"{cpu * 1000 / n_paths / 2:.1f} s (CPU-s / 2) (target < 10 s); "
          f"peak memory {peak_ours:,.0f} MB (target < 2,048 MB)")

    # Same cases, same draws: the mean time from request to issue should agree closely.
    check = simulate_capacity(cfg, n_paths=simpy_paths, seed=SEED, record_path=0)
    if check.cases is not None:
        c = check.cases
        final = c[(c["stage"] == "final") & (c["exit"] == "issued") & (c["request_time"] >= 0)]
        sojourn_ours.append(float((final["exit_time"] - final["request_time"]).mean()))
        print(f"mean days from request to final plan, path 0: ours {sojourn_ours[0]:.2f}, "
              f"SimPy {sojourn_simpy[0]:.2f}")


def engine_inputs(cfg: CapacityConfig, n_paths: int) -> tuple:
    """The engine's inputs for ``n_paths`` paths, built beforehand: (network, arrivals,
    capacity, horizon), with the bench's seed (also used by ``engine_instructions.py``)."""
    from forecasting.capacity.engine import Capacity
    from forecasting.capacity.staff import simulate_pool

    network = build_network(cfg.pipeline)
    sim = cfg.simulation
    demand = demand_paths_from_frame(None, cfg, n_paths)
    weights = day_weights(sim.start, sim.horizon_days, cfg.demand.seasonality)
    parts = [path_cases(cfg, demand, p, SEED, weights,
                        initial_cases(cfg, p, SEED, float(demand.requests[p, 0])))
             for p in range(n_paths)]
    cases, offsets = block_cases(parts)
    arrivals = cases.to_arrivals(offsets)
    rng = np.random.default_rng(0)
    servers, speed = [], []
    for pool in POOLS:
        pc = getattr(cfg.staff, pool)
        st = simulate_pool(pc, sim.start, sim.horizon_days, n_paths, rng)
        s, v = to_servers_speed(st.hours, pc.hours_per_fte_day())
        servers.append(s)
        speed.append(v)
    capacity = Capacity(np.stack(servers, axis=1), np.stack(speed, axis=1))
    return network, arrivals, capacity, float(sim.horizon_days)


def engine_floor(cfg: CapacityConfig, n_paths: int) -> None:
    """Time the engine alone (``engine.run`` on cases built beforehand) on ``n_paths`` paths.

    ``simulate_capacity`` also builds the cases and the weekly rows (on a helper thread, while
    the engine runs): this line says how much of its time is the event loop itself, i.e. the
    floor under the whole call at this engine speed.
    """
    from forecasting.capacity.engine import run

    network, arrivals, capacity, horizon = engine_inputs(cfg, n_paths)
    run(network, arrivals, capacity, horizon, SEED)  # fresh scratch memory outside the timing
    t0, c0 = time.perf_counter(), time.process_time()
    res = run(network, arrivals, capacity, horizon, SEED)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    visits = int(res.events.sum())
    print(f"engine alone (engine.run on {n_paths} paths' cases built beforehand): {wall:.2f} s "
          f"wall, {cpu:.2f} CPU-s, {1e9 * cpu / visits:.0f} ns per case-stage visit; for 1,000 "
          f"paths {cpu * 1000 / n_paths:.1f} CPU-s, about {cpu * 1000 / n_paths / 2:.1f} s on 2 "
          "idle cores: the floor under the whole call at this engine speed")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*args)
