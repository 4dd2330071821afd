"""``make bench-engine-instructions``: the engine's instructions per case-stage visit.

Wall-clock timings on a shared 2-core virtual machine move by up to half from run to run, which
hides any change to the event loop smaller than that. This benchmark counts instead: it runs the
engine (``engine.run``, one thread) on one Leeds-scale path (the bench's configuration, see
``bench_simulate.leeds_scale``) twice under valgrind's callgrind, and prints, per case-stage
visit, for the event loop and for all the compiled engine code:

- instructions executed (exact and repeatable: the same code and inputs give the same count);
- level-1 data cache misses and misses of a simulated 1 MB last-level cache (this machine's L2);
- conditional branches and those mispredicted by callgrind's simple predictor (a real CPU
  predicts better: read these as a ranking, not as the cost).

Numba compiles for the CPU it runs on and keys its on-disk cache by that CPU; valgrind does not
emulate AVX-512, so both runs compile for ``haswell`` (AVX2) into a cache of their own. The
compiled functions have no symbols in valgrind's view: the event loop is the compiled function
with the most instructions (the rest are the sort, the copy into case rows and small helpers).

Usage: ``python benchmarks/engine_instructions.py`` (needs ``valgrind`` on the PATH; about 5
minutes: a compile, then the run under callgrind). Nothing is compared against a target here;
use it to compare two versions of the engine (run it on each).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 2
# Event columns of callgrind with --cache-sim=yes --branch-sim=yes, in its order.
EVENTS = ("Ir", "Dr", "Dw", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw", "Bc", "Bcm", "Bi",
          "Bim")


def child(runs: int) -> None:
    """Run the engine ``runs`` times on one Leeds-scale path; print the visits of one run."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    sys.path.insert(0, str(ROOT))
    from bench_simulate import SEED, engine_inputs, leeds_scale

    from forecasting.capacity.engine import run

    warnings.simplefilter("ignore")
    network, arrivals, capacity, horizon = engine_inputs(leeds_scale(), 1)
    for _ in range(runs):
        res = run(network, arrivals, capacity, horizon, SEED, n_threads=1)
    print(f"visits {int(res.events.sum())}")


def parse_functions(annotate: str) -> list[tuple[str, dict[str, int]]]:
    """``callgrind_annotate`` lines of compiled code without symbols (``???:0x...``), with
    their self costs by event, most instructions first."""
    rows = []
    for line in annotate.splitlines():
        m = re.search(r"(\?\?\?:0x[0-9a-f]+) \[\?\?\?\]\s*$", line)
        if not m:
            continue
        values = re.findall(r"([\d,]+) \(\s*[\d.]+%\)|(?<!\S)\.(?!\S)", line[: m.start()])
        nums = [int(v.replace(",", "")) if v else 0 for v in values]
        if len(nums) == len(EVENTS):
            rows.append((m.group(1), dict(zip(EVENTS, nums, strict=True))))
    rows.sort(key=lambda r: -r[1]["Ir"])
    return rows


def report(name: str, cost: dict[str, int], visits: int) -> str:
    per = {k: v / visits for k, v in cost.items()}
    return (f"{name}: {per['Ir']:,.0f} instructions per visit; L1 data misses "
            f"{per['D1mr'] + per['D1mw']:.2f}, 1 MB last-level misses {per['DLmr'] + per['DLmw']:.2f}"
            f"; conditional branches {per['Bc']:.0f}, mispredicted (simulated) {per['Bcm']:.1f}")


def main() -> int:
    if shutil.which("valgrind") is None or shutil.which("callgrind_annotate") is None:
        print("error: valgrind is not installed (needed for callgrind); install it with your "
              "system's package manager (e.g. apt install valgrind) and run again",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ehcp-callgrind-") as tmp:
        env = dict(os.environ, NUMBA_CPU_NAME="haswell", NUMBA_CPU_FEATURES="",
                   NUMBA_CACHE_DIR=str(Path(tmp) / "numba"))
        me = [sys.executable, str(Path(__file__).resolve()), "--child"]
        print("compiling the engine for haswell (natively, about a minute) ...", flush=True)
        subprocess.run([*me, "1"], env=env, check=True, stdout=subprocess.DEVNULL)
        out = Path(tmp) / "callgrind.out"
        print(f"running one Leeds-scale path {RUNS} times under callgrind (a few minutes) ...",
              flush=True)
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", "--cache-sim=yes", "--branch-sim=yes",
             "--LL=1048576,16,64", f"--callgrind-out-file={out}", *me, str(RUNS)],
            env=env, check=True, capture_output=True, text=True)
        found = re.search(r"visits (\d+)", proc.stdout)
        if found is None:
            print(f"error: the run under callgrind printed no visit count:\n{proc.stdout}",
                  file=sys.stderr)
            return 1
        visits = int(found.group(1)) * RUNS
        annotate = subprocess.run(["callgrind_annotate", str(out)], check=True,
                                  capture_output=True, text=True).stdout
    rows = parse_functions(annotate)
    if not rows:
        print("error: no compiled engine code found in callgrind's output", file=sys.stderr)
        return 1
    total = {k: sum(r[1][k] for r in rows) for k in EVENTS}
    print(f"one Leeds-scale path, {visits // RUNS:,} case-stage visits, run {RUNS} times")
    print(report("event loop (the biggest compiled function)", rows[0][1], visits))
    print(report("all compiled code (loop, sort, copy, helpers)", total, visits))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(int(sys.argv[2]))
    else:
        sys.exit(main())
