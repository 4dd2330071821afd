"""Stock-flow model: the identity on every path, hand-worked and golden values, exogenous flows."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.errors import EhcpError, EhcpWarning
from forecasting.models.stockflow import StockFlow


@pytest.fixture(scope="module")
def tiny(fixtures_dir: Path) -> pd.DataFrame:
    return pd.read_csv(fixtures_dir / "complexity" / "stockflow_tiny.csv")


def test_golden_forecast_on_the_tiny_fixture(tiny: pd.DataFrame, fixtures_dir: Path) -> None:
    # Made by tests/fixtures/complexity/make_stockflow_golden.py.
    golden = pd.read_csv(fixtures_dir / "complexity" / "stockflow_golden.csv")
    got = StockFlow(n_paths=500, seed=0).fit(tiny).predict(3, level=(80,))
    pd.testing.assert_frame_equal(got, golden, check_dtype=False, rtol=1e-6)


def test_constant_rates_give_the_hand_worked_stock() -> None:
    # 12% of the stock issued and 4% ceased every year: +8% a year, with no uncertainty left.
    stock = 2000 * 1.08 ** np.arange(6)
    df = pd.DataFrame({"unique_id": "LA", "ds": np.arange(2019, 2025), "y": stock,
                       "new_plans": np.append(0.12 * stock[:-1], np.nan)})
    m = StockFlow().fit(df)
    fc = m.predict(3, level=(80,))
    np.testing.assert_allclose(fc["yhat"], stock[-1] * 1.08 ** np.arange(1, 4))
    np.testing.assert_allclose(fc["lo_80"], fc["yhat"], rtol=1e-9)
    level = m.rates_["LA"].level  # log new-plan rate, ceasing rate
    np.testing.assert_allclose([np.exp(level[0]), level[1]], [0.12, 0.04])


@settings(max_examples=15, deadline=None)
@given(growth=st.lists(st.floats(0.9, 1.2), min_size=5, max_size=5),
       new_rate=st.lists(st.floats(0.02, 0.3), min_size=5, max_size=5),
       seed=st.integers(0, 100))
def test_identity_holds_on_every_path(growth: list[float], new_rate: list[float],
                                      seed: int) -> None:
    stock = 500 * np.cumprod([1.0, *growth])
    df = pd.DataFrame({"unique_id": "LA", "ds": np.arange(2019, 2025), "y": stock,
                       "new_plans": np.append(np.array(new_rate) * stock[:-1], np.nan)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EhcpWarning)  # floored ceasing rates are fine here
        paths = StockFlow().fit(df).simulate_flows(4, n_paths=30, seed=seed)
    gap = paths["y"] - (paths["stock_start"] + paths["new_plans"] - paths["ceased_plans"])
    assert gap.abs().max() < 1e-8 * paths["y"].abs().max()
    assert (paths[["y", "new_plans", "ceased_plans"]] >= 0).all().all()
    # Each year starts from the stock the path ended the previous year with.
    wide = paths.sort_values(["sample_id", "ds"])
    prev = wide.groupby("sample_id")["y"].shift()
    assert np.allclose(wide["stock_start"][prev.notna()], prev.dropna())
    assert np.allclose(wide.loc[wide["ds"] == 2025, "stock_start"], stock[-1])


def test_contract_and_reproducibility(tiny: pd.DataFrame) -> None:
    m = StockFlow(n_paths=200).fit(tiny)
    fc = m.predict(3)
    assert fc.columns.tolist() == ["unique_id", "ds", "yhat", "lo_80", "hi_80", "lo_95", "hi_95"]
    assert (fc["lo_95"] <= fc["lo_80"]).all() and (fc["hi_80"] <= fc["hi_95"]).all()
    width = (fc["hi_80"] - fc["lo_80"]).groupby(fc["unique_id"]).apply(lambda w: w.is_monotonic_increasing)
    assert width.all()
    sims = m.simulate(3, n_paths=20, seed=4)
    assert sims.columns.tolist() == ["unique_id", "ds", "sample_id", "y"]
    pd.testing.assert_frame_equal(sims, m.simulate(3, n_paths=20, seed=4))
    assert not sims.equals(m.simulate(3, n_paths=20, seed=5))


def test_exogenous_new_plans(tiny: pd.DataFrame) -> None:
    m = StockFlow(n_paths=100).fit(tiny)
    new = pd.DataFrame({"unique_id": ["LA1"] * 2 + ["LA2"] * 2, "ds": [2024, 2025] * 2,
                        "yhat": [0.0, 0.0, 0.0, 0.0]})
    flows = m.simulate_flows(2, n_paths=10, seed=0, new_plans=new)
    assert (flows["new_plans"] == 0).all()
    # With no new plans the stock can only fall.
    fc = m.predict(2, level=(80,), new_plans=new)
    last = tiny.groupby("unique_id")["y"].last()
    assert (fc.groupby("unique_id")["yhat"].max() < last).all()
    paths = pd.DataFrame({"unique_id": "LA1", "ds": np.tile([2024, 2025], 3),
                          "sample_id": np.repeat([0, 1, 2], 2), "y": [700.0, 720] * 3})
    only_la1 = StockFlow(n_paths=30).fit(tiny[tiny["unique_id"] == "LA1"])
    flows = only_la1.simulate_flows(2, n_paths=6, seed=0, new_plans=paths)
    assert flows.groupby("ds")["new_plans"].unique().map(list).to_dict() == {2025: [700.0],
                                                                              2026: [720.0]}
    with pytest.raises(EhcpError, match="every calendar year"):
        only_la1.predict(3, new_plans=paths)


def test_bad_input() -> None:
    df = pd.DataFrame({"unique_id": "LA", "ds": [2022, 2023, 2024], "y": [100.0, 110, 120]})
    with pytest.raises(EhcpError, match="new_plans"):
        StockFlow().fit(df)
    with pytest.raises(EhcpError, match="at least 2"):
        StockFlow().fit(df.assign(new_plans=[np.nan, 15.0, np.nan]))
    with pytest.raises(EhcpError, match="damping"):
        StockFlow(damping=1.5).fit(df.assign(new_plans=[15.0, 15.0, np.nan]))
    with pytest.warns(EhcpWarning, match="almost no new plans"):
        StockFlow().fit(df.assign(new_plans=[0.0, 10.0, np.nan]))
    # The stock grew by more than its new plans (transfers in): a negative implied outflow in
    # the history, but ceasing is never forecast below zero.
    flows = StockFlow().fit(df.assign(new_plans=[1.0, 1.0, np.nan])).simulate_flows(
        2, n_paths=20, seed=0)
    assert (flows["ceased_plans"] >= 0).all()
