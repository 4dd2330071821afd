"""LeadGrowth: new plans' growth regressed across LAs on where they stand against requests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import EhcpWarning
from forecasting.forecast import cross_validation
from forecasting.models import get_model
from forecasting.models.leadgrowth import FEATURES, OPTIONAL_FEATURES, LeadGrowth

YEARS = np.arange(2014, 2025)


def _plans(n: int = 12, seed: int = 0, catch_up: float = 0.0) -> pd.DataFrame:
    """Requests growing 10% a year with noise; plans grow 10% a year too, and plans behind
    60% of the year's requests catch up by ``catch_up`` of the log gap the next year."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        req = 100.0 * (1 + i) * 1.1 ** (YEARS - YEARS[0]) * rng.lognormal(0, 0.1, len(YEARS))
        plans = [0.6 * req[0]]
        for t in range(1, len(YEARS)):
            gap = np.log(0.6 * req[t - 1]) - np.log(plans[-1])
            plans.append(plans[-1] * 1.1 * np.exp(catch_up * gap) * rng.lognormal(0, 0.02))
        frames.append(pd.DataFrame({"unique_id": f"la{i}", "ds": YEARS, "requests": req,
                                    "y": plans}))
    return pd.concat(frames, ignore_index=True)


def test_hand_worked_national_trend_when_every_la_converts_alike() -> None:
    rows = [(f"la{i}", t, 100.0 * (1 + i) * 1.1 ** (t - 2014)) for i in range(6) for t in YEARS]
    df = pd.DataFrame(rows, columns=["unique_id", "ds", "requests"]).assign(
        y=lambda d: 0.6 * d["requests"])
    fc = LeadGrowth().fit(df).predict(3, level=(80,))
    last = 0.6 * 100.0 * 1.1**10
    # No departures to learn: each LA grows at the national requests trend, 10% a year.
    np.testing.assert_allclose(fc.loc[fc["unique_id"] == "la0", "yhat"],
                               last * 1.1 ** np.arange(1, 4), rtol=1e-9)
    assert (fc["hi_80"] > fc["yhat"]).all() and (fc["lo_80"] < fc["yhat"]).all()


def test_learns_that_plans_catch_up_with_requests() -> None:
    df = _plans(catch_up=0.5)
    model = LeadGrowth().fit(df)
    coef = model.describe()["coef"]
    # Plans behind this year's requests grow faster next year; without catch-up, no effect.
    assert coef["req_gap"] > 0.02
    flat = LeadGrowth().fit(_plans(catch_up=0.0)).describe()["coef"]
    assert abs(flat["req_gap"]) < 0.01


def test_intervals_widen_with_the_horizon_and_paths_are_positive() -> None:
    model = LeadGrowth().fit(_plans())
    fc = model.predict(5, level=(80, 95))
    width = np.log(fc["hi_80"]) - np.log(fc["lo_80"])
    assert (width.groupby(fc["unique_id"]).diff().dropna() > 0).all()
    paths = model.simulate(3, n_paths=50, seed=1)
    assert (paths["y"] > 0).all() and len(paths) == 12 * 3 * 50
    again = model.simulate(3, n_paths=50, seed=1)
    pd.testing.assert_frame_equal(paths, again)


def test_backtest_never_sees_a_year_after_the_cutoff() -> None:
    df = _plans()
    late = df.assign(requests=np.where(df["ds"] > 2021, df["requests"] * 5, df["requests"]),
                     y=np.where(df["ds"] > 2021, df["y"] * 3, df["y"]))
    kw = {"h": 2, "cutoffs": [2021], "models": ["lead_growth"]}
    a = cross_validation(df, **kw)  # type: ignore[arg-type]
    b = cross_validation(late, **kw)  # type: ignore[arg-type]
    pd.testing.assert_series_equal(a["lead_growth"], b["lead_growth"])


def test_series_without_requests_fall_back_and_say_so() -> None:
    df = _plans()
    df.loc[(df["unique_id"] == "la3") & (df["ds"] == 2024), "requests"] = np.nan
    model = get_model("lead_growth").fit(df)
    assert model.describe()["fallback"] == ["la3"]
    assert sorted(model.predict(2)["unique_id"].unique()) == sorted(df["unique_id"].unique())
    with pytest.warns(EhcpWarning, match="add_drivers"):
        whole = LeadGrowth().fit(df.drop(columns="requests"))
    assert len(whole.describe()["fallback"]) == 12


def test_too_little_history_forecasts_the_national_trend() -> None:
    df = _plans()
    short = df[df["ds"] >= 2022]  # two years of requests changes: no training rows
    model = LeadGrowth().fit(short)
    assert model.describe()["coef"] == {} and model.describe()["rows"] < 20
    fc = model.predict(2, level=())
    assert np.isfinite(fc["yhat"]).all()
    # The trend by hand: the median (here the mean) of the all-LA requests total's two log
    # changes, 2022-2023 and 2023-2024; each LA grows from its own last value at that rate.
    total = short.groupby("ds")["requests"].sum()
    trend = 0.5 * np.log(total[2024] / total[2022])
    last = short[short["ds"] == 2024].set_index("unique_id")["y"]
    want = np.outer(last, np.exp(trend * np.arange(1, 3)))
    got = fc.pivot(index="unique_id", columns="ds", values="yhat").loc[last.index].to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_refusals_add_the_agreed_share_feature() -> None:
    df = _plans()
    rng = np.random.default_rng(3)
    share = rng.uniform(0.6, 0.9, len(df))
    # Plans follow the requests agreed for assessment: LAs refusing fewer issue more.
    with_ref = df.assign(refused=df["requests"] * (1 - share), y=df["y"] * share / 0.75)
    model = LeadGrowth().fit(with_ref)
    assert list(model.describe()["coef"]) == [*FEATURES, "agreed_share"]
    assert "agreed_share" not in LeadGrowth().fit(df).describe()["coef"]
    assert "agreed_share" not in LeadGrowth(refused=None).fit(with_ref).describe()["coef"]
    all_missing = with_ref.assign(refused=np.nan)
    assert "agreed_share" not in LeadGrowth().fit(all_missing).describe()["coef"]


def test_timeliness_adds_its_two_features_only_with_both_columns() -> None:
    df = _plans()
    rng = np.random.default_rng(4)
    timed = df["y"].round()
    with_time = df.assign(timed=timed, within_20wk=(timed * rng.uniform(0.1, 0.9, len(df))).round())
    coef = LeadGrowth().fit(with_time).describe()["coef"]
    assert list(coef) == [*FEATURES, "timeliness", "timeliness_change"]
    assert set(OPTIONAL_FEATURES) >= set(coef) - set(FEATURES)
    assert "timeliness" not in LeadGrowth().fit(with_time.drop(columns="timed")).describe()["coef"]
    assert "timeliness" not in LeadGrowth(timeliness=None).fit(with_time).describe()["coef"]
    fc = LeadGrowth().fit(with_time).predict(3, level=(80,))
    assert np.isfinite(fc["yhat"]).all() and len(fc) == 36


def test_saved_model_forecasts_the_same(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from forecasting.persist import load_model, save_model

    df = _plans().assign(refused=lambda d: 0.2 * d["requests"])
    model = LeadGrowth().fit(df)
    again = load_model(save_model(model, tmp_path / "lead_growth.json"))
    pd.testing.assert_frame_equal(model.predict(3), again.predict(3))
