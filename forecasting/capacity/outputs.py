"""Simulator outputs: one flat row per scenario, path and week; per-case records for one path.

Column groups of the weekly table (all counts are cases; ``week`` ``w`` covers days
``[7w, 7w + 7)`` from the start and ends on ``week_end``):

- ``requests``, ``reviews_due``: cases arriving in the week (reviews at their meeting date);
- ``completed_<stage>``: stage completions; ``queue_<stage>``: waiting for staff at week end;
- ``open_new`` and the lateness bands of open new assessments at week end: ``not_yet_due``,
  ``late_0_4``, ``late_4_13``, ``late_13_26``, ``late_26_52``, ``late_52_plus`` (weeks past the
  20-week deadline; they sum to ``open_new``);
- ``refused``, ``not_issued``, ``plans_issued``; ``plans_issued_ex`` (issued, exceptions
  excluded), ``plans_within_20wk_ex`` and ``pct_within_20wk`` (DfE's headline measure);
- ``reviews_done``, ``reviews_open``, ``reviews_overdue`` (open past their deadline);
- per pool ``<pool>_fte_in_post``, ``<pool>_fte_effective``, ``<pool>_hours_available``,
  ``<pool>_hours_used`` (work of the jobs finished in the week), ``<pool>_fte_available`` and
  ``<pool>_fte_used`` (the same in FTE at statutory hours), ``<pool>_locum_hours``,
  ``<pool>_cost_gbp`` (FTE in post x cost per FTE-year, plus locum hours x rate); ``cost_gbp``
  in total.

Percentiles across paths are not computed here: reporting does that.
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd
from numba import njit

from forecasting.capacity.config import CapacityConfig
from forecasting.capacity.demand import ORIGINS, CaseArrays
from forecasting.capacity.ehcp import (
    CLASS_NEW,
    CLASS_REVIEW,
    EXITS,
    NEW_STAGES,
    POOLS,
    REVIEW_STAGES,
    STAGES,
)
from forecasting.capacity.engine import SimResult
from forecasting.capacity.staff import PoolStaffing

__all__ = ["BANDS", "case_records", "weekly_frame"]

#: Lateness bands of open cases (weeks past the deadline), in order.
BANDS = ("not_yet_due", "late_0_4", "late_4_13", "late_13_26", "late_26_52", "late_52_plus")


@njit(cache=True, nogil=True)
def _case_week_counts(offsets, time, cls, exc, ex_t, ex_c, issued_code, limit, n_weeks):
    """Per path and week, in one pass over a block's cases: arrivals of classes 0 and 1 by
    arrival week; issued non-exception plans and those issued within ``limit`` days, by issue
    week. Weeks are ``floor(t / 7)``; cases outside ``[0, n_weeks)`` are not counted."""
    n_paths = offsets.shape[0] - 1
    arrived = np.zeros((n_paths, 2, n_weeks), np.int64)
    den = np.zeros((n_paths, n_weeks), np.int64)
    num = np.zeros((n_paths, n_weeks), np.int64)
    for p in range(n_paths):
        for i in range(offsets[p], offsets[p + 1]):
            c = cls[i]
            if c <= 1:
                w = math.floor(time[i] / 7.0)
                if 0 <= w < n_weeks:
                    arrived[p, c, int(w)] += 1
            if ex_c[i] == issued_code and not exc[i]:
                w = math.floor(ex_t[i] / 7.0)
                if 0 <= w < n_weeks:
                    den[p, int(w)] += 1
                    if ex_t[i] - time[i] <= limit:
                        num[p, int(w)] += 1
    return arrived, den, num


def _weekly_mean(daily: np.ndarray, n_weeks: int) -> np.ndarray:
    days = n_weeks * 7
    d = daily[..., :days]
    if d.shape[-1] < days:
        d = np.concatenate([d, np.repeat(d[..., -1:], days - d.shape[-1], axis=-1)], axis=-1)
    return d.reshape(*d.shape[:-1], n_weeks, 7).mean(axis=-1)


def weekly_frame(
    result: SimResult,
    cases: CaseArrays,
    staffing: dict[str, PoolStaffing],
    config: CapacityConfig,
    scenario: str,
) -> pd.DataFrame:
    """Flatten one engine run (a block of paths) into weekly rows.

    Parameters
    ----------
    result : SimResult
        The engine's output for the block.
    cases : CaseArrays
        The block's cases, path after path, as given to the engine (``result.offsets``).
    staffing : dict of str to PoolStaffing
        The block's staffing by pool name (rows = the block's paths).
    config : CapacityConfig
    scenario : str

    Returns
    -------
    pandas.DataFrame
        One row per path and week; see the module docstring for the columns.
    """
    n_paths, n_weeks = result.n_paths, result.n_weeks
    start = config.simulation.start
    limit = config.pipeline.milestones_weeks.final * 7.0 + 1e-9
    arrived, den, num = _case_week_counts(
        np.asarray(result.offsets, np.int64), cases.time, cases.case_class, cases.exception,
        result.exit_time, result.exit_code, EXITS.index("issued"), limit, n_weeks)

    out: dict[str, np.ndarray] = {}
    out["requests"] = arrived[:, CLASS_NEW, :]
    out["reviews_due"] = arrived[:, CLASS_REVIEW, :]
    for s, name in enumerate(STAGES):
        out[f"completed_{name}"] = result.completions[:, s, :]
    for s, name in enumerate(STAGES):
        out[f"queue_{name}"] = result.waiting[:, s, :]
    new_idx = [STAGES.index(s) for s in NEW_STAGES]
    bands = result.in_stage[:, new_idx, :, :].sum(axis=1)  # path, band, week
    out["open_new"] = bands.sum(axis=1)
    for b, name in enumerate(BANDS):
        out[name] = bands[:, b, :]
    out["refused"] = result.exits[:, EXITS.index("refused"), :]
    out["not_issued"] = result.exits[:, EXITS.index("not_issued"), :]
    out["plans_issued"] = result.exits[:, EXITS.index("issued"), :]
    out["plans_issued_ex"] = den
    out["plans_within_20wk_ex"] = num
    with np.errstate(invalid="ignore", divide="ignore"):
        out["pct_within_20wk"] = np.where(den > 0, 100.0 * num / np.maximum(den, 1), np.nan)
    rev_idx = [STAGES.index(s) for s in REVIEW_STAGES]
    rev = result.in_stage[:, rev_idx, :, :].sum(axis=1)  # path, band, week
    out["reviews_done"] = result.exits[:, EXITS.index("reviewed"), :]
    out["reviews_open"] = rev.sum(axis=1)
    out["reviews_overdue"] = rev[:, 1:, :].sum(axis=1)

    cost = np.zeros((n_paths, n_weeks))
    for q, pool_name in enumerate(POOLS):
        pool = getattr(config.staff, pool_name)
        st = staffing[pool_name]
        in_post = _weekly_mean(st.in_post, n_weeks)
        locum_week = _weekly_mean(st.locum_hours[None, :], n_weeks)[0] * 7.0
        out[f"{pool_name}_fte_in_post"] = in_post
        out[f"{pool_name}_fte_effective"] = _weekly_mean(st.effective, n_weeks)
        out[f"{pool_name}_hours_available"] = _weekly_mean(st.hours, n_weeks) * 7.0
        out[f"{pool_name}_hours_used"] = result.work_hours[:, q, :]
        # In FTE-equivalents at the pool's statutory hours (locum hours included).
        per_fte_week = max(pool.hours_per_fte_day() * 7.0, 1e-9)
        out[f"{pool_name}_fte_available"] = out[f"{pool_name}_hours_available"] / per_fte_week
        out[f"{pool_name}_fte_used"] = out[f"{pool_name}_hours_used"] / per_fte_week
        out[f"{pool_name}_locum_hours"] = np.broadcast_to(locum_week, (n_paths, n_weeks))
        pool_cost = (in_post * pool.cost_per_fte_year * 7.0 / 365.25
                     + locum_week[None, :] * pool.locum_cost_per_hour)
        out[f"{pool_name}_cost_gbp"] = pool_cost
        cost = cost + pool_cost
    out["cost_gbp"] = cost

    week = np.arange(n_weeks)
    week_end = pd.to_datetime([start + timedelta(days=7 * int(w) + 6) for w in week])
    frame = pd.DataFrame({
        "scenario": np.full(n_paths * n_weeks, scenario, dtype=object),
        "path": np.repeat(np.arange(n_paths) + result.first_path, n_weeks),
        "week": np.tile(week, n_paths),
        "week_end": np.tile(week_end.to_numpy(), n_paths),
    })
    cols = {k: np.asarray(v).reshape(-1) for k, v in out.items()}
    frame = pd.concat([frame, pd.DataFrame(cols)], axis=1)
    frame["scenario"] = frame["scenario"].astype("category")
    return frame


def case_records(
    records: dict[str, np.ndarray],
    cases: CaseArrays,
    result_exit_time: np.ndarray,
    result_exit_code: np.ndarray,
    config: CapacityConfig,
    scenario: str,
) -> pd.DataFrame:
    """One row per case-stage visit of the recorded path, with the case's attributes.

    Times are days from the start (negative for cases open at the start); ``request_date``,
    ``deadline_date`` and ``exit_date`` are calendar dates. ``exit`` is the exit name, ``open``
    when the case was still open at the horizon.
    """
    start = config.simulation.start
    case = records["case"]
    names = [g.name for g in config.pipeline.complexity]
    cx = cases.complexity[case]
    exit_code = result_exit_code[case]
    exit_names = np.array(list(EXITS) + ["open", "not_arrived"], dtype=object)
    code_idx = np.where(exit_code >= 0, exit_code, len(EXITS) - 1 - exit_code)

    def to_date(days: np.ndarray) -> pd.DatetimeIndex:
        base = pd.Timestamp(start)
        return base + pd.to_timedelta(np.where(np.isfinite(days), days, np.nan), unit="D")

    exit_time = result_exit_time[case]
    frame = pd.DataFrame({
        "scenario": scenario,
        "path": records["path"],
        "case": case,
        "origin": np.array(ORIGINS, dtype=object)[cases.origin[case]],
        "case_class": np.where(cases.case_class[case] == CLASS_NEW, "new", "review"),
        "complexity": np.where(cx >= 0, np.array(names + [""], dtype=object)[cx], ""),
        "exception": cases.exception[case],
        "stage": np.array(STAGES, dtype=object)[records["stage"]],
        "request_time": cases.time[case],
        "arrive": records["arrive"],
        "start": records["start"],
        "end": records["end"],
        "deadline": cases.deadline[case],
        "exit": exit_names[code_idx],
        "exit_time": exit_time,
    })
    frame["request_date"] = to_date(frame["request_time"].to_numpy())
    frame["deadline_date"] = to_date(frame["deadline"].to_numpy())
    frame["exit_date"] = to_date(exit_time)
    frame["weeks_late_at_exit"] = np.where(np.isfinite(exit_time),
                                           (exit_time - cases.deadline[case]) / 7.0, np.nan)
    return frame

