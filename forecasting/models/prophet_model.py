"""Prophet, made sensible for short annual counts and for monthly counts with term-time seasonality.

- fitted to ``log1p(y)`` with linear growth, so forecasts of counts are never negative and
  growth is proportional;
- **annual data**: no seasonality (one point a year cannot show any); few trend changepoints
  (``n_changepoints``, defaulting to a third of the history) and a tight
  ``changepoint_prior_scale``, so eight points do not produce a wiggly trend; the 2020 Covid
  value is smoothed first (see :mod:`forecasting.models.adjust`); intervals are Gaussian on the
  log scale from the larger of the in-sample residual spread and the spread of the
  year-on-year changes around the growth the trend extrapolates, widened like a random walk
  with drift's (``sqrt(h (1 + h / n))``, FPP3 5.5: the growth rate itself is uncertain);
- **monthly data**: term-time seasonality from the share of each month's weekdays that fall in
  English school holidays (:func:`school_holiday_share`: Christmas, February half-term,
  Easter, May half-term, summer, October half-term) as a regressor, plus a yearly Fourier
  series (``fourier_order``; by default one pair more than the whole years of history, at
  most 4) for what the holidays leave; a changepoint a year at most. Intervals separate the
  two kinds of error a monthly series has: month-to-month noise (the in-sample residual
  spread, degrees-of-freedom corrected, which does not accumulate) and drift in the level
  (the spread of year-on-year growth of the rolling 12-month totals, at least
  :data:`_MIN_YEARLY_DRIFT_SD`, which accumulates like a random walk with drift). A random
  walk in the monthly residual spread, as used before, put the 95% band of a series of
  200-300 requests a month at 10,000 two years ahead.
- speed: no posterior sampling (``uncertainty_samples=0``); annual fits go straight to
  Prophet's Stan model (:func:`fit_linear_trend`, the same optimisation ``Prophet.fit`` runs,
  without its data-frame preprocessing) and their trend is evaluated from the fitted
  parameters; monthly fits use Prophet itself with its component bookkeeping (the same for
  every fit with the same settings) built once per process;
- cmdstanpy's chatter is muted only while fitting (no log levels set at import).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from forecasting.models.adjust import covid_adjust, trim_partial_start
from forecasting.models.base import LocalForecaster

__all__ = ["LinearTrendFit", "ProphetModel", "fit_linear_trend", "quiet_stan", "school_holiday_share"]

# The spread of a monthly series' yearly level drift never goes below this on the log scale:
# three or four years of totals cannot estimate it and can look deceptively smooth. 0.15 is
# about the median LA's year-on-year spread of SEN2 requests (0.14); with it, 12-month-ahead
# 80% bands covered 70% (95%: 88%) in a backtest on synthetic monthly requests of 9 LAs.
_MIN_YEARLY_DRIFT_SD = 0.15
_HOLIDAY = "school_holidays"


@contextmanager
def quiet_stan() -> Iterator[None]:
    """Silence cmdstanpy and prophet loggers for the duration, then restore them."""
    loggers = [logging.getLogger(n) for n in ("cmdstanpy", "prophet", "prophet.plot")]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.disabled = True
    try:
        yield
    finally:
        for lg, level, disabled in saved:
            lg.setLevel(level)
            lg.disabled = disabled


def _easter(year: int) -> pd.Timestamp:
    # Anonymous Gregorian algorithm (Meeus/Jones/Butcher).
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month = (h + ell - 7 * m + 114) // 31
    day = (h + ell - 7 * m + 114) % 31 + 1
    return pd.Timestamp(year, month, day)


def _monday_from(year: int, month: int, day: int) -> pd.Timestamp:
    """The first Monday on or after the given day."""
    d = pd.Timestamp(year, month, day)
    return d + pd.Timedelta(days=(7 - d.day_of_week) % 7)


@cache
def _holidays(year: int) -> tuple[tuple[pd.Timestamp, pd.Timestamp], ...]:
    """A typical English LA school-holiday calendar for one calendar year (first, last day).

    LAs set their own term dates; these are the usual pattern, close enough for a monthly
    seasonal regressor: Christmas 21 Dec - 3 Jan, a week's half-term from the Monday on or
    after 12 Feb, two weeks from the Monday before Easter, the week of the late-May bank
    holiday, 22 Jul - 2 Sep, and a week from the Monday on or after 24 Oct.
    """
    ts = pd.Timestamp
    easter = _easter(year)
    may_bank = _monday_from(year, 5, 25)
    feb, october = _monday_from(year, 2, 12), _monday_from(year, 10, 24)
    week = pd.Timedelta(days=4)
    return (
        (ts(year, 1, 1), ts(year, 1, 3)),
        (feb, feb + week),
        (easter - pd.Timedelta(days=6), easter + pd.Timedelta(days=5)),
        (may_bank, may_bank + week),
        (ts(year, 7, 22), ts(year, 9, 2)),
        (october, october + week),
        (ts(year, 12, 21), ts(year, 12, 31)),
    )


def school_holiday_share(months: Any) -> np.ndarray:
    """The share of each month's weekdays that fall in (typical English) school holidays.

    Parameters
    ----------
    months : array-like of dates
        Any day in each month (month starts in practice).

    Returns
    -------
    ndarray
        One value in ``[0, 1]`` per month: August is all holiday, a month with a half-term
        about a quarter, a month of full term 0.

    Examples
    --------
    >>> share = school_holiday_share(pd.date_range("2024-01-01", periods=12, freq="MS"))
    >>> [round(float(s), 2) for s in share]
    [0.13, 0.24, 0.24, 0.23, 0.22, 0.0, 0.35, 1.0, 0.05, 0.17, 0.05, 0.32]
    """
    stamps = pd.DatetimeIndex(pd.to_datetime(np.asarray(months))).to_period("M")
    out = np.empty(len(stamps))
    for j, period in enumerate(stamps):
        out[j] = _month_share(period.year, period.month)
    return out


@cache
def _month_share(year: int, month: int) -> float:
    days = pd.date_range(pd.Timestamp(year, month, 1), periods=pd.Timestamp(year, month, 1)
                         .days_in_month, freq="D")
    days = days[days.day_of_week < 5]
    off = np.zeros(len(days), dtype=bool)
    for first, last in _holidays(year):
        off |= (days >= first) & (days <= last)
    return float(off.mean())


def _prophet_class() -> type:
    """Prophet with its component bookkeeping memoised (built on first use).

    ``Prophet.regressor_column_matrix`` maps feature columns to components with a pandas
    crosstab; it depends only on the model's settings, not on the data, yet took about a third
    of each annual fit's Python time. The memoised copy returns what it returned the first time
    for the same settings, so the fitted model is unchanged.
    """
    with quiet_stan():
        from prophet import Prophet

    class _Prophet(Prophet):  # type: ignore[misc]
        _columns_cache: dict[Any, Any] = {}

        def regressor_column_matrix(self, seasonal_features: Any, modes: Any) -> Any:
            holidays = (None if self.train_holiday_names is None
                        else tuple(self.train_holiday_names))
            key = (tuple(seasonal_features.columns),
                   tuple((m, tuple(v)) for m, v in sorted(modes.items())),
                   tuple((r, p["mode"]) for r, p in self.extra_regressors.items()),
                   holidays, self.holidays_mode, self.train_component_cols is None)
            if key not in self._columns_cache:
                self._columns_cache[key] = super().regressor_column_matrix(
                    seasonal_features, {m: list(v) for m, v in modes.items()})
            cols, new_modes = self._columns_cache[key]
            return cols.copy(), {m: list(v) for m, v in new_modes.items()}

    return _Prophet


_PROPHET: list[type] = []


def _new_prophet(**kwargs: Any) -> Any:
    if not _PROPHET:
        _PROPHET.append(_prophet_class())
    return _PROPHET[0](**kwargs)


class ProphetModel(LocalForecaster):
    """Prophet on ``log1p(y)`` with settings for short annual or monthly counts.

    Parameters
    ----------
    changepoint_prior_scale : float
        Flexibility of the trend (Prophet's default is 0.05).
    n_changepoints : int or None
        Trend changepoints; None uses a third of the history for annual data and one a year
        for monthly data.
    covid : bool
        Smooth the 2020 value of annual data before fitting.
    fourier_order : int or None
        Yearly Fourier terms on monthly data, beside the school-holiday regressor (0: none;
        None: one more than the whole years of history, at most 4).
    school_holidays : bool
        Use the share of school-holiday weekdays as a regressor on monthly data.

    Examples
    --------
    >>> df = pd.DataFrame({"unique_id": "a", "ds": range(2016, 2025),
    ...                    "y": [636.0, 830, 1179, 953, 786, 803, 1284, 1497, 2313]})
    >>> fc = ProphetModel().fit(df).predict(2, level=(80,))
    >>> bool((fc["lo_80"] >= 0).all()), fc["ds"].tolist()
    (True, [2025, 2026])
    """

    name = "prophet"
    min_length = 4
    fallback = "log_drift"
    log_scale = True

    def __init__(self, *, changepoint_prior_scale: float = 0.05,
                 n_changepoints: int | None = None, covid: bool = True,
                 fourier_order: int | None = None, school_holidays: bool = True) -> None:
        self.changepoint_prior_scale = changepoint_prior_scale
        self.n_changepoints = n_changepoints
        self.covid = covid
        self.fourier_order = fourier_order
        self.school_holidays = school_holidays

    def _fit_one(self, y: np.ndarray, ds: np.ndarray) -> Any:
        annual = np.issubdtype(np.asarray(ds).dtype, np.integer)
        y, ds = trim_partial_start(y, ds)
        if annual and self.covid:
            y = covid_adjust(y, ds, log_scale=True)
        return self._fit_annual(y, ds) if annual else self._fit_monthly(y, ds)

    def _changepoints(self, n: int, default: int) -> int:
        n_cp = self.n_changepoints if self.n_changepoints is not None else default
        return min(n_cp, n - 2) if n > 2 else 0

    def _fit_annual(self, y: np.ndarray, ds: np.ndarray) -> Any:
        stamps = pd.DatetimeIndex((np.asarray(ds, dtype=np.int64) - 1970).astype("datetime64[Y]"))
        model = fit_linear_trend(y, stamps, n_changepoints=self._changepoints(len(y), len(y) // 3),
                                 changepoint_prior_scale=self.changepoint_prior_scale)
        ahead = pd.DatetimeIndex([*stamps, stamps[-1] + pd.DateOffset(years=1)])
        trend = _trend(model, ahead)
        resid = y - trend[:-1]
        sd = float(np.sqrt(np.mean(resid**2))) if len(y) > 2 else 0.1
        # The residual spread of a smooth fit understates one-step error; never go below the
        # spread of the year-on-year changes around the growth the forecast extrapolates.
        slope = float(trend[-1] - trend[-2])
        sd = max(sd, float(np.sqrt(np.mean((np.diff(y) - slope) ** 2))) if len(y) > 2 else 0.1)
        return "annual", model, stamps[-1], sd, max(len(y) - 1, 1)

    def _fit_monthly(self, y: np.ndarray, ds: np.ndarray) -> Any:
        stamps = pd.DatetimeIndex(pd.to_datetime(ds))
        years = len(y) / 12
        # Fewer seasonal terms for a short history: two years cannot pin down eight.
        order = (self.fourier_order if self.fourier_order is not None
                 else min(4, int(years) + 1))
        model = _new_prophet(
            growth="linear", yearly_seasonality=order if order else False,
            weekly_seasonality=False, daily_seasonality=False,
            n_changepoints=self._changepoints(len(y), int(years)),
            changepoint_prior_scale=self.changepoint_prior_scale, uncertainty_samples=0)
        frame = pd.DataFrame({"ds": stamps, "y": y})
        if self.school_holidays:
            model.add_regressor(_HOLIDAY, standardize=False)
            frame[_HOLIDAY] = school_holiday_share(stamps)
        _fit(model, frame)
        fitted = _predict(model, frame.drop(columns="y"))
        resid = y - fitted
        # level, slope, slope changes, the holiday effect and the Fourier pairs
        n_par = (2 + len(model.changepoints) + int(self.school_holidays)
                 + 2 * order)
        noise = float(np.sqrt(np.sum(resid**2) / max(len(y) - n_par, 1)))
        return "monthly", model, stamps[-1], noise, _yearly_drift_sd(y), max(years, 1.0)

    def _forecast_one(self, state: Any, h: int) -> tuple[np.ndarray, np.ndarray]:
        k = np.arange(1, h + 1)
        if state[0] == "annual":
            _, model, last, sd, n = state
            future = pd.date_range(last, periods=h + 1, freq="YS")[1:]
            # A random walk's spread plus the uncertainty of the growth rate (FPP3 5.5).
            return _trend(model, future), sd * np.sqrt(k * (1 + k / n))
        _, model, last, noise, drift, years = state
        future = pd.date_range(last, periods=h + 1, freq="MS")[1:]
        frame = pd.DataFrame({"ds": future})
        if self.school_holidays:
            frame[_HOLIDAY] = school_holiday_share(future)
        mean = _predict(model, frame)
        ahead = k / 12
        return mean, np.sqrt(noise**2 + drift**2 * ahead * (1 + ahead / years))


def _fit(model: Any, frame: pd.DataFrame) -> None:
    with quiet_stan(), warnings.catch_warnings():
        # Prophet's own pandas calls raise deprecation warnings under pandas 3.
        warnings.filterwarnings("ignore", module="prophet")
        model.fit(frame, algorithm="Newton")


def _predict(model: Any, frame: pd.DataFrame) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="prophet")
        return np.asarray(model.predict(frame)["yhat"], dtype=float)


def _yearly_drift_sd(y: np.ndarray) -> float:
    """Spread of the year-on-year change in the log of rolling 12-month totals.

    ``y`` is monthly ``log1p`` counts. Totals over 12 months carry no seasonality, so their
    year-on-year changes measure how much the level wanders in a year; with under two years
    the monthly changes scaled to a year stand in.
    """
    counts = np.expm1(np.asarray(y, dtype=float))
    if len(counts) >= 24:
        totals = np.log1p(np.convolve(counts, np.ones(12), mode="valid"))
        growth = totals[12:] - totals[:-12]
        sd = float(np.std(growth)) if len(growth) > 1 else 0.0
    else:
        sd = float(np.std(np.diff(y))) * np.sqrt(12) if len(y) > 2 else 0.0
    return max(sd, _MIN_YEARLY_DRIFT_SD)


_BACKEND: list[Any] = []

# Prophet's defaults for the parts of its model an annual fit uses (prophet.Prophet.__init__).
_CHANGEPOINT_RANGE = 0.8


@dataclass
class LinearTrendFit:
    """A fitted Prophet linear trend: plain attributes, so a fitted model saves without pickle."""

    params: dict[str, np.ndarray]
    start: pd.Timestamp
    t_scale: pd.Timedelta
    y_scale: float
    changepoints_t: np.ndarray


def fit_linear_trend(y: np.ndarray, stamps: pd.DatetimeIndex, *, n_changepoints: int,
                     changepoint_prior_scale: float = 0.05) -> LinearTrendFit:
    """Prophet's MAP fit of a linear trend without seasonality, straight from its Stan model.

    ``Prophet(growth="linear", yearly_seasonality=False, weekly_seasonality=False,
    daily_seasonality=False, n_changepoints=..., uncertainty_samples=0).fit(df,
    algorithm="Newton")`` solves this same problem with the same data, priors and starting
    values, but first spends more CPU on building data frames than Stan spends optimising
    (about half of each annual fit). The scaling (``absmax``), changepoint grid (evenly over
    the first 80% of the history), initial values and the folding of the slope change into
    the base rate when there are no changepoints follow ``prophet.forecaster`` 1.1-1.5;
    ``tests/test_prophet_model.py`` checks the result against Prophet itself.

    Returns an object with the fitted ``params`` (``k``, ``m``, ``delta``, ``sigma_obs``) and
    the ``start``, ``t_scale``, ``y_scale`` and ``changepoints_t`` that :func:`_trend` needs.

    Examples
    --------
    >>> stamps = pd.date_range("2016-01-01", periods=6, freq="YS")
    >>> fit = fit_linear_trend(np.log([100.0, 110, 121, 133, 146, 161]), stamps, n_changepoints=0)
    >>> [round(float(v), 2) for v in _trend(fit, stamps[-1:] + pd.DateOffset(years=1))]
    [5.18]
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    y_scale = float(np.abs(y).max()) or 1.0
    start = stamps[0]
    t_scale = stamps[-1] - start
    t = np.asarray((stamps - start) / t_scale, dtype=float)
    scaled = y / y_scale
    hist_size = int(np.floor(n * _CHANGEPOINT_RANGE))
    n_cp = min(n_changepoints, hist_size - 1)
    if n_cp > 0:
        idx = np.linspace(0, hist_size - 1, n_cp + 1).round().astype(int)[1:]
        cps = np.sort(t[idx])
    else:
        cps = np.array([0.0])  # Prophet's dummy changepoint
    k = float((scaled[-1] - scaled[0]) / (t[-1] - t[0]))
    init = {"k": k, "m": float(scaled[0] - k * t[0]), "delta": np.zeros(len(cps)),
            "beta": np.zeros(1), "sigma_obs": 1.0}
    if scaled.min() == scaled.max():
        params = {key: np.array(val, dtype=float).reshape((1, -1)) for key, val in init.items()}
        params["sigma_obs"] = np.array([[1e-9]])
    else:
        data = {"T": n, "S": len(cps), "K": 1, "tau": changepoint_prior_scale,
                "trend_indicator": 0, "y": scaled, "t": t, "cap": np.zeros(n),
                "t_change": cps, "s_a": np.zeros(1), "s_m": np.zeros(1),
                "X": pd.DataFrame({"zeros": np.zeros(n)}), "sigmas": [1.0]}
        with quiet_stan():
            if not _BACKEND:
                from prophet.models import CmdStanPyBackend

                _BACKEND.append(CmdStanPyBackend())
            params = _BACKEND[0].fit(init, data, algorithm="Newton")
    if n_cp <= 0:
        params["k"] = params["k"] + params["delta"].reshape(-1)
        params["delta"] = np.zeros(params["delta"].shape).reshape((-1, 1))
    return LinearTrendFit(params=params, start=start, t_scale=t_scale, y_scale=y_scale,
                          changepoints_t=cps)


def _trend(model: Any, stamps: pd.DatetimeIndex) -> np.ndarray:
    """Prophet's piecewise-linear trend at ``stamps`` from its fitted parameters.

    The same formula as ``Prophet.piecewise_linear`` (and so ``predict`` without seasonality or
    sampling), without building the data frames that make ``predict`` slow.
    """
    t = np.asarray((stamps - model.start) / model.t_scale, dtype=float)
    k = float(model.params["k"][0, 0])
    m = float(model.params["m"][0, 0])
    deltas = np.asarray(model.params["delta"][0], dtype=float)
    cps = np.asarray(model.changepoints_t, dtype=float)
    after = (t[:, None] >= cps[None, :]).astype(float)
    slope = k + after @ deltas
    offset = m + after @ (-cps * deltas)
    return np.asarray((slope * t + offset) * model.y_scale, dtype=float)
