"""sojourn_sums: the compiled pass gives numpy's sums bit for bit (the formula it replaced)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_equal

from forecasting.capacity.diagnostics import sojourn_sums


def numpy_sums(time: np.ndarray, exit_time: np.ndarray, exit_code: np.ndarray,
               is_new: np.ndarray, horizon: float) -> dict[str, float]:
    # The numpy expressions sojourn_sums used before it was compiled (the reference).
    t = time[is_new]
    x = exit_time[is_new]
    c = exit_code[is_new]
    arrived = t < horizon
    end = np.where(c >= 0, np.nan_to_num(x, nan=horizon), horizon)
    area = np.clip(np.minimum(end, horizon) - np.maximum(t, 0.0), 0.0, None)[arrived].sum()
    fin = (c >= 0) & (t >= 0)
    with np.errstate(invalid="ignore"):  # +inf and -inf exit times add up to NaN
        days = (x[fin] - t[fin]).sum()
    return {"area": float(area), "completed": float(fin.sum()), "completed_days": float(days),
            "arrivals": float(((t >= 0) & arrived).sum())}


def random_block(rng: np.random.Generator, n: int, horizon: float, special_values: bool = True
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    time = rng.uniform(-400.0, horizon * 1.1, n)
    stay = rng.exponential(150.0, n) * rng.choice([1.0, 1e-7, 1e5], n)
    exit_time = time + stay
    exit_code = rng.integers(-2, 5, n)
    exit_time[exit_code < 0] = np.nan
    if not special_values:
        return time, exit_time, exit_code, rng.random(n) < 0.7
    special = rng.random(n)
    exit_time[special < 0.01] = np.inf
    exit_time[(special >= 0.01) & (special < 0.02)] = -np.inf
    exit_time[(special >= 0.02) & (special < 0.03)] = np.nan
    time[(special >= 0.03) & (special < 0.04)] = 0.0
    return time, exit_time, exit_code, rng.random(n) < 0.7


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 3000), special=st.booleans())
def test_sojourn_sums_equal_numpy_bit_for_bit(seed: int, n: int, special: bool) -> None:
    horizon = 1826.0
    args = random_block(np.random.default_rng(seed), n, horizon, special)
    # assert_equal: NaN (an exit with no time) equals NaN, and 0.0 and -0.0 differ.
    assert_equal(sojourn_sums(*args, horizon), numpy_sums(*args, horizon))


def test_sojourn_sums_equal_numpy_on_a_block_sized_input() -> None:
    # Past numpy's 128-value blocks and several halvings, where a plain running sum would
    # differ from np.sum in the last bits.
    horizon = 1826.0
    args = random_block(np.random.default_rng(2025), 400_000, horizon, special_values=False)
    got = sojourn_sums(*args, horizon)
    assert_equal(got, numpy_sums(*args, horizon))
    assert np.isfinite(got["completed_days"]) and got["completed"] > 100_000
    running = 0.0
    t, x, c, new = args
    for v in np.clip(np.minimum(np.where(c >= 0, np.nan_to_num(x, nan=horizon), horizon),
                                horizon) - np.maximum(t, 0.0), 0.0, None)[new & (t < horizon)]:
        running += float(v)
    assert running != got["area"]  # so the equality above is a test of the summation order


def test_sojourn_sums_by_hand() -> None:
    # Case 0 open at the start (-2) leaves at 4: 4 days inside the window, not an arrival;
    # case 1 arrives at 1, leaves at 5: 4 days, completed; case 2 arrives at 3, still open at
    # the horizon 10: 7 days; case 3 is not new; case 4 arrives after the horizon.
    s = sojourn_sums(np.array([-2.0, 1.0, 3.0, 0.0, 12.0]),
                     np.array([4.0, 5.0, np.nan, 1.0, np.nan]),
                     np.array([0, 1, -1, 0, -2]), np.array([True, True, True, False, True]), 10.0)
    assert s == {"area": 15.0, "completed": 1.0, "completed_days": 4.0, "arrivals": 2.0}
