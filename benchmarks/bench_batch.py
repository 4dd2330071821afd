"""Benchmark the quarterly batch: all LAs with 1 and with 2 local workers, and a projection.

Each LA gets the real batch task (:func:`forecasting.batch_la.la_task`): forecasts and a
rolling-origin backtest of its measures, and the baseline capacity scenario with a few hundred
sample paths. The batch runs once with 1 worker (in this process) and once with 2 worker
processes, each into a fresh run store, and the script prints wall time, CPU time, peak memory
(this process and its workers), the serial parts of each run (worker start-up, the parent's
own CPU, the tail), the speed-up, and a projection for all LAs x 10 scenarios x 1,000 paths
with the number of workers that would finish it within an hour.

Before the runs it prints an estimate of how long they take, from one LA of median size timed
at full size and each LA's estimated cost (its plans x paths): at the defaults (every LA,
200 paths) the scenarios of the large counties dominate, and the two runs take a quarter of an
hour or more. ``--las N`` or ``--paths P`` give a shorter run.

numba's threads (and the capacity engine's, sized from NUMBA_NUM_THREADS) are limited to
one per process in both runs, and the 1-worker run is pinned to one core (``--no-pin`` leaves
it free), so the speed-up is 2 cores against 1: the simulator builds the next block of cases on
a helper thread while the engine runs, and an unpinned single worker uses that thread to spread
onto the second core (1.17 cores busy in a default run), which would make "1 worker" a
1.17-core baseline.
Compilation is warmed up (numba's on-disk cache) first.

Usage::

    python benchmarks/bench_batch.py [--las N] [--paths 200] [--workers 1,2]
                                     [--scenario-file configs/leeds.yaml]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import tempfile
import threading
import time
from pathlib import Path

# One thread per process for numba and the capacity engine's thread pool (which sizes itself
# from NUMBA_NUM_THREADS when numba is imported): the 1-worker run then uses one core, and the
# speed-up measures the batch's process parallelism. Set before anything imports numba.
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import psutil

from forecasting.store import LaResult

ROOT = Path(__file__).resolve().parents[1]


def _pss(pid: int) -> int:
    # Linux's summary of the process's memory map; where it is missing, resident size.
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(psutil.Process(pid).memory_info().rss)


class PeakMemory:
    """Sample this process and all its descendants: peak total memory, CPU seconds.

    Two memory figures: the sum of resident sizes (sampled often and cheaply), which counts
    the pages worker processes share with the server they forked from once per process, and
    the sum of proportional set sizes (PSS), which counts them once. PSS costs the kernel a
    walk of each process's page tables (10-30 ms per process of a gigabyte), charged to this
    process: it is sampled at most every second and so that it takes under 1% of a core, to
    keep the sampler's own CPU out of the measurement.
    """

    def __init__(self, every: float = 0.25) -> None:
        self.every, self._stop = every, threading.Event()
        self.peak_rss = self.peak_pss = 0
        self._cpu: dict[int, float] = {}
        self._cpu0 = self._cpu_of(psutil.Process())
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _cpu_of(p: psutil.Process) -> float:
        t = p.cpu_times()
        return t.user + t.system

    @property
    def cpu(self) -> float:
        """CPU seconds used by the process tree while sampling (exited workers' last
        quarter-second missed)."""
        return sum(self._cpu.values()) - self._cpu0

    @property
    def cpu_parent(self) -> float:
        """CPU seconds of this process alone (store writes, results, this sampler)."""
        return self._cpu.get(os.getpid(), self._cpu0) - self._cpu0

    def _sample(self, with_pss: bool) -> None:
        me = psutil.Process()
        rss = pss = 0
        for p in [me, *me.children(recursive=True)]:
            try:
                rss += p.memory_info().rss
                self._cpu[p.pid] = max(self._cpu.get(p.pid, 0.0), self._cpu_of(p))
                if with_pss:
                    pss += _pss(p.pid)
            except psutil.Error:
                pass
        self.peak_rss = max(self.peak_rss, rss)
        if with_pss:
            self.peak_pss = max(self.peak_pss, pss)

    def _run(self) -> None:
        next_pss = time.perf_counter() + 1.0
        while not self._stop.is_set():
            now = time.perf_counter()
            self._sample(with_pss=now >= next_pss)
            if now >= next_pss:
                next_pss = now + max(1.0, 100 * (time.perf_counter() - now))
            self._stop.wait(self.every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample(with_pss=False)


def _warm_up(inputs: list, paths: int) -> float:
    """Load numba's cached code and measure one LA of median cost at full size.

    Returns CPU seconds per unit of the inputs' estimated ``cost`` (the calibration of the
    first estimate).
    """
    from forecasting.batch_la import la_task

    small = min(inputs, key=lambda i: i.cost)
    params = {**small.params, "scenarios": {**small.params["scenarios"], "n_paths": 2}}
    t = time.perf_counter()
    la_task(dataclasses.replace(small, params=params))
    print(f"warm-up (imports, numba cache) {time.perf_counter() - t:.1f} s")
    mid = sorted(inputs, key=lambda i: i.cost)[len(inputs) // 2]
    c = time.process_time()
    la_task(mid)
    used = time.process_time() - c
    print(f"calibration: {mid.la_name} ({mid.la}), {paths} paths: {used:.2f} CPU-s "
          f"(estimated {mid.cost:.2f})")
    return used / mid.cost if mid.cost > 0 else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--las", type=int, default=None, help="first N LAs only (default all)")
    parser.add_argument("--paths", type=int, default=200, help="paths of the baseline scenario")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="do not pin the 1-worker run to one core")
    parser.add_argument("--scenario-file", default=str(ROOT / "configs" / "leeds.yaml"))
    parser.add_argument("--target-scenarios", type=int, default=10)
    parser.add_argument("--target-paths", type=int, default=1000)
    args = parser.parse_args()

    import numba

    from forecasting.batch import run_batch
    from forecasting.batch_config import BatchConfig, result_settings
    from forecasting.batch_la import (
        COST_PER_MEASURE,
        la_task,
        make_inputs,
        scenario_file_text,
    )
    from forecasting.data import load_panel
    from forecasting.store import RunStore

    numba.set_num_threads(1)  # the serial run gets one core, like each pool worker
    panel = load_panel(ROOT / "data" / "raw")
    cfg = BatchConfig(include_national=False,
                      forecast={"measures": ["requests_received", "stock_plans"]},
                      scenarios={"file": args.scenario_file, "names": ["baseline"],
                                 "n_paths": args.paths})
    text = scenario_file_text(cfg.scenarios.file)
    every = make_inputs(panel, cfg, None, scenario_yaml=text)
    n_all = len(every)
    inputs = every if args.las is None else every[: args.las]
    n = len(inputs)
    counts = [int(x) for x in args.workers.split(",")]
    print(f"bench-batch: {n} LAs; per LA: forecast + backtest of "
          f"{len(cfg.forecast.measures)} measures, baseline scenario x {args.paths} paths "
          f"({Path(args.scenario_file).name}, scaled per LA); {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f}")
    per_cost = _warm_up(inputs, args.paths)
    serial = per_cost * sum(i.cost for i in inputs)
    eta = sum(serial / min(w, 1.7 * w / 2 if w > 1 else 1.0) for w in counts)
    print(f"estimate: {serial / 60:.1f} CPU-minutes per run; all {len(counts)} runs about "
          f"{eta / 60:.0f} min on idle cores (2 workers at 1.7x; longer under load); "
          "--las N or --paths P for a shorter run")

    results: dict[int, dict[str, float]] = {}
    timings: list[dict[str, float]] = []
    for w in counts:
        with tempfile.TemporaryDirectory() as tmp, RunStore(Path(tmp) / "runs.duckdb") as store:
            collected: list[dict[str, float]] = []
            arrived: list[tuple[float, float]] = []

            def note(r: LaResult, c: list = collected, a: list = arrived) -> None:
                c.append(r.extras.get("timings", {}))
                a.append((time.perf_counter(), r.seconds))

            pinned = w == 1 and args.pin and hasattr(os, "sched_setaffinity")
            free = os.sched_getaffinity(0) if pinned else set()
            if pinned:
                os.sched_setaffinity(0, {min(free)})
            with PeakMemory() as mem:
                t = time.perf_counter()
                rep = run_batch(inputs, la_task, store, quarter="2026Q4", data_checksum="bench",
                                config=result_settings(cfg), run_id=f"bench-{w}", workers=w,
                                on_result=note)
                wall = time.perf_counter() - t
            if pinned:
                os.sched_setaffinity(0, free)
            if w == 1:
                timings = collected
            results[w] = {"wall": wall, "failed": len(rep.failed)}
            print(f"workers={w}{' (pinned to 1 core)' if pinned else ''}: wall {wall:8.1f} s   CPU {mem.cpu:8.1f} s "
                  f"({mem.cpu / wall:.2f} cores busy)   peak memory {mem.peak_pss / 2**20:.0f} MB PSS "
                  f"({mem.peak_rss / 2**20:.0f} MB RSS)   "
                  f"{len(rep.done)} done, {len(rep.failed)} failed; load average now "
                  f"{os.getloadavg()[0]:.1f}")
            if arrived:
                ends = sorted(e for e, _ in arrived)
                first = min(e - sec for e, sec in arrived) - t
                tail = ends[-1] - ends[-2] if len(ends) > 1 else 0.0
                print(f"    serial parts: first LA began {first:.1f} s in (worker start-up); "
                      f"parent process {mem.cpu_parent:.1f} CPU-s (store writes, results); "
                      f"last LA ended {tail:.1f} s after the one before (tail)")
            for la, reason in list(rep.failed.items())[:5]:
                print(f"    failed {la}: {reason}")
    if 1 in results and 2 in results:
        speedup = results[1]["wall"] / results[2]["wall"]
        print(f"speed-up 2 workers vs 1{' (2 cores vs 1)' if args.pin else ''}: {speedup:.2f}x (target >= 1.7x; on a shared machine "
              "the load average above says how many cores were really free)")
    else:
        speedup = float("nan")
    if timings:
        fb = sum(t.get("forecast", 0) + t.get("backtest", 0) for t in timings)
        sc = sum(t.get("scenarios", 0) for t in timings)
        scale = args.target_scenarios * args.target_paths / args.paths
        # The LAs measured stand for all of them: forecasts per LA, scenarios in proportion to
        # the LAs' scenario work (their plans).
        fixed = COST_PER_MEASURE * len(cfg.forecast.measures)
        share = sum(i.cost - fixed for i in inputs) / sum(i.cost - fixed for i in every)
        total = fb * n_all / len(timings) + sc * scale / share
        eff = min(1.0, speedup / 2) if math.isfinite(speedup) else 1.0
        print(f"measured per LA (1 worker, CPU seconds): forecast+backtest "
              f"{fb / len(timings):.2f} s, baseline scenario x {args.paths} paths "
              f"{sc / len(timings):.2f} s")
        print(f"projection: {n_all} LAs x {args.target_scenarios} scenarios x "
              f"{args.target_paths} paths = {total / 3600:.1f} CPU-hours (scenario time "
              f"assumed linear in scenarios x paths): {math.ceil(total / 3600)} worker(s) "
              f"finish within an hour at full parallel efficiency, "
              f"{math.ceil(total / 3600 / eff)} at the efficiency measured here ({eff:.0%})")


if __name__ == "__main__":
    main()
