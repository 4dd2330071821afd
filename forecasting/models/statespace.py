"""Classical per-series models from statsmodels: ETS (damped Holt), ARIMA and Theta.

All three work on ``log1p(y)`` (so forecasts and bounds of counts are never negative and
growth is proportional), smooth the 2020 Covid value first (see
:mod:`forecasting.models.adjust`), and take their forecast standard errors from statsmodels.
A series too short for the model falls back to ``log_drift`` (the ``model`` column of
:func:`forecasting.forecast` says so).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from forecasting.models.adjust import covid_adjust, trim_partial_start
from forecasting.models.base import LocalForecaster

__all__ = ["ARIMA", "ETS", "Theta"]


class _Statsmodels(LocalForecaster):
    log_scale = True
    fallback = "log_drift"

    def __init__(self, *, covid: bool = True) -> None:
        self.covid = covid

    # One BLAS thread while fitting and forecasting: these are tiny problems, and threads
    # fighting over a busy machine's cores made a 10-point ARIMA fit take seconds, not ms.
    def _fit(self, df: pd.DataFrame) -> None:
        with threadpool_limits(1):
            super()._fit(df)

    def _predict(self, h: int, level: tuple[int, ...]) -> pd.DataFrame:
        with threadpool_limits(1):
            return super()._predict(h, level)

    def _simulate(self, h: int, n_paths: int, rng: np.random.Generator) -> pd.DataFrame:
        with threadpool_limits(1):
            return super()._simulate(h, n_paths, rng)

    def _prep(self, y: np.ndarray, ds: np.ndarray) -> np.ndarray:
        y, ds = trim_partial_start(y, ds)
        return covid_adjust(y, ds, log_scale=True) if self.covid else y

    def _fit_one(self, y: np.ndarray, ds: np.ndarray) -> Any:
        with warnings.catch_warnings():
            # Short annual series routinely trigger convergence and frequency warnings that say
            # nothing useful to a planner; the backtest is the judge of these fits.
            warnings.simplefilter("ignore")
            try:
                return self._fit_sm(self._prep(y, ds))
            except (ValueError, np.linalg.LinAlgError):
                return ("flat", float(y[-1]), float(np.std(np.diff(y))) if len(y) > 1 else 0.1)

    def _forecast_one(self, state: Any, h: int) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(state, tuple) and state and state[0] == "flat":
            return np.full(h, state[1]), max(state[2], 0.05) * np.sqrt(np.arange(1, h + 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mean, sd = self._forecast_sm(state, h)
        sd = np.where(np.isfinite(sd), sd, np.nanmax(np.where(np.isfinite(sd), sd, 0.1)))
        return np.asarray(mean, dtype=float), np.asarray(sd, dtype=float)

    def _fit_sm(self, y: np.ndarray) -> Any:
        raise NotImplementedError

    def _forecast_sm(self, state: Any, h: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


class ETS(_Statsmodels):
    """Additive-error ETS with a damped additive trend on ``log1p(y)`` (statsmodels ETSModel).

    Examples
    --------
    >>> df = pd.DataFrame({"unique_id": "a", "ds": range(2014, 2025),
    ...                    "y": [100.0, 108, 118, 125, 137, 146, 150, 166, 181, 190, 205]})
    >>> fc = ETS().fit(df).predict(3, level=(80,))
    >>> bool(fc["yhat"].is_monotonic_increasing), bool((fc["lo_80"] < fc["yhat"]).all())
    (True, True)
    """

    name = "ets"
    min_length = 6

    def _fit_sm(self, y: np.ndarray) -> Any:
        # A Series, not an array: statsmodels 0.15's ETS prediction needs an index.
        import pandas as pd
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        model = ETSModel(pd.Series(y), error="add", trend="add", damped_trend=True)
        return model.fit(disp=False)

    def _forecast_sm(self, state: Any, h: int) -> tuple[np.ndarray, np.ndarray]:
        n = state.nobs
        pred = state.get_prediction(start=n, end=n + h - 1)
        return pred.predicted_mean, np.sqrt(pred.var_pred_mean)


class ARIMA(_Statsmodels):
    """ARIMA(0,1,1) with drift on ``log1p(y)`` (statsmodels), a robust choice for short
    trending series where order search would overfit.

    Examples
    --------
    >>> df = pd.DataFrame({"unique_id": "a", "ds": range(2014, 2025),
    ...                    "y": [100.0, 108, 118, 125, 137, 146, 150, 166, 181, 190, 205]})
    >>> fc = ARIMA().fit(df).predict(2, level=(95,))
    >>> bool((fc["hi_95"] > fc["yhat"]).all())
    True
    """

    name = "arima"
    min_length = 5
    fallback = "drift"

    def __init__(self, *, order: tuple[int, int, int] = (0, 1, 1), covid: bool = True) -> None:
        super().__init__(covid=covid)
        self.order = order

    def _fit_sm(self, y: np.ndarray) -> Any:
        from statsmodels.tsa.arima.model import ARIMA as _SMArima

        # The scale is concentrated out of the likelihood (one parameter fewer for the numerical
        # gradients), no parameter covariance is computed (forecast variances do not use it)
        # and the optimiser stops at a relative tolerance that moves forecasts by < 0.5% on
        # SEN2 series: about half the CPU time of the default fit.
        model = _SMArima(y, order=self.order, trend="t", concentrate_scale=True)
        return model.fit(cov_type="none", method_kwargs={"factr": 1e10, "pgtol": 1e-4})

    def _forecast_sm(self, state: Any, h: int) -> tuple[np.ndarray, np.ndarray]:
        fc = state.get_forecast(h)
        return fc.predicted_mean, fc.se_mean


class Theta(_Statsmodels):
    """The Theta method (Assimakopoulos & Nikolopoulos 2000) on ``log1p(y)``, no seasonality.

    Examples
    --------
    >>> df = pd.DataFrame({"unique_id": "a", "ds": range(2014, 2025),
    ...                    "y": [100.0, 108, 118, 125, 137, 146, 150, 166, 181, 190, 205]})
    >>> bool(Theta().fit(df).predict(1, level=(80,))["yhat"].iloc[0] > 205)
    True
    """

    name = "theta"
    min_length = 4

    def _fit_sm(self, y: np.ndarray) -> Any:
        from statsmodels.tsa.forecasting.theta import ThetaModel

        res = ThetaModel(y, period=1, deseasonalize=False).fit()
        return res, float(np.std(np.diff(y), ddof=1)) if len(y) > 2 else 0.1, len(y)

    def _forecast_sm(self, state: Any, h: int) -> tuple[np.ndarray, np.ndarray]:
        res, s, n = state
        mean = np.asarray(res.forecast(h))
        k = np.arange(1, h + 1)
        # ThetaModel's own intervals are slow to compute and assume the SES innovation variance,
        # tiny on smooth series; the drift-model spread of the history (FPP3 5.5) is used.
        return mean, s * np.sqrt(k * (1.0 + k / n))
