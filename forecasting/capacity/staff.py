"""Staffing calendars -> per-path daily capacity (``servers`` and ``speed``) for each pool.

The config gives each pool's funded establishment (FTE) as a calendar of changes by date. The
staff actually in post differ from it on every sample path: people leave at random (attrition),
vacancies are advertised and filled after a recruitment lag with some success rate (a failed
round is re-advertised), new starters ramp up linearly, trainees qualify into new posts after
their training, and locum / agency hours are added by date. The staffing process moves in weeks;
capacity is then laid out by calendar day, lowered in school holidays for term-time contracts,
in-house hours scaled by the pool's ``productivity`` (the calibrated effective-capacity factor;
locum hours are bought as delivered work and not scaled), and reduced by
its ``reserved_hours`` (mediation and tribunal work outside the pipeline).

A "server" is one FTE-equivalent at the pool's statutory hours per day; fractional FTE is carried
by the speed: ``servers = ceil(hours / hours_per_fte_day)``, ``speed = hours / servers``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from dateutil.easter import easter

from forecasting.capacity.config import PoolConfig

__all__ = [
    "PoolStaffing",
    "PoolWeeks",
    "school_holidays",
    "simulate_pool",
    "simulate_pool_weeks",
    "step_calendar",
    "to_servers_speed",
    "value_on",
]


@dataclass(frozen=True)
class PoolStaffing:
    """One pool's staffing on every path and day.

    Attributes
    ----------
    in_post : ndarray (n_paths, n_days)
        FTE in post (paid), including new starters still ramping up.
    effective : ndarray (n_paths, n_days)
        FTE-equivalent productive staff (new starters count pro rata).
    hours : ndarray (n_paths, n_days)
        Statutory work hours available that day (staff and locums).
    locum_hours : ndarray (n_days,)
        The locum / agency part of ``hours``.
    establishment : ndarray (n_paths, n_days)
        Funded FTE (the calendar plus qualified trainees).
    """

    in_post: np.ndarray
    effective: np.ndarray
    hours: np.ndarray
    locum_hours: np.ndarray
    establishment: np.ndarray


def step_calendar(changes: list[tuple[date, float]], start: date, n_days: int,
                  before: float | None = None) -> np.ndarray:
    """A value per day from a calendar of (date, value) changes.

    Before the first change the value is ``before``, or the first value when ``before`` is None
    (an establishment calendar that starts after the simulation start).

    Examples
    --------
    >>> step_calendar([(date(2025, 1, 1), 2.0), (date(2025, 1, 3), 5.0)], date(2025, 1, 1), 4)
    array([2., 2., 5., 5.])
    """
    out = np.empty(n_days, dtype=np.float64)
    if not changes:
        out[:] = 0.0
        return out
    out[:] = changes[0][1] if before is None else before
    for when, value in changes:
        offset = (when - start).days
        out[max(offset, 0) :] = value
    return out


def value_on(changes: Iterable[tuple[date, float]], when: date, *, before: float = 0.0,
             hold_first: bool = False) -> float:
    """The value in force on ``when`` from a calendar of (date, value) changes.

    A change holds from its date on. The changes are read in the order given and the last one
    dated on or before ``when`` wins, as :func:`step_calendar` lays them out (the config keeps
    each calendar in increasing date order, so that is the latest one).

    Parameters
    ----------
    changes : iterable of (date, float)
        The calendar, e.g. ``[(c.date, c.fte) for c in pool.fte]``.
    when : date
        The day asked about.
    before : float
        The value before the first change (0 for locum or reserved hours).
    hold_first : bool
        Use the first change's value before it instead of ``before``: an establishment (FTE)
        calendar that starts after ``when`` holds its first value, as :func:`simulate_pool`
        lays it out.

    Returns
    -------
    float

    Examples
    --------
    >>> cal = [(date(2025, 6, 1), 10.0), (date(2026, 4, 1), 12.0)]
    >>> value_on(cal, date(2025, 4, 1)), value_on(cal, date(2025, 4, 1), hold_first=True)
    (0.0, 10.0)
    >>> value_on(cal, date(2026, 4, 1)), value_on(cal, date(2026, 3, 31)), value_on(cal, date(2030, 1, 1))
    (12.0, 10.0, 12.0)
    """
    value = before
    first = True
    for day, v in changes:
        if first and hold_first:
            value = v
        first = False
        if day <= when:
            value = v
    return float(value)


def school_holidays(start: date, n_days: int) -> np.ndarray:
    """True on days in a typical English school holiday.

    An approximation of local-authority term dates (they vary by LA and year): summer 22 July -
    31 August, Christmas 21 December - 3 January, Easter from the Friday before Easter Sunday for
    two weeks, and half terms in the last week of October, the week from 14 February and the
    last week of May.

    Examples
    --------
    >>> h = school_holidays(date(2025, 8, 30), 4)
    >>> h.tolist()
    [True, True, False, False]
    """
    days = [start + timedelta(days=i) for i in range(n_days)]
    out = np.zeros(n_days, dtype=bool)
    easters: dict[int, date] = {}
    for i, d in enumerate(days):
        md = (d.month, d.day)
        if (7, 22) <= md <= (8, 31) or md >= (12, 21) or md <= (1, 3):
            out[i] = True
        elif (10, 25) <= md <= (10, 31) or (2, 14) <= md <= (2, 20) or (5, 25) <= md <= (5, 31):
            out[i] = True
        else:
            e = easters.setdefault(d.year, easter(d.year))
            if e - timedelta(days=2) <= d < e + timedelta(days=12):
                out[i] = True
    return out


def _binom(rng: np.random.Generator, n: np.ndarray, p: float) -> np.ndarray:
    """Binomial on fractional FTE: whole FTE binomially, the fraction as one Bernoulli."""
    n = np.maximum(n, 0.0)
    whole = np.floor(n)
    frac = n - whole
    if p <= 0:
        return np.zeros_like(n)
    if p >= 1:
        return n.copy()
    return rng.binomial(whole.astype(np.int64), p) + frac * (rng.random(n.shape) < p)


@dataclass(frozen=True)
class PoolWeeks:
    """One pool's staffing on every path by week, and the daily calendars to lay it out by day.

    What :func:`simulate_pool_weeks` returns; :meth:`by_day` gives the :class:`PoolStaffing` of
    a range of paths. The random draws are all in the weeks, so the simulator lays out each
    block of paths by day when it needs it (a path's days are 60 KB a series) instead of all
    paths at once before the first block can run.

    Attributes
    ----------
    in_post, effective, establishment : ndarray (n_paths, n_weeks)
        As in :class:`PoolStaffing`, by week.
    day_week : int ndarray (n_days,)
        Week of each day.
    hours_per_fte_day : float
        The pool's statutory hours per FTE-day.
    availability : ndarray (n_days,)
        Share of those hours worked each day (lower in school holidays for term-time staff).
    productivity : float
        Factor on in-house hours.
    locum_hours, reserved_hours : ndarray (n_days,)
        Locum hours added and reserved hours taken off each day (``reserved_hours`` is ``None``
        when the pool reserves none).
    """

    in_post: np.ndarray
    effective: np.ndarray
    establishment: np.ndarray
    day_week: np.ndarray
    hours_per_fte_day: float
    availability: np.ndarray
    productivity: float
    locum_hours: np.ndarray
    reserved_hours: np.ndarray | None

    def by_day(self, lo: int = 0, hi: int | None = None) -> PoolStaffing:
        """Paths ``lo:hi`` laid out by calendar day.

        Examples
        --------
        >>> from forecasting.capacity.config import PoolConfig
        >>> pool = PoolConfig(fte=[{"date": "2025-01-01", "fte": 10}], attrition_per_year=0.0,
        ...                   statutory_share=1.0, absence_rate=0.0, hours_per_fte_week=35.0)
        >>> w = simulate_pool_weeks(pool, date(2025, 1, 1), 14, 3, np.random.default_rng(0))
        >>> w.by_day(1, 3).hours.shape
        (2, 14)
        """
        rows = slice(lo, hi)
        effective = self.effective[rows][:, self.day_week]
        in_house = effective * self.hours_per_fte_day * self.availability[None, :]
        # Both adjustments are skipped at their defaults so the hours stay bit-for-bit as
        # before. Productivity scales in-house hours only: locum hours are bought as delivered
        # work (an agency contract's assessments a month), so time lost in-house does not
        # apply to them.
        if self.productivity != 1.0:
            in_house = in_house * self.productivity
        hours = in_house + self.locum_hours[None, :]
        if self.reserved_hours is not None:
            hours = np.maximum(hours - self.reserved_hours[None, :], 0.0)
        return PoolStaffing(
            in_post=self.in_post[rows][:, self.day_week],
            effective=effective,
            hours=hours,
            locum_hours=self.locum_hours,
            establishment=self.establishment[rows][:, self.day_week],
        )


def simulate_pool(
    pool: PoolConfig, start: date, n_days: int, n_paths: int, rng: np.random.Generator
) -> PoolStaffing:
    """Simulate one pool's staffing on each path (weekly steps), then lay it out by day.

    Parameters
    ----------
    pool : PoolConfig
        The pool's calendar and staffing rates.
    start : date
        Day 0 of the simulation.
    n_days, n_paths : int
        Horizon in days and number of sample paths.
    rng : numpy.random.Generator
        The staffing random stream (kept apart from arrivals and work so that changing staffing
        never changes the cases: common random numbers).

    Returns
    -------
    PoolStaffing

    Examples
    --------
    >>> from forecasting.capacity.config import PoolConfig
    >>> pool = PoolConfig(fte=[{"date": "2025-01-01", "fte": 10}], attrition_per_year=0.0,
    ...                   statutory_share=1.0, absence_rate=0.0, hours_per_fte_week=35.0)
    >>> s = simulate_pool(pool, date(2025, 1, 1), 14, 2, np.random.default_rng(0))
    >>> s.in_post[:, 0].tolist(), float(s.hours[0, 0])
    ([10.0, 10.0], 50.0)
    """
    return simulate_pool_weeks(pool, start, n_days, n_paths, rng).by_day()


def simulate_pool_weeks(
    pool: PoolConfig, start: date, n_days: int, n_paths: int, rng: np.random.Generator
) -> PoolWeeks:
    """:func:`simulate_pool`'s weekly steps, not yet laid out by day (same parameters).

    ``simulate_pool_weeks(...).by_day(lo, hi)`` equals ``simulate_pool(...)``'s rows
    ``lo:hi`` bit for bit, from the same draws.

    Examples
    --------
    >>> from forecasting.capacity.config import PoolConfig
    >>> pool = PoolConfig(fte=[{"date": "2025-01-01", "fte": 10}], attrition_per_year=0.0,
    ...                   statutory_share=1.0, absence_rate=0.0, hours_per_fte_week=35.0)
    >>> w = simulate_pool_weeks(pool, date(2025, 1, 1), 14, 2, np.random.default_rng(0))
    >>> w.in_post.shape, float(w.by_day().hours[0, 0])
    ((2, 2), 50.0)
    """
    n_weeks = max(1, math.ceil(n_days / 7))
    week_days = np.arange(n_weeks) * 7
    calendar = step_calendar([(c.date, c.fte) for c in pool.fte], start, n_weeks * 7)[week_days]
    lag = max(1, round(pool.recruitment_lag_weeks)) if pool.recruitment_lag_weeks > 0 else 0
    ramp = round(pool.ramp_up_weeks)
    weekly_leave = 1.0 - (1.0 - pool.attrition_per_year) ** (1.0 / 52.0)

    # Qualified trainees: new posts (and new starters) from their qualification week.
    qualified = np.zeros((n_paths, n_weeks + 1))
    for cohort in pool.trainees:
        week = ((cohort.start - start).days + round(pool.training_years * 365.25)) // 7
        n = _binom(rng, np.full(n_paths, cohort.count), pool.trainee_retention)
        if 0 <= week < n_weeks:
            qualified[:, week] += n
        elif week < 0:
            qualified[:, 0] += n
    establishment = calendar[None, :] + np.cumsum(qualified[:, :n_weeks], axis=1)

    in_post = np.maximum(establishment[:, 0] - pool.vacant_fte, 0.0)
    campaigns = np.zeros((n_paths, n_weeks + lag + 1))  # FTE whose recruitment ends that week
    hires = np.zeros((n_paths, n_weeks))
    in_post_w = np.empty((n_paths, n_weeks))
    effective_w = np.empty((n_paths, n_weeks))
    recruiting = np.zeros(n_paths)
    for w in range(n_weeks):
        est = establishment[:, w]
        # Newly qualified trainees take their new posts directly.
        in_post = in_post + qualified[:, w]
        hires[:, w] += qualified[:, w]
        in_post = in_post - _binom(rng, in_post, weekly_leave) if w > 0 else in_post
        done = campaigns[:, w]
        if lag == 0:
            done = np.maximum(est - in_post, 0.0)
        filled = np.minimum(_binom(rng, done, pool.recruitment_success_rate),
                            np.maximum(est - in_post, 0.0))
        in_post = in_post + filled
        hires[:, w] += filled
        recruiting = np.maximum(recruiting - campaigns[:, w], 0.0)
        # Cuts to the establishment take effect at once (posts deleted, campaigns cancelled).
        in_post = np.minimum(in_post, est)
        open_posts = np.maximum(est - in_post - recruiting, 0.0)
        if lag > 0:
            campaigns[:, w + lag] += open_posts
            recruiting = recruiting + open_posts
        recruiting = np.minimum(recruiting, np.maximum(est - in_post, 0.0))
        in_post_w[:, w] = in_post
        deficit = np.zeros(n_paths)
        for k in range(min(ramp, w + 1)):
            deficit += hires[:, w - k] * (1.0 - k / ramp)
        effective_w[:, w] = in_post - np.minimum(deficit, in_post)

    day_week = np.arange(n_days) // 7
    holiday = school_holidays(start, n_days)
    availability = 1.0 - pool.term_time_share * holiday
    locum = step_calendar([(c.date, c.hours_per_week) for c in pool.locum_hours], start, n_days,
                          before=0.0)
    reserved = None
    if pool.reserved_hours:
        reserved = step_calendar([(c.date, c.hours_per_week) for c in pool.reserved_hours],
                                 start, n_days, before=0.0) / 7.0
    return PoolWeeks(in_post=in_post_w, effective=effective_w, establishment=establishment,
                     day_week=day_week, hours_per_fte_day=pool.hours_per_fte_day(),
                     availability=availability, productivity=pool.productivity,
                     locum_hours=locum / 7.0, reserved_hours=reserved)


def to_servers_speed(hours: np.ndarray, hours_per_server_day: float) -> tuple[np.ndarray, np.ndarray]:
    """Split daily work hours into whole servers and their speed (hours per server-day).

    Examples
    --------
    >>> s, v = to_servers_speed(np.array([0.0, 10.0, 25.0]), 10.0)
    >>> s.tolist(), v.tolist()
    ([0, 1, 3], [0.0, 10.0, 8.333333333333334])
    """
    unit = max(hours_per_server_day, 1e-9)
    servers = np.ceil(np.maximum(hours, 0.0) / unit - 1e-9).astype(np.int64)
    servers = np.maximum(servers, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.where(servers > 0, hours / np.maximum(servers, 1), 0.0)
    return servers, speed
