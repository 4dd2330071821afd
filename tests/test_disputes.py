"""Mediation and tribunal workload: config, capacity set aside, weekly counts and costs."""

from __future__ import annotations

import warnings
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.capacity.config import CapacityConfig, PoolConfig, capacity_config
from forecasting.capacity.disputes import (
    DISPUTE_COLUMNS,
    add_dispute_columns,
    expected_decisions,
    reserved_hours_by_year,
    with_dispute_workload,
)
from forecasting.capacity.simulate import simulate_capacity
from forecasting.capacity.staff import simulate_pool
from forecasting.costs import CostsConfig, cost_by_financial_year
from forecasting.errors import EhcpError, EhcpWarning


def small(disputes: dict | None = None, requests: float = 400.0) -> CapacityConfig:
    pool = {"fte": [{"date": "2025-04-01", "fte": 3}], "attrition_per_year": 0.0}
    pipeline: dict = {"p_refused": 0.25, "p_not_issued": 0.0}
    if disputes is not None:
        pipeline["disputes"] = disputes
    return capacity_config({
        "simulation": {"start": "2025-04-01", "years": 1},
        "pipeline": pipeline,
        "staff": {"ep": pool, "caseworker": pool},
        "demand": {"requests_per_year": requests, "stock": {"plans_at_start": 100}},
    })


HEAVY = {"mediation": {"refusals": 0.5, "plans": 0.2, "reviews": 0.1},
         "tribunal": {"refusals": 0.2, "plans": 0.2, "reviews": 0.05},
         "mediation_hours": {"caseworker": 8}, "tribunal_hours": {"caseworker": 30, "ep": 10}}


def sim(cfg: CapacityConfig) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EhcpWarning)
        return simulate_capacity(cfg, n_paths=3, seed=4).weekly


def test_zero_rates_leave_the_config_and_the_simulation_unchanged() -> None:
    cfg = small()
    assert with_dispute_workload(cfg) is cfg
    zero = small({"mediation": {"refusals": 0.0}, "tribunal_hours": {"caseworker": 50}})
    assert with_dispute_workload(zero) is zero
    pd.testing.assert_frame_equal(sim(cfg), sim(zero))


def test_reserved_hours_come_off_the_pool_exactly() -> None:
    base = {"fte": [{"date": "2025-01-01", "fte": 4}], "attrition_per_year": 0.0,
            "statutory_share": 1.0, "absence_rate": 0.0, "hours_per_fte_week": 35.0}
    plain = PoolConfig.model_validate(base)
    held = PoolConfig.model_validate({**base, "reserved_hours": [
        {"date": "2025-01-08", "hours_per_week": 70.0}]})
    a = simulate_pool(plain, date(2025, 1, 1), 21, 2, np.random.default_rng(1))
    b = simulate_pool(held, date(2025, 1, 1), 21, 2, np.random.default_rng(1))
    # 4 FTE x 5 h a day = 20 h; from day 7 on, 10 h a day are set aside.
    assert a.hours[0, :7].tolist() == [20.0] * 7 == b.hours[0, :7].tolist()
    assert np.allclose(b.hours[:, 7:], 10.0)


def test_reserved_hours_follow_expected_decisions() -> None:
    cfg = with_dispute_workload(small(HEAVY))
    dec = expected_decisions(small(HEAVY), {2025: 400.0, 2026: 400.0})
    # By hand: 100 refusals, 300 plans and 100 x 1.05 reviews in 2025 (5% under-fives twice a year).
    first = dec.iloc[0]
    assert (first["refusals"], first["plans"]) == (100.0, 300.0)
    assert first["reviews"] == pytest.approx(100 * (0.95 + 0.05 * 2))
    cw_year = (100 * (0.5 * 8 + 0.2 * 30) + 300 * (0.2 * 8 + 0.2 * 30)
               + first["reviews"] * (0.1 * 8 + 0.05 * 30))
    assert cfg.staff.caseworker.reserved_hours[0].hours_per_week == pytest.approx(
        cw_year * 7 / 365.25)
    ep_year = 100 * 0.2 * 10 + 300 * 0.2 * 10 + first["reviews"] * 0.05 * 10
    assert cfg.staff.ep.reserved_hours[0].hours_per_week == pytest.approx(ep_year * 7 / 365.25)


def test_dispute_work_slows_the_pipeline_on_the_same_paths() -> None:
    plain, heavy = sim(small()), sim(with_dispute_workload(small(HEAVY)))
    # Common random numbers: the same requests arrive; less staff time is left for them.
    assert np.array_equal(plain["requests"].to_numpy(), heavy["requests"].to_numpy())
    assert heavy["caseworker_hours_available"].sum() < plain["caseworker_hours_available"].sum()
    assert heavy["open_new"].sum() > plain["open_new"].sum()


def test_weekly_counts_and_costs_by_financial_year() -> None:
    cfg = small(HEAVY)
    w = pd.DataFrame({"ds": pd.to_datetime(["2026-03-30", "2026-04-06"]), "refused": [2, 0],
                      "not_issued": [0, 0], "plans_issued": [0, 10], "reviews_done": [0, 0],
                      "ep_fte": 0.0, "caseworker_fte": 0.0, "locum_hours": 0.0})
    out = add_dispute_columns(w, cfg.pipeline)
    assert set(DISPUTE_COLUMNS) <= set(out.columns)
    assert out["mediations"].tolist() == pytest.approx([1.0, 2.0])
    assert out["tribunals"].tolist() == pytest.approx([0.4, 2.0])
    assert out["ep_dispute_hours"].tolist() == pytest.approx([4.0, 20.0])
    costs = CostsConfig.model_validate({
        "price_base_fy": "2025-26", "pay_inflation": 0.1,
        "roles": {"ep": {"grades": {"a": {"salary_gbp": 1}}},
                  "caseworker": {"grades": {"a": {"salary_gbp": 1}}}},
        "locum": {"ep_day_rate_gbp": 1},
        "disputes": {"mediation_gbp": 100, "tribunal_gbp": 1000}})
    by_fy = cost_by_financial_year(out, costs).set_index("period")
    assert by_fy.loc["2025-26", "dispute_cost_gbp"] == pytest.approx(1 * 100 + 0.4 * 1000)
    # The next financial year is priced 10% higher.
    assert by_fy.loc["2026-27", "dispute_cost_gbp"] == pytest.approx((2 * 100 + 2 * 1000) * 1.1)
    assert by_fy.loc["2026-27", "total_cost_gbp"] == pytest.approx(by_fy.loc["2026-27", "dispute_cost_gbp"])


@pytest.mark.parametrize(("disputes", "field"), [
    ({"tribunal": {"plans": 1.5}}, "pipeline.disputes.tribunal.plans"),
    ({"mediation": {"refusal": 0.1}}, "pipeline.disputes.mediation.refusal"),
    ({"tribunal_hours": {"ep": -1}}, "pipeline.disputes.tribunal_hours.ep"),
])
def test_bad_dispute_values_name_the_field(disputes: dict, field: str) -> None:
    with pytest.raises(EhcpError) as err:
        small(disputes)
    assert err.value.field == field


def test_reservation_follows_the_median_path_not_an_explosive_one() -> None:
    cfg = small(HEAVY)
    rows = [("X", y, s, v) for y in (2025, 2026) for s, v in enumerate([400.0, 400.0, 40_000.0])]
    paths = pd.DataFrame(rows, columns=["unique_id", "ds", "sample_id", "y"])
    assert with_dispute_workload(cfg, paths) == with_dispute_workload(cfg)


@settings(max_examples=25, deadline=None)
@given(rates=st.lists(st.floats(0, 0.5), min_size=6, max_size=6),
       hours=st.lists(st.floats(0, 50), min_size=4, max_size=4))
def test_reserved_hours_are_linear_in_the_rates(rates: list[float], hours: list[float]) -> None:
    def disputes(scale: float) -> dict:
        kinds = ("refusals", "plans", "reviews")
        return {"mediation": {k: scale * r for k, r in zip(kinds, rates[:3], strict=True)},
                "tribunal": {k: scale * r for k, r in zip(kinds, rates[3:], strict=True)},
                "mediation_hours": {"caseworker": hours[0], "ep": hours[1]},
                "tribunal_hours": {"caseworker": hours[2], "ep": hours[3]}}

    dec = expected_decisions(small(), {2025: 400.0, 2026: 500.0})
    one = reserved_hours_by_year(small(disputes(1.0)), dec)
    two = reserved_hours_by_year(small(disputes(2.0)), dec)
    assert (one[["ep", "caseworker"]] >= 0).all().all()
    np.testing.assert_allclose(two[["ep", "caseworker"]], 2 * one[["ep", "caseworker"]],
                               rtol=1e-9, atol=1e-9)
