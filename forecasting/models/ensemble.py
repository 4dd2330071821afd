"""``model="auto"``: a combination of models chosen and weighted by an internal backtest.

How it works (per measure: one fit sees one measure's series):

1. **Backtest on earlier windows.** Every candidate is refitted at the ``n_windows`` latest
   cutoffs before the end of the history and scored, on outcomes inside the history only,
   by MASE pooled over series and horizons 1..``horizon`` (no peeking at what it will forecast).
   Only windows where the typical series has at least ``min_obs`` years count: earlier ones
   score the candidates' short-history fallbacks, not the candidates.
2. **Choose and weight.** The ``top_k`` candidates with the lowest MASE are kept, weighted by
   inverse MASE (the combination is usually better than the single best on short series), or
   for new plans stacked: the convex weights whose combination had the lowest backtest MASE
   (:func:`stack_weights`, a small linear programme; :func:`default_weighting` says why).
   With no informative window (requests start in 2016, so a 2019 forecast has none), the
   models that borrow strength from the national trend (:data:`PRIOR`) are averaged.
3. **Calibrate intervals empirically.** The same backtest gives the combination's errors,
   ``log1p(y) - log1p(yhat)``, divided by the horizon and pooled over series, windows and
   horizons; their empirical quantiles, times the horizon, set the bounds (so they are as
   wide as the errors really were, skewed as count errors are, and grow in proportion to the
   horizon as a misjudged trend's errors do). Pooling matters: three windows leave a single
   year of 3-year-ahead errors, too few for a tail quantile (80% intervals covered 69-71% of
   new plans and stock outcomes calibrated horizon by horizon). Horizons beyond the backtest
   scale the last one's quantiles by ``sqrt(h / H)``.
4. Refit the chosen candidates on the whole history and combine.

:func:`select` (with :func:`choose_weights` and :func:`calibrate`) is a plain function of a
backtest table, so a benchmark that already has every candidate's rolling-origin forecasts gets exactly what
``AutoEnsemble.fit`` would compute at each origin without refitting anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from forecasting.backtest import evaluate, leaderboard
from forecasting.errors import EhcpError
from forecasting.models.base import Forecaster, future_ds

__all__ = ["DEFAULT_CANDIDATES", "NEW_PLAN_CANDIDATES", "PRIOR", "STOCK_CANDIDATES", "WEIGHTINGS",
           "AutoEnsemble",
           "apply_calibration", "backtest_auto", "backtest_cutoffs", "calibrate",
           "choose_weights", "combine", "default_candidates", "default_weighting", "select",
           "stack_weights"]

#: Cheap enough to refit at every backtest window for every LA. (Theta was a candidate; it
#: cost more than the rest together and was never among the best on the SEN2 measures.)
DEFAULT_CANDIDATES = ("naive", "drift", "damped_drift", "log_drift", "log_drift3", "global",
                      "global_last")

#: New plans, when the frame carries the requests that lead them (column ``requests``): the
#: requests-led models (conversion through a requests forecast, of all requests or of those
#: agreed for assessment; lead_growth regressing new plans' change on the requests gap
#: directly, so its errors differ) and the models that did best on new plans without requests.
NEW_PLAN_CANDIDATES = ("conversion", "conversion_agreed", "lead_growth", "damped_drift", "global",
                       "global_last")

#: The January stock, when the frame carries the previous calendar year's flows (columns
#: ``new_plans_prev``, ``requests_prev``): the stock-flow identity, the national-trend models
#: and the best simple baseline on the stock. Local drifts in levels are left out: a stock
#: grows in proportion to itself, and they never made the top three after 2020.
STOCK_CANDIDATES = ("stockflow", "global", "global_last", "log_drift3")

#: Used when the history is too short for an informative backtest window: the models that
#: borrow strength from the national trend, equally weighted.
PRIOR = ("global", "global_last")

_MIN_RESIDUALS = 20

#: How :func:`choose_weights` weights the chosen candidates.
WEIGHTINGS = ("inverse_mase", "stack")


def default_candidates(df: pd.DataFrame) -> tuple[str, ...]:
    """The candidate set for a frame, chosen by the exogenous driver columns it carries.

    The columns come from :func:`forecasting.models.leading.add_drivers`: the stock's frame
    carries last year's flows, the new plans' frame the same year's requests; any other frame
    (requests, a monthly series) gets :data:`DEFAULT_CANDIDATES`.

    Examples
    --------
    >>> default_candidates(pd.DataFrame(columns=["unique_id", "ds", "y", "requests"]))[0]
    'conversion'
    >>> default_candidates(pd.DataFrame(columns=["unique_id", "ds", "y"])) == DEFAULT_CANDIDATES
    True
    """
    cols = set(df.columns)
    if {"new_plans_prev", "requests_prev"} <= cols:
        return STOCK_CANDIDATES
    if "requests" in cols:
        return NEW_PLAN_CANDIDATES
    return DEFAULT_CANDIDATES


def default_weighting(df: pd.DataFrame) -> str:
    """How ``auto`` weights its chosen candidates for a frame (see :func:`choose_weights`).

    New plans (a frame with ``requests``) are stacked: two requests-led candidates score far
    ahead of the rest, and near-equal inverse-MASE weights gave a third of the weight to a
    model 10% worse. Other measures keep inverse MASE: their candidates are close, and weights
    fitted to three windows overfit (rolling-origin MASE of the stock 1.498 inverse-MASE,
    1.563 stacked: a choice made on the benchmark's own outcomes, so disclosed as such).

    Examples
    --------
    >>> default_weighting(pd.DataFrame(columns=["unique_id", "ds", "y", "requests"]))
    'stack'
    >>> default_weighting(pd.DataFrame(columns=["unique_id", "ds", "y"]))
    'inverse_mase'
    """
    return "stack" if default_candidates(df) == NEW_PLAN_CANDIDATES else "inverse_mase"


def backtest_cutoffs(history: pd.DataFrame, origin: Any, n_windows: int,
                     min_obs: int) -> tuple[list[Any], list[Any]]:
    """The inner backtest cutoffs before ``origin``: ``(informative, all)``.

    A cutoff is informative when the typical (median) series has at least ``min_obs`` values
    up to it; earlier ones mostly score the candidates' short-series fallbacks (everything is
    ``naive`` with one year of history), which says nothing about the candidates themselves.
    """
    periods = np.sort(history.loc[history["ds"] < origin, "ds"].unique())
    window = list(periods[-n_windows:]) if len(periods) else []
    counts = history[history["ds"] <= origin].groupby("unique_id")["ds"].min()
    start = np.sort(counts.to_numpy())[len(counts) // 2] if len(counts) else origin
    good = [c for c in window if _periods_between(start, c) + 1 >= min_obs]
    return good, window


def _periods_between(a: Any, b: Any) -> int:
    if isinstance(a, pd.Timestamp) or isinstance(b, pd.Timestamp):
        a, b = pd.Timestamp(a), pd.Timestamp(b)
        return (b.year - a.year) * 12 + (b.month - a.month)
    return int(b) - int(a)


def select(cv: pd.DataFrame, history: pd.DataFrame, origin: Any,
           candidates: Sequence[str], *, top_k: int = 3, n_windows: int = 3, min_obs: int = 5,
           prior: Sequence[str] = PRIOR, level: Sequence[int] = (50, 80, 95),
           horizon: int = 3, weighting: str = "inverse_mase") -> tuple[dict[str, float], pd.DataFrame]:
    """Weights and interval calibration for a forecast made at ``origin``.

    Uses only the backtest rows with a cutoff before ``origin`` and an outcome at or before it,
    so a benchmark may pass the whole rolling-origin table without peeking.
    """
    good, window = backtest_cutoffs(history, origin, n_windows, min_obs)
    known = cv[(cv["ds"] <= origin)]
    hist = history[history["ds"] <= origin]
    if good:
        inner = known[known["cutoff"].isin(good)]
        weights = choose_weights(inner, hist, candidates, top_k, weighting)
    else:
        inner = known[known["cutoff"].isin(window)]
        pool = [m for m in prior if m in candidates] or list(candidates)
        weights = {m: 1.0 / len(pool) for m in pool}
    calib = (calibrate(inner, weights, level=level, horizon=horizon) if len(inner)
             else pd.DataFrame(columns=["n"]))
    return weights, calib


def choose_weights(cv: pd.DataFrame, history: pd.DataFrame, candidates: Sequence[str],
                   top_k: int = 3, weighting: str = "inverse_mase") -> dict[str, float]:
    """Weights of the ``top_k`` candidates with the lowest backtest MASE.

    ``weighting="inverse_mase"`` weights them by inverse MASE; ``"stack"`` by the convex
    combination of them with the lowest backtest MASE (:func:`stack_weights`).

    Examples
    --------
    >>> hist = pd.DataFrame({"unique_id": "a", "ds": [2020, 2021, 2022, 2023],
    ...                      "y": [10.0, 12.0, 14.0, 16.0]})
    >>> cv = pd.DataFrame({"unique_id": "a", "ds": [2023], "cutoff": [2022], "y": [16.0],
    ...                    "naive": [14.0], "drift": [15.0], "bad": [5.0]})
    >>> choose_weights(cv, hist, ["naive", "drift", "bad"], top_k=2)
    {'drift': 0.6666666666666666, 'naive': 0.3333333333333333}
    """
    if weighting not in WEIGHTINGS:
        raise EhcpError(f"unknown weighting {weighting!r}", field="weighting",
                        fix="use one of " + ", ".join(WEIGHTINGS))
    lb = leaderboard(evaluate(cv, history, list(candidates), level=()))
    lb = lb[np.isfinite(lb["mase"])].head(top_k)
    if lb.empty:
        return {candidates[0]: 1.0}
    if weighting == "stack" and len(lb) > 1:
        stacked = stack_weights(cv, history, [str(m) for m in lb["model"]])
        if stacked:
            return stacked
    inv = 1.0 / np.maximum(lb["mase"].to_numpy(), 1e-9)
    return {str(m): float(w) for m, w in zip(lb["model"], inv / inv.sum(), strict=True)}


def stack_weights(cv: pd.DataFrame, history: pd.DataFrame, models: Sequence[str],
                  min_weight: float = 0.01) -> dict[str, float]:
    """Convex weights of ``models`` whose combination has the lowest MASE on ``cv``.

    The pooled MASE of a weighted mean is linear in the absolute errors, so the optimum is a
    small linear programme (scipy's HiGHS): exact, deterministic, no starting point. Rows
    where a model has no forecast or the series no scale are left out; weights under
    ``min_weight`` are dropped and the rest renormalised. Returns ``{}`` when there is
    nothing to fit or the solver fails (the caller then uses inverse MASE).

    Examples
    --------
    >>> hist = pd.DataFrame({"unique_id": "a", "ds": [2020, 2021, 2022], "y": [10.0, 12, 14]})
    >>> cv = pd.DataFrame({"unique_id": "a", "ds": [2022, 2022], "cutoff": [2021, 2021],
    ...                    "y": [14.0, 14.0], "low": [12.0, 13.0], "high": [16.0, 14.5]})
    >>> {m: round(w, 2) for m, w in stack_weights(cv, hist, ["low", "high"]).items()}
    {'low': 0.5, 'high': 0.5}
    """
    from scipy import sparse
    from scipy.optimize import linprog

    # evaluate's scaled error of the forecast y + 1 is 1 / scale: each row's MASE weight.
    probe = cv.assign(_unit=cv["y"] + 1.0)
    inv = evaluate(probe, history, ["_unit"], level=())["ase"].to_numpy(dtype=float)
    x = cv[list(models)].to_numpy(dtype=float)
    y = cv["y"].to_numpy(dtype=float)
    ok = np.isfinite(inv) & np.isfinite(x).all(axis=1) & np.isfinite(y)
    x, y, inv = x[ok], y[ok], inv[ok]
    n, m = x.shape
    if n == 0 or m == 0:
        return {}
    # Variables: the m weights, then one absolute error per row (u >= +-(x w - y)).
    cost = np.concatenate([np.zeros(m), inv / n])
    eye = sparse.identity(n, format="csr")
    a_ub = sparse.vstack([sparse.hstack([x, -eye]), sparse.hstack([-x, -eye])]).tocsr()
    b_ub = np.concatenate([y, -y])
    a_eq = np.concatenate([np.ones(m), np.zeros(n)])[None, :]
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[1.0],
                  bounds=[(0, None)] * (m + n), method="highs")
    if not res.success:
        return {}
    w = np.where(res.x[:m] >= min_weight, res.x[:m], 0.0)
    w = w / w.sum()
    return {str(name): float(v) for name, v in zip(models, w, strict=True) if v > 0}


def combine(frame: pd.DataFrame, weights: dict[str, float]) -> pd.Series:
    """Weighted mean of the candidates' columns (weights renormalised where one is missing)."""
    num = pd.Series(0.0, index=frame.index)
    den = pd.Series(0.0, index=frame.index)
    for m, w in weights.items():
        ok = frame[m].notna()
        num = num.add(frame[m].where(ok, 0.0) * w)
        den = den.add(ok.astype(float) * w)
    return num / den.where(den > 0)


def _horizon(ds: pd.Series, cutoff: pd.Series) -> np.ndarray:
    if ds.dtype == object and len(ds) and isinstance(ds.iloc[0], int | np.integer):
        # Years held as objects (a frame built from empty parts) are still years, not dates.
        ds = ds.astype("int64")
    if pd.api.types.is_numeric_dtype(ds):
        return (ds.to_numpy(dtype=np.int64) - cutoff.to_numpy(dtype=np.int64))
    a, b = pd.to_datetime(ds), pd.to_datetime(cutoff)
    return ((a.dt.year - b.dt.year) * 12 + (a.dt.month - b.dt.month)).to_numpy()


def calibrate(cv: pd.DataFrame, weights: dict[str, float],
              level: Sequence[int] = (80, 95), horizon: int = 0) -> pd.DataFrame:
    """Empirical quantiles of the combination's log errors, per unit of horizon, pooled.

    Each error ``log1p(y) - log1p(yhat)`` is divided by its horizon; the quantiles of all of
    them together, times ``h``, are horizon ``h``'s (errors of a misjudged trend grow in
    proportion to the horizon, and one pool gives the tails several years of errors rather
    than the one year of 3-year-ahead errors three windows hold).

    Returns a table indexed by horizon (those in ``cv`` and up to ``horizon``, the horizon the
    ensemble is backtested at: a late origin's windows may hold only 1-year-ahead errors) with
    columns ``q<tau>`` (for each level's two tails and the median ``q0.5``) and ``n`` (the
    number of errors behind them: the whole pool).

    Examples
    --------
    >>> cv = pd.DataFrame({"ds": [2021, 2022, 2022, 2023], "cutoff": [2020, 2020, 2021, 2021],
    ...                    "y": [110.0, 120.0, 100.0, 130.0], "m": [100.0, 100.0, 100.0, 100.0]})
    >>> calibrate(cv, {"m": 1.0}, level=(80,))[["q0.1", "q0.9", "n"]].round(3)
        q0.1   q0.9  n
    1  0.027  0.119  4
    2  0.054  0.239  4
    """
    yhat = combine(cv, weights)
    err = np.log1p(cv["y"].clip(lower=0)) - np.log1p(yhat.clip(lower=0))
    frame = pd.DataFrame({"h": _horizon(cv["ds"], cv["cutoff"]), "e": err}).dropna()
    frame = frame[frame["h"] > 0]
    taus = sorted({0.5, *[(100 - lv) / 200 for lv in level], *[1 - (100 - lv) / 200 for lv in level]})
    per_step = (frame["e"] / frame["h"]).to_numpy()
    rows = {}
    for h in sorted({*frame["h"].unique(), *range(1, horizon + 1)} if len(frame) else ()):
        rows[int(h)] = {**{f"q{t:g}": float(np.quantile(per_step, t)) * int(h) for t in taus},
                        "n": len(per_step)}
    return pd.DataFrame.from_dict(rows, orient="index").sort_index()


def apply_calibration(yhat: np.ndarray, horizon: np.ndarray, calib: pd.DataFrame,
                      level: Sequence[int]) -> dict[str, np.ndarray]:
    """Bounds ``lo_<l>``/``hi_<l>`` from calibrated log-error quantiles (see :func:`calibrate`).

    Quantiles widen monotonically with the horizon; beyond the calibrated horizons the last
    one's are scaled by ``sqrt(h / H)``. Returns None-free arrays aligned with ``yhat``.
    """
    usable = calib[calib["n"] >= _MIN_RESIDUALS] if len(calib) else calib
    if usable.empty:
        usable = calib
    out: dict[str, np.ndarray] = {}
    if usable.empty:
        # No backtest errors at all: no calibrated width to give (AutoEnsemble then uses its
        # members' own bounds; a backtest shows the gap as zero-width bands).
        for lv in level:
            out[f"lo_{lv}"], out[f"hi_{lv}"] = np.array(yhat, float), np.array(yhat, float)
        return out
    hs = usable.index.to_numpy()
    base = np.log1p(np.clip(yhat, 0, None))
    for lv in level:
        t_lo, t_hi = (100 - lv) / 200, 1 - (100 - lv) / 200
        lo_q = np.minimum.accumulate(usable[f"q{t_lo:g}"].to_numpy())
        hi_q = np.maximum.accumulate(usable[f"q{t_hi:g}"].to_numpy())
        lo, hi = np.empty(len(yhat)), np.empty(len(yhat))
        for i, h in enumerate(horizon):
            j = np.searchsorted(hs, h)
            if j < len(hs) and hs[j] == h:
                ql, qh = lo_q[j], hi_q[j]
            elif h > hs[-1]:
                # Beyond the backtest nothing says how errors grow: the last calibrated
                # horizon's, widened like a random walk's (linear growth, right within the
                # backtest, made 5-year 95% bands span an eightfold range).
                f = np.sqrt(h / hs[-1])
                ql, qh = lo_q[-1] * f, hi_q[-1] * f
            else:
                ql, qh = lo_q[min(j, len(hs) - 1)], hi_q[min(j, len(hs) - 1)]
            # Never let a bound cross the point forecast.
            lo[i] = np.expm1(base[i] + min(ql, 0.0))
            hi[i] = np.expm1(base[i] + max(qh, 0.0))
        out[f"lo_{lv}"], out[f"hi_{lv}"] = lo, hi
    return out


def backtest_auto(cv: pd.DataFrame, history: pd.DataFrame, origins: Sequence[Any],
                  candidates: Sequence[str] = DEFAULT_CANDIDATES, *, top_k: int = 3,
                  n_windows: int = 3, min_obs: int = 5,
                  level: Sequence[int] = (80, 95), horizon: int = 3,
                  weighting: str = "inverse_mase") -> pd.DataFrame:
    """The auto ensemble's rolling-origin forecasts, from its candidates' backtest columns.

    ``cv`` must hold every candidate's forecasts at the origins and at the ``n_windows``
    cutoffs before each. At each origin the weights and intervals are what
    :class:`AutoEnsemble` would compute there (:func:`select`, earlier windows only), so this
    equals refitting ``AutoEnsemble`` at every origin, without the refits. Adds ``auto`` and
    ``auto-lo-<l>``/``auto-hi-<l>`` columns and ``weights`` (text) to the origins' rows.
    """
    rows = []
    for t in origins:
        weights, calib = select(cv, history, t, candidates, top_k=top_k, n_windows=n_windows,
                                min_obs=min_obs, level=level, horizon=horizon,
                                weighting=weighting)
        outer = cv[cv["cutoff"] == t].copy()
        outer["auto"] = combine(outer, weights).to_numpy()
        bounds = apply_calibration(outer["auto"].to_numpy(),
                                   _horizon(outer["ds"], outer["cutoff"]), calib, level)
        for col, vals in bounds.items():
            side, lv = col.split("_")
            outer[f"auto-{side}-{lv}"] = vals
        outer["weights"] = ", ".join(f"{m} {w:.2f}" for m, w in weights.items())
        rows.append(outer)
    return pd.concat(rows, ignore_index=True)


class AutoEnsemble(Forecaster):
    """Backtest-chosen, inverse-MASE-weighted combination with empirical intervals.

    Parameters
    ----------
    candidates : sequence of str or None
        Registry names of the models to choose from; None picks them by the frame's driver
        columns (:func:`default_candidates`).
    top_k : int
        How many of the best candidates to combine.
    n_windows : int
        Backtest cutoffs (the latest ones before the end of the history).
    horizon : int
        Horizons scored and calibrated in the backtest.
    weighting : str or None
        How the chosen candidates are weighted (see :func:`choose_weights`); None picks it by
        the frame's driver columns (:func:`default_weighting`).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> rows = [(f"la{i}", year, 100 * (1 + i / 10) * 1.1 ** (year - 2014) * rng.lognormal(0, 0.05))
    ...         for i in range(12) for year in range(2014, 2025)]
    >>> df = pd.DataFrame(rows, columns=["unique_id", "ds", "y"])
    >>> model = AutoEnsemble(candidates=("naive", "drift", "log_drift"), top_k=2).fit(df)
    >>> len(model.weights_)
    2
    >>> len(model.predict(2))
    24
    """

    name = "auto"
    min_length = 1
    fallback = None

    def __init__(self, *, candidates: Sequence[str] | None = None, top_k: int = 3,
                 n_windows: int = 3, horizon: int = 3, min_obs: int = 5,
                 prior: Sequence[str] = PRIOR, weighting: str | None = None) -> None:
        self.candidates = tuple(candidates) if candidates is not None else None
        self.top_k = top_k
        self.n_windows = n_windows
        self.horizon = horizon
        self.min_obs = min_obs
        self.prior = tuple(prior)
        self.weighting = weighting

    def _fit(self, df: pd.DataFrame) -> None:
        from forecasting.forecast import cross_validation, fit_with_fallback

        origin = df["ds"].max()
        cands = self.candidates if self.candidates is not None else default_candidates(df)
        self.candidates_ = cands
        self.weighting_ = self.weighting if self.weighting is not None else default_weighting(df)
        _, window = backtest_cutoffs(df, origin, self.n_windows, self.min_obs)
        self.calibration_ = pd.DataFrame(columns=["n"])
        if window:
            cv = cross_validation(df, h=self.horizon, cutoffs=window, models=cands)
            self.weights_, self.calibration_ = select(
                cv, df, origin, cands, top_k=self.top_k, n_windows=self.n_windows,
                min_obs=self.min_obs, prior=self.prior, horizon=self.horizon,
                weighting=self.weighting_)
        else:
            self.weights_ = {"naive": 1.0}
        self.fitted_: dict[str, list[tuple[str, Forecaster]]] = {
            m: fit_with_fallback(df, m) for m in self.weights_}

    def _members(self, h: int, level: tuple[int, ...]) -> pd.DataFrame:
        frames = []
        for m, fitted in self.fitted_.items():
            parts = [est.predict(h, level) for _, est in fitted]
            frames.append(pd.concat(parts, ignore_index=True).assign(_m=m))
        return pd.concat(frames, ignore_index=True)

    def _predict(self, h: int, level: tuple[int, ...]) -> pd.DataFrame:
        members = self._members(h, level)
        wide = members.pivot_table(index=["unique_id", "ds"], columns="_m", values="yhat",
                                   aggfunc="first")
        out = wide.index.to_frame(index=False)
        out["yhat"] = combine(wide.reset_index(drop=True), self.weights_).to_numpy()
        last = out["unique_id"].map(self.last_ds_)
        horizon = _horizon(out["ds"], last)
        if len(self.calibration_) and level:
            bounds = apply_calibration(out["yhat"].to_numpy(), horizon, self.calibration_, level)
            for col, vals in bounds.items():
                out[col] = vals
        else:
            # No backtest to calibrate on (a very short history): the members' own bounds.
            for lv in level:
                for side in ("lo", "hi"):
                    col = f"{side}_{lv}"
                    w = members.pivot_table(index=["unique_id", "ds"], columns="_m", values=col,
                                            aggfunc="first").reset_index(drop=True)
                    out[col] = combine(w, self.weights_).to_numpy()
        return out

    def _simulate(self, h: int, n_paths: int, rng: np.random.Generator) -> pd.DataFrame:
        fc = self._predict(h, (50, 80))
        frames = []
        for uid, grp in fc.groupby("unique_id", sort=False):
            # Centre on the middle of the 50% band (the calibrated median error), spread from
            # the 80% band, so paths reproduce the calibrated intervals.
            centre = 0.5 * (np.log1p(grp["lo_50"].to_numpy()) + np.log1p(grp["hi_50"].to_numpy()))
            sd = (np.log1p(grp["hi_80"].to_numpy()) - np.log1p(grp["lo_80"].to_numpy())) / (2 * 1.2816)
            sd = np.maximum.accumulate(np.maximum(sd, 0.0))
            steps = np.sqrt(np.arange(1, h + 1))
            walk = np.cumsum(rng.standard_normal((n_paths, h)), axis=1) / steps
            paths = np.expm1(centre + walk * sd)
            ds = future_ds(self.last_ds_[str(uid)], h, self.annual_)
            frames.append(pd.DataFrame({"unique_id": uid, "ds": ds * n_paths,
                                        "sample_id": np.repeat(np.arange(n_paths), h),
                                        "y": paths.ravel()}))
        return pd.concat(frames, ignore_index=True)

    def describe(self) -> dict[str, Any]:
        """The chosen members and weights (for reports)."""
        self._check_fitted()
        return {"weights": dict(self.weights_), "calibration": self.calibration_.copy()}
