"""Benchmark the quarterly batch: all LAs with 1 and with 2 local workers, and a projection.

Each LA gets the real batch task (:func:`forecasting.batch_la.la_task`): forecasts and a
rolling-origin backtest of its measures, and the baseline capacity scenario with a few hundred
sample paths. The batch runs once with 1 worker (in this process) and once with 2 worker
processes, each into a fresh run store, and the script prints wall time, peak memory (this
process and its workers), the speed-up, and a projection for all LAs x 10 scenarios x 1,000
paths with the number of workers that would finish it within an hour.

numba's threads (and the capacity engine's, sized from NUMBA_NUM_THREADS) are limited to
one per process in both runs, so the speed-up measures the batch's own parallelism. Compilation is warmed up (numba's on-disk cache) first.

Usage::

    python benchmarks/bench_batch.py [--las N] [--paths 200] [--workers 1,2]
                                     [--scenario-file configs/leeds.yaml]
"""

from __future__ import annotations

import argparse
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

ROOT = Path(__file__).resolve().parents[1]


class PeakMemory:
    """Sample this process and all its descendants: peak total resident memory, CPU seconds."""

    def __init__(self, every: float = 0.1) -> None:
        self.every, self.peak, self._stop = every, 0, threading.Event()
        self._cpu: dict[int, float] = {}
        self._cpu0 = self._cpu_of(psutil.Process())
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _cpu_of(p: psutil.Process) -> float:
        t = p.cpu_times()
        return t.user + t.system

    @property
    def cpu(self) -> float:
        """CPU seconds used by the process tree while sampling (workers' last 0.1 s missed)."""
        return sum(self._cpu.values()) - self._cpu0

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                    self._cpu[p.pid] = max(self._cpu.get(p.pid, 0.0), self._cpu_of(p))
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--las", type=int, default=None, help="first N LAs only (default all)")
    parser.add_argument("--paths", type=int, default=200, help="paths of the baseline scenario")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare")
    parser.add_argument("--scenario-file", default=str(ROOT / "configs" / "leeds.yaml"))
    parser.add_argument("--target-scenarios", type=int, default=10)
    parser.add_argument("--target-paths", type=int, default=1000)
    args = parser.parse_args()

    import numba

    from forecasting.batch import run_batch
    from forecasting.batch_config import BatchConfig, result_settings
    from forecasting.batch_la import la_task, make_inputs, scenario_file_text
    from forecasting.data import load_panel
    from forecasting.store import RunStore

    numba.set_num_threads(1)  # the serial run gets one core, like each pool worker
    panel = load_panel(ROOT / "data" / "raw")
    cfg = BatchConfig(include_national=False,
                      forecast={"measures": ["requests_received", "stock_plans"]},
                      scenarios={"file": args.scenario_file, "names": ["baseline"],
                                 "n_paths": args.paths})
    text = scenario_file_text(cfg.scenarios.file)
    inputs = make_inputs(panel, cfg, None, scenario_yaml=text)
    if args.las is not None:
        inputs = inputs[: args.las]
    n = len(inputs)
    print(f"bench-batch: {n} LAs; per LA: forecast + backtest of "
          f"{len(cfg.forecast.measures)} measures, baseline scenario x {args.paths} paths "
          f"({Path(args.scenario_file).name}, scaled per LA); {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f}")
    t = time.perf_counter()
    la_task(inputs[0].__class__(inputs[0].la, inputs[0].data,
                                {**inputs[0].params, "scenarios": {**cfg.scenarios.model_dump(),
                                                                   "n_paths": 2}},
                                inputs[0].seed, inputs[0].la_name))
    print(f"warm-up (imports, numba cache) {time.perf_counter() - t:.1f} s")

    results: dict[int, dict[str, float]] = {}
    timings: list[dict[str, float]] = []
    for w in [int(x) for x in args.workers.split(",")]:
        with tempfile.TemporaryDirectory() as tmp, RunStore(Path(tmp) / "runs.duckdb") as store:
            collected: list[dict[str, float]] = []
            with PeakMemory() as mem:
                t = time.perf_counter()
                rep = run_batch(inputs, la_task, store, quarter="2026Q4", data_checksum="bench",
                                config=result_settings(cfg), run_id=f"bench-{w}", workers=w,
                                on_result=lambda r, c=collected: c.append(
                                    r.extras.get("timings", {})))
                wall = time.perf_counter() - t
            if w == 1:
                timings = collected
            results[w] = {"wall": wall, "peak_mb": mem.peak / 2**20, "failed": len(rep.failed)}
            print(f"workers={w}: wall {wall:8.1f} s   CPU {mem.cpu:8.1f} s "
                  f"({mem.cpu / wall:.2f} cores busy)   peak memory {mem.peak / 2**20:6.0f} MB   "
                  f"{len(rep.done)} done, {len(rep.failed)} failed; load average now "
                  f"{os.getloadavg()[0]:.1f}")
            for la, reason in list(rep.failed.items())[:5]:
                print(f"    failed {la}: {reason}")
    if 1 in results and 2 in results:
        speedup = results[1]["wall"] / results[2]["wall"]
        print(f"speed-up 2 workers vs 1: {speedup:.2f}x (target >= 1.7x; on a shared machine "
              "the load average above says how many cores were really free)")
    else:
        speedup = float("nan")
    if timings:
        fb = sum(t.get("forecast", 0) + t.get("backtest", 0) for t in timings)
        sc = sum(t.get("scenarios", 0) for t in timings)
        n_all = len(make_inputs(panel, cfg, None))
        scale = args.target_scenarios * args.target_paths / args.paths
        per_la = (fb + sc * scale) / len(timings)
        total = per_la * n_all
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
