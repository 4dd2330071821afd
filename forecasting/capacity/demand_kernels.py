"""Compiled passes of :func:`forecasting.capacity.demand.path_cases`: the draws are made there
(numpy's generator, always in the same order: they define the cases), these turn them into case
arrays in one call each instead of a numpy temporary per step, with the same floating-point
operations, so the cases are bit for bit those of the numpy expressions they replaced.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from forecasting.capacity.engine_heaps import time_order

__all__ = ["count_below", "group_of", "pick_days", "repeat_times", "request_cases",
           "review_cases", "review_times"]


def repeat_times(first: np.ndarray, interval: np.ndarray, end: np.ndarray) -> np.ndarray:
    """All ``first + k * interval < end`` (k >= 0), item by item.

    Examples
    --------
    >>> repeat_times(np.array([0.0, 5.0]), np.array([2.0, 10.0]), np.array([5.0, 4.0])).tolist()
    [0.0, 2.0, 4.0]
    """
    return _repeat_kernel(np.asarray(first, np.float64), np.asarray(interval, np.float64),
                          np.asarray(end, np.float64))


@njit(cache=True, nogil=True)
def _repeat_kernel(first, interval, end):
    # One compiled pass instead of numpy temporaries (ceil, repeat, cumsum, gathers): the same
    # counts and the same floating-point sums, first + float(k) * interval.
    n = first.shape[0]
    k = np.empty(n, np.int64)
    total = 0
    for i in range(n):
        k[i] = _n_repeats(first[i], interval[i], end[i])
        total += k[i]
    times = np.empty(total, np.float64)
    _write_repeats(first, interval, k, n, times)
    return times


@njit(cache=True, inline="always")
def _n_repeats(first, interval, end):
    """How many ``first + k * interval < end`` (k >= 0)."""
    return math.ceil((end - first) / interval) if first < end else 0


@njit(cache=True, inline="always")
def _write_repeats(first, interval, count, n, out):
    """Items ``0 .. n - 1``'s ``count[i]`` times ``first[i] + float(k) * interval[i]``, one
    after another from ``out[0]``."""
    j = 0
    for i in range(n):
        for k in range(count[i]):
            out[j] = first[i] + float(k) * interval[i]
            j += 1


@njit(cache=True, nogil=True)
def review_times(u5_stock, u_first, e_stock, u5_new, e_new, issue, under5_share,
                  under5_months, months, hazard, horizon, out, first, step, count):
    """Review meeting times of the stock and of new plans issued at ``issue`` from their
    draws, into ``out`` (the stock's, then the new plans'), as one call instead of numpy
    temporaries: intervals ``months * 365.25 / 12`` (``under5_months`` for the under-fives),
    the stock's first review a uniform share of an interval in, reviews until the plan ceases
    (exponential draw / hazard) or the horizon; the same floating-point operations as the
    numpy code. ``first``, ``step`` (float64) and ``count`` (int64) are scratch with room for
    every plan. Returns the two counts; if ``out`` is too short for both, nothing is written
    (call again with room for their sum)."""
    n1 = u5_stock.shape[0]
    n2 = u5_new.shape[0]
    total1 = 0
    total2 = 0
    for i in range(n1 + n2):
        under5 = u5_stock[i] < under5_share if i < n1 else u5_new[i - n1] < under5_share
        iv = (under5_months if under5 else months) * 365.25 / 12.0
        if i < n1:
            f = u_first[i] * iv
            e = e_stock[i] / hazard
        else:
            f = issue[i - n1] + iv
            e = issue[i - n1] + e_new[i - n1] / hazard
        k = _n_repeats(f, iv, e if e < horizon else horizon)
        first[i] = f
        step[i] = iv
        count[i] = k
        if i < n1:
            total1 += k
        else:
            total2 += k
    if total1 + total2 <= out.shape[0]:
        _write_repeats(first, step, count, n1 + n2, out)
    return total1, total2


@njit(cache=True, inline="always")
def _count_le(cdf, u, lo):
    """``np.searchsorted(cdf, u, side="right")`` (the number of ``cdf <= u``), scanning up from
    ``lo``, a count known not to exceed it."""
    i = lo
    n = cdf.shape[0]
    while i < n and cdf[i] <= u:
        i += 1
    return i


@njit(cache=True, nogil=True)
def pick_days(cdf, in_year, u_day, u_time, out, at):
    """``in_year[min(searchsorted(cdf, u_day, "right"), m - 1)] + u_time`` into ``out[at:]``.

    A guide table (the count of ``cdf <= j / m``) starts each search a step or two below its
    answer, so the result is searchsorted's, in about one comparison per draw.
    """
    m = cdf.shape[0]
    guide = np.empty(m + 1, np.int64)
    lo = 0
    for j in range(m + 1):
        lo = _count_le(cdf, j / m, lo)
        guide[j] = lo
    for i in range(u_day.shape[0]):
        # int(u * m) - 1 <= u * m - 1 < u * m, so the guide entry never overshoots.
        u = u_day[i]
        j = int(u * m) - 1
        k = guide[j] if j > 0 else 0
        # The answer is a step or two on: two steps without a branch (a step from k < m never
        # overshoots; past m - 1 all is m - 1 in the end), then any more.
        k += cdf[min(k, m - 1)] <= u
        k += cdf[min(k, m - 1)] <= u
        k = _count_le(cdf, u, min(k, m))
        out[at + i] = in_year[min(k, m - 1)] + u_time[i]


@njit(cache=True, nogil=True)
def request_cases(t, u_group, group_cum, group_mult, u_exception, p_exception, u_plan,
                   p_plan, final_days, stage, case_class, out, at, issue, order, key):
    """The requests' :class:`CaseArrays` fields from their times (in any order) and draws,
    written into ``out`` (the eight field arrays, in field order) from index ``at``, in one
    call instead of numpy temporaries; the issue times of those that become plans go to
    ``issue`` (room for ``t.shape[0]``) and their number is returned. ``order`` and ``key``
    are int64 scratch (room for ``t.shape[0]``).

    Times are ordered by :func:`time_order` (spread over the days, an O(n) stable ordering
    beats a comparison sort; the sorted values are the same); draw ``i`` goes to the ``i``-th
    request in time order. The complexity group is the number of ``group_cum <= u`` (at most
    the last group), as ``np.searchsorted(group_cum, u, "right")``.
    """
    time, stage_out, class_out, mult, deadline, group, exception, origin = out
    n = t.shape[0]
    if n > 1:
        time_order(t, order[:n], key[:n])
        for i in range(n):
            time[at + i] = t[order[i]]
    elif n == 1:
        time[at] = t[0]
    # Field by field, without branches on the draws (they would be mispredicted half the
    # time): the group is the count of group_cum[:last] <= u, a plan's issue time is written
    # every time and kept by counting.
    last = group_cum.shape[0] - 1
    for i in range(at, at + n):
        stage_out[i] = stage
        class_out[i] = case_class
        origin[i] = 0
        deadline[i] = time[i] + final_days
    for i in range(n):
        exception[at + i] = u_exception[i] < p_exception
    for i in range(n):
        k = group_of(group_cum, last, u_group[i])
        group[at + i] = k
        mult[at + i] = group_mult[k]
    n_plans = 0
    for i in range(n):
        issue[n_plans] = time[at + i] + final_days
        n_plans += u_plan[i] < p_plan
    return n_plans


@njit(cache=True, inline="always")
def group_of(group_cum, last, u):
    """The complexity group of draw ``u``: ``searchsorted(group_cum, u, "right")``, at most
    ``last`` (``group_cum`` increasing), counted without a branch on ``u``.

    Also compiled into ``initial._estimated_cases``, whose on-disk cache is keyed by its own
    file's text only: after changing this, touch initial.py too."""
    k = 0
    for g in range(last):
        k += group_cum[g] <= u
    return k


@njit(cache=True, nogil=True)
def count_below(u, x):
    """The number of ``u < x`` (``np.count_nonzero(u < x)`` without the temporary)."""
    n = 0
    for i in range(u.shape[0]):
        if u[i] < x:
            n += 1
    return n


@njit(cache=True, nogil=True)
def review_cases(rt1, rt2, decision_days, u_phase, phase_share, due_at, lead, horizon,
                  review_stage, review_class, out, at):
    """The annual reviews kept in the window, written into ``out`` (the eight field arrays,
    in field order) from index ``at`` (room for all of ``rt1`` and ``rt2``); returns how many.
    Review ``i`` is a phase transfer if ``u_phase[i] < phase_share``; transfers are moved
    ahead of their deadline (see :func:`path_cases`), taking ``lead`` in turn. One pass
    instead of a numpy temporary per step (same values); origins: stock 2, new plans 3."""
    time, stage, case_class, mult, deadline, group, exception, origin = out
    n1 = rt1.shape[0]
    n = n1 + rt2.shape[0]
    last = due_at.shape[0] - 1
    m = at
    j = 0
    for i in range(n):
        r = rt1[i] if i < n1 else rt2[i - n1]
        dl = r + decision_days
        if u_phase[i] < phase_share:
            k = _count_le(due_at, r, 0)
            due = due_at[k if k < last else last]
            early = due - lead[j]
            j += 1
            late = r - 365.0
            r = early if early >= late else late
            dl = due
        if r >= 0 and r < horizon:
            time[m] = r
            stage[m] = review_stage
            case_class[m] = review_class
            mult[m] = 1.0
            deadline[m] = dl
            group[m] = -1
            exception[m] = False
            origin[m] = 2 if i < n1 else 3
            m += 1
    return m - at
