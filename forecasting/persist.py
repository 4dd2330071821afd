"""Save fitted models as JSON (+ npz for arrays) and load them to forecast again without refitting.

No pickle, joblib or any format that runs code on load: the JSON holds the model's class (which
must be a model class inside this package), its constructor parameters and its fitted state;
numeric arrays go to a ``.npz`` beside it, read with ``allow_pickle=False``.

A model can define ``get_state() -> dict`` and ``set_state(dict)``; otherwise its attributes
(scikit-learn style: parameters, and fitted state ending in ``_``) are stored when they are
plain values: numbers, strings, None, lists, tuples, dicts, NumPy arrays, pandas Series /
DataFrames / Timestamps / Timedeltas, and objects of this package or of scikit-learn made of such values
(a fitted ``Pipeline(StandardScaler, Ridge)``, a dataclass of fitted rates, statsmodels' Theta
results), rebuilt by class name without calling any code of theirs. Fitted statsmodels ARIMA
and ETS results are stored as their data, settings and fitted parameters and rebuilt by
smoothing with those parameters (no re-estimation); Prophet models through Prophet's own JSON
serialiser. Anything else (e.g. a statsmodels results object)
cannot be stored safely and raises :class:`UnpersistableError` naming the attribute, so
nothing half-saved passes for a model.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.errors import EhcpError

__all__ = [
    "FORMAT",
    "UnpersistableError",
    "load_model",
    "model_from_state",
    "model_state",
    "read_state",
    "save_model",
    "write_state",
]

FORMAT = "ehcp-model/1"
# Only classes from these packages may be rebuilt on load, so a doctored file cannot name an
# arbitrary callable; they are created with __new__ and given their saved attributes, never
# called.
_ALLOWED_PREFIXES = ("forecasting.", "sklearn.", "statsmodels.tsa.forecasting.theta")
# statsmodels state-space models rebuilt from (data, settings, fitted parameters) by smoothing
# with the saved parameters: no re-estimation, the same forecasts.
_STATESPACE = {
    "statsmodels.tsa.arima.model:ARIMA": None,
    "statsmodels.tsa.exponential_smoothing.ets:ETSModel": (
        "error", "trend", "damped_trend", "seasonal", "seasonal_periods",
        "initialization_method"),
}


def _allowed(module: str) -> bool:
    return module.startswith(_ALLOWED_PREFIXES)


def _class(path: str) -> type:
    module, _, qualname = str(path).partition(":")
    if not _allowed(module) or not qualname or not all(p.isidentifier()
                                                         for p in qualname.split(".")):
        raise EhcpError(f"refusing to load class {path!r}: only classes of this package and "
                        "scikit-learn can be loaded", field="class")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if not isinstance(obj, type):
        raise EhcpError(f"{path!r} is not a class", field="class")
    return obj


class UnpersistableError(TypeError):
    """A model holds a value that cannot be stored without pickle (the message names it)."""


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def __call__(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, pd.Timedelta | dt.timedelta | np.timedelta64):
            # Checked before integers: NumPy's timedelta64 is one. Whole nanoseconds are exact
            # (a float of days is not); Prophet's fitted t_scale is such a span.
            return {"__timedelta__": int(pd.Timedelta(value).value)}
        if isinstance(value, int | np.integer):
            return int(value)
        if isinstance(value, float | np.floating):
            f = float(value)
            return f if math.isfinite(f) else {"__float__": repr(f)}
        if isinstance(value, pd.Timestamp | dt.datetime):
            return {"__timestamp__": pd.Timestamp(value).isoformat()}
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "biufcM":
                key = f"a{len(self.arrays)}"
                self.arrays[key] = value
                return {"__ndarray__": key}
            return {"__objarray__": [self(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, tuple):
            return {"__tuple__": [self(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {"__dict__": [[self(k, f"{where} key"), self(v, f"{where}[{k!r}]")]
                                 for k, v in value.items()]}
        if isinstance(value, pd.Series):
            return {"__series__": {
                "name": self(value.name, f"{where}.name"),
                "index": self(value.index.tolist(), f"{where}.index"),
                "values": self(value.tolist(), f"{where}.values"),
                "dtype": str(value.dtype),
            }}
        if isinstance(value, pd.DataFrame):
            return {"__frame__": {
                "columns": self(list(value.columns), f"{where}.columns"),
                "index": self(value.index.tolist(), f"{where}.index"),
                "data": [self(value[c].tolist(), f"{where}[{c!r}]") for c in value.columns],
                "dtypes": [str(t) for t in value.dtypes],
            }}
        special = _encode_special(value, self, where)
        if special is not None:
            return special
        cls = type(value)
        if _allowed(cls.__module__) and hasattr(value, "__dict__") and not isinstance(
                value, type) and not callable(value):
            # A plain-attribute object of this package or scikit-learn (a fitted Ridge, a
            # dataclass of fitted rates): its class by name and its attributes, recursively.
            return {"__object__": {
                "class": f"{cls.__module__}:{cls.__qualname__}",
                "attrs": {k: self(v, f"{where}.{k}") for k, v in vars(value).items()},
            }}
        raise UnpersistableError(
            f"{where} is a {type(value).__module__}.{type(value).__qualname__}, which cannot be "
            "saved without pickle; give the model get_state()/set_state() returning plain values"
        )


def _encode_special(value: Any, enc: _Encoder, where: str) -> Any:
    """Fitted statsmodels ARIMA/ETS results and Prophet models, or None for anything else."""
    model: Any = getattr(value, "model", None)
    path = f"{type(model).__module__}:{type(model).__qualname__}" if model is not None else ""
    if path in _STATESPACE and hasattr(value, "params"):
        names = _STATESPACE[path]
        kwds = model._get_init_kwds() if names is None else {k: getattr(model, k) for k in names}
        return {"__statespace__": {
            "class": path,
            "endog": enc(model.data.orig_endog, f"{where}.endog"),
            "kwds": enc(dict(kwds), f"{where}.kwds"),
            "params": enc(np.asarray(value.params, dtype=float), f"{where}.params"),
        }}
    if type(value).__module__ == "prophet.forecaster" and type(value).__name__ == "Prophet":
        from prophet.serialize import model_to_json

        return {"__prophet__": model_to_json(value)}
    return None


def _decode_statespace(body: dict[str, Any], arrays: Any) -> Any:
    import warnings

    if body["class"] not in _STATESPACE:
        raise EhcpError(f"refusing to load {body['class']!r}", field="class")
    module, _, name = body["class"].partition(":")
    cls = getattr(importlib.import_module(module), name)
    model = cls(_decode(body["endog"], arrays), **_decode(body["kwds"], arrays))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the same convergence notes as at fitting time
        return model.smooth(_decode(body["params"], arrays))


def _decode(value: Any, arrays: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    (tag, body), = value.items()
    if tag == "__float__":
        return float(body)
    if tag == "__timestamp__":
        return pd.Timestamp(body)
    if tag == "__timedelta__":
        return pd.Timedelta(int(body), unit="ns")
    if tag == "__ndarray__":
        return np.asarray(arrays[body])
    if tag == "__objarray__":
        out = np.empty(len(body), dtype=object)
        out[:] = [_decode(v, arrays) for v in body]
        return out
    if tag == "__tuple__":
        return tuple(_decode(v, arrays) for v in body)
    if tag == "__dict__":
        return {_decode(k, arrays): _decode(v, arrays) for k, v in body}
    if tag == "__series__":
        return pd.Series(_decode(body["values"], arrays), index=_decode(body["index"], arrays),
                         name=_decode(body["name"], arrays), dtype=_dtype(body["dtype"]))
    if tag == "__object__":
        klass: Any = _class(body["class"])
        obj = klass.__new__(klass)
        obj.__dict__.update({k: _decode(v, arrays) for k, v in body["attrs"].items()})
        return obj
    if tag == "__statespace__":
        return _decode_statespace(body, arrays)
    if tag == "__prophet__":
        from prophet.serialize import model_from_json

        return model_from_json(body)
    if tag == "__frame__":
        cols = _decode(body["columns"], arrays)
        data = {c: pd.Series(_decode(v, arrays), dtype=_dtype(t))
                for c, v, t in zip(cols, body["data"], body["dtypes"], strict=True)}
        return pd.DataFrame(data).set_axis(_decode(body["index"], arrays))
    raise ValueError(f"unknown tag {tag!r} in a saved model")


def _dtype(name: str) -> Any:
    return None if name in ("object", "str") else name


def model_state(model: Any, *, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """A model as a JSON-ready dict plus its arrays (``state["arrays"]``), in memory.

    This is what a worker process returns to the parent, which writes it with
    :func:`write_state`.

    Examples
    --------
    >>> from forecasting.models import Naive
    >>> df = pd.DataFrame({"unique_id": "a", "ds": [2022, 2023], "y": [10.0, 12.0]})
    >>> state = model_state(Naive().fit(df), meta={"la": "a"})
    >>> state["class"], state["meta"]
    ('forecasting.models.baselines:Naive', {'la': 'a'})
    """
    cls = type(model)
    enc = _Encoder()
    if hasattr(model, "get_state") and hasattr(model, "set_state"):
        protocol, attrs = "get_state", model.get_state()
        params = model.get_params() if hasattr(model, "get_params") else {}
        body = {"params": enc(params, "params"), "state": enc(attrs, "state")}
    else:
        protocol = "attributes"
        body = {"attributes": {k: enc(v, k) for k, v in vars(model).items()}}
    return {
        "format": FORMAT,
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "name": getattr(model, "name", cls.__name__),
        "protocol": protocol,
        **body,
        "meta": dict(meta or {}),
        "arrays": enc.arrays,
    }


def write_state(state: dict[str, Any], path: str | Path) -> Path:
    """Write a :func:`model_state` to ``path`` (.json) and its arrays to the same name .npz."""
    path = Path(path).with_suffix(".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = state.get("arrays") or {}
    doc = {k: v for k, v in state.items() if k != "arrays"}
    doc["arrays_file"] = path.with_suffix(".npz").name if arrays else None
    if arrays:
        np.savez_compressed(path.with_suffix(".npz"), **arrays)
    path.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path


def read_state(path: str | Path) -> dict[str, Any]:
    """Read a saved model's JSON and arrays back into a :func:`model_state` dict."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EhcpError("no saved model here", file=path,
                        fix="check the run id, LA and measure in the path") from None
    except json.JSONDecodeError as err:
        raise EhcpError(f"not a saved model ({err})", file=path) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise EhcpError(f"not a saved model of format {FORMAT}", file=path, field="format")
    arrays: dict[str, np.ndarray] = {}
    if doc.get("arrays_file"):
        with np.load(path.parent / doc["arrays_file"], allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    doc["arrays"] = arrays
    return doc


def model_from_state(state: dict[str, Any]) -> Any:
    """Rebuild a model from a :func:`model_state` dict (no refitting, no code run from data)."""
    if not str(state["class"]).startswith("forecasting."):
        raise EhcpError(f"refusing to load class {state['class']!r}: only model classes of this "
                        "package can be loaded", field="class")
    cls = _class(state["class"])
    from forecasting.models.base import Forecaster

    if not (issubclass(cls, Forecaster) or hasattr(cls, "set_state")):
        raise EhcpError(f"{state['class']!r} is not a model class", field="class")
    arrays = state.get("arrays") or {}
    # __new__ without __init__: the saved attributes are the whole object, as with unpickling,
    # but only plain values are restored.
    model = cls.__new__(cls)
    if state["protocol"] == "get_state":
        model.__dict__.update(_decode(state["params"], arrays))
        model.set_state(_decode(state["state"], arrays))
    else:
        model.__dict__.update({k: _decode(v, arrays) for k, v in state["attributes"].items()})
    return model


def save_model(model: Any, path: str | Path, *, meta: dict[str, Any] | None = None) -> Path:
    """Save a fitted model to ``path`` (.json, plus .npz for arrays) with its metadata.

    Examples
    --------
    >>> import tempfile
    >>> from forecasting.models import Drift
    >>> df = pd.DataFrame({"unique_id": "a", "ds": [2021, 2022, 2023], "y": [10.0, 12.0, 14.0]})
    >>> model = Drift().fit(df)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     again = load_model(save_model(model, Path(tmp) / "requests.json"))
    >>> again.predict(2).equals(model.predict(2))
    True
    """
    return write_state(model_state(model, meta=meta), path)


def load_model(path: str | Path) -> Any:
    """Load a model saved by :func:`save_model`, ready to ``predict``/``simulate``."""
    return model_from_state(read_state(path))
