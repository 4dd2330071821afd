"""Phased staffing plans by financial year."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from forecasting.capacity.config import capacity_config
from forecasting.capacity.staff import step_calendar
from forecasting.optimise import Staffing, apply_staffing, optimise
from forecasting.optimise_phased import PhasedPlan, apply_plan, financial_years, phase_plan
from forecasting.scenarios import SearchBounds, Target

T27 = Target(name="t27", metric="pct_within_20_weeks", at_least=60, financial_year="2027-28",
             probability=0.5)
YEARS = financial_years(date(2026, 4, 1), date(2029, 3, 31))


def test_financial_years_cover_the_horizon() -> None:
    assert [fy for fy, _ in YEARS] == ["2026-27", "2027-28", "2028-29"]
    assert financial_years(date(2026, 6, 1), date(2026, 12, 1)) == [("2026-27", date(2026, 6, 1))]


def test_apply_plan_matches_apply_staffing_for_a_flat_plan() -> None:
    pool = {"fte": [{"date": "2025-04-01", "fte": 10}, {"date": "2027-06-01", "fte": 12}]}
    cfg = capacity_config({"staff": {"ep": pool, "caseworker": pool}})
    extra = Staffing(2, 3, 40)
    flat = PhasedPlan(tuple(fy for fy, _ in YEARS), tuple(d for _, d in YEARS), (extra,) * 3)
    a, b = apply_plan(cfg, flat), apply_staffing(cfg, extra, date(2026, 4, 1))

    def level(changes, key, day):
        return ([0.0] + [getattr(c, key) for c in changes if c.date <= day])[-1]

    for day in [date(2025, 5, 1), date(2026, 4, 1), date(2027, 7, 1), date(2029, 1, 1)]:
        assert level(a.staff.ep.fte, "fte", day) == level(b.staff.ep.fte, "fte", day)
        assert level(a.staff.caseworker.fte, "fte", day) == level(b.staff.caseworker.fte, "fte", day)
        assert level(a.staff.ep.locum_hours, "hours_per_week", day) == \
            level(b.staff.ep.locum_hours, "hours_per_week", day)
    zero = PhasedPlan(flat.years, flat.starts, (Staffing(),) * 3)
    assert apply_plan(cfg, zero) == cfg


def _evaluator(plan_or_staff):
    """% within 20 weeks in FY 2027-28 rises with that year's EP and caseworker FTE only."""
    s = plan_or_staff.levels[1] if isinstance(plan_or_staff, PhasedPlan) else plan_or_staff
    pct = [5 * s.ep_fte + 2 * s.caseworker_fte + k for k in (0, 4)]
    return pd.DataFrame({"sample_id": [0, 1], "ds": pd.Timestamp("2027-06-01"),
                         "pct_within_20wk": pct})


def _cost(plan: PhasedPlan) -> dict[str, float]:
    return {fy: 70.0 * s.ep_fte + 40.0 * s.caseworker_fte + s.locum_hours_per_week
            for fy, s in zip(plan.years, plan.levels, strict=True)}


def test_phasing_cuts_the_years_the_target_does_not_need() -> None:
    bounds = SearchBounds(start="2026-04-01", ep_fte=(0, 16), caseworker_fte=(0, 16),
                          grid_points=5, refine_steps=1, max_evaluations=30)
    flat = optimise(_evaluator, lambda s: sum(_cost(PhasedPlan(("x",), (date(2026, 4, 1),),
                                                                (s,))).values()), [T27], bounds)
    assert flat.best is not None
    res = phase_plan(flat, _evaluator, _cost, [T27], YEARS,
                     {"ep_fte": 4, "caseworker_fte": 4, "locum_hours_per_week": 0},
                     max_evaluations=40)
    assert res.plan is not None
    first, judged, last = res.plan.levels
    # Only FY 2027-28 is judged: the other years are cut to nothing, that year keeps enough.
    assert first == Staffing() and last == Staffing()
    assert 5 * judged.ep_fte + 2 * judged.caseworker_fte >= 56
    assert sum(res.cost_by_year.values()) < 3 * sum(_cost(PhasedPlan(
        ("x",), (date(2026, 4, 1),), (flat.best,))).values())
    table = res.table()
    assert table["period"].tolist() == ["2026-27", "2027-28", "2028-29", "total 2026-27 to 2028-29"]
    assert table["extra cost (£)"].iloc[-1] == pytest.approx(sum(res.cost_by_year.values()))
    kept = res.candidates.loc[res.candidates["evaluated"].astype(bool)]
    assert kept["feasible"].any() and "plan" in kept.columns


def test_no_plan_when_nothing_within_bounds_meets_the_target() -> None:
    bounds = SearchBounds(start="2026-04-01", ep_fte=(0, 4), caseworker_fte=(0, 4), grid_points=3)
    flat = optimise(_evaluator, lambda s: 70 * s.ep_fte + 40 * s.caseworker_fte, [T27], bounds)
    res = phase_plan(flat, _evaluator, _cost, [T27], YEARS, {"ep_fte": 1})
    assert res.plan is None and res.n_evaluations == 0
    assert res.message.startswith("No phased plan: No staffing plan within the given bounds")
    assert res.table().empty


def test_a_failed_cut_is_not_tried_again() -> None:
    bounds = SearchBounds(start="2026-04-01", ep_fte=(0, 16), caseworker_fte=(0, 16),
                          grid_points=5, refine_steps=1, max_evaluations=30)
    flat = optimise(_evaluator, lambda s: 70 * s.ep_fte + 40 * s.caseworker_fte, [T27], bounds)
    failing: list[tuple[float, float]] = []

    def evaluate(plan: PhasedPlan) -> pd.DataFrame:
        judged = plan.levels[1]
        if 5 * judged.ep_fte + 2 * judged.caseworker_fte < 56:
            failing.append((judged.ep_fte, judged.caseworker_fte))
        return _evaluator(plan)

    res = phase_plan(flat, evaluate, _cost, [T27], YEARS,
                     {"ep_fte": 4, "caseworker_fte": 4, "locum_hours_per_week": 0},
                     max_evaluations=40)
    assert failing and len(failing) == len(set(failing))
    assert res.n_evaluations < 40


def test_extra_fte_adds_to_a_calendar_that_starts_after_the_staffing_start() -> None:
    # The simulator holds an establishment calendar at its first value before its first date
    # (staff.step_calendar with before=None), so the extra posts add to those 10, not to 0.
    pool = {"fte": [{"date": "2025-06-01", "fte": 10}]}
    cfg = capacity_config({"staff": {"ep": pool, "caseworker": pool},
                           "simulation": {"start": "2025-04-01", "years": 1}})
    start = date(2025, 4, 1)
    plan = PhasedPlan(("2025-26",), (start,), (Staffing(ep_fte=2),))
    expected = [("2025-04-01", 12.0), ("2025-06-01", 12.0)]
    for new in (apply_staffing(cfg, Staffing(ep_fte=2), start), apply_plan(cfg, plan)):
        assert [(str(c.date), c.fte) for c in new.staff.ep.fte] == expected
        laid_out = step_calendar([(c.date, c.fte) for c in new.staff.ep.fte], start, 120)
        base = step_calendar([(c.date, c.fte) for c in cfg.staff.ep.fte], start, 120)
        assert (laid_out == base + 2).all()
        assert new.staff.caseworker == cfg.staff.caseworker
