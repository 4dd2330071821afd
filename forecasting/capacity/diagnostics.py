"""Analytic diagnostics of a simulation run: offered load, Little's law, target queue, relief.

- Offered load per pool and simulated year: work hours the arriving cases bring (mean work per
  case x arrivals) over the hours staff can deliver. Above 1 the waiting list grows without
  limit, whatever the queue policy.
- Little's law (L = lambda W) for new assessments: the time-average open caseload from the
  engine's week-end counts against the arrival rate times the mean time in the system of the
  cases that finished, and against the caseload implied by the individual case times.
- Target queue size and relief capacity, in the style of NHS waiting-list models: with roughly
  exponential waits, P(wait > T) = exp(-T lambda / L), so a list of ``L = lambda T / m`` keeps
  about ``1 - exp(-m)`` within T; NHS planning uses m = 4 as a rule of thumb (about 98%). Relief
  capacity is the extra throughput needed to bring today's list down to that size by a date, on
  top of any gap between demand and capacity (per pool, in hours and FTE). The open list here
  is every open new assessment (the whole 20-week process, not only those waiting for staff).
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pandas as pd
from numba import njit

from forecasting.capacity.config import CapacityConfig
from forecasting.capacity.ehcp import POOLS, mean_work_per_request, work_per_review

__all__ = [
    "DIAGNOSTIC_COLUMNS",
    "little_law",
    "offered_load",
    "relief_capacity",
    "target_queue_size",
]

DIAGNOSTIC_COLUMNS = ("scenario", "scope", "period", "metric", "value", "unit")


def target_queue_size(demand_per_week: float, target_weeks: float, multiplier: float = 4.0) -> float:
    """The waiting-list size that keeps most waits within the target: demand x target / m.

    Examples
    --------
    >>> target_queue_size(60.0, 20.0)
    300.0
    """
    if multiplier <= 0:
        raise ValueError("multiplier must be positive")
    return demand_per_week * target_weeks / multiplier


def relief_capacity(
    backlog: float,
    target_queue: float,
    weeks_to_clear: float,
    demand_per_week: float = 0.0,
    capacity_per_week: float | None = None,
) -> float:
    """Extra cases a week needed to bring ``backlog`` down to ``target_queue`` in time.

    The backlog above target is spread over ``weeks_to_clear``; if demand exceeds the current
    capacity, the gap is added so that the list stops growing.

    Examples
    --------
    >>> relief_capacity(700.0, 300.0, 20.0, demand_per_week=50.0, capacity_per_week=45.0)
    25.0
    """
    if weeks_to_clear <= 0:
        raise ValueError("weeks_to_clear must be positive")
    excess = max(backlog - target_queue, 0.0) / weeks_to_clear
    gap = 0.0 if capacity_per_week is None else max(demand_per_week - capacity_per_week, 0.0)
    return excess + gap


def _year_index(weekly: pd.DataFrame) -> pd.Series:
    return (weekly["week"] // 52).clip(upper=int(weekly["week"].max()) // 52)


def offered_load(weekly: pd.DataFrame, config: CapacityConfig) -> pd.DataFrame:
    """Offered load and utilisation per pool and simulated year (mean over paths).

    Returns columns ``pool, year, demand_hours, available_hours, used_hours, offered_load,
    utilisation`` (``year`` 1 = the first 52 weeks).
    """
    per_request = mean_work_per_request(config.pipeline)
    per_review = work_per_review(config.pipeline)
    year = _year_index(weekly)
    n_paths = weekly["path"].nunique()
    rows = []
    for pool in POOLS:
        demand = weekly["requests"] * per_request[pool] + weekly["reviews_due"] * per_review[pool]
        grouped = pd.DataFrame({
            "year": year, "demand": demand, "available": weekly[f"{pool}_hours_available"],
            "used": weekly[f"{pool}_hours_used"],
        }).groupby("year").sum()
        for y, r in grouped.iterrows():
            avail = float(r["available"])
            rows.append({
                "pool": pool, "year": int(y) + 1,  # type: ignore[call-overload]
                "demand_hours": float(r["demand"]) / n_paths,
                "available_hours": avail / n_paths,
                "used_hours": float(r["used"]) / n_paths,
                "offered_load": float(r["demand"]) / avail if avail > 0 else math.inf,
                "utilisation": float(r["used"]) / avail if avail > 0 else math.nan,
            })
    return pd.DataFrame(rows)


def little_law(weekly: pd.DataFrame, sojourn: dict[str, float]) -> dict[str, float]:
    """Little's law check for new assessments over the whole run.

    ``sojourn`` holds sums over cases and paths from the simulation: ``area`` (days each new
    case spent open inside the window), ``completed`` and ``completed_days`` (cases that arrived
    and left inside the window, and their total time in the system), ``arrivals``, ``paths``,
    ``horizon_days``.

    Returns L from the week-end counts, L from the case times, lambda (per week), W (weeks) and
    the relative gap between L and lambda x W.

    Examples
    --------
    >>> wk = pd.DataFrame({"open_new": [10.0, 10.0]})
    >>> s = {"area": 140.0, "completed": 7.0, "completed_days": 140.0, "arrivals": 7.0,
    ...      "paths": 1, "horizon_days": 14.0}
    >>> little_law(wk, s)["L_cases"]
    10.0
    """
    paths = max(sojourn["paths"], 1)
    horizon = sojourn["horizon_days"]
    l_snap = float(weekly["open_new"].mean())
    l_cases = sojourn["area"] / (paths * horizon)
    lam = sojourn["arrivals"] / (paths * horizon) * 7.0
    w = (sojourn["completed_days"] / sojourn["completed"] / 7.0) if sojourn["completed"] else math.nan
    lw = lam * w
    return {
        "L_week_end": l_snap,
        "L_cases": l_cases,
        "lambda_per_week": lam,
        "W_weeks": w,
        "lambda_W": lw,
        "little_rel_gap": abs(l_snap - lw) / l_snap if l_snap > 0 else math.nan,
        "count_rel_gap": abs(l_snap - l_cases) / l_cases if l_cases > 0 else math.nan,
    }


def run_diagnostics(
    weekly: pd.DataFrame,
    config: CapacityConfig,
    sojourn: dict[str, float],
    scenario: str,
    *,
    multiplier: float = 4.0,
    clear_weeks: float = 52.0,
) -> tuple[pd.DataFrame, list[str]]:
    """All diagnostics as long rows, and the warnings to raise about overload.

    Returns
    -------
    diagnostics : DataFrame
        Columns :data:`DIAGNOSTIC_COLUMNS`.
    warnings : list of str
        One message per pool whose offered load is above 1.1 in some year, saying from when
        more than a quarter's demand is waiting for it.
    """
    rows: list[dict[str, object]] = []

    def add(scope: str, period: str, metric: str, value: float, unit: str) -> None:
        rows.append({"scenario": scenario, "scope": scope, "period": period, "metric": metric,
                     "value": float(value), "unit": unit})

    load = offered_load(weekly, config)
    for rec in load.to_dict("records"):
        period = f"year {rec['year']}"
        for metric in ("offered_load", "utilisation", "demand_hours", "available_hours"):
            add(str(rec["pool"]), period, metric, float(rec[metric]),
                "hours" if metric.endswith("hours") else "ratio")
    for k, v in little_law(weekly, sojourn).items():
        add("new_assessments", "all", k, v, "weeks" if k == "W_weeks" else
            ("cases per week" if k == "lambda_per_week" else ("ratio" if "gap" in k else "cases")))

    final_weeks = config.pipeline.milestones_weeks.final
    first = weekly[weekly["week"] == 0]
    last = weekly[weekly["week"] == weekly["week"].max()]
    demand_week = float(weekly["requests"].mean())
    target = target_queue_size(demand_week, final_weeks, multiplier)
    backlog_now = float(first["open_new"].mean())
    add("new_assessments", "all", "target_open_cases", target, "cases")
    add("new_assessments", "start", "open_cases", backlog_now, "cases")
    add("new_assessments", "end", "open_cases", float(last["open_new"].mean()), "cases")
    per_request = mean_work_per_request(config.pipeline)
    relief = relief_capacity(backlog_now, target, clear_weeks)
    period = f"first {clear_weeks:g} weeks"
    add("new_assessments", period, "relief_cases_per_week", relief, "cases per week")
    # Per pool: the backlog's work spread over the period, plus the weekly shortfall of hours
    # (demand hours over available hours, mean over paths) during it, so the list stops growing.
    window = weekly[weekly["week"] < clear_weeks]
    n_weeks = max(window["week"].nunique(), 1) * max(window["path"].nunique(), 1)
    per_review = work_per_review(config.pipeline)
    for pool in POOLS:
        p = getattr(config.staff, pool)
        demand_h = float((window["requests"] * per_request[pool]).sum())
        demand_h += float(window["reviews_due"].sum()) * per_review[pool]
        avail_h = float(window[f"{pool}_hours_available"].sum())
        gap = relief_capacity(0.0, 0.0, 1.0, demand_h / n_weeks, avail_h / n_weeks)
        hours = relief * per_request[pool] + gap
        add(pool, period, "shortfall_hours_per_week", gap, "hours")
        add(pool, period, "relief_hours_per_week", hours, "hours")
        add(pool, period, "relief_fte", hours / (p.hours_per_fte_day() * 7), "FTE")

    messages = []
    queue_cols = {"ep": ["queue_advice", "queue_review_ep"],
                  "caseworker": ["queue_decision", "queue_draft", "queue_final", "queue_review"]}
    arrivals_per_week = {"ep": demand_week * (1 - config.pipeline.p_refused)
                         + float(weekly["reviews_due"].mean()) * config.pipeline.reviews.ep_share,
                         "caseworker": demand_week + float(weekly["reviews_due"].mean())}
    for pool in POOLS:
        sub = load[load["pool"] == pool].reset_index(drop=True)
        if sub.empty:
            continue
        worst = sub.iloc[int(np.argmax(sub["offered_load"].to_numpy()))]
        if not worst["offered_load"] > 1.1:
            continue
        queue = weekly[queue_cols[pool]].sum(axis=1).groupby(weekly["week_end"]).mean()
        limit = 13 * arrivals_per_week[pool]
        # The queue has exploded from the first week after which it never falls back below
        # a quarter's demand (a backlog inherited at the start that is cleared does not count).
        below = np.flatnonzero(queue.to_numpy() <= limit)
        start = 0 if below.size == 0 else int(below[-1]) + 1
        when = (f"more than 13 weeks of demand ({limit:,.0f} cases) is waiting from "
                f"{pd.Timestamp(queue.index[start]).date()} on (mean over paths)"
                if start < len(queue) else
                "the waiting list grows for the rest of the run")
        load_text = ("infinite (no staff time at all)" if math.isinf(worst["offered_load"])
                     else f"{worst['offered_load']:.2f}")
        messages.append(
            f"{pool} offered load is {load_text} in year {int(worst['year'])}: "
            f"demand exceeds capacity, so the queue for {pool} work grows without limit; {when}")
    return pd.DataFrame(rows, columns=list(DIAGNOSTIC_COLUMNS)), messages


def sojourn_sums(time: np.ndarray, exit_time: np.ndarray, exit_code: np.ndarray,
                 is_new: np.ndarray, horizon: float) -> dict[str, float]:
    """The per-case sums :func:`little_law` needs, for one block of paths.

    ``area`` is the days each new case spent open inside ``[0, horizon)`` (cases still open, or
    not yet arrived, count to the horizon), summed over the cases that arrive before the horizon;
    ``completed`` and ``completed_days`` count the new cases that arrived at 0 or later and left,
    and their total time in the system; ``arrivals`` the new cases arriving in ``[0, horizon)``.

    Examples
    --------
    >>> sojourn_sums(np.array([-2.0, 1.0, 3.0]), np.array([4.0, 5.0, np.nan]),
    ...              np.array([0, 1, -1]), np.array([True, True, True]), 10.0)
    {'area': 15.0, 'completed': 1.0, 'completed_days': 4.0, 'arrivals': 2.0}
    """
    n = time.shape[0]
    terms = getattr(_TERMS, "arrays", None)
    if terms is None or terms.shape[1] < n:
        # Reused from block to block (per thread): a block's terms are tens of MB, whose first
        # touch as fresh memory costs more than the pass that fills them.
        terms = _TERMS.arrays = np.empty((2, n + n // 4))
    area_terms, completed, day_terms, arrivals = _sojourn_terms(
        np.ascontiguousarray(time, np.float64), np.ascontiguousarray(exit_time, np.float64),
        np.ascontiguousarray(exit_code, np.int64), np.ascontiguousarray(is_new, np.bool_),
        float(horizon), terms[0], terms[1])
    with np.errstate(invalid="ignore"):  # +inf and -inf exit times add up to NaN
        return {"area": float(area_terms.sum()), "completed": completed,
                "completed_days": float(day_terms.sum()), "arrivals": arrivals}


_TERMS = threading.local()


@njit(cache=True, nogil=True)
def _sojourn_terms(time, exit_time, exit_code, is_new, horizon, area_terms, day_terms):
    # One pass over the block instead of a numpy temporary per step (a block holds millions of
    # cases): the per-case terms of the numpy expressions this replaced (exit times NaN or
    # +-inf treated as nan_to_num then np.minimum treat them), in case order, so that np.sum
    # over them gives those expressions' sums bit for bit.
    # area_terms and day_terms: room for every case.
    n = time.shape[0]
    n_area = 0
    n_done = 0
    arrivals = 0
    for i in range(n):
        if not is_new[i]:
            continue
        t = time[i]
        x = exit_time[i]
        c = exit_code[i]
        if t < horizon:
            end = horizon
            if c >= 0 and not math.isnan(x) and x < horizon:
                end = x
            v = end - (t if t > 0.0 else 0.0)
            area_terms[n_area] = v if v > 0.0 else 0.0
            n_area += 1
            if t >= 0.0:
                arrivals += 1
        if c >= 0 and t >= 0.0:
            day_terms[n_done] = x - t
            n_done += 1
    return area_terms[:n_area], float(n_done), day_terms[:n_done], float(arrivals)
