"""Saved models reload without refitting and forecast exactly as before; no code runs on load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import EhcpError
from forecasting.models import BASELINES, get_model
from forecasting.persist import (
    UnpersistableError,
    load_model,
    model_from_state,
    model_state,
    save_model,
)

HISTORY = pd.DataFrame({
    "unique_id": ["a"] * 6 + ["b"] * 6,
    "ds": list(range(2019, 2025)) * 2,
    "y": [636, 700, 680, 953, 1284, 2313, 55, 60, 58, 70, 81, 90],
}).astype({"y": float})


@pytest.mark.parametrize("name", BASELINES)
def test_baselines_round_trip(name: str, tmp_path: Path) -> None:
    model = get_model(name).fit(HISTORY)
    path = save_model(model, tmp_path / f"{name}.json", meta={"la": "Leeds", "measure": "requests"})
    again = load_model(path)
    assert type(again) is type(model) and again.name == model.name
    pd.testing.assert_frame_equal(again.predict(3), model.predict(3))
    pd.testing.assert_frame_equal(again.simulate(3, n_paths=20, seed=5),
                                  model.simulate(3, n_paths=20, seed=5))
    doc = json.loads(path.read_text())
    assert doc["meta"] == {"la": "Leeds", "measure": "requests"}


def test_monthly_and_array_state_round_trip(tmp_path: Path) -> None:
    monthly = pd.DataFrame({"unique_id": "m", "y": np.arange(1.0, 13.0),
                            "ds": pd.date_range("2024-01-01", periods=12, freq="MS")})
    model = get_model("drift").fit(monthly)
    model.extra_ = {"weights": np.linspace(0, 1, 5), 3: (1, None, float("nan"))}
    path = save_model(model, tmp_path / "m.json")
    assert path.with_suffix(".npz").exists()
    again = load_model(path)
    np.testing.assert_array_equal(again.extra_["weights"], model.extra_["weights"])
    assert again.extra_[3][:2] == (1, None) and np.isnan(again.extra_[3][2])
    pd.testing.assert_frame_equal(again.predict(2), model.predict(2))


def test_time_spans_round_trip_exactly(tmp_path: Path) -> None:
    # Prophet-style fitted scales are pandas Timedeltas; datetime and NumPy spans come back
    # as the same span (a pandas Timedelta), to the nanosecond.
    import datetime as dt

    model = get_model("naive").fit(HISTORY)
    model.spans_ = {"t_scale": pd.Timedelta(days=3287, nanoseconds=7),
                    "py": dt.timedelta(hours=36), "np": np.timedelta64(90, "m")}
    again = load_model(save_model(model, tmp_path / "t.json"))
    assert again.spans_ == model.spans_
    assert again.spans_["t_scale"].value == model.spans_["t_scale"].value
    pd.testing.assert_frame_equal(again.predict(2), model.predict(2))


def test_unstorable_attribute_is_named() -> None:
    model = get_model("naive").fit(HISTORY)
    model.results_ = object()
    with pytest.raises(UnpersistableError, match="results_ is a builtins.object"):
        model_state(model)


def test_only_package_model_classes_load() -> None:
    state = model_state(get_model("naive").fit(HISTORY))
    for bad in ("os:system", "builtins:eval", "forecasting.errors:EhcpError"):
        with pytest.raises(EhcpError):
            model_from_state({**state, "class": bad})


def test_arrays_are_loaded_without_pickle(tmp_path: Path) -> None:
    model = get_model("naive").fit(HISTORY)
    model.extra_ = np.arange(3)
    path = save_model(model, tmp_path / "n.json")
    # An object array in the npz would need pickle; np.load(allow_pickle=False) refuses it.
    np.savez(path.with_suffix(".npz"), a0=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        load_model(path)


def test_global_model_with_sklearn_pipelines_round_trips(tmp_path: Path) -> None:
    from forecasting.models.global_model import GlobalGrowth

    rng = np.random.default_rng(0)
    rows = [(f"la{i}", year, 100 * (1 + i / 10) * 1.08 ** (year - 2014) * rng.lognormal(0, 0.05))
            for i in range(12) for year in range(2014, 2025)]
    df = pd.DataFrame(rows, columns=["unique_id", "ds", "y"])
    model = GlobalGrowth().fit(df)
    again = load_model(save_model(model, tmp_path / "global.json"))
    pd.testing.assert_frame_equal(again.predict(2), model.predict(2))


def test_stockflow_dataclass_state_round_trips(tmp_path: Path) -> None:
    from forecasting.models.stockflow import StockFlow

    df = pd.DataFrame({"unique_id": "LA", "ds": [2021, 2022, 2023, 2024],
                       "y": [1000.0, 1050.0, 1102.5, 1157.625],
                       "new_plans": [100.0, 105.0, 110.25, np.nan]})
    model = StockFlow(n_paths=50).fit(df)
    again = load_model(save_model(model, tmp_path / "stockflow.json"))
    pd.testing.assert_frame_equal(again.predict(2), model.predict(2))
    pd.testing.assert_frame_equal(again.simulate(2, n_paths=10, seed=3),
                                  model.simulate(2, n_paths=10, seed=3))


@pytest.mark.parametrize("name", ["ets", "arima", "theta", "prophet", "auto"])
def test_statsmodels_prophet_and_ensemble_round_trip(name: str, tmp_path: Path) -> None:
    # statsmodels ARIMA/ETS come back by smoothing with the saved parameters, Theta by its
    # attributes, Prophet through its JSON serialiser: forecasts and paths must be identical.
    leeds = pd.DataFrame({"unique_id": "Leeds", "ds": range(2016, 2025),
                          "y": [636.0, 830, 1179, 953, 786, 803, 1284, 1497, 2313]})
    model = get_model(name).fit(leeds)
    path = save_model(model, tmp_path / f"{name}.json")
    assert "pickle" not in path.read_text()
    again = load_model(path)
    pd.testing.assert_frame_equal(again.predict(3), model.predict(3))
    pd.testing.assert_frame_equal(again.simulate(3, n_paths=20, seed=1),
                                  model.simulate(3, n_paths=20, seed=1))
