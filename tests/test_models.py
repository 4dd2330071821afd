"""The shared contract every forecasting model must meet (one test suite over all of them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import EhcpError
from forecasting.models import MODEL_NAMES, get_model
from forecasting.models.base import Forecaster

FAST_AUTO = {"candidates": ("naive", "drift", "log_drift", "global"), "top_k": 2}


def _panel(n_series: int = 6, start: int = 2014, end: int = 2024, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_series):
        level = 100.0 * (1 + i)
        for year in range(start, end + 1):
            level *= 1.08 * rng.lognormal(0, 0.06)
            rows.append((f"la{i}", year, round(level)))
    return pd.DataFrame(rows, columns=["unique_id", "ds", "y"])


def _make(name: str) -> Forecaster:
    return get_model(name, **FAST_AUTO) if name == "auto" else get_model(name)


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return _panel()


@pytest.fixture(scope="module")
def fitted(panel: pd.DataFrame) -> dict[str, Forecaster]:
    return {name: _make(name).fit(panel) for name in MODEL_NAMES}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_predict_contract(fitted: dict[str, Forecaster], name: str) -> None:
    fc = fitted[name].predict(4, level=(80, 95))
    assert list(fc.columns) == ["unique_id", "ds", "yhat", "lo_80", "hi_80", "lo_95", "hi_95"]
    assert len(fc) == 6 * 4
    assert fc["ds"].tolist()[:4] == [2025, 2026, 2027, 2028]
    values = fc[["yhat", "lo_80", "hi_80", "lo_95", "hi_95"]].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    assert (fc["lo_95"] <= fc["lo_80"] + 1e-9).all() and (fc["hi_80"] <= fc["hi_95"] + 1e-9).all()
    assert ((fc["lo_80"] <= fc["yhat"] + 1e-9) & (fc["yhat"] <= fc["hi_80"] + 1e-9)).all()
    # Intervals widen with the horizon (on the log scale, i.e. relative to the level).
    width = (np.log1p(fc["hi_80"]) - np.log1p(fc["lo_80"])).to_numpy().reshape(6, 4)
    assert (np.diff(width, axis=1) >= -1e-9).all(), name


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_simulate_contract(fitted: dict[str, Forecaster], name: str) -> None:
    model = fitted[name]
    a = model.simulate(3, n_paths=40, seed=7)
    b = model.simulate(3, n_paths=40, seed=7)
    c = model.simulate(3, n_paths=40, seed=8)
    assert list(a.columns) == ["unique_id", "ds", "sample_id", "y"]
    assert len(a) == 6 * 3 * 40 and a["sample_id"].nunique() == 40
    assert (a["y"] >= 0).all()
    pd.testing.assert_frame_equal(a, b)
    assert not a["y"].equals(c["y"])
    # Joint paths: a path high at h=1 tends to stay high (errors accumulate).
    wide = a[a["unique_id"] == "la0"].pivot(index="sample_id", columns="ds", values="y")
    assert np.corrcoef(wide.iloc[:, 0], wide.iloc[:, 2])[0, 1] > 0.2


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_sklearn_style(name: str, panel: pd.DataFrame) -> None:
    model = _make(name)
    params = model.get_params()
    assert not any(k.endswith("_") for k in params)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.predict(1)
    clone = model.clone()
    assert clone.get_params() == params and clone.name == model.name
    if name not in ("prophet", "arima", "ets", "auto"):  # the cheap ones: refit gives the same
        one = model.fit(panel).predict(2)
        two = clone.fit(panel).predict(2)
        pd.testing.assert_frame_equal(one, two)


def test_unknown_model_names_the_choices() -> None:
    with pytest.raises(EhcpError, match="unknown model 'lstm'.*naive, drift"):
        get_model("lstm")


def test_monthly_timestamps_are_supported() -> None:
    ds = pd.date_range("2022-01-01", periods=30, freq="MS")
    df = pd.DataFrame({"unique_id": "m", "ds": ds, "y": np.linspace(50, 80, 30)})
    fc = get_model("drift").fit(df).predict(2)
    assert [d.strftime("%Y-%m") for d in fc["ds"]] == ["2024-07", "2024-08"]
    assert fc["yhat"].iloc[0] == pytest.approx(80 + 30 / 29)
