"""Complexity mix: shares are a composition, counts add up to the total, effort multipliers."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.complexity import (
    effort_multiplier,
    mix_history,
    mix_shares,
    project_mix,
    simulate_mix,
)
from forecasting.errors import EhcpError, EhcpWarning

NEEDS = ["ASD", "SEMH", "SLCN", "MLD", "SpLD"]


def _history(counts: np.ndarray, start: int = 2019, cats: list[str] | None = None,
             uid: str = "E08000035") -> pd.DataFrame:
    cats = cats or [f"c{i}" for i in range(counts.shape[1])]
    years = np.arange(start, start + counts.shape[0])
    return pd.DataFrame({"unique_id": uid, "ds": np.repeat(years, len(cats)),
                         "category": np.tile(cats, len(years)), "y": counts.ravel().astype(float)})


@pytest.fixture(scope="module")
def leeds_like() -> pd.DataFrame:
    # ASD growing, SEMH growing faster, MLD shrinking: roughly the national story since 2019.
    years = np.arange(7)[:, None]
    base = np.array([1200.0, 700, 800, 500, 150])
    growth = np.array([1.10, 1.13, 1.06, 0.99, 1.02])
    return _history(np.round(base * growth ** years), cats=NEEDS)


@pytest.fixture(scope="module")
def total() -> pd.DataFrame:
    return pd.DataFrame({"unique_id": "E08000035", "ds": [2026, 2027, 2028],
                         "yhat": [6500.0, 6900.0, 7300.0], "lo_80": [6200.0, 6400.0, 6600.0],
                         "hi_80": [6800.0, 7400.0, 8000.0]})


@pytest.mark.filterwarnings("ignore::forecasting.errors.EhcpWarning")
@settings(max_examples=30, deadline=None)
@given(counts=st.lists(st.lists(st.integers(0, 5000), min_size=3, max_size=3),
                       min_size=2, max_size=7),
       damping=st.floats(0.0, 1.0), seed=st.integers(0, 10))
def test_shares_are_a_composition(counts: list[list[int]], damping: float, seed: int) -> None:
    hist = _history(np.array(counts))
    out = project_mix(hist, h=3, n_paths=50, seed=seed, damping=damping, break_year=None)
    assert (out["share"] >= 0).all() and (out["share_lo_80"] >= 0).all()
    assert np.allclose(out.groupby("ds")["share"].sum(), 1.0)
    assert (out["share_lo_80"] <= out["share_hi_80"] + 1e-12).all()
    sims = simulate_mix(hist, h=3, n_paths=20, seed=seed, damping=damping, break_year=None)
    assert (sims["share"] >= 0).all()
    assert np.allclose(sims.groupby(["sample_id", "ds"])["share"].sum(), 1.0)


def test_counts_add_up_to_the_total(leeds_like: pd.DataFrame, total: pd.DataFrame) -> None:
    out = project_mix(leeds_like, h=3, total_forecast=total, n_paths=400)
    sums = out.groupby("ds")["yhat"].sum()
    np.testing.assert_allclose(sums.to_numpy(), total["yhat"].to_numpy())
    assert (out["lo_80"] <= out["yhat"]).all() and (out["yhat"] <= out["hi_80"]).all()


def test_sample_paths_add_up_to_each_total_path(leeds_like: pd.DataFrame) -> None:
    rng = np.random.default_rng(1)
    paths = pd.DataFrame({"unique_id": "E08000035", "ds": np.tile([2026, 2027], 30),
                          "sample_id": np.repeat(np.arange(30), 2),
                          "y": rng.uniform(5000, 8000, 60)})
    sims = simulate_mix(leeds_like, h=2, total_forecast=paths, n_paths=30, seed=3)
    got = sims.groupby(["sample_id", "ds"])["y"].sum().sort_index()
    want = paths.set_index(["sample_id", "ds"])["y"].sort_index()
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy())


def test_default_holds_the_last_mix(leeds_like: pd.DataFrame) -> None:
    # damping=0 (the default, chosen by backtest): next years' shares are this year's.
    out = project_mix(leeds_like, h=2, n_paths=50, pseudo_count=0.0)
    last = mix_shares(leeds_like).query("ds == 2025").set_index("category")["share"]
    for _, grp in out.groupby("ds"):
        np.testing.assert_allclose(grp.set_index("category")["share"].reindex(last.index), last)


def test_trends_continue_but_damped(leeds_like: pd.DataFrame) -> None:
    out = project_mix(leeds_like, h=3, n_paths=100, damping=0.8)
    last = mix_shares(leeds_like).query("ds == 2025").set_index("category")["share"]
    first = out[out["ds"] == 2026].set_index("category")["share"]
    later = out[out["ds"] == 2028].set_index("category")["share"]
    assert first["SEMH"] > last["SEMH"] and later["SEMH"] > first["SEMH"]
    assert first["MLD"] < last["MLD"]
    # Damping: the third year's step is smaller than the first's.
    assert later["SEMH"] - out[out["ds"] == 2027].set_index("category")["share"]["SEMH"] < \
        first["SEMH"] - last["SEMH"]


def test_same_seed_same_output(leeds_like: pd.DataFrame, total: pd.DataFrame) -> None:
    a = project_mix(leeds_like, h=3, total_forecast=total, seed=7, n_paths=100)
    b = project_mix(leeds_like, h=3, total_forecast=total, seed=7, n_paths=100)
    pd.testing.assert_frame_equal(a, b)


def test_break_in_series_is_a_level_shift_not_a_trend() -> None:
    # Flat shares either side of a jump at 2022: with the break there is no trend to extend.
    counts = np.array([[50, 50]] * 3 + [[70, 30]] * 3)
    hist = _history(counts, start=2019)
    with_break = project_mix(hist, h=2, break_year=2022, n_paths=50, damping=0.8)
    without = project_mix(hist, h=2, break_year=None, n_paths=50, damping=0.8)
    np.testing.assert_allclose(with_break.query("category == 'c0'")["share"], 0.7, atol=5e-3)
    assert (without.query("category == 'c0'")["share"] > 0.72).all()


def test_zero_and_suppressed_counts() -> None:
    hist = _history(np.array([[100, 0, 40], [120, 0, 50], [130, 3, 60], [150, 0, 70]]))
    hist.loc[(hist["ds"] == 2020) & (hist["category"] == "c1"), "y"] = np.nan
    hist["flag"] = np.where(hist["y"].isna(), "c:suppressed", "")
    out = project_mix(hist, h=2, n_paths=100)
    assert np.isfinite(out["share"]).all() and (out["share"] > 0).all()
    assert out.query("category == 'c1'")["share"].max() < 0.05


def test_missing_count_is_imputed_and_unpublished_category_warned() -> None:
    hist = _history(np.array([[100, 50, 1], [110, 55, 1], [120, 60, 1]], dtype=float))
    hist.loc[(hist["ds"] == 2020) & (hist["category"] == "c1"), "y"] = np.nan
    hist.loc[hist["category"] == "c2", "y"] = np.nan
    hist["flag"] = np.where(hist["y"].isna(), "x:not available", "")
    with pytest.warns(EhcpWarning, match="c2"):
        out = project_mix(hist, h=1, n_paths=50, break_year=None)
    assert set(out["category"]) == {"c0", "c1"}
    assert out["share"].sum() == pytest.approx(1.0)


@pytest.mark.filterwarnings("ignore::forecasting.errors.EhcpWarning")
def test_mix_history_from_a_panel_and_errors() -> None:
    panel = pd.DataFrame({
        "unique_id": "E08000035", "name": "Leeds", "level": "la", "measure": "stock_plans",
        "breakdown": ["need:ASD", "need:SEMH", "age:5-10", "all"] * 2,
        "ds": [2024] * 4 + [2025] * 4, "y": [10.0, 5, 7, 15, 12, 6, 8, 18], "flag": ""})
    hist = mix_history(panel, "LEEDS", "stock_plans", "need")
    assert hist["category"].tolist() == ["ASD", "SEMH", "ASD", "SEMH"]
    out = project_mix(panel, "E08000035", "stock_plans", "need", h=1, n_paths=20)
    assert out["share"].sum() == pytest.approx(1.0)
    with pytest.raises(EhcpError, match="Leeds"):
        mix_history(panel, "Leds")
    with pytest.raises(EhcpError, match="topic"):
        mix_history(panel, "Leeds", topic="ethnicity")
    with pytest.raises(EhcpError, match="total_forecast"):
        project_mix(panel, "Leeds", h=2, total_forecast=pd.DataFrame(
            {"unique_id": "E08000035", "ds": [2026], "yhat": [1.0]}))


def test_effort_multiplier() -> None:
    mix = pd.DataFrame({"unique_id": "E1", "ds": [2025, 2025, 2026, 2026],
                        "category": ["ASD", "SpLD"] * 2, "share": [0.5, 0.5, 0.6, 0.4]})
    got = effort_multiplier(mix, {"ASD": 2.0, "SpLD": 1.0})
    assert got.loc[("E1", 2025)] == pytest.approx(1.5)
    assert got.loc[("E1", 2026)] == pytest.approx(1.6)
    rel = effort_multiplier(mix, {"ASD": 2.0, "SpLD": 1.0}, base_year=2025)
    assert rel.loc[("E1", 2026)] == pytest.approx(1.6 / 1.5)
    counts = mix.assign(y=mix["share"] * 100).drop(columns="share")
    pd.testing.assert_series_equal(effort_multiplier(counts, {"ASD": 2.0, "SpLD": 1.0}), got)
    with pytest.raises(EhcpError, match="SpLD"):
        effort_multiplier(mix, {"ASD": 2.0})
    assert effort_multiplier(mix, {"ASD": 2.0}, default=1.0).equals(got)


def test_effort_multiplier_on_paths(leeds_like: pd.DataFrame) -> None:
    sims = simulate_mix(leeds_like, h=2, n_paths=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = effort_multiplier(sims, dict.fromkeys(NEEDS, 1.0))
    assert m.index.names == ["unique_id", "sample_id", "ds"]
    np.testing.assert_allclose(m.to_numpy(), 1.0)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::forecasting.errors.EhcpWarning")
def test_leeds_placement_mix_with_stock_flow_paths(raw_dir) -> None:
    # The real chain: SEN2 panel -> stock-flow paths of the total -> placement mix on each path.
    from forecasting.data import load_panel, series
    from forecasting.models.stockflow import StockFlow

    panel = load_panel(raw_dir)
    stock = series(panel, "stock_plans")
    stock = stock[stock["unique_id"] == "E08000035"].dropna(subset=["y"])
    new = series(panel, "new_plans").rename(columns={"y": "new_plans"})
    df = stock.merge(new, on=["unique_id", "ds"], how="left")
    totals = StockFlow().fit(df).simulate(3, n_paths=100, seed=0)
    sims = simulate_mix(panel, "Leeds", "stock_plans", "placement", h=3,
                        total_forecast=totals, n_paths=100)
    got = sims.groupby(["sample_id", "ds"])["y"].sum().sort_index()
    want = totals.set_index(["sample_id", "ds"])["y"].sort_index()
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy())
    assert {"special", "mainstream", "independent special"} <= set(sims["category"])
    effort = effort_multiplier(sims, {"independent special": 1.5, "special": 1.2}, default=1.0)
    assert effort.between(1.0, 1.5).all()


def test_one_year_mix_borrows_its_volatility() -> None:
    # Primary need is published for one year only: flat shares, but honest (non-zero) intervals
    # that are wider for small categories.
    hist = _history(np.array([[1600, 1350, 1200, 160]]), start=2025, cats=["ASD", "SEMH",
                                                                          "SLCN", "SPLD"])
    with pytest.warns(EhcpWarning, match="borrowed"):
        out = project_mix(hist, measure="stock_plans", h=2, n_paths=400)
    first = out[out["ds"] == 2026].set_index("category")
    np.testing.assert_allclose(first["share"], hist["y"].to_numpy() / hist["y"].sum(), rtol=5e-3)
    rel = (first["share_hi_80"] - first["share_lo_80"]) / first["share"]
    assert (rel > 0.05).all() and rel["SPLD"] > rel["ASD"]
    later = out[out["ds"] == 2027].set_index("category")
    assert ((later["share_hi_80"] - later["share_lo_80"]) > (first["share_hi_80"]
                                                             - first["share_lo_80"])).all()
