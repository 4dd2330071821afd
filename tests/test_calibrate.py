"""Calibration of the productivity factors to an LA's published year (DfE SEN2)."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from forecasting.capacity.calibrate import (
    CalibrationConfig,
    PublishedYear,
    apply_productivity,
    calibrate,
    calibration_config,
    published_year,
    replay_metrics,
)
from forecasting.capacity.config import CapacityConfig, PoolConfig, capacity_config
from forecasting.capacity.staff import simulate_pool
from forecasting.config_io import validate
from forecasting.errors import EhcpError

TRUE_EP, TRUE_CW = 0.6, 0.7


def small() -> CapacityConfig:
    def pool(fte: float) -> dict:
        return {"fte": [{"date": "2025-04-01", "fte": fte}], "attrition_per_year": 0.0}

    return capacity_config({
        "simulation": {"start": "2025-04-01", "years": 1, "seed": 3},
        "staff": {"ep": pool(2), "caseworker": pool(3.5)},
        "demand": {"requests_per_year": 300, "stock": {"plans_at_start": 300},
                   "initial": {"share_late": 0.5, "mean_weeks_late": 6}},
    })


def published(**kw: float) -> PublishedYear:
    base = dict(year=2024, pct_within_20wk=40.0, plans_within_20wk=80, plans_issued=200,
                requests=300, requests_before=300, stock_at_start=300, new_plans=200,
                requests_refused=60, requests_decided_to_assess=240, reviews_within_4wk=100,
                reviews_over_4wk=100)
    return PublishedYear(**{**base, **kw})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def truth() -> PublishedYear:
    """Published figures made by the replay itself at known factors (another seed)."""
    from forecasting.capacity.simulate import simulate_capacity

    pub = published()
    cfg = calibration_config(small(), pub)
    cfg = apply_productivity(apply_productivity(cfg, TRUE_EP, ("ep",)), TRUE_CW, ("caseworker",))
    m = replay_metrics(simulate_capacity(cfg, n_paths=8, seed=99).weekly, 2024)
    return published(new_plans=m["plans_issued"], pct_within_20wk=m["pct_within_20wk"],
                     reviews_within_4wk=m["reviews_decided"], reviews_over_4wk=0.0)


@pytest.fixture(scope="module")
def fit(truth: PublishedYear) -> object:
    return calibrate(small(), truth, CalibrationConfig(n_paths=8, tolerance_share=0.01))


def test_leeds_2024_published_figures(raw_dir) -> None:
    from forecasting.data import find_la, load_panel

    panel = load_panel(raw_dir)
    pub = published_year(panel, find_la(panel, "Leeds"))
    # DfE SEN2: Leeds issued 67 of 717 new plans within 20 weeks (exceptions excluded) in 2024.
    assert (pub.year, pub.plans_within_20wk, pub.plans_issued, pub.new_plans) == (
        2024, 67.0, 717.0, 773.0)
    assert round(pub.pct_within_20wk, 1) == 9.3
    assert (pub.requests, pub.requests_before, pub.stock_at_start) == (2313.0, 1497.0, 5508.0)
    assert pub.requests_decided == 356 + 1672 and pub.reviews_decided == 208 + 1951
    # The LA's own routing: (356 + 11) / (356 + 11 + 1672) refused or withdrawn; 10 / 774.
    assert pub.routing() == {"p_refused": 0.18, "p_not_issued": 0.0129, "p_exception": 0.0}
    late, weeks = pub.late_backlog() or (0.0, 0.0)
    # 2023: 845 late plans, 324 over a year -> ~33 weeks late on average; ~540 open late.
    assert weeks == pytest.approx(32 / math.log(845 / 324))
    assert late == pytest.approx(845 * weeks / 52)
    assert math.isnan(pub.reviews_outstanding_before)  # not published for 2023
    with pytest.raises(EhcpError) as err:
        published_year(panel, find_la(panel, "Leeds"), 2012)
    assert err.value.field == "calibration.year"


def test_productivity_scales_in_house_hours_not_locums() -> None:
    base = {"fte": [{"date": "2025-01-01", "fte": 4}], "attrition_per_year": 0.0}
    locum = {"locum_hours": [{"date": "2025-01-01", "hours_per_week": 70}]}

    def hours(extra: dict) -> np.ndarray:
        return simulate_pool(PoolConfig.model_validate({**base, **extra}), date(2025, 1, 1), 14,
                             2, np.random.default_rng(0)).hours

    assert np.allclose(hours({"productivity": 0.5}), hours({}) / 2)
    with_locum = hours({**locum, "productivity": 0.5})
    assert np.allclose(with_locum, hours({}) / 2 + 10.0)  # 70 locum hours a week, unscaled
    cfg = apply_productivity(apply_productivity(small(), 0.5), 0.8)
    assert cfg.staff.ep.productivity == pytest.approx(0.4)
    one = apply_productivity(small(), 0.5, ("ep",))
    assert (one.staff.ep.productivity, one.staff.caseworker.productivity) == (0.5, 1.0)


def test_replay_config_uses_the_published_year() -> None:
    pub = published(plans_issued_before=200, plans_within_20wk_before=40,
                    plans_over_1yr_before=40, assessments_completed=200, assessed_not_issued=4,
                    reviews_outstanding_before=25)
    staff = {"ep": {"locum_hours": [{"date": "2024-01-01", "hours_per_week": 0}]}}
    cfg = calibration_config(small(), pub, staff)
    assert cfg.simulation.start == date(2024, 1, 1) and cfg.simulation.years == 1
    assert cfg.demand.source == "fixed" and cfg.demand.requests_in(2024) == 300
    assert cfg.pipeline.p_refused == pytest.approx(0.2) and cfg.pipeline.p_not_issued == 0.02
    init = cfg.demand.initial
    assert init.in_time_cases == pytest.approx(300 * 20 / 52)
    assert init.late_cases == pytest.approx(160 * (32 / math.log(4)) / 52)
    assert init.reviews_overdue == 25
    assert [c.fte for c in cfg.staff.ep.fte] == [2.0]
    with pytest.raises(EhcpError) as err:
        calibration_config(small(), pub, {"ep": {"locum_hour": []}})
    assert err.value.field == "calibration.replay_staff.ep.locum_hour"
    assert "locum_hours" in str(err.value)


def test_calibration_recovers_known_factors(fit, truth) -> None:
    # The published figures came from the replay at EP 0.6 and caseworkers 0.7 on another seed.
    assert fit.converged
    assert fit.factors["ep"] == pytest.approx(TRUE_EP, abs=0.1)
    assert fit.factors["caseworker"] == pytest.approx(TRUE_CW, abs=0.1)
    assert fit.replay["plans_issued"] == pytest.approx(truth.new_plans, rel=0.03)
    assert fit.replay["reviews_decided"] == pytest.approx(truth.reviews_decided, rel=0.03)
    table = fit.comparison()
    assert set(table["period_type"]) == {"calendar"} and len(table) == 6
    words = fit.describe()
    assert "EPs 0.6" in words and "from new plans issued" in words
    assert fit.apply(small()).staff.caseworker.productivity == pytest.approx(
        fit.factors["caseworker"])


def test_unreachable_target_is_reported_not_converged() -> None:
    # 2 EPs cannot issue 5,000 plans a year from 300 requests at any factor within the bounds.
    res = calibrate(small(), published(new_plans=5000), CalibrationConfig(
        n_paths=2, max_evaluations=4, factor_bounds=(0.5, 1.5), caseworker_target="none"))
    assert not res.converged
    assert res.factors["ep"] in (1.0, 1.5) and res.replay["plans_issued"] < 1000
    assert "closest the search got" in res.describe()


def test_unidentified_pool_keeps_factor_one() -> None:
    pub = published(reviews_within_4wk=float("nan"), reviews_over_4wk=float("nan"))
    res = calibrate(small(), pub, CalibrationConfig(n_paths=2, max_evaluations=3, rounds=1))
    assert res.targets["caseworker"] == "none" and res.factors["caseworker"] == 1.0
    assert "not identified" in res.describe()


def test_bad_calibration_settings_name_the_field() -> None:
    with pytest.raises(EhcpError) as err:
        validate(CalibrationConfig, {"factor_bounds": [1.5, 2.0]}, prefix="calibration")
    assert "calibration" in str(err.value)
    with pytest.raises(EhcpError) as err:
        validate(CalibrationConfig, {"n_path": 5}, prefix="calibration")
    assert "n_paths" in str(err.value)
    with pytest.raises(EhcpError):
        validate(CalibrationConfig, {"ep_target": "plans"}, prefix="calibration")
