"""New plans' growth learned across LAs from where each LA stands against its requests.

:class:`~forecasting.models.leading.Conversion` forecasts new plans through a forecast of
requests; this model skips that step and regresses new plans' own future growth directly on
what is known at the origin (the direct strategy), pooled over every LA, every past origin and
horizons 1..``horizons``:

``log y[t+k] - log y[t] = k * (trend[t] + f(x[t]))``

- ``trend[t]``: the national growth of requests, the median of the latest ``window`` yearly
  log changes of the all-LA total (matched sets) up to ``t``, without the Covid steps into
  2020 and 2021 (a dip and a catch-up, not trend) once other years exist;
- ``f``: a ridge regression (scikit-learn, standardised features) of the LA's yearly
  departure from that trend on the gaps between its latest new plans and its requests this
  year and last year (``log req[t] - log y[t]``, ``log req[t-1] - log y[t]``: requests
  already made that have not yet become plans), its own last change (``log y[t-1] -
  log y[t]``) and its typical conversion (the mean log ratio of plans to the requests behind
  them, ``a * req[t] + (1 - a) * req[t-1]``, over its last four years). Features are clipped
  to the training range; a training row needs every feature (the first year of requests
  has no year before it), a forecast's missing one takes the training median.

Its errors differ from the conversion model's (no requests forecast inside), which is what a
combination needs. Training uses only rows whose outcome ``t + k`` is inside the history, so
a backtest cut at an origin never sees a later year; a departure of more than one in log
(e-fold in a year) is a data error or a boundary change, not a pattern, and is left out of
the training (never out of the forecasts). With fewer than :data:`MIN_ROWS` training rows the
departures are taken as zero (the national trend alone). Series with no requests, or no
positive new plans, in their latest year are forecast by ``fallback_model``.

Intervals are Gaussian on the log scale with each horizon's residual spread.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forecasting.models.adjust import COVID_YEAR
from forecasting.models.base import Forecaster
from forecasting.models.global_model import aggregate_growth
from forecasting.models.leading import (
    _fit_models,
    log_normal_forecast,
    log_walk_paths,
    require_columns,
)

__all__ = ["FEATURES", "MIN_ROWS", "LeadGrowth"]

#: Feature names, in the order of the regression's columns (see the module notes).
FEATURES = ("req_gap", "req_prev_gap", "last_change", "typical_ratio")

#: Fewer training rows than this and the model forecasts the national trend alone.
MIN_ROWS = 20

_MAX_DEPARTURE = 1.0


def _log(frame: pd.DataFrame) -> pd.DataFrame:
    """Natural log of a wide frame, NaN where the value is not positive."""
    values = frame.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), np.nan)
    return pd.DataFrame(out, index=frame.index, columns=frame.columns)


class LeadGrowth(Forecaster):
    """Pooled direct regression of new plans' growth on their requests gap (column ``requests``).

    Parameters
    ----------
    driver : str
        The exogenous column holding the leading series.
    horizons : int
        Horizons in the training rows; beyond, the last one's yearly rate continues.
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
    requires: tuple[str, ...] = ("requests",)

    def __init__(self, *, driver: str = "requests", horizons: int = 3, alpha: float = 10.0,
                 lag_weight: float = 0.5, window: int = 5,
                 fallback_model: str = "damped_drift") -> None:
        self.driver = driver
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

    def _features(self, ly: pd.DataFrame, ld: pd.DataFrame) -> dict[Any, pd.DataFrame]:
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
        trend = self._trend(d.where(d > 0))
        feats = self._features(ly, ld)
        cols = list(y.columns)
        xs, zs, ks = [], [], []
        for j, t in enumerate(cols):
            for k in range(1, self.horizons + 1):
                if j + k >= len(cols):
                    break
                z = (ly[cols[j + k]] - ly[t] - k * trend[t]) / k
                ok = z.notna() & (z.abs() < _MAX_DEPARTURE) & feats[t].notna().all(axis=1)
                xs.append(feats[t][ok])
                zs.append(z[ok])
                ks.append(np.full(int(ok.sum()), k))
        x_all = pd.concat(xs) if xs else pd.DataFrame(columns=list(FEATURES))
        z_all = pd.concat(zs).to_numpy(dtype=float) if zs else np.empty(0)
        k_all = np.concatenate(ks) if ks else np.empty(0, dtype=int)
        self.n_rows_ = len(z_all)
        self.model_: Any = None
        if self.n_rows_ >= MIN_ROWS:
            self.median_ = x_all.median().fillna(0.0)
            x_fit = x_all.fillna(self.median_).to_numpy(dtype=float)
            self.bounds_ = (x_fit.min(axis=0), x_fit.max(axis=0))
            self.model_ = make_pipeline(StandardScaler(), Ridge(alpha=self.alpha))
            self.model_.fit(x_fit, z_all)
            resid = k_all * (z_all - self.model_.predict(x_fit))
        else:
            resid = k_all * z_all
        # Each horizon's spread of log errors; a horizon with too few rows grows like a walk.
        self.sigma_: list[float] = []
        for k in range(1, self.horizons + 1):
            r = resid[k_all == k]
            if len(r) >= MIN_ROWS:
                self.sigma_.append(float(np.sqrt(np.mean(r**2))))
            elif self.sigma_:
                self.sigma_.append(self.sigma_[-1] * np.sqrt(k / (k - 1)))
            else:
                self.sigma_.append(0.2)
        self.sigma_ = list(np.maximum.accumulate(self.sigma_))
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

    def _rate(self, x: pd.DataFrame) -> float:
        if self.model_ is None:
            return 0.0
        lo, hi = self.bounds_
        xv = np.clip(x.fillna(self.median_).to_numpy(dtype=float), lo, hi)
        return float(self.model_.predict(xv)[0])

    def _center(self, h: int) -> pd.DataFrame:
        """Log-scale mean and sd by series and horizon (driver-based series only)."""
        frames = []
        k = np.arange(1, h + 1)
        kmax = len(self.sigma_)
        sd = np.array([self.sigma_[min(i, kmax) - 1] * np.sqrt(max(i / kmax, 1.0))
                       for i in range(1, h + 1)])
        for uid, (lvl, trend, x) in self.state_.items():
            frames.append(pd.DataFrame({"unique_id": uid, "ds": self._future(uid, h),
                                        "mean": lvl + k * (trend + self._rate(x)), "sd": sd}))
        if not frames:
            return pd.DataFrame(columns=["unique_id", "ds", "mean", "sd"])
        return pd.concat(frames, ignore_index=True)

    def _predict(self, h: int, level: tuple[int, ...]) -> pd.DataFrame:
        return log_normal_forecast(self._center(h), self.annual_, self.fallback_fitted_, h,
                                   level)

    def _simulate(self, h: int, n_paths: int, rng: np.random.Generator) -> pd.DataFrame:
        return log_walk_paths(self._center(h), self.last_ds_, self.annual_,
                              self.fallback_fitted_, h, n_paths, rng)

    def describe(self) -> dict[str, Any]:
        """The regression's coefficients (per standardised feature), spreads and fallbacks."""
        self._check_fitted()
        coef = (dict(zip(FEATURES, self.model_[-1].coef_.round(4).tolist(), strict=True))
                if self.model_ is not None else {})
        return {"coef": coef, "sigma": list(self.sigma_), "rows": self.n_rows_,
                "fallback": list(self.fallback_ids_)}
