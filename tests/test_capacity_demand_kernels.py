"""demand_kernels: the compiled passes equal, bit for bit, the numpy expressions they replaced."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.capacity.demand_buffers import EMPTY_DTYPES, FIELDS
from forecasting.capacity.demand_kernels import (
    count_below,
    pick_days,
    repeat_times,
    request_cases,
    review_cases,
    review_times,
)


def fields(n: int) -> tuple[np.ndarray, ...]:
    """CaseArrays field arrays of length ``n`` filled with 7 (to see what a kernel leaves)."""
    return tuple(np.full(n, 7, EMPTY_DTYPES[f]) for f in FIELDS)


def untouched(a: np.ndarray, lo: int, hi: int) -> bool:
    """Whether ``a`` still holds :func:`fields`'s fill outside ``lo:hi``."""
    fill = np.full(1, 7, a.dtype)[0]
    return bool((a[:lo] == fill).all() and (a[hi:] == fill).all())


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 400), tie=st.booleans())
def test_request_cases_equal_the_numpy_steps(seed: int, n: int, tie: bool) -> None:
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.0, 730.0, n)
    if tie:
        t = np.floor(t)  # ties, as when requests fall on the same day
    u_group, u_exc, u_plan = rng.random(n), rng.random(n), rng.random(n)
    cum = np.cumsum([0.5, 0.3, 0.2])
    mult = np.array([1.0, 1.5, 2.5])
    at = int(rng.integers(0, 5))
    out = fields(at + n + 3)
    issue = np.empty(n)
    n_plans = request_cases(t, u_group, cum / cum[-1], mult, u_exc, 0.1, u_plan, 0.7, 140.0, 0,
                            1, out, at, issue, np.empty(n, np.int64), np.empty(n, np.int64))
    s = t[np.argsort(t, kind="stable")] if n > 1 else t
    cx = np.minimum(np.searchsorted(cum / cum[-1], u_group, side="right"), len(cum) - 1)
    want = (s, np.zeros(n, np.int64), np.ones(n, np.int64), mult[cx], s + 140.0,
            cx.astype(np.int8), u_exc < 0.1, np.zeros(n, np.int8))
    for g, w in zip(out, want, strict=True):
        assert g.dtype == w.dtype and g[at:at + n].tobytes() == w.tobytes()
        assert untouched(g, at, at + n)
    assert issue[:n_plans].tobytes() == (s[u_plan < 0.7] + 140.0).tobytes()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n1=st.integers(0, 300), n2=st.integers(0, 300),
       hazard=st.sampled_from([1e-300, 1e-4, 3e-4, 0.05]))
def test_review_times_equal_the_numpy_steps(seed: int, n1: int, n2: int, hazard: float) -> None:
    rng = np.random.default_rng(seed)
    u5_stock, u_first, e_stock = rng.random(n1), rng.random(n1), rng.exponential(1.0, n1)
    u5_new, e_new = rng.random(n2), rng.exponential(1.0, n2)
    issue = rng.uniform(140.0, 2000.0, n2)
    horizon = 1826.0

    def interval(u: np.ndarray) -> np.ndarray:
        return np.where(u < 0.3, 6.0, 12.0) * 365.25 / 12.0

    iv1, iv2 = interval(u5_stock), interval(u5_new)
    rt1 = repeat_times(u_first * iv1, iv1, np.minimum(e_stock / hazard, horizon))
    rt2 = repeat_times(issue + iv2, iv2, np.minimum(issue + e_new / hazard, horizon))
    args = (u5_stock, u_first, e_stock, u5_new, e_new, issue, 0.3, 6.0, 12.0, hazard, horizon)
    work = (np.empty(n1 + n2), np.empty(n1 + n2), np.empty(n1 + n2, np.int64))
    short = np.full(max(rt1.size + rt2.size - 1, 0), 7.0)
    assert review_times(*args, short, *work) == (rt1.size, rt2.size)
    assert (short == 7.0).all()  # too short: nothing written
    out = np.empty(rt1.size + rt2.size + 2)
    assert review_times(*args, out, *work) == (rt1.size, rt2.size)
    assert out[:rt1.size + rt2.size].tobytes() == np.concatenate([rt1, rt2]).tobytes()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n1=st.integers(0, 300), n2=st.integers(0, 300),
       share=st.sampled_from([0.0, 0.1, 1.0]))
def test_review_cases_equal_the_numpy_steps(seed: int, n1: int, n2: int, share: float) -> None:
    rng = np.random.default_rng(seed)
    rt1, rt2 = rng.uniform(0.0, 1900.0, n1), rng.uniform(100.0, 1900.0, n2)
    u_phase = rng.random(n1 + n2)
    due_at = np.array([-100.0, 240.0, 605.0, 970.0, 1335.0, 1700.0])
    n_phase = count_below(u_phase, share)
    assert n_phase == np.count_nonzero(u_phase < share)
    lead = rng.uniform(28.0, 84.0, n_phase)
    horizon = 1500.0  # about one review in five falls after it
    at = int(rng.integers(0, 5))
    out = fields(at + n1 + n2 + 3)
    m = review_cases(rt1, rt2, 28.0, u_phase, share, due_at, lead, horizon, 5, 1, out, at)
    # The numpy steps review_cases replaced.
    rt = np.concatenate([rt1, rt2])
    deadline = rt + 28.0
    origin = np.concatenate([np.full(n1, 2, np.int8), np.full(n2, 3, np.int8)])
    phase = u_phase < share
    if phase.any():
        pos = np.searchsorted(due_at, rt[phase], side="right")
        due = due_at[np.minimum(pos, due_at.shape[0] - 1)]
        rt[phase] = np.maximum(due - lead, rt[phase] - 365.0)
        deadline[phase] = due
    keep = (rt >= 0) & (rt < horizon)
    k = int(keep.sum())
    want = (rt[keep], np.full(k, 5, np.int64), np.ones(k, np.int64), np.ones(k),
            deadline[keep], np.full(k, -1, np.int8), np.zeros(k, bool), origin[keep])
    assert m == k
    for g, w in zip(out, want, strict=True):
        assert g.dtype == w.dtype and g[at:at + m].tobytes() == w.tobytes()
        assert untouched(g, at, at + m)


def test_repeat_times_by_hand() -> None:
    # Every 2 days from 0 until 5; an item whose end comes before its first time has none.
    t = repeat_times(np.array([0.0, 5.0, 1.0]), np.array([2.0, 10.0, 0.5]),
                     np.array([5.0, 4.0, 2.0]))
    assert t.tolist() == [0.0, 2.0, 4.0, 1.0, 1.5]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 400), n=st.integers(0, 500),
       zeros=st.booleans())
def test_pick_days_equals_searchsorted(seed: int, m: int, n: int, zeros: bool) -> None:
    rng = np.random.default_rng(seed)
    w = rng.choice([0.4, 1.0, 1.3], m)
    if zeros:
        w[rng.random(m) < 0.3] = 0.0  # days without requests: repeated cdf values
        w[rng.integers(m)] = 1.0
    cdf = np.cumsum(w) / w.sum()
    in_year = np.arange(m, dtype=np.int64) + 100
    u_day, u_time = rng.random(n), rng.random(n)
    u_day[: n // 10] = cdf[rng.integers(0, m, n // 10)]  # draws equal to a cdf value
    out = np.full(n + 3, 7.0)
    pick_days(cdf, in_year, u_day, u_time, out, 2)
    want = in_year[np.minimum(np.searchsorted(cdf, u_day, side="right"), m - 1)] + u_time
    assert out[2:2 + n].tobytes() == want.tobytes()
    assert out[0] == out[1] == out[-1] == 7.0
