"""New plans' growth learned across LAs from where each LA stands against its requests.

The conversion model (:class:`~forecasting.models.leading.Conversion`) forecasts new plans
through a forecast of requests; this model skips that step and regresses new plans' own future
change directly on what is known at the origin (the direct strategy), one regression per
horizon ``k`` pooled over every LA and every past origin:

``log y[t+k] - log y[t] = k * trend[t] + f_k(x[t])``

- ``trend[t]``: the national growth of requests, the median of the latest ``window`` yearly
  log changes of the all-LA total (matched sets) up to ``t``, without the Covid steps into
  2020 and 2021 (a dip and a catch-up, not trend) once other years exist;
- ``f_k``: a ridge regression (scikit-learn, standardised features) of the LA's departure
  from that trend over ``k`` years on the gaps between its latest new plans and its requests
  this year and last year (``log req[t] - log y[t]``, ``log req[t-1] - log y[t]``: requests
  already made that have not yet become plans), its own last change (``log y[t-1] -
  log y[t]``) and its typical conversion (the mean log ratio of plans to the requests behind
  them, ``a * req[t] + (1 - a) * req[t-1]``, over its last four years) and, when the frame
  carries refusals (column ``refused``), the share of its requests agreed for assessment
  (``log((req[t] - refused[t]) / req[t])``: a refused request never becomes a plan; it cut
  the model's rolling-origin MASE from 1.40 to 1.38, most at one year ahead) and, with
  columns ``within_20wk`` and ``timed``, the LA's timeliness (the log share of its plans
  issued within 20 weeks, and that share's change on the year: a low or falling share is a
  backlog building up, plans lagging requests that will be issued later; 1.38 to 1.36).
  Those optional features were chosen on the benchmark's outcomes. One regression per
  horizon, not one yearly rate: a gap closes once, and a rate compounded it (Leeds 2024,
  2,313 requests against 773 plans, went to 2,308 plans in three years). Features are
  clipped to the training range; a training row needs every feature (the first year of
  requests has no year before it), a forecast's missing one takes the training median.

Its errors differ from the conversion model's (no requests forecast inside), which is what a
combination needs. Training uses only rows whose outcome ``t + k`` is inside the history, so
a backtest cut at an origin never sees a later year; a departure of more than one in log per
year (e-fold) is a data error or a boundary change, not a pattern, and is left out of the
training (never out of the forecasts). A horizon with fewer than :data:`MIN_ROWS` training
rows takes the previous horizon's regression (none at all: the national trend alone); beyond
``horizons`` the last departure holds and growth continues at the trend. Series with no
requests, or no positive new plans, in their latest year are forecast by ``fallback_model``.

Intervals are Gaussian on the log scale with each horizon's residual spread.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forecasting.models.adjust import COVID_YEAR
from forecasting.models.global_model import aggregate_growth
from forecasting.models.leading import (
    LogNormalForecaster,
    _fit_models,
    require_columns,
)

__all__ = ["FEATURES", "MIN_ROWS", "OPTIONAL_FEATURES", "LeadGrowth"]

#: Feature names, in the order of the regression's columns (see the module notes).
FEATURES = ("req_gap", "req_prev_gap", "last_change", "typical_ratio")

#: Optional features, each used when the frame carries its columns (see the module notes).
OPTIONAL_FEATURES = ("agreed_share", "timeliness", "timeliness_change")

#: Fewer training rows than this and the model forecasts the national trend alone.
MIN_ROWS = 20

_MAX_DEPARTURE = 1.0


def _log(frame: pd.DataFrame) -> pd.DataFrame:
    """Natural log of a wide frame, NaN where the value is not positive."""
    values = frame.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), np.nan)
    return pd.DataFrame(out, index=frame.index, columns=frame.columns)


class LeadGrowth(LogNormalForecaster):
    """Direct regressions of new plans' change on their requests gap (column ``requests``).

    Parameters
    ----------
    driver : str
        The exogenous column holding the leading series.
    refused : str or None
        The exogenous column of requests refused an assessment (optional: without it, or
        None, the agreed-share feature is left out).
    timeliness : (str, str) or None
        The exogenous columns of plans issued within 20 weeks and of plans timed (optional:
        without them, or None, the timeliness features are left out).
    horizons : int
        Horizons with their own regression; beyond, the last one's departure holds.
    alpha : float
        Ridge penalty on the standardised features.
    lag_weight : float
        ``a``: the share of a year's plans that come from the same year's requests (for the
        typical conversion feature).
    window : int
        National yearly changes behind the trend.
    fallback_model : str
        Model for series without a driver or positive value in their latest year.

    Examples
    --------
    >>> rows = [(f"la{i}", t, 100.0 * (1 + i) * 1.1 ** (t - 2014)) for i in range(12)
    ...         for t in range(2014, 2024)]
    >>> df = pd.DataFrame(rows, columns=["unique_id", "ds", "requests"])
    >>> df["y"] = 0.6 * df["requests"]
    >>> fc = LeadGrowth().fit(df).predict(2, level=(80,))
    >>> [round(v) for v in fc.loc[fc["unique_id"] == "la0", "yhat"]]
    [156, 171]
    """

    name = "lead_growth"
    min_length = 2
    fallback = "damped_drift"

    def __init__(self, *, driver: str = "requests", refused: str | None = "refused",
                 timeliness: tuple[str, str] | None = ("within_20wk", "timed"),
                 horizons: int = 3, alpha: float = 10.0,
                 lag_weight: float = 0.5, window: int = 5,
                 fallback_model: str = "damped_drift") -> None:
        self.driver = driver
        self.refused = refused
        self.timeliness = timeliness
        self.horizons = horizons
        self.alpha = alpha
        self.lag_weight = lag_weight
        self.window = window
        self.fallback_model = fallback_model

    def _trend(self, d: pd.DataFrame) -> pd.Series:
        """National yearly log growth of the driver at each period (robust, Covid left out)."""
        nat = aggregate_growth(pd.DataFrame(np.log1p(d.to_numpy(dtype=float)), index=d.index,
                                            columns=d.columns))
        calm = nat.copy()
        if self.annual_:
            calm[calm.index.isin((COVID_YEAR, COVID_YEAR + 1))] = np.nan
        out = {}
        for t in d.columns:
            pick = calm.loc[:t].dropna().iloc[-self.window:]
            if pick.empty:
                pick = nat.loc[:t].dropna().iloc[-self.window:]
            out[t] = float(pick.median()) if len(pick) else 0.0
        return pd.Series(out, dtype=float)

    def _features(self, ly: pd.DataFrame, ld: pd.DataFrame,
                  extra: dict[str, pd.DataFrame]) -> dict[Any, pd.DataFrame]:
        a = float(self.lag_weight)
        d = pd.DataFrame(np.exp(ld.to_numpy()), index=ld.index, columns=ld.columns)
        mixed = _log(a * d + (1.0 - a) * d.shift(1, axis=1))
        logr = ly - mixed
        cols = list(ly.columns)
        feats = {}
        for j, t in enumerate(cols):
            x = pd.DataFrame(index=ly.index)
            x["req_gap"] = ld[t] - ly[t]
            x["req_prev_gap"] = ld[cols[j - 1]] - ly[t] if j >= 1 else np.nan
            x["last_change"] = ly[cols[j - 1]] - ly[t] if j >= 1 else np.nan
            x["typical_ratio"] = logr[cols[max(j - 3, 0): j + 1]].mean(axis=1)
            if "agreed" in extra:
                x["agreed_share"] = extra["agreed"][t] - ld[t]
            if "share" in extra:
                share = extra["share"]
                x["timeliness"] = np.log(share[t].clip(lower=0.01))
                x["timeliness_change"] = share[t] - share[cols[j - 1]] if j >= 1 else np.nan
            feats[t] = x.replace([np.inf, -np.inf], np.nan)
        return feats

    def _fit(self, df: pd.DataFrame) -> None:
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        df = require_columns(df, (self.driver,), self.name, self.fallback_model)
        y = df.pivot(index="unique_id", columns="ds", values="y").sort_index(axis=1)
        d = df.pivot(index="unique_id", columns="ds", values=self.driver).astype(float)
        d = d.reindex(index=y.index, columns=y.columns)
        ly, ld = _log(y), _log(d)
        def wide(col: str | None) -> pd.DataFrame | None:
            if col is None or col not in df or not df[col].notna().any():
                return None
            w = df.pivot(index="unique_id", columns="ds", values=col).astype(float)
            return w.reindex(index=y.index, columns=y.columns)

        extra: dict[str, pd.DataFrame] = {}
        names = list(FEATURES)
        refused = wide(self.refused)
        if refused is not None:
            extra["agreed"] = _log(d - refused)
            names.append("agreed_share")
        within_col, timed_col = self.timeliness if self.timeliness is not None else (None, None)
        within, timed = wide(within_col), wide(timed_col)
        if within is not None and timed is not None:
            # Smoothed so an LA timing a handful of plans is not at 0% or 100%.
            extra["share"] = (within + 0.5) / (timed + 1.0)
            names += ["timeliness", "timeliness_change"]
        self.features_ = tuple(names)
        trend = self._trend(d.where(d > 0))
        feats = self._features(ly, ld, extra)
        cols = list(y.columns)
        # One regression per horizon k of the total departure over k years (the direct
        # strategy): a plans-behind-requests gap closes once, so its effect on the level
        # must not compound with k as one yearly rate for every horizon would.
        self.models_: list[tuple[Any, pd.Series, tuple[np.ndarray, np.ndarray]] | None] = []
        self.sigma_: list[float] = []
        self.n_rows_ = 0
        for k in range(1, self.horizons + 1):
            xs, zs = [], []
            for j, t in enumerate(cols[: max(len(cols) - k, 0)]):
                z = ly[cols[j + k]] - ly[t] - k * trend[t]
                ok = z.notna() & (z.abs() < k * _MAX_DEPARTURE) & feats[t].notna().all(axis=1)
                xs.append(feats[t][ok])
                zs.append(z[ok])
            n = int(sum(len(z) for z in zs))
            self.n_rows_ += n
            if n < MIN_ROWS:
                # Too few outcomes this far ahead: the previous horizon's departure (a gap
                # closes once), its spread widened like a walk, or the trend alone.
                prev = self.models_[-1] if self.models_ else None
                self.models_.append(prev)
                self.sigma_.append(self.sigma_[-1] * np.sqrt(k / (k - 1)) if self.sigma_
                                   else 0.2 * np.sqrt(k))
                continue
            x_all = pd.concat(xs)
            z_all = pd.concat(zs).to_numpy(dtype=float)
            median = x_all.median().fillna(0.0)
            x_fit = x_all.fillna(median).to_numpy(dtype=float)
            model = make_pipeline(StandardScaler(), Ridge(alpha=self.alpha)).fit(x_fit, z_all)
            self.models_.append((model, median, (x_fit.min(axis=0), x_fit.max(axis=0))))
            resid = z_all - model.predict(x_fit)
            self.sigma_.append(float(np.sqrt(np.mean(resid**2))))
        self.sigma_ = [float(v) for v in np.maximum.accumulate(self.sigma_)]
        last = df.groupby("unique_id", sort=False)["ds"].max()
        state = {}
        for uid, t in last.items():
            lvl, drv = float(ly.at[uid, t]), float(ld.at[uid, t])  # type: ignore[arg-type]
            if np.isfinite(lvl) and np.isfinite(drv):
                state[str(uid)] = (lvl, float(trend[t]), feats[t].loc[[uid]])
        self.state_ = state
        self.fallback_ids_ = sorted(str(u) for u in last.index if str(u) not in state)
        rest = df[df["unique_id"].astype(str).isin(self.fallback_ids_)][["unique_id", "ds", "y"]]
        self.fallback_fitted_ = _fit_models(rest, self.fallback_model) if len(rest) else []

    def _departure(self, x: pd.DataFrame, k: int) -> float:
        fitted = self.models_[min(k, len(self.models_)) - 1] if self.models_ else None
        if fitted is None:
            return 0.0
        model, median, (lo, hi) = fitted
        xv = np.clip(x.fillna(median).to_numpy(dtype=float), lo, hi)
        return float(model.predict(xv)[0])

    def _center(self, h: int) -> pd.DataFrame:
        """Log-scale mean and sd by series and horizon (driver-based series only)."""
        frames = []
        kmax = len(self.sigma_)
        # Beyond the fitted horizons: the last one's departure, growth at the trend.
        sd = np.array([self.sigma_[min(k, kmax) - 1] * np.sqrt(max(k / kmax, 1.0))
                       for k in range(1, h + 1)])
        steps = np.arange(1, h + 1)
        for uid, (lvl, trend, x) in self.state_.items():
            dev = np.array([self._departure(x, k) for k in range(1, min(h, kmax) + 1)])
            dev = np.concatenate([dev, np.full(h - len(dev), dev[-1] if len(dev) else 0.0)])
            frames.append(pd.DataFrame({"unique_id": uid, "ds": self._future(uid, h),
                                        "mean": lvl + steps * trend + dev, "sd": sd}))
        if not frames:
            return pd.DataFrame(columns=["unique_id", "ds", "mean", "sd"])
        return pd.concat(frames, ignore_index=True)

    def describe(self) -> dict[str, Any]:
        """The 1-year regression's coefficients (per standardised feature), spreads, fallbacks."""
        self._check_fitted()
        first = self.models_[0] if self.models_ else None
        coef = (dict(zip(self.features_, first[0][-1].coef_.round(4).tolist(), strict=True))
                if first is not None else {})
        return {"coef": coef, "sigma": list(self.sigma_), "rows": self.n_rows_,
                "fallback": list(self.fallback_ids_)}
