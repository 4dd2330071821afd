"""Prophet on short annual counts and on monthly counts with term-time seasonality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.models import get_model
from forecasting.models.prophet_model import ProphetModel, school_holiday_share

# Calendar-month weights of the committed synthetic generator (forecasting.data.synthetic):
# low in August, December and April, as school holidays make them.
TERM_WEIGHTS = np.array([1.0, 1.05, 1.1, 0.85, 1.0, 1.1, 0.95, 0.35, 1.0, 1.2, 1.2, 0.9])


def _monthly(seed: int, years: int = 4, level: float = 150.0, growth_sd: float = 0.15,
             start: str = "2021-01-01") -> pd.DataFrame:
    """Poisson counts with term-time weights around a level growing 15% a year on average,
    drifting as a random walk with a yearly sd of ``growth_sd``."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range(start, periods=12 * years, freq="MS")
    steps = rng.normal(0.15 / 12, growth_sd / np.sqrt(12), len(ds))
    mean = level * np.exp(np.cumsum(steps)) * TERM_WEIGHTS[ds.month - 1]
    return pd.DataFrame({"unique_id": f"s{seed}", "ds": ds, "y": rng.poisson(mean).astype(float)})


def test_school_holidays_follow_the_english_calendar() -> None:
    months = pd.date_range("2024-01-01", periods=12, freq="MS")
    share = dict(zip(months.month, school_holiday_share(months), strict=True))
    assert share[8] == 1.0 and share[6] == 0.0  # all of August, none of June 2024
    assert 0.2 < share[2] < 0.3  # a week's half-term in February
    # Easter moves: 31 March 2024 puts the holiday mostly in March, 20 April 2025 in April.
    march = school_holiday_share(pd.to_datetime(["2024-03-01", "2025-03-01"]))
    april = school_holiday_share(pd.to_datetime(["2024-04-01", "2025-04-01"]))
    assert march[0] > march[1] and april[1] > april[0]


def test_notebook_04_monthly_bands_are_sensible() -> None:
    # The synthetic Leeds extract's monthly requests, 2021-2024 (as notebook 04 builds them).
    from forecasting.data.caselevel import default_as_of, load_extract, monthly_series

    cases = load_extract("data/synthetic/leeds_case_extract_synthetic.csv", strict=False)
    monthly = monthly_series(cases)
    day, start = default_as_of(cases), pd.Timestamp(cases.metadata["start"])
    keep = (monthly["unique_id"] == "requests") & (monthly["ds"] >= start) & (
        monthly["ds"] + pd.offsets.MonthEnd(0) <= day)
    requests = monthly[keep].reset_index(drop=True)
    assert len(requests) == 48 and requests["y"].max() < 300
    fc = get_model("prophet").fit(requests).predict(24, level=(80, 95))
    # Before: the 95% band reached ~10,000 a month within two years (a random walk in the
    # monthly residual spread); now it stays within a few times the latest year's level.
    assert fc["hi_95"].max() < 1000
    assert (fc["lo_95"] > 0).all()
    aug = fc[fc["ds"].dt.month == 8]["yhat"].to_numpy()
    sep = fc[fc["ds"].dt.month == 9]["yhat"].to_numpy()
    assert (aug < 0.6 * sep).all()  # the summer holiday is kept in the forecast


@pytest.mark.slow
def test_monthly_intervals_cover_about_what_they_claim() -> None:
    # A backtest on series drawn from the process the intervals describe: month-to-month
    # noise around a level that drifts from year to year.
    hits = {80: [], 95: []}
    for seed in range(6):
        df = _monthly(seed, years=5)
        for cutoff in pd.to_datetime(["2023-06-01", "2023-12-01"]):
            train, test = df[df["ds"] <= cutoff], df[df["ds"] > cutoff]
            fc = ProphetModel().fit(train).predict(12).merge(test, on=["unique_id", "ds"])
            for lv in hits:
                hits[lv] += list((fc["y"] >= fc[f"lo_{lv}"]) & (fc["y"] <= fc[f"hi_{lv}"]))
    assert 0.68 <= np.mean(hits[80]) <= 0.92, np.mean(hits[80])
    assert 0.85 <= np.mean(hits[95]) <= 1.0, np.mean(hits[95])


@pytest.mark.parametrize(("values", "n_cp"), [
    ([636.0, 830, 1179, 953, 786, 803, 1284, 1497, 2313], None),  # Leeds requests: 3
    ([2873.0, 3140, 3503, 3938, 4339, 4566, 4750, 5137, 5553, 5980, 6093, 6400], None),  # 4
    ([120.0, 150, 140, 160], None),  # one changepoint
    ([120.0, 150, 140, 160, 175], 0),  # none: Prophet folds the slope change into the rate
    ([50.0, 50, 50, 50, 50], None),  # constant: Prophet skips Stan
])
def test_annual_trend_fit_is_prophets_own(values: list[float], n_cp: int | None) -> None:
    from prophet import Prophet

    from forecasting.models.prophet_model import quiet_stan

    n = len(values)
    df = pd.DataFrame({"unique_id": "a", "ds": range(2024 - n + 1, 2025), "y": values})
    model = ProphetModel(covid=False, n_changepoints=n_cp).fit(df)
    fitted = model.states_["a"][1]
    # The reference: Prophet itself, with the settings ProphetModel documents for annual data.
    ref = Prophet(growth="linear", yearly_seasonality=False, weekly_seasonality=False,
                  daily_seasonality=False,
                  n_changepoints=min(n // 3 if n_cp is None else n_cp, n - 2),
                  uncertainty_samples=0)
    stamps = pd.to_datetime([f"{d}-01-01" for d in df["ds"]])
    with quiet_stan():
        ref.fit(pd.DataFrame({"ds": stamps, "y": np.log1p(values)}), algorithm="Newton")
    assert ref.seasonalities == {}  # no spurious seasonality on annual data
    for key in ("k", "m", "delta", "sigma_obs"):
        np.testing.assert_allclose(fitted.params[key], ref.params[key], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(fitted.changepoints_t, ref.changepoints_t)
    future = pd.DataFrame({"ds": pd.to_datetime(["2025-01-01", "2026-01-01"])})
    expect = np.expm1(ref.predict(future)["yhat"].to_numpy())
    np.testing.assert_allclose(model.predict(2)["yhat"], expect, rtol=1e-6)


def test_monthly_paths_reproduce_the_bands() -> None:
    model = ProphetModel().fit(_monthly(seed=7, years=3))
    fc = model.predict(12, level=(80,))
    paths = model.simulate(12, n_paths=2000, seed=5)
    assert paths["ds"].dt.month.tolist()[:12] == [*range(1, 13)]
    both = paths.merge(fc, on=["unique_id", "ds"])
    inside = ((both["y"] >= both["lo_80"]) & (both["y"] <= both["hi_80"])).groupby(both["ds"]).mean()
    assert inside.between(0.77, 0.83).all(), inside
    # Joint across months: a path high in January tends to stay high (the level drifts).
    wide = paths.pivot(index="sample_id", columns="ds", values="y")
    assert np.corrcoef(wide.iloc[:, 0], wide.iloc[:, 11])[0, 1] > 0.1
