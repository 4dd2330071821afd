"""New plans from the requests that lead them: a conversion ratio times forecast requests.

A request for an EHC needs assessment becomes a plan about 20 weeks later, so the plans issued
in calendar year ``t`` come from requests made in ``t`` and ``t - 1``. This model forecasts

``new_plans[t] = ratio * (a * requests[t] + (1 - a) * requests[t - 1])``

with the requests forecast by a model of their own (``driver_model``, default the global
model fitted on every LA's requests) and ``ratio`` each LA's recent conversion rate: the mean
log ratio of its last ``n_years`` years, shrunk towards the national (all-LA) ratio with the
weight ``n / (n + shrink)``. Requests are the exogenous column ``requests`` of the input frame
(see :func:`add_drivers`): each row carries only what was published with that row, so a
backtest that cuts the frame at an origin never sees a later year. A series with no requests
in its latest year is forecast by ``fallback_model`` instead (``describe()`` lists them).

``conversion_agreed`` (``refused="refused"``) converts only the requests agreed for
assessment (requests minus those refused, column ``refused``), and scales the requests
forecast by each LA's agreed share of its last two years: a change in an LA's refusal rate
then moves its plans at once rather than through a drifting ratio (rolling-origin MASE one
year ahead 1.053 -> 1.030, two and three years ahead a little worse; ``auto`` uses both).

Intervals are Gaussian on the log scale: the spread of the LA's log ratio around its mean (in
quadrature with) the requests model's own log-scale spread at each horizon.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from forecasting.errors import EhcpWarning
from forecasting.models.base import Forecaster, future_ds, latest_run, normal_intervals

__all__ = ["Conversion", "LogNormalForecaster", "add_drivers", "fix_ds", "last_run",
           "log_normal_forecast", "log_walk_paths", "recent_years", "require_columns",
           "shrink_to_national"]

#: Exogenous columns the driver-based models read, by the measure they forecast. Each row of
#: a measure's frame carries the driver values published in the same SEN2 release: new plans
#: of calendar ``ds`` come with requests (and requests refused an assessment, and the plans
#: issued within 20 weeks out of those timed) of calendar ``ds``; the January ``ds`` stock
#: comes with the flows of calendar ``ds - 1``.
DRIVERS: dict[str, dict[str, tuple[str, int]]] = {
    "new_plans": {"requests": ("requests_received", 0), "refused": ("requests_refused", 0),
                  "within_20wk": ("plans_within_20wk", 0), "timed": ("plans_issued_den", 0)},
    "stock_plans": {"new_plans_prev": ("new_plans", 1), "requests_prev": ("requests_received", 1)},
}

_Z80 = float(stats.norm.ppf(0.9))


def add_drivers(history: pd.DataFrame, panel: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Add the exogenous driver columns of ``measure`` (see :data:`DRIVERS`) to its history.

    ``history`` is the measure's long frame (e.g. ``forecasting.forecast.la_history``); the
    drivers come from the same panel on the same fixed boundaries. Rows are never added or
    dropped: a driver with no figure for a row, or a driver measure the panel lacks, is NaN.
    Measures without drivers are returned unchanged.

    Examples
    --------
    >>> panel = pd.DataFrame({"unique_id": "E1", "level": "la", "breakdown": "all",
    ...                       "measure": "requests_received", "ds": [2022, 2023],
    ...                       "y": [100.0, 120.0]})
    >>> hist = pd.DataFrame({"unique_id": "E1", "ds": [2022, 2023, 2024], "y": [60.0, 70, 80]})
    >>> add_drivers(hist, panel, "new_plans")["requests"].tolist()
    [100.0, 120.0, nan]
    """
    from forecasting.data import consistent_series

    out = history.copy()
    present = set(panel["measure"].unique())
    for col, (source, lag) in DRIVERS.get(measure, {}).items():
        if source not in present:
            out[col] = np.nan
            continue
        drv = consistent_series(panel, source).dropna(subset=["y"])
        drv = drv.assign(ds=drv["ds"] + lag).rename(columns={"y": col})
        out = out.merge(drv[["unique_id", "ds", col]], on=["unique_id", "ds"], how="left")
    if len(out) != len(history):
        raise RuntimeError("a driver table held one (LA, year) twice")
    return out


def require_columns(df: pd.DataFrame, columns: tuple[str, ...], model: str,
                    fallback: str) -> pd.DataFrame:
    """``df`` with the exogenous ``columns`` a driver model reads; missing ones warn and are NaN.

    A frame without its drivers is a documented fallback, not an error: every series is then
    forecast by ``fallback`` (the model's ``describe()`` lists them), and the warning says how
    to add the drivers.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     out = require_columns(pd.DataFrame({"y": [1.0]}), ("requests",), "conversion",
    ...                           "damped_drift")
    >>> out["requests"].isna().all(), "add_drivers" in str(caught[0].message)
    (np.True_, True)
    """
    missing = [c for c in columns if c not in df.columns]
    if not missing:
        return df
    warnings.warn(f"model {model!r}: no exogenous column(s) {', '.join(missing)}, so every "
                  f"series is forecast by {fallback!r}; add them with "
                  "forecasting.models.leading.add_drivers(history, panel, measure)",
                  EhcpWarning, stacklevel=4)
    return df.assign(**dict.fromkeys(missing, np.nan))


def last_run(df: pd.DataFrame, value: str) -> pd.DataFrame:
    """Each series' latest run of consecutive periods with ``value`` known, as ``unique_id, ds, y``.

    Examples
    --------
    >>> df = pd.DataFrame({"unique_id": "a", "ds": [2019, 2020, 2021, 2022],
    ...                    "x": [5.0, np.nan, 7.0, 8.0]})
    >>> last_run(df, "x")["ds"].tolist()
    [2021, 2022]
    """
    return latest_run(df[["unique_id", "ds", value]].dropna().rename(columns={value: "y"}))


def recent_years(wide: pd.DataFrame, last: dict[str, int], n_years: int,
                 lag: int = 0) -> pd.DataFrame:
    """``wide`` (series by year) with only each series' ``n_years`` years to ``last - lag``.

    Examples
    --------
    >>> wide = pd.DataFrame([[1.0, 2.0, 3.0]], index=["a"], columns=[2021, 2022, 2023])
    >>> recent_years(wide, {"a": 2023}, 2, lag=1).to_numpy().tolist()
    [[1.0, 2.0, nan]]
    """
    recent = pd.DataFrame(np.nan, index=wide.index, columns=wide.columns)
    for uid, t in last.items():
        cols = [c for c in wide.columns if t - lag - n_years < int(c) <= t - lag]
        recent.loc[uid, cols] = wide.loc[uid, cols]
    return recent


def shrink_to_national(recent: pd.DataFrame, national: float, shrink: float,
                       default_sd: float) -> tuple[pd.Series, float]:
    """Each series' mean of ``recent`` shrunk towards ``national``, and the pooled spread.

    A series with ``n`` values is weighted ``n / (n + shrink)`` (``shrink`` pseudo-years of
    the national value); the spread is the sd of the values around their series' means, one
    degree of freedom taken per row of ``recent`` (with values or not), or ``default_sd`` with
    no values at all.

    Examples
    --------
    >>> recent = pd.DataFrame([[1.0, 3.0], [2.0, 2.0], [np.nan, np.nan]], index=["a", "b", "c"])
    >>> rate, sd = shrink_to_national(recent, 0.0, 2.0, 0.1)
    >>> rate.tolist(), round(sd**2, 9)  # squares 2 over 4 values less 3 rows
    ([1.0, 1.0, 0.0], 2.0)
    """
    n = recent.notna().sum(axis=1)
    w = n / (n + shrink)
    own = recent.mean(axis=1).fillna(national)
    dev = recent.sub(recent.mean(axis=1), axis=0).to_numpy()
    dev = dev[np.isfinite(dev)]
    dof = max(len(dev) - len(recent), 1)
    sd = float(np.sqrt(np.sum(dev**2) / dof)) if len(dev) else default_sd
    return w * own + (1.0 - w) * national, sd


def fix_ds(out: pd.DataFrame, annual: bool) -> pd.DataFrame:
    """``ds`` as int years or timestamps (an empty driver part would leave it ``object``)."""
    out["ds"] = out["ds"].astype("int64") if annual else pd.to_datetime(out["ds"])
    return out


def log_normal_forecast(center: pd.DataFrame, annual: bool, fallbacks: list[Any], h: int,
                        level: tuple[int, ...]) -> pd.DataFrame:
    """Forecast table from a log-scale ``mean``/``sd`` per series and horizon, plus fallbacks.

    ``yhat`` is the median ``exp(mean)``; the bands are Gaussian on the log scale.

    Examples
    --------
    >>> c = pd.DataFrame({"unique_id": "A", "ds": [2025], "mean": [np.log(100.0)], "sd": [0.1]})
    >>> log_normal_forecast(c, True, [], 1, (80,)).round(1).to_dict("records")
    [{'unique_id': 'A', 'ds': 2025, 'yhat': 100.0, 'lo_80': 88.0, 'hi_80': 113.7}]
    """
    mean, sd = center["mean"].to_numpy(dtype=float), center["sd"].to_numpy(dtype=float)
    out = pd.DataFrame({"unique_id": center["unique_id"], "ds": center["ds"],
                        "yhat": np.exp(mean)})
    for col, vals in normal_intervals(mean, sd, level, np.exp).items():
        out[col] = vals
    if fallbacks:
        out = pd.concat([out, *[m.predict(h, level) for m in fallbacks]], ignore_index=True)
    return fix_ds(out, annual)


def log_walk_paths(center: pd.DataFrame, last_ds: pd.Series, annual: bool,
                   fallbacks: list[Any], h: int, n_paths: int,
                   rng: np.random.Generator) -> pd.DataFrame:
    """Joint sample paths around a log-scale forecast, plus the fallback models' own paths.

    ``center`` has ``unique_id``, ``mean`` and ``sd`` (log scale) for horizons 1..h in order per
    series. A path is a random walk scaled so horizon k's draw has sd ``sd[k]``: the paths'
    quantiles at each horizon are the forecast's bands, and successive years move together.

    Examples
    --------
    >>> c = pd.DataFrame({"unique_id": "A", "mean": np.log([100.0, 110.0]), "sd": [0.1, 0.2]})
    >>> p = log_walk_paths(c, pd.Series({"A": 2024}), True, [], 2, 3, np.random.default_rng(0))
    >>> p.shape, sorted(p["ds"].unique().tolist())
    ((6, 4), [2025, 2026])
    """
    frames = []
    steps = np.sqrt(np.arange(1, h + 1))
    for uid, grp in center.groupby("unique_id", sort=False):
        walk = np.cumsum(rng.standard_normal((n_paths, h)), axis=1) / steps
        paths = np.exp(grp["mean"].to_numpy(dtype=float) + walk * grp["sd"].to_numpy(dtype=float))
        frames.append(pd.DataFrame({
            "unique_id": uid, "ds": future_ds(last_ds[uid], h, annual) * n_paths,
            "sample_id": np.repeat(np.arange(n_paths), h), "y": paths.ravel()}))
    for m in fallbacks:
        frames.append(m.simulate(h, n_paths, seed=int(rng.integers(2**32))))
    return fix_ds(pd.concat(frames, ignore_index=True), annual)


class LogNormalForecaster(Forecaster):
    """A model whose forecast is a log-scale centre and spread per series and horizon.

    Subclasses set ``fallback_fitted_`` (fitted fallback models for the series they cannot
    forecast) in ``_fit`` (``annual_`` and ``last_ds_`` are set by :meth:`Forecaster.fit`), and
    implement ``_center(h)`` returning ``unique_id, ds, mean, sd`` on the log scale; the
    forecast table (:func:`log_normal_forecast`) and the sample paths (:func:`log_walk_paths`)
    follow.
    """

    annual_: bool
    last_ds_: pd.Series
    fallback_fitted_: list[Any]

    def _center(self, h: int) -> pd.DataFrame:
        raise NotImplementedError

    def _predict(self, h: int, level: tuple[int, ...]) -> pd.DataFrame:
        return log_normal_forecast(self._center(h), self.annual_, self.fallback_fitted_, h,
                                   level)

    def _simulate(self, h: int, n_paths: int, rng: np.random.Generator) -> pd.DataFrame:
        return log_walk_paths(self._center(h), self.last_ds_, self.annual_,
                              self.fallback_fitted_, h, n_paths, rng)


def _fit_models(df: pd.DataFrame, model: str) -> list[Any]:
    from forecasting.forecast import fit_with_fallback

    return [est for _, est in fit_with_fallback(df, model)]


def _predict_models(models: list[Any], h: int) -> pd.DataFrame:
    return pd.concat([m.predict(h, (80,)) for m in models], ignore_index=True)


class Conversion(LogNormalForecaster):
    """New plans as a shrunk conversion ratio times forecast requests (column ``requests``).

    Parameters
    ----------
    driver : str
        The exogenous column holding the leading series.
    driver_model : str
        Registry name of the model that forecasts the driver.
    lag_weight : float
        ``a``: the share of a year's plans that come from the same year's requests.
    n_years : int
        Recent years behind each LA's ratio.
    shrink : float
        Pseudo-years of the national ratio mixed into each LA's.
    fallback_model : str
        Model for series with no driver in their latest year.
    refused : str or None
        Column of driver units that never lead anywhere (requests refused an assessment).
        When given, the ratio converts the agreed requests (driver minus refused) and the
        driver's forecast is scaled by each LA's agreed share of its last ``share_years``
        years (a year without a refusals figure takes that share too). None: all requests.
    share_years : int
        Recent years behind each LA's agreed share.

    Examples
    --------
    >>> rows = [(f"la{i}", t, 100.0 * (1 + i) * 1.1 ** (t - 2016)) for i in range(4)
    ...         for t in range(2016, 2024)]
    >>> df = pd.DataFrame(rows, columns=["unique_id", "ds", "requests"])
    >>> prev = df.groupby("unique_id")["requests"].shift().fillna(df["requests"])
    >>> df["y"] = 0.6 * (0.5 * df["requests"] + 0.5 * prev)  # 60% of the mixed requests
    >>> fc = Conversion(driver_model="log_drift").fit(df).predict(2, level=(80,))
    >>> [round(v) for v in fc.loc[fc["unique_id"] == "la0", "yhat"]]
    [123, 135]
    """

    name = "conversion"
    min_length = 2
    fallback = "damped_drift"

    def __init__(self, *, driver: str = "requests", driver_model: str = "global_last",
                 lag_weight: float = 0.5, n_years: int = 3, shrink: float = 3.0,
                 fallback_model: str = "damped_drift", refused: str | None = None,
                 share_years: int = 2) -> None:
        self.refused = refused
        self.share_years = share_years
        self.driver = driver
        self.driver_model = driver_model
        self.lag_weight = lag_weight
        self.n_years = n_years
        self.shrink = shrink
        self.fallback_model = fallback_model

    def _fit(self, df: pd.DataFrame) -> None:
        df = require_columns(df, (self.driver,), self.name, self.fallback_model)
        a = float(self.lag_weight)
        y = df.pivot(index="unique_id", columns="ds", values="y").sort_index(axis=1)
        d = df.pivot(index="unique_id", columns="ds", values=self.driver).astype(float)
        d = d.reindex(columns=y.columns)
        d, self.share_ = self._agreed(df, d)
        mixed = a * d + (1.0 - a) * d.shift(1, axis=1) if a < 1.0 else d
        ok = (mixed > 0) & y.notna()
        ratio = (y.where(ok).clip(lower=0.5) / mixed.where(ok)).to_numpy(dtype=float)
        logr = pd.DataFrame(np.log(ratio), index=y.index, columns=y.columns)
        last = {str(u): int(t) for u, t in df.groupby("unique_id", sort=False)["ds"].max().items()}
        # Each LA's latest n_years ratios up to its own last year.
        recent = recent_years(logr, last, self.n_years)
        yearly = [np.log(y[c][ok[c]].sum() / mixed[c][ok[c]].sum()) for c in recent.columns
                  if ok[c].any() and recent[c].notna().any()]
        national = float(np.median(yearly)) if yearly else 0.0
        log_ratio, self.ratio_sd_ = shrink_to_national(recent, national, self.shrink, 0.1)
        self.log_ratio_ = log_ratio.astype(float)
        d_last = pd.Series([d.at[u, t] if t in d.columns else np.nan for u, t in last.items()],
                           index=list(last), dtype=float)
        has = d_last.notna() & (d_last > 0) & recent.notna().any(axis=1).reindex(d_last.index)
        self.driver_last_ = d_last[has].astype(float)
        self.fallback_ids_ = sorted(str(u) for u in has.index[~has.to_numpy()])
        drv = last_run(df[df["unique_id"].isin(self.driver_last_.index)], self.driver)
        # The driver's run must end at the series' last year (checked above), so its
        # forecasts start where the target's do.
        self.driver_fitted_ = _fit_models(drv, self.driver_model) if len(drv) else []
        rest = df[df["unique_id"].isin(self.fallback_ids_)][["unique_id", "ds", "y"]]
        self.fallback_fitted_ = _fit_models(rest, self.fallback_model) if len(rest) else []

    def _agreed(self, df: pd.DataFrame, d: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
        """The driver net of ``refused`` and each series' recent agreed share (1 without)."""
        ones = pd.Series(1.0, index=d.index)
        if self.refused is None or self.refused not in df or not df[self.refused].notna().any():
            return d, ones
        r = df.pivot(index="unique_id", columns="ds", values=self.refused).astype(float)
        r = r.reindex(index=d.index, columns=d.columns)
        share = ((d - r) / d).where((d > 0) & (r >= 0) & (r <= d))
        recent = pd.Series({uid: float(np.nanmean(row[np.isfinite(row)][-self.share_years:]))
                            if np.isfinite(row).any() else np.nan
                            for uid, row in zip(share.index, share.to_numpy(), strict=True)})
        national = float(np.nanmedian(recent)) if recent.notna().any() else 1.0
        recent = recent.fillna(national).clip(lower=0.05)
        filled = share.apply(lambda col: col.fillna(recent))
        return d * filled, recent

    def _center(self, h: int) -> pd.DataFrame:
        """Log-scale mean and sd by series and horizon (driver-based series only)."""
        if not self.driver_fitted_:
            return pd.DataFrame(columns=["unique_id", "ds", "mean", "sd"])
        fc = _predict_models(self.driver_fitted_, h)
        a = float(self.lag_weight)
        frames = []
        for uid, grp in fc.groupby("unique_id", sort=False):
            drv = grp["yhat"].to_numpy(dtype=float) * float(self.share_.get(uid, 1.0))
            prev = np.concatenate([[self.driver_last_[uid]], drv[:-1]])
            mixed = a * drv + (1.0 - a) * prev
            d_sd = (np.log1p(grp["hi_80"].to_numpy()) - np.log1p(grp["lo_80"].to_numpy())) / (
                2 * _Z80)
            sd = np.sqrt(self.ratio_sd_**2 + d_sd**2)
            frames.append(pd.DataFrame({
                "unique_id": uid, "ds": grp["ds"].to_numpy(),
                "mean": self.log_ratio_[uid] + np.log(np.maximum(mixed, 1e-9)),
                "sd": np.maximum.accumulate(sd)}))
        return pd.concat(frames, ignore_index=True)

    def describe(self) -> dict[str, Any]:
        """Each LA's conversion ratio, the national spread and the fallback series."""
        self._check_fitted()
        return {"ratio": np.exp(self.log_ratio_), "ratio_sd": self.ratio_sd_,
                "fallback": list(self.fallback_ids_)}
