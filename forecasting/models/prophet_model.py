"""Prophet, made sensible for short annual counts.

- fitted to ``log1p(y)`` with linear growth, so forecasts of counts are never negative and
  growth is proportional;
- no yearly, weekly or daily seasonality on annual data (one point a year cannot show any);
  on monthly data a yearly (term-time) seasonality with few Fourier terms;
- few trend changepoints (``n_changepoints``, defaulting to a third of the history) and a
  tight ``changepoint_prior_scale``, so eight points do not produce a wiggly trend;
- the 2020 Covid value is smoothed first (see :mod:`forecasting.models.adjust`);
- no posterior sampling (``uncertainty_samples=0``: it is the slow part); intervals are
  Gaussian on the log scale from the in-sample residual spread, growing like a random walk;
- cmdstanpy's chatter is muted only while fitting (no log levels set at import).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from forecasting.models.adjust import covid_adjust, trim_partial_start
from forecasting.models.base import LocalForecaster

__all__ = ["ProphetModel", "quiet_stan"]


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


class ProphetModel(LocalForecaster):
    """Prophet on ``log1p(y)`` with settings for short annual or monthly counts.

    Parameters
    ----------
    changepoint_prior_scale : float
        Flexibility of the trend (Prophet's default is 0.05).
    n_changepoints : int or None
        Trend changepoints; None uses a third of the history.
    covid : bool
        Smooth the 2020 value before fitting.

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
                 n_changepoints: int | None = None, covid: bool = True) -> None:
        self.changepoint_prior_scale = changepoint_prior_scale
        self.n_changepoints = n_changepoints
        self.covid = covid

    def _fit_one(self, y: np.ndarray, ds: np.ndarray) -> Any:
        with quiet_stan():
            from prophet import Prophet

        annual = np.issubdtype(np.asarray(ds).dtype, np.integer)
        y, ds = trim_partial_start(y, ds)
        if annual and self.covid:
            y = covid_adjust(y, ds, log_scale=True)
        stamps = (pd.to_datetime([f"{int(d)}-01-01" for d in ds]) if annual
                  else pd.DatetimeIndex(pd.to_datetime(ds)))
        n_cp = self.n_changepoints if self.n_changepoints is not None else max(len(y) // 3, 0)
        model = Prophet(
            growth="linear",
            yearly_seasonality=False if annual else 3,
            weekly_seasonality=False,
            daily_seasonality=False,
            n_changepoints=min(n_cp, len(y) - 2) if len(y) > 2 else 0,
            changepoint_prior_scale=self.changepoint_prior_scale,
            uncertainty_samples=0,
        )
        with quiet_stan(), warnings.catch_warnings():
            # Prophet's own pandas calls raise deprecation warnings under pandas 3.
            warnings.filterwarnings("ignore", module="prophet")
            model.fit(pd.DataFrame({"ds": stamps, "y": y}), algorithm="Newton")
        fitted = _trend(model, stamps)
        resid = y - fitted
        sd = float(np.sqrt(np.mean(resid**2))) if len(y) > 2 else 0.1
        # The residual spread of a smooth fit understates one-step error; never go below the
        # spread of the year-on-year changes around their mean.
        sd = max(sd, float(np.std(np.diff(y))) if len(y) > 2 else 0.1)
        freq = "YS" if annual else "MS"
        return model, stamps[-1], freq, sd

    def _forecast_one(self, state: Any, h: int) -> tuple[np.ndarray, np.ndarray]:
        model, last, freq, sd = state
        future = pd.date_range(last, periods=h + 1, freq=freq)[1:]
        mean = _trend(model, future) if model.seasonalities == {} else (
            model.predict(pd.DataFrame({"ds": future}))["yhat"].to_numpy())
        return mean, sd * np.sqrt(np.arange(1, h + 1))


def _trend(model: Any, stamps: pd.DatetimeIndex) -> np.ndarray:
    """Prophet's piecewise-linear trend at ``stamps`` from its fitted parameters.

    The same formula as ``Prophet.piecewise_linear`` (and so ``predict`` without seasonality or
    sampling), without building the data frames that make ``predict`` slow.
    """
    if model.seasonalities:
        return np.asarray(model.predict(pd.DataFrame({"ds": stamps}))["yhat"])
    t = np.asarray((stamps - model.start) / model.t_scale, dtype=float)
    k = float(model.params["k"][0, 0])
    m = float(model.params["m"][0, 0])
    deltas = np.asarray(model.params["delta"][0], dtype=float)
    cps = np.asarray(model.changepoints_t, dtype=float)
    slope = k + (t[:, None] >= cps[None, :]).astype(float) @ deltas if len(cps) else np.full_like(t, k)
    offset = m + (t[:, None] >= cps[None, :]).astype(float) @ (-cps * deltas) if len(cps) else m
    return np.asarray((slope * t + offset) * model.y_scale, dtype=float)
