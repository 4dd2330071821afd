"""How far sample paths stray: the largest path value over the last observed value.

For every LA and SEN2 measure of the real panel (``forecasting.data.load_panel`` on fixed
boundaries via ``forecasting.forecast.la_history``), fit each local model, draw
``simulate(h, n_paths, seed)`` and print, per model, the largest ratio of a path value to the
series' last value (and where it happened), the 99th percentile of the per-series maxima and the
share of path values above 4x the last value (the batch's former cap).

``nice .venv/bin/python benchmarks/check_paths.py`` (the cheap models, every measure) or
``--models ets,arima,prophet --measures requests_received,new_plans,stock_plans``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting.data import load_panel  # noqa: E402
from forecasting.data.sen2_schema import MEASURES  # noqa: E402
from forecasting.forecast import simulate  # noqa: E402

HEADLINE = ("requests_received", "new_plans", "stock_plans")
CHEAP = "naive,drift,damped_drift,log_drift,log_drift3,theta"


def history(panel: pd.DataFrame, measure: str) -> pd.DataFrame:
    """``forecasting.forecast.la_history`` for any panel measure (it resolves only some)."""
    from forecasting.data import consistent_series
    from forecasting.models.base import latest_run

    frame = consistent_series(panel, measure).dropna(subset=["y"])
    return latest_run(frame)[["unique_id", "ds", "y"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=CHEAP)
    parser.add_argument("--measures", default=",".join(MEASURES))
    parser.add_argument("--h", type=int, default=5)
    parser.add_argument("--paths", type=int, default=1000)
    args = parser.parse_args()
    panel = load_panel()
    hists = {}
    for m in args.measures.split(","):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hist = history(panel, m)
        if len(hist):
            hists[m] = hist
    n_series = sum(h["unique_id"].nunique() for h in hists.values())
    print(f"{len(hists)} measures, {n_series} LA series, h={args.h}, {args.paths} paths each")
    for model in args.models.split(","):
        t0 = time.perf_counter()
        maxima = []
        for measure, hist in hists.items():
            last = hist.groupby("unique_id")["y"].last().clip(lower=1.0)
            paths = simulate(hist, h=args.h, n_paths=args.paths, seed=1, model=model)
            ratio = paths["y"].to_numpy() / paths["unique_id"].map(last).to_numpy()
            per = pd.Series(ratio).groupby(paths["unique_id"].to_numpy()).agg(["max", "size"])
            per["over4"] = pd.Series(ratio > 4).groupby(paths["unique_id"].to_numpy()).sum()
            per.index = measure + ":" + per.index.astype(str)
            maxima.append(per)
        allm = pd.concat(maxima)
        top = allm["max"].idxmax()
        print(f"{model:13s} max path/last {allm['max'].max():.3g} ({top}); "
              f"99th pct of series maxima {allm['max'].quantile(0.99):.3g}; median "
              f"{allm['max'].median():.3g}; path values > 4x last "
              f"{100 * allm['over4'].sum() / allm['size'].sum():.3f}%; "
              f"{time.perf_counter() - t0:.1f}s")
        head = allm[allm.index.str.split(":").str[0].isin(HEADLINE)]
        if len(head) and len(head) < len(allm):
            print(f"{'':13s} requests/new plans/stock only: max {head['max'].max():.3g} "
                  f"({head['max'].idxmax()}); 99th pct {head['max'].quantile(0.99):.3g}")


if __name__ == "__main__":
    main()
