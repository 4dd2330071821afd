"""Staff costs by role, grade and financial year."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from forecasting.config_io import validate
from forecasting.costs import (
    CostsConfig,
    annual_cost_per_fte,
    cost_by_financial_year,
    inflation_factor,
    locum_hourly_rate,
    weekly_staff_cost,
)
from forecasting.errors import EhcpError

# Wokingham 2023/24 average EP cost with on-costs, data/raw/reference_parameters_from_pages.csv.
EP_COST = 71385.0

COSTS = {
    "price_base_fy": "2023-24",
    "pay_inflation": 0.03,
    "roles": {
        "ep": {"grades": {"all": {"salary_gbp": EP_COST}}},
        "caseworker": {
            "grades": {
                "main": {"salary_gbp": 32000, "on_cost_rate": 0.3, "share": 0.75},
                "senior": {"salary_gbp": 40000, "on_cost_rate": 0.3, "share": 0.25},
            }
        },
    },
    "locum": {"ep_day_rate_gbp": 555, "hours_per_day": 7.4},
}


@pytest.fixture
def costs() -> CostsConfig:
    return CostsConfig.model_validate(COSTS)


def test_ep_day_rate_matches_the_published_figure(costs: CostsConfig) -> None:
    # The page quotes £324.50 a day assuming 220 working days.
    day = annual_cost_per_fte(costs, "ep", "2023-24") / costs.working_days_per_year
    assert day == pytest.approx(324.48, abs=0.01)


def test_grade_mix_and_inflation(costs: CostsConfig) -> None:
    cw = 0.75 * 32000 * 1.3 + 0.25 * 40000 * 1.3
    assert annual_cost_per_fte(costs, "caseworker", "2023-24") == pytest.approx(cw)
    assert annual_cost_per_fte(costs, "caseworker", "2025-26") == pytest.approx(cw * 1.03**2)
    assert inflation_factor(costs, "2022-23") == pytest.approx(1 / 1.03)
    assert locum_hourly_rate(costs, "2023-24") == pytest.approx(75.0)


def test_a_full_year_of_one_fte_costs_the_annual_figure(costs: CostsConfig) -> None:
    # 2024-04-01 .. 2025-03-31 holds 52 Mondays plus one day: weeks cover 52*7 = 364 days.
    weeks = pd.date_range("2024-04-01", "2025-03-31", freq="W-MON")
    weekly = pd.DataFrame({"ds": weeks, "ep_fte": 1.0, "caseworker_fte": 0.0, "locum_hours": 0.0})
    table = cost_by_financial_year(weekly, costs)
    assert table["period"].tolist() == ["2024-25"]
    assert table["period_type"].tolist() == ["financial"]
    expected = EP_COST * 1.03 * len(weeks) * 7 / 365.25
    assert table["total_cost_gbp"].iloc[0] == pytest.approx(expected)


def test_groups_are_kept_and_lines_add_up(costs: CostsConfig) -> None:
    weekly = pd.DataFrame(
        {
            "scenario": ["a", "a", "b", "b"],
            "ds": pd.to_datetime(["2026-03-30", "2026-04-06"] * 2),
            "ep_fte": [1.0, 1.0, 2.0, 2.0],
            "caseworker_fte": [3.0, 3.0, 3.0, 3.0],
            "locum_hours": [0.0, 10.0, 0.0, 0.0],
        }
    )
    table = cost_by_financial_year(weekly, costs, by=["scenario"])
    assert table[["scenario", "period"]].values.tolist() == [
        ["a", "2025-26"], ["a", "2026-27"], ["b", "2025-26"], ["b", "2026-27"],
    ]
    lines = table[["ep_cost_gbp", "caseworker_cost_gbp", "locum_cost_gbp"]].sum(axis=1)
    np.testing.assert_allclose(lines, table["total_cost_gbp"])
    direct = weekly_staff_cost(
        costs, weekly["ds"], ep_fte=weekly["ep_fte"], caseworker_fte=weekly["caseworker_fte"],
        locum_hours=weekly["locum_hours"],
    )
    assert direct.sum() == pytest.approx(table["total_cost_gbp"].sum())


def test_missing_columns_are_named(costs: CostsConfig) -> None:
    with pytest.raises(EhcpError, match="caseworker_fte"):
        cost_by_financial_year(pd.DataFrame({"ds": [], "ep_fte": []}), costs)


@pytest.mark.parametrize(
    ("patch", "field", "words"),
    [
        ({"price_base_fy": "2023/24"}, "costs.price_base_fy", "financial year"),
        ({"pay_inflation": 0.5}, "costs.pay_inflation", "less than or equal"),
        ({"roles": {"ep": COSTS["roles"]["ep"]}}, "costs.roles", "missing caseworker"),
        ({"locum": {"ep_day_rate_gbp": 500, "hours_per_dya": 7}}, "costs.locum.hours_per_dya",
         "did you mean 'hours_per_day'"),
    ],
)
def test_bad_costs_name_the_field(patch: dict, field: str, words: str) -> None:
    with pytest.raises(EhcpError) as err:
        validate(CostsConfig, {**COSTS, **patch}, "c.yaml", prefix="costs")
    assert err.value.field == field
    assert words in str(err.value)


def test_grade_shares_must_sum_to_one() -> None:
    roles = {**COSTS["roles"], "ep": {"grades": {"a": {"salary_gbp": 1, "share": 0.5}}}}
    with pytest.raises(ValidationError, match="sum to 1"):
        CostsConfig.model_validate({**COSTS, "roles": roles})


@settings(max_examples=40, deadline=None)
@given(
    ep=st.floats(0, 50), cw=st.floats(0, 50), locum=st.floats(0, 500), more=st.floats(0, 10)
)
def test_more_staff_never_costs_less(ep: float, cw: float, locum: float, more: float) -> None:
    costs = CostsConfig.model_validate(COSTS)
    ds = pd.to_datetime(["2027-01-04"])
    base = weekly_staff_cost(costs, ds, ep_fte=ep, caseworker_fte=cw, locum_hours=locum)[0]
    for kw in ({"ep_fte": ep + more, "caseworker_fte": cw}, {"ep_fte": ep, "caseworker_fte": cw + more}):
        assert weekly_staff_cost(costs, ds, locum_hours=locum, **kw)[0] >= base
