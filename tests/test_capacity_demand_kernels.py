"""demand_kernels: the compiled passes equal, bit for bit, the numpy expressions they replaced."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.capacity.demand_kernels import repeat_times, request_cases, review_times


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
    got = request_cases(t, u_group, cum / cum[-1], mult, u_exc, 0.1, u_plan, 0.7, 140.0, 0, 1)
    s = t[np.argsort(t, kind="stable")] if n > 1 else t
    cx = np.minimum(np.searchsorted(cum / cum[-1], u_group, side="right"), len(cum) - 1)
    want = (s, np.zeros(n, np.int64), np.ones(n, np.int64), mult[cx], s + 140.0,
            cx.astype(np.int8), u_exc < 0.1, np.zeros(n, np.int8), s[u_plan < 0.7] + 140.0)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.tobytes() == w.tobytes()


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
    got1, got2 = review_times(u5_stock, u_first, e_stock, u5_new, e_new, issue, 0.3, 6.0, 12.0,
                              hazard, horizon)
    assert got1.tobytes() == rt1.tobytes() and got2.tobytes() == rt2.tobytes()


def test_repeat_times_by_hand() -> None:
    # Every 2 days from 0 until 5; an item whose end comes before its first time has none.
    t = repeat_times(np.array([0.0, 5.0, 1.0]), np.array([2.0, 10.0, 0.5]),
                     np.array([5.0, 4.0, 2.0]))
    assert t.tolist() == [0.0, 2.0, 4.0, 1.0, 1.5]
