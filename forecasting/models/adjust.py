"""How the 2020 Covid dip and the 2021/2022 SEN2 break in series are handled.

The documented choice, used by every model that has ``covid`` / ``break_year`` options:

- **Covid 2020** (``covid=True``): in annual data the calendar-2020 value is replaced, for
  *estimation only*, by the geometric mean of 2019 and 2021 when both are in the history, so
  the lockdown dip neither drags a drift down nor adds a spurious swing to the error variance.
  When 2020 is the last observation (a forecast made from 2020) it is left alone: nothing
  later says how much of it was a dip. Monthly data are left alone (a level-shift or term-time
  model is the right tool there).
- **Partial first years** (log-scale models): a series that opens with a jump of more than
  :data:`PARTIAL_START_JUMP` in ``log1p(y)`` within its first three changes is used from after
  the jump (see :func:`trim_partial_start`); on the log scale one such jump would otherwise
  dominate every growth estimate.
- **Break in series** (``break_year=2022`` for calendar-year flows, ``2023`` for January
  stock): the one-period change *into* ``break_year`` is treated as a level shift caused by the
  change from the aggregate to the person-level return. It is kept in the level (forecasts
  start from the latest value) but dropped from the growth and variance estimates.
"""

from __future__ import annotations

import numpy as np

__all__ = ["COVID_YEAR", "PARTIAL_START_JUMP", "covid_adjust", "steps", "trim_partial_start"]

#: A change of more than this in ``log1p(y)`` (about 2.7-fold) between two of a series' first
#: years marks a partial first year, not growth (new plans in 2014-2015 exclude statements
#: still being transferred: Leeds 3 then 334).
PARTIAL_START_JUMP = 1.0

COVID_YEAR = 2020


def covid_adjust(y: np.ndarray, ds: np.ndarray, *, log_scale: bool) -> np.ndarray:
    """Replace the 2020 value by the mean of its neighbours (geometric on the raw scale).

    ``y`` is on the model's scale (``log_scale=True``: already ``log1p``), so the arithmetic
    mean there is the geometric mean of the counts.

    Examples
    --------
    >>> covid_adjust(np.array([100.0, 60.0, 144.0]), np.array([2019, 2020, 2021]), log_scale=False)
    array([100., 120., 144.])
    >>> covid_adjust(np.array([100.0, 60.0]), np.array([2019, 2020]), log_scale=False)
    array([100.,  60.])
    """
    if not np.issubdtype(np.asarray(ds).dtype, np.integer):
        return y
    where = np.flatnonzero(ds == COVID_YEAR)
    if len(where) != 1 or where[0] == 0 or where[0] == len(y) - 1:
        return y
    i = int(where[0])
    out = np.array(y, dtype=float)
    out[i] = (0.5 * (y[i - 1] + y[i + 1]) if log_scale
              else float(np.sqrt(max(y[i - 1], 0.0) * max(y[i + 1], 0.0))))
    return out


def steps(y: np.ndarray, ds: np.ndarray, break_year: int | None = None) -> np.ndarray:
    """One-period changes of ``y``, without the change into ``break_year`` (a level shift).

    Examples
    --------
    >>> steps(np.array([1.0, 2.0, 10.0, 11.0]), np.array([2020, 2021, 2022, 2023]), 2022)
    array([1., 1.])
    """
    d = np.diff(np.asarray(y, dtype=float))
    if break_year is None or len(d) == 0 or not np.issubdtype(np.asarray(ds).dtype, np.integer):
        return d
    keep = np.asarray(ds)[1:] != break_year
    # Never drop the only change there is: a level shift needs a trend on at least one side.
    return d[keep] if keep.any() else d


def trim_partial_start(y: np.ndarray, ds: np.ndarray,
                       jump: float = PARTIAL_START_JUMP) -> tuple[np.ndarray, np.ndarray]:
    """Drop the opening values before a jump in ``log1p(y)`` larger than ``jump``.

    Only the first three changes are checked (later jumps are real events, not partial
    years), and at least two values are always kept.

    Examples
    --------
    >>> y = np.log1p(np.array([3.0, 334, 365, 504, 563]))
    >>> trim_partial_start(y, np.arange(2014, 2019))[1]
    array([2015, 2016, 2017, 2018])
    """
    d = np.abs(np.diff(np.asarray(y, dtype=float)[:4]))
    big = np.flatnonzero(d > jump)
    if len(big) == 0:
        return y, ds
    start = int(big[-1]) + 1
    if len(y) - start < 2:
        return y, ds
    return y[start:], ds[start:]
