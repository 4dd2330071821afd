"""Accuracy measures against hand computations and textbook definitions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from forecasting.metrics import (
    coverage,
    crps_from_quantiles,
    mase,
    naive_scale,
    pinball,
    rmsse,
    smape,
)


def test_mase_is_one_for_the_in_sample_naive_error() -> None:
    # Hyndman & Koehler (2006): MASE scales by the in-sample one-step naive MAE, so a forecast
    # error equal to that MAE scores exactly 1.
    history = np.array([10.0, 12.0, 11.0, 15.0, 14.0])
    scale = naive_scale(history)
    assert scale == pytest.approx((2 + 1 + 4 + 1) / 4)
    assert mase([20.0], [20.0 + scale], scale) == pytest.approx(1.0)


def test_scaled_errors_skip_flat_histories() -> None:
    assert np.isnan(naive_scale([5.0]))
    assert mase([1.0, 2.0], [0.0, 0.0], [0.0, 2.0]) == pytest.approx(1.0)
    assert np.isnan(mase([1.0], [0.0], [0.0]))


def test_rmsse_matches_its_definition() -> None:
    # M5 competition: sqrt(mean((y - f)^2) / mean(diff(history)^2)).
    history = np.array([3.0, 5.0, 4.0, 8.0])
    s2 = naive_scale(history, power=2)
    assert s2 == pytest.approx((4 + 1 + 16) / 3)
    y, f = np.array([9.0, 10.0]), np.array([8.0, 7.0])
    assert rmsse(y, f, s2) == pytest.approx(np.sqrt((1 + 9) / 2 / s2))


def test_smape_bounds_and_symmetry() -> None:
    assert smape([100.0], [100.0]) == 0.0
    assert smape([100.0], [0.0]) == pytest.approx(200.0)
    assert smape([80.0], [120.0]) == pytest.approx(smape([120.0], [80.0]))
    assert smape([0.0], [0.0]) == 0.0


def test_coverage_counts_bounds_as_inside() -> None:
    assert coverage([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0], [3.0, 3.0, 3.0, 3.0]) == 75.0


def test_pinball_at_the_median_is_half_the_absolute_error() -> None:
    y, q = np.array([3.0, 10.0]), np.array([5.0, 4.0])
    assert pinball(y, q, 0.5) == pytest.approx(0.5 * np.mean(np.abs(y - q)))


def test_crps_of_a_normal_forecast_matches_the_closed_form() -> None:
    # Gneiting & Raftery (2007): CRPS(N(mu, s), y) = s * (z(2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi)).
    mu, s, y = 0.0, 2.0, 1.3
    z = (y - mu) / s
    exact = s * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))
    taus = np.linspace(0.005, 0.995, 199)
    approx = crps_from_quantiles([y], {t: [stats.norm.ppf(t, mu, s)] for t in taus})
    assert approx == pytest.approx(exact, rel=0.02)
