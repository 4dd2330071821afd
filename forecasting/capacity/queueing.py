"""Analytic queueing results used to check the simulator and for quick diagnostics.

- M/M/c (Erlang C): probability of waiting, mean wait, wait tail, mean sojourn.
- A tandem of M/M/1 stations (Jackson network; by Burke's theorem and Reich's result the
  stations' sojourn times are independent exponentials with rates ``mu_i - lam``): mean and
  distribution of the total sojourn.
- Little's law, ``L = lambda W``, from simulated case intervals.

Time units are whatever the rates are in (per day here).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.linalg import expm

from forecasting.errors import EhcpError

__all__ = [
    "erlang_b",
    "erlang_c",
    "littles_law",
    "mmc_mean_sojourn",
    "mmc_mean_wait",
    "mmc_wait_tail",
    "tandem_mean_sojourn",
    "tandem_sojourn_cdf",
]


def _check_stable(lam: float, mu: float, c: int) -> float:
    if lam < 0 or mu <= 0 or c < 1:
        raise EhcpError(f"need lam >= 0, mu > 0 and c >= 1 (got {lam}, {mu}, {c})",
                        field="queue", fix="give a non-negative arrival rate, a positive "
                        "service rate and at least one server")
    a = lam / mu
    if a >= c:
        raise EhcpError(f"offered load {a:.3g} is not below {c} servers: the queue grows "
                        "without limit", field="queue", fix="add servers or reduce demand")
    return a


def erlang_b(c: int, a: float) -> float:
    """Erlang B blocking probability for ``c`` servers and offered load ``a`` Erlangs.

    Uses the stable recursion ``B(0) = 1``, ``B(k) = a B(k-1) / (k + a B(k-1))``.

    Examples
    --------
    >>> round(erlang_b(2, 1.0), 6)  # (1/2) / (1 + 1 + 1/2)
    0.2
    """
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """Erlang C: probability that an arrival waits in M/M/c with offered load ``a = lam / mu``.

    ``C(c, a) = [a^c / c! * c / (c - a)] / [sum_{k<c} a^k / k! + a^c / c! * c / (c - a)]``,
    computed as ``c B / (c - a (1 - B))`` with ``B`` the Erlang B probability.

    Examples
    --------
    >>> round(erlang_c(1, 0.8), 6)  # M/M/1: the utilisation
    0.8
    >>> round(erlang_c(2, 1.0), 6)  # 2 servers at load 1: 1/3
    0.333333
    """
    if a >= c:
        return 1.0
    b = erlang_b(c, a)
    return c * b / (c - a * (1.0 - b))


def mmc_mean_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue ``Wq = C(c, a) / (c mu - lam)`` for M/M/c.

    Examples
    --------
    >>> round(mmc_mean_wait(0.8, 1.0, 1), 6)  # rho / (mu - lam)
    4.0
    """
    a = _check_stable(lam, mu, c)
    return erlang_c(c, a) / (c * mu - lam)


def mmc_wait_tail(lam: float, mu: float, c: int, t: float) -> float:
    """``P(Wq > t) = C(c, a) exp(-(c mu - lam) t)`` for M/M/c, FIFO.

    Examples
    --------
    >>> round(mmc_wait_tail(0.8, 1.0, 1, 0.0), 6)
    0.8
    """
    a = _check_stable(lam, mu, c)
    return erlang_c(c, a) * math.exp(-(c * mu - lam) * t)


def mmc_mean_sojourn(lam: float, mu: float, c: int) -> float:
    """Mean time in system ``Wq + 1 / mu`` for M/M/c.

    Examples
    --------
    >>> round(mmc_mean_sojourn(0.5, 1.0, 1), 6)
    2.0
    """
    return mmc_mean_wait(lam, mu, c) + 1.0 / mu


def tandem_mean_sojourn(lam: float, mus: Sequence[float]) -> float:
    """Mean total sojourn through M/M/1 stations in series: ``sum 1 / (mu_i - lam)``.

    Examples
    --------
    >>> tandem_mean_sojourn(0.5, [1.0, 1.0, 2.0])
    4.666666666666667
    """
    for mu in mus:
        _check_stable(lam, mu, 1)
    return float(sum(1.0 / (mu - lam) for mu in mus))


def tandem_sojourn_cdf(lam: float, mus: Sequence[float], t: float | np.ndarray) -> np.ndarray:
    """``P(total sojourn <= t)`` through M/M/1 stations in series (FIFO, Poisson arrivals).

    The sojourn is a sum of independent exponentials with rates ``mu_i - lam`` (a
    hypoexponential, phase-type distribution), evaluated as ``1 - alpha expm(S t) 1``.

    Examples
    --------
    >>> float(np.round(tandem_sojourn_cdf(0.5, [1.0], 2.0), 6))  # 1 - exp(-0.5 * 2)
    0.632121
    """
    rates = [mu - lam for mu in mus]
    for mu in mus:
        _check_stable(lam, mu, 1)
    k = len(rates)
    s = np.zeros((k, k))
    for i, r in enumerate(rates):
        s[i, i] = -r
        if i + 1 < k:
            s[i, i + 1] = r
    ts = np.atleast_1d(np.asarray(t, dtype=float))
    pos = np.clip(ts, 0.0, None)
    # expm works on a stack of matrices: one call for every t.
    out = np.where(ts > 0, 1.0 - expm(s[None, :, :] * pos[:, None, None])[:, 0, :].sum(axis=1),
                   0.0)
    return out if np.ndim(t) else out.reshape(())


def littles_law(arrive: np.ndarray, leave: np.ndarray, t0: float, t1: float
                ) -> tuple[float, float, float]:
    """Time-average number in system ``L``, arrival rate ``lambda`` and mean sojourn ``W``.

    Over the window ``[t0, t1)``: ``L`` integrates every case's presence (``leave`` may be
    ``nan`` or ``inf`` for a case still in the system); ``lambda`` counts arrivals in the
    window; ``W`` is the mean sojourn of cases that arrived in the window and left. For a long
    stable window ``L`` is close to ``lambda * W``.

    Examples
    --------
    >>> L, lam, W = littles_law(np.array([0.0, 1.0]), np.array([2.0, 3.0]), 0.0, 4.0)
    >>> L, lam, W
    (1.0, 0.5, 2.0)
    """
    a = np.asarray(arrive, dtype=float)
    b = np.where(np.isnan(leave), np.inf, np.asarray(leave, dtype=float))
    span = t1 - t0
    inside = np.clip(np.minimum(b, t1) - np.maximum(a, t0), 0.0, None)
    arrived = (a >= t0) & (a < t1)
    done = arrived & np.isfinite(b)
    w = float(np.mean(b[done] - a[done])) if done.any() else float("nan")
    return float(inside.sum() / span), float(arrived.sum() / span), w
