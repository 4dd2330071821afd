"""Driver-led models: new plans from requests (Conversion), the stock from its flows
(LeadStockFlow), the driver columns and the per-measure candidate sets of ``auto``."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import EhcpWarning
from forecasting.forecast import cross_validation
from forecasting.models import get_model
from forecasting.models.ensemble import (
    DEFAULT_CANDIDATES,
    NEW_PLAN_CANDIDATES,
    STOCK_CANDIDATES,
    AutoEnsemble,
    default_candidates,
)
from forecasting.models.leading import Conversion, add_drivers
from forecasting.models.stocklead import LeadStockFlow

YEARS = np.arange(2016, 2025)


def _plans(growth: float = 0.1, ratio: float = 0.6, n: int = 5) -> pd.DataFrame:
    """Requests growing by ``growth`` a year; plans exactly ``ratio`` of the mixed requests."""
    frames = []
    for i in range(n):
        req = 100.0 * (1 + i) * (1 + growth) ** (YEARS - YEARS[0])
        prev = np.concatenate([[req[0]], req[:-1]])
        frames.append(pd.DataFrame({"unique_id": f"la{i}", "ds": YEARS, "requests": req,
                                    "y": ratio * (0.5 * req + 0.5 * prev)}))
    return pd.concat(frames, ignore_index=True)


def test_conversion_hand_worked_ratio_times_requests() -> None:
    df = _plans()
    model = Conversion(driver_model="log_drift").fit(df)
    np.testing.assert_allclose(model.describe()["ratio"], 0.6)
    fc = model.predict(2, level=(80,))
    req = df.loc[df["unique_id"] == "la2", "requests"].to_numpy()[-1]
    want = [0.6 * (0.5 * req * 1.1 + 0.5 * req), 0.6 * (0.5 * req * 1.21 + 0.5 * req * 1.1)]
    # log_drift grows log1p(requests), a hair under 10% a year.
    np.testing.assert_allclose(fc.loc[fc["unique_id"] == "la2", "yhat"], want, rtol=5e-4)


def test_conversion_shrinks_an_odd_la_towards_the_national_ratio() -> None:
    df = _plans()
    odd = df["unique_id"] == "la0"
    df.loc[odd, "y"] *= 2.0  # one LA converts twice as many requests into plans
    ratio = Conversion(driver_model="log_drift", shrink=3.0).fit(df).describe()["ratio"]
    # Three own years against three pseudo-years of the national ratio: half way in logs.
    national = df["y"][df["ds"] >= 2022].sum() / (df["y"][df["ds"] >= 2022] / np.where(
        odd[df["ds"] >= 2022], 1.2, 0.6)).sum()
    assert ratio["la0"] == pytest.approx(np.sqrt(1.2 * national), rel=1e-6)
    assert 0.6 < ratio["la1"] < 0.6 * 1.2  # the others are pulled up a little


def test_series_without_requests_fall_back_and_say_so() -> None:
    df = _plans()
    df.loc[(df["unique_id"] == "la3") & (df["ds"] == 2024), "requests"] = np.nan
    model = Conversion(driver_model="log_drift").fit(df)
    assert model.describe()["fallback"] == ["la3"]
    fc = model.predict(3)
    assert sorted(fc["unique_id"].unique()) == [f"la{i}" for i in range(5)]
    with pytest.warns(EhcpWarning, match="add_drivers"):
        whole = Conversion().fit(df.drop(columns="requests"))
    assert len(whole.describe()["fallback"]) == 5
    # Years stay int years when no series has a driver (auto's horizons are ds - cutoff).
    assert whole.predict(2)["ds"].dtype == np.int64
    assert whole.simulate(2, n_paths=3)["ds"].dtype == np.int64


def test_backtest_never_sees_requests_after_the_cutoff() -> None:
    df = _plans()
    late = df.assign(requests=np.where(df["ds"] > 2021, df["requests"] * 5, df["requests"]))
    kw = {"h": 2, "cutoffs": [2021], "models": [Conversion(driver_model="log_drift")]}
    a = cross_validation(df, **kw)  # type: ignore[arg-type]
    b = cross_validation(late, **kw)  # type: ignore[arg-type]
    pd.testing.assert_series_equal(a["conversion"], b["conversion"])


def _stock(cease: float = 0.05, new_share: float = 0.12, n: int = 4) -> pd.DataFrame:
    rows = []
    for i in range(n):
        s = 1000.0 * (1 + i)
        for t in YEARS:
            rows.append((f"la{i}", t, s, new_share * s, new_share * s / 0.6))
            s = s * (1 - cease) + new_share * s
    df = pd.DataFrame(rows, columns=["unique_id", "ds", "y", "new", "req"])
    by = df.groupby("unique_id")
    return df.assign(new_plans_prev=by["new"].shift(), requests_prev=by["req"].shift()).drop(
        columns=["new", "req"])


def test_stockflow_rolls_the_identity_forward() -> None:
    df = _stock()
    model = LeadStockFlow(conversion={"driver_model": "log_drift", "lag_weight": 1.0}).fit(df)
    np.testing.assert_allclose(model.describe()["cease"], 0.05, atol=1e-12)
    fc = model.predict(3, level=(80, 95))
    last = df.groupby("unique_id")["y"].last()
    # New plans 12% of the stock a year before, ceasing 5%: +7% a year exactly.
    got = fc.pivot(index="unique_id", columns="ds", values="yhat")
    np.testing.assert_allclose(got.to_numpy(), np.outer(last, 1.07 ** np.arange(1, 4)),
                               rtol=5e-4)  # (log1p drift of the requests: see above)
    width = (np.log(fc["hi_80"]) - np.log(fc["lo_80"])).to_numpy().reshape(4, 3)
    assert (np.diff(width, axis=1) >= -1e-12).all()


def test_stockflow_uses_only_flows_published_with_the_stock() -> None:
    df = _stock()
    cut = df[df["ds"] <= 2022]
    # The flows of calendar 2022 are published with the January 2023 stock: changing them
    # must not move a forecast made at January 2022.
    changed = df.assign(new_plans_prev=np.where(df["ds"] == 2023, 0.0, df["new_plans_prev"]))
    kw = {"conversion": {"driver_model": "log_drift"}}
    a = LeadStockFlow(**kw).fit(cut).predict(2)
    b = LeadStockFlow(**kw).fit(changed[changed["ds"] <= 2022]).predict(2)
    pd.testing.assert_frame_equal(a, b)


def test_stockflow_falls_back_for_las_without_flows() -> None:
    df = _stock()
    df.loc[df["unique_id"] == "la1", ["new_plans_prev", "requests_prev"]] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LeadStockFlow(conversion={"driver_model": "log_drift"}).fit(df)
    assert model.describe()["fallback"] == ["la1"]
    sims = model.simulate(2, n_paths=20, seed=3)
    assert sims["unique_id"].nunique() == 4
    pd.testing.assert_frame_equal(sims, model.simulate(2, n_paths=20, seed=3))


def test_stockflow_falls_back_for_one_year_of_flows_after_a_gap() -> None:
    df = _stock()
    gap = (df["unique_id"] == "la2") & (df["ds"] == 2023)
    df.loc[gap, ["new_plans_prev", "requests_prev"]] = np.nan  # only 2023's flows after it
    model = LeadStockFlow(conversion={"driver_model": "log_drift"}).fit(df)
    assert model.describe()["fallback"] == ["la2"]
    assert len(model.predict(2)) == 8


def test_add_drivers_lags_the_flows_for_the_stock() -> None:
    panel = pd.DataFrame({"unique_id": "E1", "level": "la", "breakdown": "all",
                          "measure": ["new_plans", "new_plans", "requests_received"],
                          "ds": [2022, 2023, 2023], "y": [50.0, 60.0, 90.0]})
    stock = pd.DataFrame({"unique_id": "E1", "ds": [2023, 2024], "y": [500.0, 540.0]})
    out = add_drivers(stock, panel, "stock_plans")
    assert out["new_plans_prev"].tolist() == [50.0, 60.0]
    assert out["requests_prev"].isna().tolist() == [True, False]
    assert add_drivers(stock, panel, "requests_received").equals(stock)


def test_add_drivers_gives_new_plans_their_requests_and_refusals() -> None:
    panel = pd.DataFrame({"unique_id": "E1", "level": "la", "breakdown": "all",
                          "measure": ["requests_received", "requests_received",
                                      "requests_refused"],
                          "ds": [2022, 2023, 2023], "y": [100.0, 120.0, 30.0]})
    plans = pd.DataFrame({"unique_id": "E1", "ds": [2022, 2023], "y": [60.0, 70.0]})
    out = add_drivers(plans, panel, "new_plans")
    assert out["requests"].tolist() == [100.0, 120.0]
    assert out["refused"].isna().tolist() == [True, False]  # same calendar year, same release
    no_refusals = add_drivers(plans, panel[panel["measure"] != "requests_refused"], "new_plans")
    assert no_refusals["refused"].isna().all() and len(no_refusals) == 2
    assert out["within_20wk"].isna().all() and out["timed"].isna().all()  # not in this panel


def test_auto_picks_its_candidates_by_the_driver_columns() -> None:
    assert default_candidates(_plans()) == NEW_PLAN_CANDIDATES
    assert default_candidates(_stock()) == STOCK_CANDIDATES
    assert default_candidates(_plans().drop(columns="requests")) == DEFAULT_CANDIDATES
    model = AutoEnsemble(top_k=2, min_obs=4).fit(_plans())
    assert model.candidates_ == NEW_PLAN_CANDIDATES
    assert set(model.weights_) <= set(NEW_PLAN_CANDIDATES)
    assert get_model("auto").get_params()["candidates"] is None


def test_conversion_of_agreed_requests_scales_the_forecast_by_the_agreed_share() -> None:
    df = _plans()
    # A quarter of every LA's requests refused; plans are 80% of the agreed (mixed) requests.
    agreed = df.assign(refused=0.25 * df["requests"], y=0.8 * 0.75 * (df["y"] / 0.6))
    model = get_model("conversion_agreed", driver_model="log_drift").fit(agreed)
    assert model.name == "conversion_agreed"
    np.testing.assert_allclose(model.describe()["ratio"], 0.8)
    plain = Conversion(driver_model="log_drift").fit(agreed)
    np.testing.assert_allclose(plain.describe()["ratio"], 0.6)
    # Same plans either way when the agreed share is steady.
    np.testing.assert_allclose(model.predict(2)["yhat"], plain.predict(2)["yhat"], rtol=1e-9)
    # Without refusals the model converts all requests.
    same = get_model("conversion_agreed", driver_model="log_drift").fit(_plans())
    np.testing.assert_allclose(same.describe()["ratio"], 0.6)
