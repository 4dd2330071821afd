"""Rolling-origin backtest of every forecasting model over every LA (``make bench-forecast``).

For requests received, new plans issued and the January stock of plans: origins 2019-2023,
horizons 1-3 (an origin's forecasts are scored where the outcome is published), every LA on
fixed boundaries (``forecasting.forecast.la_history``: a series with a gap is used from after
its last gap). Prints per measure the MASE, sMAPE, 80% interval coverage and seconds of
every model, the best simple baseline, and whether ``model="auto"`` meets its targets
(MASE at least 15% below the best baseline and below ETS, ARIMA and Prophet; 80% coverage in
75-85%). Figures are printed as measured, misses included.

Each measure's frame carries its leading drivers (``forecasting.models.leading.add_drivers``:
new plans get the same year's requests, the January stock the previous calendar year's new
plans and requests, each on the row of the release that published it, so a cut at an origin
sees nothing later), and ``auto`` chooses among that measure's candidates
(``forecasting.models.ensemble.default_candidates``: for new plans the requests-led
``conversion`` and ``lead_growth`` among them) and weights them the measure's way
(``default_weighting``: stacked for new plans, inverse MASE otherwise; ``--weighting``
overrides it); every simple baseline is scored as well.

``auto`` is scored exactly as ``AutoEnsemble.fit`` would choose and calibrate at each origin
(``forecasting.models.ensemble.select``: weights and error quantiles from its candidates'
forecasts at the three cutoffs before the origin, scored only on outcomes up to the origin), reusing the candidates' backtest forecasts
instead of refitting them; its time is the sum of its candidates' fits plus the combination.
Work runs in 2 processes over (model, cutoff) tasks: the global models need every LA at once,
so the split is by task rather than by LA.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    # One BLAS thread per process: two processes already fill the two cores, and threads
    # fighting over them made small statsmodels fits ten times slower.
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting.backtest import evaluate, leaderboard  # noqa: E402
from forecasting.data import load_panel  # noqa: E402
from forecasting.forecast import cross_validation, la_history  # noqa: E402
from forecasting.models import BASELINES  # noqa: E402
from forecasting.models.ensemble import (  # noqa: E402
    WEIGHTINGS,
    backtest_auto,
    default_candidates,
    default_weighting,
)
from forecasting.models.leading import add_drivers  # noqa: E402

MEASURES = {"requests": "requests_received", "new_plans": "new_plans", "stock": "stock_plans"}
ORIGINS = [2019, 2020, 2021, 2022, 2023]
H = 3
LEVELS = (80, 95)
EXTRA = ("ets", "arima", "prophet")
N_WINDOWS = 3
TOP_K = 3


def run_measure(panel: pd.DataFrame, short: str, n_jobs: int, extra: tuple[str, ...],
                weighting: str | None = None) -> None:
    measure = MEASURES[short]
    # The frame carries the measure's leading drivers (requests for new plans, last year's
    # flows for the stock), each on the row of the release that published it.
    hist = add_drivers(la_history(panel, measure), panel, measure)
    cand = default_candidates(hist)
    weighting = weighting or default_weighting(hist)
    t0 = time.perf_counter()
    early = list(range(ORIGINS[0] - N_WINDOWS, ORIGINS[0]))
    # Every simple baseline is scored too (the yardstick), whether auto may pick it or not.
    scored_models = tuple(dict.fromkeys((*cand, *BASELINES)))
    cv = cross_validation(hist, h=H, cutoffs=early + ORIGINS, models=scored_models, level=LEVELS,
                          n_jobs=n_jobs)
    seconds = dict(cv.attrs["seconds"])
    cpu = dict(cv.attrs["cpu_seconds"])
    if extra:
        cv_x = cross_validation(hist, h=H, cutoffs=ORIGINS, models=extra, level=LEVELS,
                                n_jobs=n_jobs)
        seconds.update(cv_x.attrs["seconds"])
        cpu.update(cv_x.attrs["cpu_seconds"])
    t1, c1 = time.perf_counter(), time.process_time()
    auto = backtest_auto(cv, hist, ORIGINS, cand, top_k=TOP_K, n_windows=N_WINDOWS, level=LEVELS,
                        weighting=weighting)
    seconds["auto"] = sum(seconds[m] for m in cand) + (time.perf_counter() - t1)
    cpu["auto"] = sum(cpu[m] for m in cand) + (time.process_time() - c1)
    scored = auto.drop(columns="weights")
    if extra:
        scored = scored.merge(cv_x.drop(columns="y"), on=["unique_id", "ds", "cutoff"], how="left")
    errors = evaluate(scored, hist, level=LEVELS)
    board = leaderboard(errors)
    board["seconds"] = board["model"].map(seconds)
    board["cpu_s"] = board["model"].map(cpu)
    base = board[board["model"].isin(BASELINES)].iloc[0]
    auto_row = board[board["model"] == "auto"].iloc[0]
    board["vs_best_baseline"] = board["mase"] / base["mase"] - 1
    n_la = hist["unique_id"].nunique()
    print(f"\n== {measure}: {n_la} LAs, origins {ORIGINS[0]}-{ORIGINS[-1]}, horizons 1-{H}, "
          f"{int(auto_row['n'])} forecasts per model, wall {time.perf_counter() - t0:.1f}s")
    cols = ["model", "mase", "rmsse", "smape", "coverage_80", "coverage_95", "crps", "seconds",
            "cpu_s", "vs_best_baseline"]
    with pd.option_context("display.width", 140, "display.float_format", "{:.3f}".format):
        print(board[cols].to_string(index=False))
    gain = 1 - auto_row["mase"] / base["mase"]
    beats = {m: bool(auto_row["mase"] < board.loc[board["model"] == m, "mase"].iloc[0])
             for m in extra if m in set(board["model"])}
    cov = auto_row["coverage_80"]
    print(f"best simple baseline: {base['model']} MASE {base['mase']:.3f}; auto MASE "
          f"{auto_row['mase']:.3f} ({gain:+.1%} better; target >= 15%: "
          f"{'met' if gain >= 0.15 else 'MISSED'}); beats " +
          ", ".join(f"{m} {'yes' if b else 'NO'}" for m, b in beats.items()) +
          f"; 80% coverage {cov:.1f}% (target 75-85: {'met' if 75 <= cov <= 85 else 'MISSED'})")
    weights = auto.drop_duplicates("cutoff")[["cutoff", "weights"]]
    for cutoff, w in weights.itertuples(index=False):
        print(f"  auto at origin {cutoff}: {w}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measures", default="requests,new_plans,stock")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-extra", action="store_true", help="skip ETS, ARIMA and Prophet")
    parser.add_argument("--weighting", default=None, choices=WEIGHTINGS,
                        help="how auto weights its chosen candidates (default: per measure, "
                             "forecasting.models.ensemble.default_weighting)")
    args = parser.parse_args()
    start = time.perf_counter()
    panel = load_panel()
    for short in args.measures.split(","):
        run_measure(panel, short, args.jobs, () if args.no_extra else EXTRA, args.weighting)
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    total_cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    print(f"\ntotal wall time {time.perf_counter() - start:.1f}s (target < 180s on 2 cores); "
          f"CPU {total_cpu:.1f}s over all processes (so >= {total_cpu / 2:.0f}s wall on 2 idle "
          f"cores); load average now {os.getloadavg()[0]:.1f} (other work shares the cores)")


if __name__ == "__main__":
    main()
