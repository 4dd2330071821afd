"""Forecasting models, all following :class:`forecasting.models.base.Forecaster`.

``get_model(name)`` builds a model from its registry name; ``MODEL_NAMES`` lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from forecasting.errors import EhcpError
from forecasting.models.base import Forecaster, LocalForecaster
from forecasting.models.baselines import DampedDrift, Drift, LogDrift, Naive

__all__ = [
    "BASELINES",
    "MODEL_NAMES",
    "DampedDrift",
    "Drift",
    "Forecaster",
    "LocalForecaster",
    "LogDrift",
    "Naive",
    "get_model",
]


def _lazy(module: str, cls: str, **fixed: Any) -> Callable[..., Forecaster]:
    # Heavy back ends (statsmodels, Prophet, scikit-learn) load only when a model is asked for.
    def make(**kwargs: Any) -> Forecaster:
        import importlib

        klass = getattr(importlib.import_module(f"forecasting.models.{module}"), cls)
        return klass(**{**fixed, **kwargs})  # type: ignore[no-any-return]

    return make


_REGISTRY: dict[str, Callable[..., Forecaster]] = {
    "naive": Naive,
    "drift": Drift,
    "damped_drift": DampedDrift,
    "log_drift": LogDrift,
    "log_drift3": lambda **kw: LogDrift(**{"window": 3, **kw}),
    "ets": _lazy("statespace", "ETS"),
    "arima": _lazy("statespace", "ARIMA"),
    "theta": _lazy("statespace", "Theta"),
    "prophet": _lazy("prophet_model", "ProphetModel"),
    "global": _lazy("global_model", "GlobalGrowth"),
    "global_last": _lazy("global_model", "GlobalGrowth", smooth=0.0, alpha=10.0),
    "conversion": _lazy("leading", "Conversion"),
    "conversion_agreed": _lazy("leading", "Conversion", refused="refused"),
    "lead_growth": _lazy("leadgrowth", "LeadGrowth"),
    "stockflow": _lazy("stocklead", "LeadStockFlow"),
    "auto": _lazy("ensemble", "AutoEnsemble"),
}

BASELINES = ("naive", "drift", "damped_drift", "log_drift", "log_drift3")
MODEL_NAMES = tuple(_REGISTRY)


def get_model(name: str, **params: Any) -> Forecaster:
    """Build a model from its registry name, e.g. ``get_model("drift")``.

    Examples
    --------
    >>> get_model("damped_drift", phi=0.9)
    DampedDrift(covid=True, break_year=None, phi=0.9)
    >>> get_model("lstm")
    Traceback (most recent call last):
    ...
    forecasting.errors.EhcpError: field 'model': unknown model 'lstm'. Fix: use one of naive, drift, damped_drift, log_drift, log_drift3, ets, arima, theta, prophet, global, global_last, conversion, conversion_agreed, lead_growth, stockflow, auto.
    """
    try:
        make = _REGISTRY[name]
    except (KeyError, TypeError):
        raise EhcpError(f"unknown model {name!r}", field="model",
                        fix="use one of " + ", ".join(_REGISTRY)) from None
    model = make(**params)
    if not getattr(model, "name", None) or model.name != name:
        # Variants built from a shared class (log_drift3) report their registry name.
        model.name = name  # type: ignore[misc]
    return model
