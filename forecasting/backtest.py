"""Score a rolling-origin backtest (the output of :func:`forecasting.cross_validation`).

:func:`evaluate` turns the wide backtest into one row per series, cutoff, horizon and model
with the scaled errors; :func:`leaderboard` averages them by any grouping (model, horizon,
LA, measure). Scales come from the history *up to each cutoff* (what the forecaster knew).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecasting.errors import EhcpError
from forecasting.metrics import naive_scale

if TYPE_CHECKING:
    from forecasting.forecast import Report

__all__ = ["DEFAULT_BACKTEST_MODELS", "evaluate", "leaderboard", "model_columns", "run_backtest"]

DEFAULT_BACKTEST_MODELS = ("naive", "drift", "damped_drift", "log_drift", "log_drift3", "global",
                           "auto")

_META = ("unique_id", "ds", "cutoff", "y")


def model_columns(cv: pd.DataFrame) -> list[str]:
    """The point-forecast columns of a backtest (not keys, not ``-lo-``/``-hi-`` bounds)."""
    return [c for c in cv.columns
            if c not in _META and "-lo-" not in c and "-hi-" not in c and not c.startswith("_")]


def _periods(ds: pd.Series) -> np.ndarray:
    if pd.api.types.is_integer_dtype(ds) or pd.api.types.is_float_dtype(ds):
        return ds.to_numpy(dtype=np.int64)
    d = pd.to_datetime(ds)
    return (d.dt.year * 12 + d.dt.month).to_numpy()


def evaluate(cv: pd.DataFrame, history: pd.DataFrame, models: Sequence[str] | None = None,
             level: Sequence[int] = (80, 95)) -> pd.DataFrame:
    """Per-forecast errors: one row per ``unique_id, cutoff, ds`` and model.

    Columns: ``unique_id, cutoff, ds, horizon, model, y, yhat, ase`` (absolute error over the
    series' mean absolute one-step change), ``sse`` (squared error over the mean squared
    change), ``sape`` (symmetric APE, %), ``in_<l>`` (outcome inside the level-``l``
    interval, where given) and ``spl`` (scaled pinball over the median and bounds; CRPS-like).

    Examples
    --------
    >>> hist = pd.DataFrame({"unique_id": "a", "ds": [2020, 2021, 2022, 2023],
    ...                      "y": [10.0, 12.0, 14.0, 15.0]})
    >>> cv = pd.DataFrame({"unique_id": "a", "ds": [2023], "cutoff": [2022], "y": [15.0],
    ...                    "naive": [14.0]})
    >>> evaluate(cv, hist)[["horizon", "model", "ase"]].values.tolist()
    [[1, 'naive', 0.5]]
    """
    missing = [c for c in _META if c not in cv.columns]
    if missing:
        raise EhcpError(f"backtest table lacks column(s) {', '.join(missing)}", field=missing[0],
                        fix="pass the output of forecasting.cross_validation")
    models = list(models) if models is not None else model_columns(cv)
    hist = history[["unique_id", "ds", "y"]].copy()
    hist["unique_id"] = hist["unique_id"].astype(str)
    keys = cv[["unique_id", "cutoff"]].drop_duplicates()
    rows = []
    by_uid = {str(u): g.sort_values("ds") for u, g in hist.groupby("unique_id")}
    for uid, cutoff in keys.itertuples(index=False):
        g = by_uid.get(str(uid))
        y = g.loc[g["ds"] <= cutoff, "y"].to_numpy() if g is not None else np.array([])
        rows.append((uid, cutoff, naive_scale(y), naive_scale(y, power=2)))
    scales = pd.DataFrame(rows, columns=["unique_id", "cutoff", "_s1", "_s2"])
    base = cv.merge(scales, on=["unique_id", "cutoff"], how="left")
    base["horizon"] = _periods(base["ds"]) - _periods(base["cutoff"])
    frames = []
    for m in models:
        if m not in base.columns:
            raise EhcpError(f"backtest has no column for model {m!r}", field="models",
                            fix="name models that were cross-validated")
        f = base[["unique_id", "cutoff", "ds", "horizon", "y"]].assign(model=m, yhat=base[m])
        err = f["y"] - f["yhat"]
        s1 = base["_s1"].where(base["_s1"] > 0)
        s2 = base["_s2"].where(base["_s2"] > 0)
        f["ase"] = err.abs() / s1
        f["sse"] = err**2 / s2
        den = f["y"].abs() + f["yhat"].abs()
        f["sape"] = np.where(den > 0, 200.0 * err.abs() / den.where(den > 0, 1.0), 0.0)
        loss = _pinball(f["y"], f["yhat"], 0.5)
        n_q = 1
        for lv in level:
            lo, hi = f"{m}-lo-{lv}", f"{m}-hi-{lv}"
            if lo in base.columns and hi in base.columns:
                f[f"in_{lv}"] = ((f["y"] >= base[lo]) & (f["y"] <= base[hi])).astype(float)
                tau = (100 - lv) / 200
                loss = loss + _pinball(f["y"], base[lo], tau) + _pinball(f["y"], base[hi], 1 - tau)
                n_q += 2
        f["spl"] = 2.0 * loss / n_q / s1
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def _pinball(y: pd.Series, q: pd.Series, tau: float) -> pd.Series:
    d = y - q
    return (tau * d).where(tau * d >= (tau - 1.0) * d, (tau - 1.0) * d)


def leaderboard(errors: pd.DataFrame, by: Sequence[str] = ("model",)) -> pd.DataFrame:
    """Average the per-forecast errors of :func:`evaluate` by ``by`` (e.g. model, horizon).

    Columns: ``mase``, ``rmsse``, ``smape``, ``coverage_<l>`` (percent, when intervals were
    given), ``crps`` (scaled, from the pinball losses) and ``n``; sorted by ``mase``.

    Examples
    --------
    >>> err = pd.DataFrame({"model": ["a", "a", "b"], "ase": [1.0, 3.0, 1.0],
    ...                     "sse": [1.0, 9.0, 1.0], "sape": [5.0, 15.0, 5.0], "spl": [0.5, 1.0, 0.2]})
    >>> leaderboard(err)[["model", "mase", "smape", "n"]].values.tolist()
    [['b', 1.0, 5.0, 1], ['a', 2.0, 10.0, 2]]
    """
    by = list(by)
    cov = [c for c in errors.columns if c.startswith("in_")]
    agg = errors.groupby(by, sort=False).agg(
        mase=("ase", "mean"), rmsse=("sse", "mean"), smape=("sape", "mean"),
        **{f"coverage_{c[3:]}": (c, "mean") for c in cov},
        crps=("spl", "mean"), n=("ase", "size"),
    ).reset_index()
    agg["rmsse"] = np.sqrt(agg["rmsse"])
    for c in cov:
        agg[f"coverage_{c[3:]}"] *= 100.0
    return agg.sort_values([*by[:-1], "mase"] if len(by) > 1 else "mase",
                           kind="stable").reset_index(drop=True)


def run_backtest(measure: str, *, la: str | None = None, models: Sequence[str] | None = None,
                 h: int = 3, n_windows: int = 3, data_dir: str | Path | None = None,
                 out: str | Path | None = None) -> Report:
    """Backtest models on every LA's series of a measure; score all LAs or one.

    The models are always fitted on every LA (the global and auto models need them); ``la``
    only restricts the scoring. Writes ``leaderboard_<measure>.csv`` and a plot to ``out``.
    """
    from forecasting.data import find_la, load_panel
    from forecasting.forecast import (
        Report,
        cross_validation,
        la_history,
        la_series_id,
        output_folder,
        write_outputs,
    )
    from forecasting.forecast import resolve_measure as _resolve
    from forecasting.models import get_model

    measure_name = _resolve(measure)
    names = list(models) if models else list(DEFAULT_BACKTEST_MODELS)
    for m in names:
        get_model(m)
    folder = output_folder(out) if out is not None else None
    panel = load_panel(data_dir)
    from forecasting.models.leading import add_drivers

    history = add_drivers(la_history(panel, measure_name), panel, measure_name)
    cv = cross_validation(history, h=h, n_windows=n_windows, models=names, level=(80, 95))
    scope = "all LAs"
    if la is not None:
        uid = la_series_id(history, find_la(panel, la))
        cv = cv[cv["unique_id"] == uid]
        scope = la
    board = leaderboard(evaluate(cv, history, names, level=(80, 95)))
    cutoffs = sorted(cv["cutoff"].unique())
    title = (f"{measure_name}: backtest of {len(names)} models over {scope}, origins "
             f"{int(cutoffs[0])}-{int(cutoffs[-1])}, horizons 1-{h} (MASE < 1 beats a one-year "
             "naive forecast in-sample)")
    files: list[Path] = []
    if folder is not None:
        import matplotlib.pyplot as plt

        from forecasting.reporting.fanchart import plot_leaderboard

        fig = plot_leaderboard(board, title=title.split(" (")[0])
        try:
            files = write_outputs(folder, board, fig, f"leaderboard_{measure_name}")
        finally:
            plt.close(fig)
    return Report(board, title, files)
