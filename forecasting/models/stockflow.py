"""Stock-flow model of the January stock of EHC plans.

``stock[Jan t+1] = stock[Jan t] + new plans (calendar t) - ceased plans (calendar t)``

The two flows are forecast as *rates per plan in the stock* (``new / stock`` and ``ceased /
stock``), each with a damped linear trend fitted to the last ``window`` years, and the stock is
rolled forward through the identity. SEN2 only reports ceased plans from 2022, so the ceasing
rate is the *implied* outflow ``stock[t] + new[t] - stock[t+1]``: it holds the identity exactly
on the history and also absorbs transfers between LAs and revisions. The new-plan rate is
trended in logs; the implied ceasing rate is trended as it is, because in many LA-years it is
near zero or negative (more plans arrived than were issued) and has no logarithm.

Uncertainty: each path draws (a) one error in each rate's fitted level and slope, kept for the
whole path (so a path with a high new-plan rate stays high), and (b) a year-to-year deviation of
both rates around their trend, drawn jointly from the fitted residual pairs (new-plan and ceasing
rates that moved together in the past move together in the paths). Ceasing never exceeds what
is there to cease, so the stock never goes negative and the identity holds on every path.

Backtest (every LA's January stock, cutoffs 2019-2022, horizons 1-3, MASE scaled by the
in-sample mean absolute year-on-year change): this model with its defaults scored MASE 2.06
(0.97 / 1.98 / 3.24 at horizons 1 / 2 / 3) against 1.91 (0.92 / 1.86 / 2.94) for the
3-year log drift, the best simple baseline: the identity adds structure (and the means to feed
new-plan forecasts through to the stock) rather than accuracy.

The registered ``"stockflow"`` model (an ``auto`` candidate for the stock) is
:class:`forecasting.models.stocklead.LeadStockFlow`: the same identity, with new plans led by
requests and every input known at its row's date; this class stays for the flow paths and
for new-plan forecasts passed in.

New-plan forecasts from another model (e.g. ``forecasting.forecast`` on ``new_plans``) can
replace the rate-based ones: pass ``new_plans=`` to :meth:`StockFlow.predict`,
:meth:`StockFlow.simulate` or :meth:`StockFlow.simulate_flows`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from forecasting.errors import EhcpError, EhcpWarning
from forecasting.models.base import Forecaster

__all__ = ["StockFlow"]


@dataclass(frozen=True)
class _Rates:
    """Damped log-linear trends of the new-plan and ceasing rates of one area."""

    stock: float  # last January stock
    last_ds: int
    level: np.ndarray  # (2,) fitted log new-plan rate and ceasing rate at the last flow year
    slope: np.ndarray  # (2,)
    resid: np.ndarray  # (n, 2) residuals around the trend lines
    level_se_scale: float  # sqrt(1/n + (t_last - tbar)^2 / Stt)
    slope_se_scale: float  # 1 / sqrt(Stt)


class StockFlow(Forecaster):
    """January stock of plans from new plans and ceasing rates.

    The defaults were chosen on a rolling-origin backtest of every LA's January stock (origins
    2019-2022, horizons 1-3; figures in the module notes).

    Parameters
    ----------
    damping : float
        Trend damping ``phi`` in [0, 1] for the rates (0 = rates stay at the level their trend
        line reached in the last year; 0.5 scored MASE 2.55-2.81 against 2.06 for 0).
    window : int
        The number of most recent flow years the rate trends are fitted to.
    spread : float
        Multiplies every simulated error: 1 gave 61% coverage of the 80% intervals on the
        backtest, 2 gave 79% (calibrated on that same backtest, so not an out-of-sample figure).
    n_paths, seed : int
        Paths behind the intervals of :meth:`predict`, and their seed.
    new_plans_col : str
        The column of ``df`` holding new plans issued in calendar year ``ds``.
    min_rate : float
        Floor on the new-plan rate before its logarithm (a year with no new plans).
    first_year : int, optional
        The first flow year used. SEN2 new plans for 2014-2015 exclude the statements still
        being issued while the stock counts them, so those new-plan rates ramp up from zero
        and, trended, made the forecasts explode in the backtest.

    Examples
    --------
    >>> df = pd.DataFrame({"unique_id": "LA", "ds": [2021, 2022, 2023, 2024],
    ...                    "y": [1000.0, 1050.0, 1102.5, 1157.625],
    ...                    "new_plans": [100.0, 105.0, 110.25, np.nan]})
    >>> m = StockFlow(n_paths=200).fit(df)
    >>> m.predict(2, level=(80,))["yhat"].round(3).tolist()  # 10% in, 5% out: +5% a year
    [1215.506, 1276.282]
    """

    name: ClassVar[str] = "stockflow"
    min_length: ClassVar[int] = 3
    fallback: ClassVar[str | None] = "log_drift"

    def __init__(self, *, damping: float = 0.0, window: int = 4, n_paths: int = 1000,
                 seed: int | None = 0, new_plans_col: str = "new_plans",
                 min_rate: float = 1e-3, first_year: int | None = 2016,
                 spread: float = 2.0) -> None:
        self.damping = damping
        self.window = window
        self.n_paths = n_paths
        self.seed = seed
        self.new_plans_col = new_plans_col
        self.min_rate = min_rate
        self.first_year = first_year
        self.spread = spread

    # -- fitting ---------------------------------------------------------------------------

    def _fit(self, df: pd.DataFrame) -> None:
        if not self.annual_:
            raise EhcpError("the stock-flow model works on annual January stocks", field="ds",
                            fix="pass int years (ds = the January the stock counts)")
        if self.new_plans_col not in df:
            raise EhcpError(f"the stock-flow model needs new plans in column "
                            f"'{self.new_plans_col}'", field=self.new_plans_col,
                            fix="add new plans issued in calendar year ds "
                                "(forecasting.data.series(panel, 'new_plans'))")
        if not 0 <= self.damping <= 1:
            raise EhcpError(f"damping must be in [0, 1], got {self.damping}", field="damping",
                            fix="e.g. damping=0.8")
        self.rates_: dict[str, _Rates] = {}
        for uid, grp in df.groupby("unique_id", sort=False):
            self.rates_[str(uid)] = self._fit_one(str(uid), grp)

    def _fit_one(self, uid: str, grp: pd.DataFrame) -> _Rates:
        stock = grp["y"].to_numpy(dtype=float)
        ds = grp["ds"].to_numpy(dtype=np.int64)
        new = pd.to_numeric(grp[self.new_plans_col], errors="coerce").to_numpy(dtype=float)
        if (new[~np.isnan(new)] < 0).any():
            raise EhcpError(f"series '{uid}' has negative new plans", field=self.new_plans_col,
                            fix="counts cannot be negative")
        # Flow year t links stock t and stock t+1.
        flow_new, s0, s1 = new[:-1], stock[:-1], stock[1:]
        ok = ~np.isnan(flow_new) & (s0 > 0)
        if self.first_year is not None:
            ok &= ds[:-1] >= self.first_year
        years = ds[:-1][ok][-self.window:]
        if len(years) < 2:
            raise EhcpError(f"series '{uid}' has {len(years)} year(s) with both new plans and "
                            "the next January's stock; at least 2 are needed",
                            field=self.new_plans_col, fix="supply a longer history")
        idx = np.flatnonzero(ok)[-self.window:]
        n_rate = flow_new[idx] / s0[idx]
        c_rate = (s0[idx] + flow_new[idx] - s1[idx]) / s0[idx]
        low = n_rate < self.min_rate
        if low.any():
            warnings.warn(f"{uid}: almost no new plans in "
                          f"{', '.join(str(y) for y in years[low])}; the new-plan rate is "
                          f"floored at {self.min_rate}", EhcpWarning, stacklevel=4)
        # The implied ceasing rate is often near zero or negative in a year (transfers in,
        # revisions): it has no logarithm, and the log of a floored value wrecked the trend in
        # the backtest, so it is trended on its own scale.
        rates = np.column_stack([np.log(np.maximum(n_rate, self.min_rate)), c_rate])
        t = years.astype(float)
        tc = t - t.mean()
        stt = float((tc**2).sum())
        x = np.column_stack([np.ones_like(t), tc])
        coef = np.linalg.lstsq(x, rates, rcond=None)[0]
        resid = rates - x @ coef
        return _Rates(stock=float(stock[-1]), last_ds=int(ds[-1]), level=coef[0] + coef[1] * tc[-1],
                      slope=coef[1], resid=resid,
                      level_se_scale=float(np.sqrt(1 / len(t) + tc[-1] ** 2 / stt)),
                      slope_se_scale=float(1 / np.sqrt(stt)))

    # -- forecasting -----------------------------------------------------------------------

    def _log_rates(self, r: _Rates, h: int, n_paths: int,
                   rng: np.random.Generator | None) -> np.ndarray:
        """(paths, h, 2): log new-plan rate and ceasing rate, flow years last_ds onwards."""
        # The first flow to forecast (calendar last_ds) is one step after the last fitted year,
        # and gets phi * slope, as in a damped trend method.
        steps = np.cumsum(self.damping ** np.arange(1, h + 1)) if self.damping > 0 else \
            np.zeros(h)
        point = r.level + steps[:, None] * r.slope
        if rng is None:
            return np.broadcast_to(point, (n_paths, h, 2)).copy()
        n, dof = r.resid.shape[0], max(r.resid.shape[0] - 2, 1)
        # z @ R / sqrt(dof): Gaussian with the residuals' covariance (incl. the correlation of
        # the two rates), positive semi-definite however few years there are.
        scale = self.spread / np.sqrt(dof)
        level_err = rng.standard_normal((n_paths, n)) @ r.resid * scale * r.level_se_scale
        slope_err = rng.standard_normal((n_paths, n)) @ r.resid * scale * r.slope_se_scale
        year_err = rng.standard_normal((n_paths, h, n)) @ r.resid * scale
        return (point[None] + level_err[:, None, :] + steps[None, :, None] * slope_err[:, None, :]
                + year_err)

    def _roll(self, r: _Rates, log_rates: np.ndarray, new_override: np.ndarray | None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Stock (paths, h), stock at the start of each flow year, new and ceased plans."""
        n_paths, h, _ = log_rates.shape
        new_rate = np.exp(log_rates[:, :, 0])
        # A net inflow may happen in a year but is not a forecast: ceasing stays >= 0.
        cease_rate = np.maximum(log_rates[:, :, 1], 0.0)
        stock = np.empty((n_paths, h))
        start = np.empty((n_paths, h))
        new = np.empty((n_paths, h))
        ceased = np.empty((n_paths, h))
        s = np.full(n_paths, r.stock)
        for k in range(h):
            start[:, k] = s
            new[:, k] = new_rate[:, k] * s if new_override is None else new_override[:, k]
            ceased[:, k] = np.minimum(cease_rate[:, k] * s, s + new[:, k])
            s = s + new[:, k] - ceased[:, k]
            stock[:, k] = s
        return stock, start, new, ceased

    def _override(self, new_plans: pd.DataFrame | None, uid: str, r: _Rates, h: int,
                  n_paths: int) -> np.ndarray | None:
        if new_plans is None:
            return None
        rows = new_plans[new_plans["unique_id"].astype(str) == uid]
        years = [r.last_ds + k for k in range(h)]
        value = "new_plans" if "new_plans" in rows else ("yhat" if "yhat" in rows else "y")
        if value not in rows:
            raise EhcpError("new_plans needs a new_plans, yhat or y column", field="new_plans",
                            fix="pass forecast() output or sample paths of new plans")
        if "sample_id" in rows:
            wide = rows.pivot(index="sample_id", columns="ds", values=value)
            if not set(years) <= set(wide.columns):
                raise self._missing_years(uid, years)
            paths = wide[years].to_numpy(dtype=float)
            return paths[np.arange(n_paths) % paths.shape[0]]
        point = rows.set_index("ds")[value].reindex(years)
        if point.isna().any():
            raise self._missing_years(uid, years)
        return np.broadcast_to(point.to_numpy(dtype=float), (n_paths, h)).copy()

    @staticmethod
    def _missing_years(uid: str, years: list[int]) -> EhcpError:
        return EhcpError(f"new_plans has no value for '{uid}' in every calendar year "
                         f"{years[0]}-{years[-1]}", field="new_plans",
                         fix="forecast new plans from the last stock year on (the flow of "
                             "calendar t feeds the stock of January t+1)")

    def simulate_flows(self, h: int, n_paths: int = 1000, seed: int | None = 0, *,
                       new_plans: pd.DataFrame | None = None) -> pd.DataFrame:
        """Joint paths of the stock and its flows.

        Returns
        -------
        DataFrame
            ``unique_id, ds, sample_id, y`` (the stock at January ``ds``), ``stock_start`` (the
            stock a year earlier), ``new_plans`` and ``ceased_plans`` (calendar ``ds - 1``), so
            ``y == stock_start + new_plans - ceased_plans`` on every row.

        Examples
        --------
        >>> df = pd.DataFrame({"unique_id": "LA", "ds": [2021, 2022, 2023, 2024],
        ...                    "y": [1000.0, 1040.0, 1100.0, 1150.0],
        ...                    "new_plans": [100.0, 110.0, 105.0, np.nan]})
        >>> paths = StockFlow().fit(df).simulate_flows(3, n_paths=50, seed=1)
        >>> gap = paths["y"] - (paths["stock_start"] + paths["new_plans"] - paths["ceased_plans"])
        >>> float(gap.abs().max()) < 1e-9
        True
        """
        self._check_fitted()
        rng = np.random.default_rng(seed)
        frames = []
        for uid, r in self.rates_.items():
            logs = self._log_rates(r, h, n_paths, rng)
            stock, start, new, ceased = self._roll(r, logs, self._override(new_plans, uid, r, h,
                                                                           n_paths))
            frames.append(pd.DataFrame({
                "unique_id": uid,
                "ds": np.tile(np.arange(r.last_ds + 1, r.last_ds + h + 1), n_paths),
                "sample_id": np.repeat(np.arange(n_paths), h),
                "y": stock.ravel(), "stock_start": start.ravel(), "new_plans": new.ravel(),
                "ceased_plans": ceased.ravel()}))
        return pd.concat(frames, ignore_index=True)

    def _simulate(self, h: int, n_paths: int, rng: np.random.Generator) -> pd.DataFrame:
        seed = int(rng.integers(2**63 - 1))
        return self.simulate_flows(h, n_paths, seed, new_plans=self._new_plans)

    def _predict(self, h: int, level: tuple[int, ...]) -> pd.DataFrame:
        paths = self.simulate_flows(h, self.n_paths, self.seed, new_plans=self._new_plans)
        frames = []
        for uid, r in self.rates_.items():
            override = self._override(self._new_plans, uid, r, h, self.n_paths)
            if override is not None:
                # Paths of new plans: the point forecast follows their mean.
                override = override.mean(axis=0, keepdims=True)
            stock, *_ = self._roll(r, self._log_rates(r, h, 1, None), override)
            cols: dict[str, Any] = {"unique_id": uid,
                                    "ds": np.arange(r.last_ds + 1, r.last_ds + h + 1),
                                    "yhat": stock[0]}
            wide = paths[paths["unique_id"] == uid].pivot(index="sample_id", columns="ds",
                                                          values="y").to_numpy()
            for lv in level:
                lo, hi = np.quantile(wide, [0.5 - lv / 200, 0.5 + lv / 200], axis=0)
                cols[f"lo_{lv}"], cols[f"hi_{lv}"] = np.minimum(lo, stock[0]), np.maximum(
                    hi, stock[0])
            frames.append(pd.DataFrame(cols))
        return pd.concat(frames, ignore_index=True)

    _new_plans: pd.DataFrame | None = None

    def predict(self, h: int, level: Sequence[int] = (80, 95), *,
                new_plans: pd.DataFrame | None = None) -> pd.DataFrame:
        """Stock forecasts ``unique_id, ds, yhat, lo_<l>, hi_<l>``; ``new_plans`` optional.

        ``new_plans``: forecasts of new plans by calendar year (``unique_id, ds`` and
        ``new_plans`` or ``yhat``; or paths with ``sample_id``) starting at the last stock year.
        """
        self._new_plans = new_plans
        try:
            return super().predict(h, level)
        finally:
            self._new_plans = None

    def simulate(self, h: int, n_paths: int = 1000, seed: int | None = 0, *,
                 new_plans: pd.DataFrame | None = None) -> pd.DataFrame:
        """Joint stock paths ``unique_id, ds, sample_id, y`` (see :meth:`simulate_flows`)."""
        self._new_plans = new_plans
        try:
            return super().simulate(h, n_paths, seed)
        finally:
            self._new_plans = None
