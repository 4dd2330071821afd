"""Analytic queueing formulas against textbook identities and an independent evaluation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from forecasting.capacity.queueing import (
    erlang_b,
    erlang_c,
    littles_law,
    mmc_mean_sojourn,
    mmc_mean_wait,
    mmc_wait_tail,
    tandem_mean_sojourn,
    tandem_sojourn_cdf,
)
from forecasting.errors import EhcpError


def erlang_c_factorial(c: int, a: float) -> float:
    """Erlang C as printed in textbooks (e.g. Gross & Harris, Fundamentals of Queueing Theory):

    C(c, a) = (a^c / c!) (c / (c - a)) / (sum_{k=0}^{c-1} a^k / k! + (a^c / c!) (c / (c - a)))
    """
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


@pytest.mark.parametrize("c", [1, 2, 3, 5, 10, 20])
@pytest.mark.parametrize("rho", [0.1, 0.5, 0.8, 0.95, 0.99])
def test_erlang_c_matches_the_factorial_formula(c: int, rho: float) -> None:
    a = rho * c
    assert erlang_c(c, a) == pytest.approx(erlang_c_factorial(c, a), rel=1e-10)


def test_textbook_values() -> None:
    # M/M/1: P(wait) = rho, Wq = rho / (mu - lam), W = 1 / (mu - lam).
    assert erlang_c(1, 0.7) == pytest.approx(0.7)
    assert mmc_mean_wait(0.7, 1.0, 1) == pytest.approx(0.7 / 0.3)
    assert mmc_mean_sojourn(0.7, 1.0, 1) == pytest.approx(1 / 0.3)
    # Erlang B for 2 servers at 1 Erlang: (1/2) / (1 + 1 + 1/2) = 0.2; Erlang C = 1/3.
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    # M/M/2 with lam = 1, mu = 1: Wq = C / (2 - 1) = 1/3.
    assert mmc_mean_wait(1.0, 1.0, 2) == pytest.approx(1 / 3)


def test_wait_tail_integrates_to_the_mean_wait() -> None:
    lam, mu, c = 4.0, 1.0, 5
    area, _ = integrate.quad(lambda t: mmc_wait_tail(lam, mu, c, t), 0, np.inf)
    assert area == pytest.approx(mmc_mean_wait(lam, mu, c), rel=1e-8)


def test_tandem_cdf_matches_the_hypoexponential_closed_form() -> None:
    lam, mus = 0.5, [1.0, 1.5, 2.5]
    r = [mu - lam for mu in mus]  # distinct rates: closed form exists
    t = np.array([0.5, 1.0, 3.0, 8.0])

    def closed(x: float) -> float:
        tot = 0.0
        for i, ri in enumerate(r):
            w = np.prod([rj / (rj - ri) for j, rj in enumerate(r) if j != i])
            tot += w * math.exp(-ri * x)
        return 1.0 - tot

    np.testing.assert_allclose(tandem_sojourn_cdf(lam, mus, t), [closed(x) for x in t],
                               rtol=1e-9)
    grid = np.linspace(0.0, 60.0, 3001)  # the tail beyond 60 is below 1e-11
    mean = integrate.trapezoid(1.0 - tandem_sojourn_cdf(lam, mus, grid), grid)
    assert mean == pytest.approx(tandem_mean_sojourn(lam, mus), rel=1e-5)


def test_unstable_queue_is_a_user_error() -> None:
    with pytest.raises(EhcpError, match="offered load"):
        mmc_mean_wait(2.0, 1.0, 2)


def test_littles_law_on_a_hand_example() -> None:
    arrive = np.array([0.0, 1.0, 2.0, 3.0])
    leave = np.array([2.0, 2.5, 4.0, np.nan])
    L, lam, W = littles_law(arrive, leave, 0.0, 4.0)
    # presence: 2 + 1.5 + 2 + 1 = 6.5 over 4 days; 4 arrivals; sojourns 2, 1.5, 2.
    assert (L, lam, W) == pytest.approx((6.5 / 4, 1.0, 5.5 / 3))
