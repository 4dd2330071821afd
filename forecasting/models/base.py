"""The one contract every forecasting model follows, and the input checks they share.

Every model takes a long DataFrame ``unique_id, ds, y`` (``ds`` an int year or a monthly
``Timestamp``; extra columns are exogenous regressors a model may use) and offers

- ``fit(df) -> self``
- ``predict(h, level=(80, 95)) -> DataFrame[unique_id, ds, yhat, lo_80, hi_80, lo_95, hi_95]``
- ``simulate(h, n_paths, seed) -> DataFrame[unique_id, ds, sample_id, y]`` (joint paths)

in the scikit-learn style: ``__init__`` only stores keyword-only parameters, fitted state ends in
``_``, and randomness comes only from ``numpy.random.default_rng(seed)``.

Subclass :class:`Forecaster` for a model that sees all series at once (a global or hierarchical
model), or :class:`LocalForecaster` for one fitted per series: it only needs ``_fit_one`` (state
from one history) and ``_forecast_one`` (mean and standard deviation by horizon, on the raw or
``log1p`` scale); intervals and joint sample paths then come for free.

Bounds on a local model's spread (why: a log-scale spread estimated from a few noisy
one-period changes, or inflated by one bad value such as a year recorded as 0, made sample
paths reach 1e11 times the last figure):

- on the ``log1p`` scale the standard deviation at horizon ``h`` is at most
  :data:`MAX_LOG_SD` times ``sqrt(max(h / periods_per_year, 1))``: a random walk whose yearly
  step has a standard deviation of 0.5 (about a 65% change in a year at one sd; above the 95th
  percentile of LA year-on-year spreads in SEN2 requests (0.33), new plans (0.46) and stock
  (0.10)), and within the first year a monthly model's noise of at most 0.5;
- sample paths are the model's own Gaussian on its scale (so their quantiles reproduce
  ``predict``'s bands), with the standardised walk held within :data:`Z_MAX` standard
  deviations, a bounded draw that touches about one value in 16,000.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from scipy import stats

from forecasting.errors import EhcpError

__all__ = [
    "MAX_LOG_SD",
    "Z_MAX",
    "Forecaster",
    "LocalForecaster",
    "future_ds",
    "interval_columns",
    "latest_run",
    "normal_intervals",
    "validate_h",
    "validate_levels",
    "validate_panel",
]

KEYS = ["unique_id", "ds"]

#: Ceiling on a log-scale local model's standard deviation per year (see the module notes).
MAX_LOG_SD = 0.5

#: Sample paths' standardised deviations from the forecast are held within this many sds.
Z_MAX = 4.0


def interval_columns(level: Sequence[int]) -> list[str]:
    """The interval column names for the given levels, in output order.

    Examples
    --------
    >>> interval_columns((80, 95))
    ['lo_80', 'hi_80', 'lo_95', 'hi_95']
    """
    return [f"{side}_{lv}" for lv in level for side in ("lo", "hi")]


def normal_intervals(mean: np.ndarray, sd: np.ndarray, level: Sequence[int],
                     back: Callable[[np.ndarray], np.ndarray]) -> dict[str, np.ndarray]:
    """Gaussian ``lo_<l>``/``hi_<l>`` columns on a model's scale, mapped back to counts.

    Examples
    --------
    >>> cols = normal_intervals(np.array([0.0]), np.array([1.0]), (80,), lambda x: x)
    >>> {k: round(float(v[0]), 3) for k, v in cols.items()}
    {'lo_80': -1.282, 'hi_80': 1.282}
    """
    cols: dict[str, np.ndarray] = {}
    for lv in level:
        z = stats.norm.ppf(0.5 + lv / 200)
        cols[f"lo_{lv}"] = back(mean - z * sd)
        cols[f"hi_{lv}"] = back(mean + z * sd)
    return cols


def validate_h(h: int) -> int:
    """Check a forecast horizon: a whole number of periods, at least 1."""
    if isinstance(h, bool) or not isinstance(h, int | np.integer) or int(h) < 1:
        raise EhcpError(f"the horizon h must be a whole number of periods >= 1, got {h!r}",
                        field="h", fix="ask for at least one period ahead, e.g. h=3")
    return int(h)


def validate_levels(level: Sequence[int] | int) -> tuple[int, ...]:
    """Check interval levels: whole percentages strictly between 0 and 100."""
    levels = (level,) if isinstance(level, int | np.integer) else tuple(level)
    for lv in levels:
        if isinstance(lv, bool) or not isinstance(lv, int | np.integer) or not 0 < lv < 100:
            raise EhcpError(f"interval level {lv!r} is not a whole percentage between 1 and 99",
                            field="level", fix="use e.g. level=(80, 95)")
    return tuple(int(lv) for lv in levels)


def _is_annual(ds: pd.Series) -> bool:
    return pd.api.types.is_integer_dtype(ds)


def future_ds(last: Any, h: int, annual: bool) -> list[Any]:
    """The ``h`` periods after ``last``: years for annual data, month starts otherwise.

    Examples
    --------
    >>> future_ds(2024, 2, annual=True)
    [2025, 2026]
    >>> [str(d.date()) for d in future_ds(pd.Timestamp("2024-11-01"), 2, annual=False)]
    ['2024-12-01', '2025-01-01']
    """
    if annual:
        return [int(last) + k for k in range(1, h + 1)]
    start = pd.Timestamp(last) + pd.offsets.MonthBegin(1)
    return list(pd.date_range(start, periods=h, freq="MS"))


def latest_run(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of each series' latest run of consecutive years, sorted, with a fresh index.

    A model needs consecutive years, and nothing is interpolated: a series with a gap is used
    from after its last gap.

    Examples
    --------
    >>> df = pd.DataFrame({"unique_id": "a", "ds": [2022, 2019, 2021, 2017], "y": [4, 2, 3, 1]})
    >>> latest_run(df)["ds"].tolist()
    [2021, 2022]
    """
    frame = frame.sort_values(KEYS).reset_index(drop=True)
    by = frame.groupby("unique_id", sort=False)
    gap = by["ds"].diff().ne(1) & by.cumcount().gt(0)
    run = gap.astype(int).groupby(frame["unique_id"], sort=False).cumsum()
    last = run.groupby(frame["unique_id"], sort=False).transform("max")
    return frame[run == last].reset_index(drop=True)


def validate_panel(df: pd.DataFrame, *, name: str = "df", min_length: int = 1) -> pd.DataFrame:
    """Check a long ``unique_id, ds, y`` history and return it sorted, with a clean index.

    Raises :class:`EhcpError` naming the series and the field for: missing columns, a missing
    or negative ``y``, a duplicated ``ds`` within a series, a gap in the years or months, mixed
    ``ds`` types, or a series shorter than ``min_length``. Nothing is dropped silently.

    Examples
    --------
    >>> df = pd.DataFrame({"unique_id": "Leeds", "ds": [2022, 2023, 2024], "y": [1284, 1800, 2313]})
    >>> validate_panel(df).shape
    (3, 3)
    >>> validate_panel(df.assign(y=[1284, -1, 2313]))
    Traceback (most recent call last):
    ...
    forecasting.errors.EhcpError: field 'y': series 'Leeds' has a negative value at ds=2023. Fix: counts cannot be negative; correct or remove the row.
    """
    if not isinstance(df, pd.DataFrame):
        raise EhcpError(f"{name} must be a pandas DataFrame, got {type(df).__name__}",
                        fix="pass a long table with columns unique_id, ds, y")
    missing = [c for c in ("unique_id", "ds", "y") if c not in df.columns]
    if missing:
        raise EhcpError(f"{name} lacks column(s) {', '.join(missing)}", field=missing[0],
                        fix="pass a long table with columns unique_id, ds, y "
                            "(e.g. forecasting.data.series(panel, measure))")
    if df.empty:
        raise EhcpError(f"{name} has no rows", field="y", fix="pass at least one series")
    out = df.copy()
    out["unique_id"] = out["unique_id"].astype(str)
    annual = _is_annual(out["ds"])
    if not annual:
        try:
            out["ds"] = pd.to_datetime(out["ds"])
        except (ValueError, TypeError) as err:
            raise EhcpError(f"{name}: ds must be whole years or monthly dates ({err})", field="ds",
                            fix="use int years (2024) or month-start dates") from None
    y = pd.to_numeric(out["y"], errors="coerce")
    out["y"] = y.astype(float)
    out = out.sort_values(KEYS, kind="stable").reset_index(drop=True)
    # Checks are vectorised (this runs at every backtest refit); each reports its first case.
    uid, ds, yv = out["unique_id"], out["ds"], out["y"]
    all_na = yv.isna().groupby(uid, sort=False).all()
    if all_na.any():
        raise EhcpError(f"series '{all_na.index[all_na.to_numpy()][0]}' has no values "
                        "(all missing)", field="y", fix="drop the series or supply its counts")
    _first(out, yv.isna(), "has a missing value at ds={ds}", "y",
           "fill or remove the row (a gap must be explicit)")
    _first(out, yv < 0, "has a negative value at ds={ds}", "y",
           "counts cannot be negative; correct or remove the row")
    _first(out, out.duplicated(KEYS), "has ds={ds} more than once", "ds",
           "keep one row per period (sum or de-duplicate first)")
    sizes = uid.groupby(uid, sort=False).transform("size")
    _first(out, sizes < min_length, f"is too short: at least {min_length} observations are "
           "needed", "y", "supply a longer history or use a simpler model such as 'naive'")
    period = ds.to_numpy().astype(np.int64) if annual else (
        ds.dt.year.to_numpy() * 12 + ds.dt.month.to_numpy())
    step = pd.Series(period).groupby(uid.to_numpy(), sort=False).diff()
    gap = (step.notna() & (step != 1)).to_numpy()
    # Report the period before the gap, which is what the user sees as "after ds=...".
    before = np.roll(gap, -1)
    _first(out, pd.Series(before, index=out.index), "has a gap after ds={ds}", "ds",
           "supply every period (interpolate or mark it) so steps are one year or one month")
    return out


def _first(df: pd.DataFrame, mask: pd.Series, what: str, field: str, fix: str) -> None:
    if bool(mask.any()):
        row = df[mask.to_numpy()].iloc[0]
        raise EhcpError(f"series '{row['unique_id']}' " + what.format(ds=_fmt(row["ds"])),
                        field=field, fix=fix)


def _fmt(value: Any) -> str:
    return str(value.date()) if isinstance(value, pd.Timestamp) else str(value)


class Forecaster(ABC):
    """Base class for every model. Subclasses implement ``_fit``, ``_predict`` and ``_simulate``.

    Class attributes
    ----------------
    name : str
        The registry name (``forecast(..., model=name)``).
    min_length : int
        The shortest series the model can fit; shorter ones fall back (see ``fallback``).
    fallback : str or None
        The simpler model used for series shorter than ``min_length``.
    """

    name: ClassVar[str] = "base"
    min_length: ClassVar[int] = 1
    fallback: ClassVar[str | None] = "naive"

    def fit(self, df: pd.DataFrame) -> Self:
        """Fit to a long ``unique_id, ds, y`` history (checked by :func:`validate_panel`)."""
        data = validate_panel(df, min_length=self.min_length)
        self.annual_ = _is_annual(data["ds"])
        self.last_ds_ = data.groupby("unique_id", sort=False)["ds"].max()
        self._fit(data)
        return self

    def predict(self, h: int, level: Sequence[int] = (80, 95)) -> pd.DataFrame:
        """Point forecasts ``yhat`` and ``lo_<level>``/``hi_<level>`` bounds, never negative."""
        self._check_fitted()
        h, levels = validate_h(h), validate_levels(level)
        out = self._predict(h, levels)
        cols = ["yhat", *interval_columns(levels)]
        out[cols] = out[cols].clip(lower=0.0)
        return out[[*KEYS, *cols]].reset_index(drop=True)

    def simulate(self, h: int, n_paths: int = 1000, seed: int | None = 0) -> pd.DataFrame:
        """Joint sample paths over the horizons: ``unique_id, ds, sample_id, y`` (y >= 0)."""
        self._check_fitted()
        h = validate_h(h)
        if isinstance(n_paths, bool) or not isinstance(n_paths, int | np.integer) or n_paths < 1:
            raise EhcpError(f"n_paths must be a whole number >= 1, got {n_paths!r}",
                            field="n_paths", fix="e.g. n_paths=1000")
        out = self._simulate(h, int(n_paths), np.random.default_rng(seed))
        out["y"] = out["y"].clip(lower=0.0)
        return out[["unique_id", "ds", "sample_id", "y"]].reset_index(drop=True)

    def _check_fitted(self) -> None:
        if not hasattr(self, "last_ds_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(df) first")

    def _future(self, uid: str, h: int) -> list[Any]:
        return future_ds(self.last_ds_[uid], h, self.annual_)

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters (public attributes not ending in ``_``)."""
        return {k: v for k, v in vars(self).items()
                if not k.endswith("_") and not k.startswith("_") and k != "name"}

    def clone(self) -> Self:
        """An unfitted copy with the same parameters (and registry name)."""
        new = type(self)(**self.get_params())
        if "name" in vars(self):
            new.name = self.name  # type: ignore[misc]
        return new

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    @abstractmethod
    def _fit(self, df: pd.DataFrame) -> None:
        """Fit to a validated, sorted history."""

    @abstractmethod
    def _predict(self, h: int, level: tuple[int, ...]) -> pd.DataFrame:
        """Return ``unique_id, ds, yhat`` and the interval columns for ``level``."""

    @abstractmethod
    def _simulate(self, h: int, n_paths: int, rng: np.random.Generator) -> pd.DataFrame:
        """Return ``unique_id, ds, sample_id, y``."""


class LocalForecaster(Forecaster):
    """A model fitted separately to each series, with Gaussian errors on a raw or log scale.

    Subclasses implement ``_fit_one(y, ds) -> state`` and ``_forecast_one(state, h) ->
    (mean, sd)`` (arrays of length ``h``). With ``log_scale = True`` both are on the
    ``log1p(y)`` scale, so bounds and paths are back-transformed and never negative, and the
    intervals are skewed upwards as counts are. Joint paths use a random walk in the standard
    normal shocks, rescaled to each horizon's sd, so horizons are positively correlated as
    accumulating forecast errors are.
    """

    log_scale: ClassVar[bool] = False

    def _fit(self, df: pd.DataFrame) -> None:
        self.states_: dict[str, Any] = {}
        for uid, grp in df.groupby("unique_id", sort=False):
            y = grp["y"].to_numpy(dtype=float)
            self.states_[str(uid)] = self._fit_one(np.log1p(y) if self.log_scale else y,
                                                   grp["ds"].to_numpy())

    @abstractmethod
    def _fit_one(self, y: np.ndarray, ds: np.ndarray) -> Any:
        """Fit to one series (already on the model's scale) and return its state."""

    @abstractmethod
    def _forecast_one(self, state: Any, h: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation for horizons 1..h on the model's scale."""

    def _back(self, x: np.ndarray) -> np.ndarray:
        return np.expm1(x) if self.log_scale else x

    def _spread(self, sd: Any, h: int) -> np.ndarray:
        """The standard deviations by horizon: non-negative, non-decreasing and bounded.

        On the log scale they are capped at ``MAX_LOG_SD * sqrt(max(h / periods_per_year, 1))``
        (see the module notes); a cap that grows with ``h`` keeps them non-decreasing.
        """
        sd = np.asarray(sd, dtype=float)
        sd = np.maximum.accumulate(np.maximum(sd, 0.0))
        if self.log_scale:
            per_year = 1.0 if self.annual_ else 12.0
            years = np.arange(1, h + 1) / per_year
            sd = np.minimum(sd, MAX_LOG_SD * np.sqrt(np.maximum(years, 1.0)))
        return sd

    def _predict(self, h: int, level: tuple[int, ...]) -> pd.DataFrame:
        frames = []
        for uid, state in self.states_.items():
            mean, sd = self._forecast_one(state, h)
            sd = self._spread(sd, h)
            cols: dict[str, Any] = {"unique_id": uid, "ds": self._future(uid, h),
                                    "yhat": self._back(np.asarray(mean, dtype=float))}
            cols.update(normal_intervals(mean, sd, level, self._back))
            frames.append(pd.DataFrame(cols))
        return pd.concat(frames, ignore_index=True)

    def _simulate(self, h: int, n_paths: int, rng: np.random.Generator) -> pd.DataFrame:
        frames = []
        steps = np.arange(1, h + 1)
        for uid, state in self.states_.items():
            mean, sd = self._forecast_one(state, h)
            sd = self._spread(sd, h)
            walk = np.cumsum(rng.standard_normal((n_paths, h)), axis=1) / np.sqrt(steps)
            paths = self._back(mean + np.clip(walk, -Z_MAX, Z_MAX) * sd)
            frames.append(pd.DataFrame({
                "unique_id": uid,
                "ds": np.tile(np.asarray(self._future(uid, h), dtype=object), n_paths),
                "sample_id": np.repeat(np.arange(n_paths), h),
                "y": paths.ravel(),
            }))
        out = pd.concat(frames, ignore_index=True)
        if self.annual_:
            out["ds"] = out["ds"].astype("int64")
        else:
            out["ds"] = pd.to_datetime(out["ds"])
        return out
