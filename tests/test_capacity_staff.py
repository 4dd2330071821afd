"""Staffing calendars -> per-path daily capacity (forecasting.capacity.staff)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.capacity.config import PoolConfig
from forecasting.capacity.staff import (
    school_holidays,
    simulate_pool,
    simulate_pool_weeks,
    step_calendar,
    to_servers_speed,
    value_on,
)

START = date(2025, 4, 1)


def pool(**kw: object) -> PoolConfig:
    base: dict[str, object] = {"fte": [{"date": "2025-04-01", "fte": 10}], "attrition_per_year": 0.0,
                               "absence_rate": 0.0, "statutory_share": 1.0,
                               "hours_per_fte_week": 35.0}
    return PoolConfig.model_validate(base | kw)


def test_fixed_staff_give_exact_hours_and_calendar_changes() -> None:
    p = pool(fte=[{"date": "2025-04-01", "fte": 10}, {"date": "2025-04-15", "fte": 12}],
             recruitment_lag_weeks=0, recruitment_success_rate=1.0, ramp_up_weeks=0)
    s = simulate_pool(p, START, 28, 3, np.random.default_rng(0))
    assert s.hours[:, 0] == pytest.approx(50.0)  # 10 FTE x 35 h / 7 days
    assert s.establishment[0, 14] == 12
    assert s.in_post[:, 21] == pytest.approx(12.0)  # vacancies filled at once with no lag


def test_vacancies_wait_for_recruitment_lag_and_ramp_up() -> None:
    p = pool(vacant_fte=4, recruitment_lag_weeks=8, recruitment_success_rate=1.0, ramp_up_weeks=4)
    s = simulate_pool(p, START, 7 * 20, 2, np.random.default_rng(0))
    assert s.in_post[:, 7 * 7] == pytest.approx(6.0)
    assert s.in_post[:, 7 * 8] == pytest.approx(10.0)
    assert s.effective[0, 7 * 8] < 10.0  # new starters still ramping up
    assert s.effective[:, 7 * 13] == pytest.approx(10.0)


def test_attrition_rate_is_about_right() -> None:
    p = pool(fte=[{"date": "2025-04-01", "fte": 100}], attrition_per_year=0.2,
             recruitment_success_rate=0.0)
    s = simulate_pool(p, START, 365, 400, np.random.default_rng(1))
    # No one is recruited, so after a year about 80 of 100 remain.
    assert s.in_post[:, -1].mean() == pytest.approx(80.0, abs=1.0)


def test_trainees_qualify_after_training_and_locums_add_hours() -> None:
    p = pool(trainees=[{"start": "2023-09-01", "count": 2}], training_years=3,
             trainee_retention=1.0, ramp_up_weeks=0,
             locum_hours=[{"date": "2025-05-01", "hours_per_week": 70}])
    s = simulate_pool(p, START, 365 * 2, 2, np.random.default_rng(0))
    assert s.establishment[0, 0] == 10 and s.establishment[0, -1] == 12
    assert s.locum_hours[0] == 0 and s.locum_hours[60] == pytest.approx(10.0)


def test_term_time_contracts_lose_school_holidays() -> None:
    p = pool(term_time_share=0.5)
    s = simulate_pool(p, date(2025, 8, 1), 60, 1, np.random.default_rng(0))
    assert s.hours[0, 0] == pytest.approx(25.0)  # 1 August: summer holiday
    assert s.hours[0, 45] == pytest.approx(50.0)  # mid-September: term time
    assert school_holidays(date(2025, 12, 25), 1)[0]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 500, allow_nan=False), min_size=1, max_size=20),
       st.floats(0.5, 12.0))
def test_servers_times_speed_conserves_hours(hours: list[float], unit: float) -> None:
    h = np.array(hours)
    servers, speed = to_servers_speed(h, unit)
    assert (servers >= 0).all() and (speed <= unit + 1e-9).all()
    # Only a negligible sliver (under a billionth of a server) may be dropped, never added.
    assert servers * speed == pytest.approx(h, abs=unit * 1e-9 + 1e-12)
    assert (servers * speed <= h + 1e-9).all()


def test_same_rng_seed_same_staffing() -> None:
    p = pool(attrition_per_year=0.3, vacant_fte=2)
    a = simulate_pool(p, START, 200, 5, np.random.default_rng(3))
    b = simulate_pool(p, START, 200, 5, np.random.default_rng(3))
    assert np.array_equal(a.hours, b.hours)


def test_value_on_before_on_between_and_after_the_changes() -> None:
    cal = [(date(2025, 6, 1), 10.0), (date(2026, 4, 1), 12.0), (date(2027, 4, 1), 9.0)]
    assert value_on(cal, date(2025, 5, 31)) == 0.0
    assert value_on(cal, date(2025, 5, 31), before=10.0) == 10.0
    assert value_on(cal, date(2025, 6, 1), before=99.0) == 10.0
    assert value_on(cal, date(2026, 4, 1)) == 12.0
    assert value_on(cal, date(2026, 12, 25)) == 12.0
    assert value_on(cal, date(2027, 3, 31)) == 12.0
    assert value_on(cal, date(2040, 1, 1)) == 9.0
    assert value_on([], date(2026, 1, 1)) == 0.0
    assert value_on([], date(2026, 1, 1), before=3.0) == 3.0
    # An establishment calendar holds its first value before its first date.
    assert value_on(cal, date(2025, 5, 31), hold_first=True) == 10.0
    assert value_on(cal, date(2026, 4, 1), hold_first=True) == 12.0
    assert value_on([], date(2026, 1, 1), hold_first=True) == 0.0
    # Not sorted: read in the order given, the last change on or before the day wins (the
    # copies this replaced did the same; the config only accepts increasing dates).
    unsorted = [(date(2026, 4, 1), 12.0), (date(2025, 6, 1), 10.0)]
    assert value_on(unsorted, date(2026, 5, 1)) == 10.0
    assert value_on(unsorted, date(2025, 7, 1)) == 10.0
    assert value_on(unsorted, date(2025, 1, 1), before=12.0) == 12.0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(-10, 40), st.floats(0, 100, allow_nan=False)),
                min_size=1, max_size=6),
       st.one_of(st.none(), st.floats(0, 100, allow_nan=False)))
def test_value_on_agrees_with_step_calendar(raw: list[tuple[int, float]], before: float | None) -> None:
    # Any order and repeated dates: the day-by-day lookup is the laid-out calendar.
    changes = [(START + timedelta(days=k), v) for k, v in raw]
    laid_out = step_calendar(changes, START, 30, before)
    first = changes[0][1] if before is None else before
    assert [value_on(changes, START + timedelta(days=i), before=first) for i in range(30)] == \
        laid_out.tolist()


def test_weeks_laid_out_by_block_equal_the_whole_layout() -> None:
    # The simulator lays out each block of paths by day on its own: every block must be the
    # same rows of the whole layout, bit for bit, with every daily adjustment switched on.
    p = pool(attrition_per_year=0.2, term_time_share=0.5, productivity=0.8, vacant_fte=2.0,
             trainees=[{"start": "2022-09-01", "count": 2}],
             locum_hours=[{"date": "2025-06-01", "hours_per_week": 70.0}],
             reserved_hours=[{"date": "2025-05-01", "hours_per_week": 1000.0},
                             {"date": "2025-09-01", "hours_per_week": 7.0}])
    n_days = 400
    weeks = simulate_pool_weeks(p, START, n_days, 7, np.random.default_rng(3))
    whole = simulate_pool(p, START, n_days, 7, np.random.default_rng(3))
    for lo, hi in ((0, 3), (3, 6), (6, 7)):
        part = weeks.by_day(lo, hi)
        for name in ("in_post", "effective", "hours", "establishment"):
            assert np.array_equal(getattr(part, name), getattr(whole, name)[lo:hi]), name
    assert np.array_equal(whole.locum_hours, weeks.locum_hours)
    # The documented layout: in-house hours x productivity, plus locums, less reserved hours.
    day = np.arange(n_days)
    holiday = school_holidays(START, n_days)
    locum = np.where(day >= (date(2025, 6, 1) - START).days, 10.0, 0.0)
    reserved = np.where(day >= (date(2025, 9, 1) - START).days, 1.0,
                        np.where(day >= (date(2025, 5, 1) - START).days, 1000.0 / 7, 0.0))
    expect = whole.effective * 5.0 * (1 - 0.5 * holiday) * 0.8 + locum - reserved
    assert whole.hours == pytest.approx(np.maximum(expect, 0.0), rel=1e-12, abs=1e-12)
    assert whole.hours.min() == 0.0 and whole.hours.max() > 0.0
    assert np.array_equal(whole.effective, weeks.effective[:, day // 7])
