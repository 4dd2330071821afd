"""Calibration of the productivity factor to published timeliness (DfE SEN2)."""

from __future__ import annotations

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
)
from forecasting.capacity.config import CapacityConfig, PoolConfig, capacity_config
from forecasting.capacity.staff import simulate_pool
from forecasting.config_io import validate
from forecasting.errors import EhcpError


def small() -> CapacityConfig:
    def pool(fte: float) -> dict:
        return {"fte": [{"date": "2025-04-01", "fte": fte}], "attrition_per_year": 0.0}

    return capacity_config({
        "simulation": {"start": "2025-04-01", "years": 1, "seed": 3},
        "staff": {"ep": pool(3), "caseworker": pool(3)},
        "demand": {"requests_per_year": 300, "stock": {"plans_at_start": 100},
                   "initial": {"share_late": 0.5, "mean_weeks_late": 6}},
    })


def published(pct: float) -> PublishedYear:
    return PublishedYear(year=2024, pct_within_20wk=pct, plans_within_20wk=0, plans_issued=0,
                         requests=300, requests_before=300, stock_at_start=100,
                         pct_year_before=50.0)


@pytest.fixture(scope="module")
def fit() -> object:
    return calibrate(small(), published(40.0), CalibrationConfig(n_paths=4, max_evaluations=14))


def test_leeds_2024_published_figure(raw_dir) -> None:
    from forecasting.data import find_la, load_panel

    panel = load_panel(raw_dir)
    pub = published_year(panel, find_la(panel, "Leeds"))
    # DfE SEN2: Leeds issued 67 of 717 new plans within 20 weeks (exceptions excluded) in 2024.
    assert (pub.year, pub.plans_within_20wk, pub.plans_issued) == (2024, 67.0, 717.0)
    assert round(pub.pct_within_20wk, 1) == 9.3
    assert pub.requests == 2313.0
    with pytest.raises(EhcpError) as err:
        published_year(panel, find_la(panel, "Leeds"), 2012)
    assert err.value.field == "calibration.year"


def test_productivity_scales_every_hour() -> None:
    base = {"fte": [{"date": "2025-01-01", "fte": 4}], "attrition_per_year": 0.0,
            "locum_hours": [{"date": "2025-01-01", "hours_per_week": 70}]}
    full = simulate_pool(PoolConfig.model_validate(base), date(2025, 1, 1), 14, 2,
                         np.random.default_rng(0))
    half = simulate_pool(PoolConfig.model_validate({**base, "productivity": 0.5}),
                         date(2025, 1, 1), 14, 2, np.random.default_rng(0))
    assert np.allclose(half.hours, full.hours / 2)
    assert np.array_equal(half.in_post, full.in_post)
    cfg = apply_productivity(apply_productivity(small(), 0.5), 0.8)
    assert cfg.staff.ep.productivity == pytest.approx(0.4)
    assert apply_productivity(small(), 1.0) is not None


def test_replay_config_holds_the_start_staffing() -> None:
    cfg = calibration_config(small(), published(40.0))
    assert cfg.simulation.start == date(2023, 1, 1) and cfg.simulation.years == 2
    assert cfg.demand.source == "fixed" and cfg.demand.requests_in(2024) == 300
    assert cfg.demand.initial.share_late == pytest.approx(0.5)
    assert [c.fte for c in cfg.staff.ep.fte] == [3.0]


def test_calibration_matches_the_published_figure(fit) -> None:
    assert fit.converged
    assert abs(fit.simulated_pct - 40.0) <= 0.5
    assert 0.1 <= fit.factor <= 3.0
    # Same seed for every trial: more productivity never lowers the simulated figure much.
    trials = fit.trials.sort_values("factor")
    assert (trials["simulated_pct"].diff().dropna() > -5).all()
    assert "productivity factor" in fit.describe() and "40.0%" in fit.describe()


def test_unreachable_target_is_reported_not_converged() -> None:
    # 3 EPs and 3 caseworkers with 300 requests issue most plans in time even at 95%
    # productivity: 0% within 20 weeks cannot be reached within these bounds.
    res = calibrate(small(), published(0.0), CalibrationConfig(
        n_paths=2, max_evaluations=4, factor_bounds=(0.95, 1.05)))
    assert not res.converged
    assert res.factor == pytest.approx(0.95)
    assert res.simulated_pct > 0.5
    assert "closest the search got" in res.describe()
    assert len(res.trials) <= 4


def test_bad_calibration_settings_name_the_field() -> None:
    with pytest.raises(EhcpError) as err:
        validate(CalibrationConfig, {"factor_bounds": [1.5, 2.0]}, prefix="calibration")
    assert "calibration" in str(err.value)
    with pytest.raises(EhcpError) as err:
        validate(CalibrationConfig, {"n_path": 5}, prefix="calibration")
    assert "n_paths" in str(err.value)


def test_the_factor_can_be_kept_to_one_pool() -> None:
    cfg = apply_productivity(small(), 0.5, ("ep",))
    assert (cfg.staff.ep.productivity, cfg.staff.caseworker.productivity) == (0.5, 1.0)
    assert validate(CalibrationConfig, {"pools": ["ep"]}).pools == ("ep",)
    with pytest.raises(EhcpError):
        validate(CalibrationConfig, {"pools": ["eps"]}, prefix="calibration")
