"""Simple baselines: naive, drift, damped drift and log-drift (optionally over recent years).

They are the yardsticks every other model must beat, and cheap ensemble members. Each is fitted
per series; the drift estimates skip the 2020 Covid dip and the SEN2 break in series as
documented in :mod:`forecasting.models.adjust`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from forecasting.models.adjust import covid_adjust, steps, trim_partial_start
from forecasting.models.base import LocalForecaster

__all__ = ["DampedDrift", "Drift", "LogDrift", "Naive"]

# When a series has no usable one-period change, the spread falls back to this share of the
# level (raw models) or this log-change (log models): a wide but finite band, not zero.
_FALLBACK_SPREAD = 0.10


# A one-period change further than this many robust standard deviations from the drift is
# pulled in to that distance before the spread is estimated. One bad value (a year recorded as
# 0 among hundreds) makes two huge opposite changes that would otherwise set the spread alone
# (West Berkshire's requests: 2.9 on the log scale, against 0.14 for the median LA).
_WINSOR_K = 3.0


def _scale(d: np.ndarray, centre: float, level: float, log_scale: bool) -> float:
    """Root mean square deviation of the changes ``d`` from ``centre``, outliers winsorised.

    The robust sd is 1.4826 times the median absolute deviation (never below the fallback
    spread); with fewer than three changes nothing is winsorised.

    Examples
    --------
    West Berkshire's requests 2019-2024 have 0 for 2022 (its log-scale changes in ``d``):

    >>> d = np.diff(np.log1p([202.0, 213, 270, 0, 407, 475]))
    >>> rms = float(np.sqrt(np.mean((d - d.mean()) ** 2)))
    >>> round(rms, 2), round(_scale(d, float(d.mean()), 6.2, log_scale=True), 2)
    (3.67, 0.29)
    """
    dev = np.asarray(d, dtype=float) - centre
    floor = _FALLBACK_SPREAD * (1.0 if log_scale else max(abs(level), 1.0))
    if len(dev) >= 3:
        robust = 1.4826 * float(np.median(np.abs(dev - np.median(dev))))
        limit = _WINSOR_K * max(robust, floor)
        dev = np.clip(dev, -limit, limit)
    if len(dev) >= 2:
        s = float(np.sqrt(np.mean(dev**2)))
    elif len(dev) == 1:
        s = abs(float(dev[0]))
    else:
        s = 0.0
    return s if len(dev) >= 2 and s > 0 else max(s, floor)


class _Baseline(LocalForecaster):
    def __init__(self, *, covid: bool = True, break_year: int | None = None) -> None:
        self.covid = covid
        self.break_year = break_year

    def _clean(self, y: np.ndarray, ds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.log_scale:
            y, ds = trim_partial_start(y, ds)
        yc = covid_adjust(y, ds, log_scale=self.log_scale) if self.covid else y
        return yc, steps(yc, ds, self.break_year)


class Naive(_Baseline):
    """Last value carried forward; the spread grows like a random walk's (``sqrt(h)``).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"unique_id": "a", "ds": [2021, 2022, 2023], "y": [10.0, 12.0, 11.0]})
    >>> Naive().fit(df).predict(2, level=(80,))["yhat"].tolist()
    [11.0, 11.0]
    """

    name = "naive"
    min_length = 1
    fallback = None

    def _fit_one(self, y: np.ndarray, ds: np.ndarray) -> Any:
        _, d = self._clean(y, ds)
        return float(y[-1]), _scale(d, 0.0, float(y[-1]), self.log_scale)

    def _forecast_one(self, state: Any, h: int) -> tuple[np.ndarray, np.ndarray]:
        last, s = state
        k = np.arange(1, h + 1)
        return np.full(h, last), s * np.sqrt(k)


class Drift(_Baseline):
    """Straight line from the mean one-period change (the random walk with drift).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"unique_id": "a", "ds": [2021, 2022, 2023], "y": [10.0, 12.0, 14.0]})
    >>> Drift().fit(df).predict(2, level=(80,))["yhat"].tolist()
    [16.0, 18.0]
    """

    name = "drift"
    min_length = 2

    phi: float = 1.0

    def _fit_one(self, y: np.ndarray, ds: np.ndarray) -> Any:
        _, d = self._clean(y, ds)
        slope = float(d.mean()) if len(d) else 0.0
        return float(y[-1]), slope, _scale(d, slope, float(y[-1]), self.log_scale), max(len(d), 1)

    def _forecast_one(self, state: Any, h: int) -> tuple[np.ndarray, np.ndarray]:
        last, slope, s, n = state
        k = np.arange(1, h + 1)
        mult = np.cumsum(self.phi ** k) if self.phi != 1.0 else k.astype(float)
        # Random-walk spread plus the uncertainty of the estimated slope (Hyndman & Athanasopoulos,
        # FPP3 5.5: sd_h = sigma * sqrt(h * (1 + h / T))).
        return last + slope * mult, s * np.sqrt(k * (1.0 + k / n))


class DampedDrift(Drift):
    """Drift whose slope fades by ``phi`` a year (``phi=1`` is drift, ``phi=0`` naive).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"unique_id": "a", "ds": [2021, 2022, 2023], "y": [10.0, 12.0, 14.0]})
    >>> DampedDrift(phi=0.5).fit(df).predict(2, level=(80,))["yhat"].tolist()
    [15.0, 15.5]
    """

    name = "damped_drift"

    def __init__(self, *, phi: float = 0.8, covid: bool = True,
                 break_year: int | None = None) -> None:
        super().__init__(covid=covid, break_year=break_year)
        self.phi = phi


class LogDrift(Drift):
    """Drift in ``log1p(y)``: constant percentage growth, with optional ``window`` and ``phi``.

    ``window`` uses only the last ``window`` one-period changes for the growth rate (the spread
    still comes from the whole history, which is steadier); ``phi`` < 1 damps the growth.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"unique_id": "a", "ds": [2021, 2022, 2023], "y": [99.0, 109.0, 120.0]})
    >>> [round(v) for v in LogDrift().fit(df).predict(1, level=(80,))["yhat"]]
    [132]
    """

    name = "log_drift"
    log_scale = True

    def __init__(self, *, window: int | None = None, phi: float = 1.0, covid: bool = True,
                 break_year: int | None = None) -> None:
        super().__init__(covid=covid, break_year=break_year)
        self.window = window
        self.phi = phi

    def _fit_one(self, y: np.ndarray, ds: np.ndarray) -> Any:
        last, slope, s, n = super()._fit_one(y, ds)
        if self.window is not None:
            _, d = self._clean(y, ds)
            if len(d):
                slope = float(d[-self.window:].mean())
                n = min(n, self.window)
        return last, slope, s, n
