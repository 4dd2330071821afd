"""Forecast accuracy measures on plain arrays: MASE, RMSSE, sMAPE, coverage, pinball, CRPS.

Scaled errors divide by each series' in-sample mean absolute (or squared) one-step change, so
scores pool across LAs of very different size; ``mase = 1`` means as wrong, on average, as a
one-year-ahead naive forecast was in the history.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["coverage", "crps_from_quantiles", "mase", "naive_scale", "pinball", "rmsse", "smape"]

ArrayLike = npt.ArrayLike


def naive_scale(history: ArrayLike, power: int = 1) -> float:
    """Mean of ``|y_t - y_{t-1}| ** power`` over the history (NaN if fewer than 2 values).

    Examples
    --------
    >>> naive_scale([10, 12, 11, 15])
    2.3333333333333335
    >>> naive_scale([10, 12, 11, 15], power=2)
    7.0
    """
    y = np.asarray(history, dtype=float)
    if len(y) < 2:
        return float("nan")
    return float(np.mean(np.abs(np.diff(y)) ** power))


def mase(y: ArrayLike, yhat: ArrayLike, scale: ArrayLike) -> float:
    """Mean absolute scaled error: ``mean(|y - yhat| / scale)`` (``scale`` from naive_scale).

    Pairs whose scale is zero or missing (a flat or one-point history) are left out.

    Examples
    --------
    >>> mase([12, 14], [10, 10], [2, 2])
    1.5
    """
    y, f, s = (np.asarray(a, dtype=float) for a in (y, yhat, scale))
    s = np.broadcast_to(s, y.shape)
    ok = np.isfinite(s) & (s > 0) & np.isfinite(y) & np.isfinite(f)
    return float(np.mean(np.abs(y[ok] - f[ok]) / s[ok])) if ok.any() else float("nan")


def rmsse(y: ArrayLike, yhat: ArrayLike, scale2: ArrayLike) -> float:
    """Root mean squared scaled error; ``scale2`` is the mean squared one-step change.

    Examples
    --------
    >>> rmsse([12, 14], [10, 10], [4, 4])
    1.5811388300841898
    """
    y, f, s = (np.asarray(a, dtype=float) for a in (y, yhat, scale2))
    s = np.broadcast_to(s, y.shape)
    ok = np.isfinite(s) & (s > 0) & np.isfinite(y) & np.isfinite(f)
    return float(np.sqrt(np.mean((y[ok] - f[ok]) ** 2 / s[ok]))) if ok.any() else float("nan")


def smape(y: ArrayLike, yhat: ArrayLike) -> float:
    """Symmetric MAPE in percent, ``200 * |y - f| / (|y| + |f|)``; 0 when both are 0.

    Examples
    --------
    >>> round(smape([100, 0], [110, 0]), 3)
    4.762
    """
    y, f = np.asarray(y, dtype=float), np.asarray(yhat, dtype=float)
    den = np.abs(y) + np.abs(f)
    val = np.where(den > 0, 200.0 * np.abs(y - f) / np.where(den > 0, den, 1.0), 0.0)
    return float(np.mean(val))


def coverage(y: ArrayLike, lo: ArrayLike, hi: ArrayLike) -> float:
    """Share of outcomes inside ``[lo, hi]`` (in percent).

    Examples
    --------
    >>> round(coverage([1, 5, 9], [0, 0, 0], [6, 6, 6]), 2)
    66.67
    """
    y, a, b = (np.asarray(v, dtype=float) for v in (y, lo, hi))
    return float(100.0 * np.mean((y >= a) & (y <= b)))


def pinball(y: ArrayLike, q: ArrayLike, tau: float) -> float:
    """Mean pinball (quantile) loss of quantile forecast ``q`` at probability ``tau``.

    Examples
    --------
    >>> pinball([10, 10], [8, 12], 0.9)
    1.0
    """
    y, f = np.asarray(y, dtype=float), np.asarray(q, dtype=float)
    d = y - f
    return float(np.mean(np.maximum(tau * d, (tau - 1.0) * d)))


def crps_from_quantiles(y: ArrayLike, quantiles: dict[float, ArrayLike]) -> float:
    """CRPS approximated by twice the mean pinball loss over the given quantile forecasts.

    With only a few quantiles (e.g. the median and the 80/95% bounds) this is the usual
    interval-based approximation; it is on the scale of ``y``, so divide by a series scale
    before pooling across LAs.

    Examples
    --------
    >>> from scipy import stats
    >>> y = np.zeros(2000)
    >>> taus = np.linspace(0.01, 0.99, 99)
    >>> approx = crps_from_quantiles(y, {t: np.full(2000, stats.norm.ppf(t)) for t in taus})
    >>> round(approx, 2)  # exact CRPS of N(0, 1) at 0 is 0.234
    0.24
    """
    taus = sorted(quantiles)
    return float(2.0 * np.mean([pinball(y, quantiles[t], t) for t in taus]))
