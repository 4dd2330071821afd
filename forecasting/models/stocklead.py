"""Stock-flow forecast of the January stock of plans, fed by requests-led new plans.

``stock[Jan t+1] = stock[Jan t] * (1 - cease) + new_plans[calendar t]``

The January ``T`` stock is published with calendar ``T - 1`` flows, so at a forecast origin
the model knows new plans and requests up to ``T - 1`` (exogenous columns ``new_plans_prev``
and ``requests_prev``, see :func:`forecasting.models.leading.add_drivers`). It forecasts new
plans for calendar ``T, T + 1, ...`` with :class:`~forecasting.models.leading.Conversion`
(the requests already made in ``T - 1`` lead the plans of ``T``) and rolls the identity
forward with each LA's ceasing rate: the implied outflow ``(stock[t] + new[t] - stock[t+1]) /
stock[t]`` (it absorbs transfers and revisions, and SEN2 has no ceased plans before 2022),
averaged over the last ``n_cease`` years and shrunk towards the national rate by
``n / (n + shrink)``; never below zero. LAs without the flows are forecast by
``fallback_model``.

Intervals: Gaussian on the log scale, from the new-plan forecast's spread (weighted by the new
plans' share of the stock) and the spread of the LA's ceasing rate, accumulating over the years.

Unlike :class:`forecasting.models.stockflow.StockFlow` (the flows of calendar ``t`` on the row
of January ``t``, which a backtest cut at January ``t`` would already see), every column here
is known at its row's date, so the model is a fair candidate for ``model="auto"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forecasting.models.base import latest_run
from forecasting.models.leading import (
    Conversion,
    LogNormalForecaster,
    _fit_models,
    recent_years,
    require_columns,
    shrink_to_national,
)

__all__ = ["LeadStockFlow"]


class LeadStockFlow(LogNormalForecaster):
    """January stock = last stock x (1 - ceasing rate) + requests-led new plans.

    Parameters
    ----------
    n_cease : int
        Recent years behind each LA's ceasing rate.
    shrink : float
        Pseudo-years of the national ceasing rate mixed into each LA's.
    fallback_model : str
        Model for LAs without new plans or requests in their latest year.
    conversion : dict or None
        Parameters of the :class:`~forecasting.models.leading.Conversion` new-plan model.

    Examples
    --------
    >>> rows = []
    >>> for i in range(4):
    ...     s = 1000.0 * (1 + i)
    ...     for t in range(2016, 2024):
    ...         rows.append((f"la{i}", t, s, 0.12 * s, 0.2 * s))
    ...         s = s * 0.96 + 0.12 * s
    >>> df = pd.DataFrame(rows, columns=["unique_id", "ds", "y", "new_plans", "requests"])
    >>> df["new_plans_prev"] = df.groupby("unique_id")["new_plans"].shift()
    >>> df["requests_prev"] = df.groupby("unique_id")["requests"].shift()
    >>> model = LeadStockFlow(conversion={"driver_model": "log_drift"})
    >>> fc = model.fit(df.drop(columns=["new_plans", "requests"])).predict(1, level=(80,))
    >>> round(float(fc["yhat"].iloc[0]) / float(df["y"].iloc[7]), 3)
    1.08
    """

    name = "stockflow"
    min_length = 3
    fallback = "log_drift"
    requires: tuple[str, ...] = ("new_plans_prev", "requests_prev")

    def __init__(self, *, n_cease: int = 3, shrink: float = 5.0,
                 fallback_model: str = "global_last",
                 conversion: dict[str, Any] | None = None) -> None:
        self.n_cease = n_cease
        self.shrink = shrink
        self.fallback_model = fallback_model
        self.conversion = conversion

    def _fit(self, df: pd.DataFrame) -> None:
        df = require_columns(df, self.requires, self.name, self.fallback_model)
        stock = df.pivot(index="unique_id", columns="ds", values="y").sort_index(axis=1)
        # Flows of calendar t sit on the row of January t + 1.
        flows = df[["unique_id", "ds", "new_plans_prev", "requests_prev"]].assign(
            ds=df["ds"] - 1).rename(columns={"new_plans_prev": "y", "requests_prev": "requests"})
        new = flows.pivot(index="unique_id", columns="ds", values="y").reindex(
            index=stock.index, columns=stock.columns)
        last = {str(u): int(t) for u, t in df.groupby("unique_id", sort=False)["ds"].max().items()}
        # Implied ceasing rate of flow year t needs stock t, new t and stock t + 1.
        outflow = stock + new - stock.shift(-1, axis=1)
        cease = outflow / stock.where(stock > 0)
        recent = recent_years(cease, last, self.n_cease, lag=1)
        yearly = []
        for c in recent.columns:
            ok = recent[c].notna()
            if ok.any():
                yearly.append(float(outflow[c][ok].sum() / stock[c][ok].sum()))
        national = float(np.median(yearly)) if yearly else 0.0
        cease_rate, self.cease_sd_ = shrink_to_national(recent, national, self.shrink, 0.02)
        self.cease_ = cease_rate.clip(lower=0.0).astype(float)
        # New plans: the conversion model on calendar years up to T - 1 (each LA's flows must
        # reach the year before its last stock, or the roll-forward would skip a year).
        flow_hist = flows.dropna(subset=["y"])
        flow_last = flow_hist.groupby("unique_id")["ds"].max()
        ready = [u for u, t in last.items() if flow_last.get(u, -1) == t - 1
                 and np.isfinite(float(stock.loc[u, t]))]  # type: ignore[arg-type]
        self.stock_last_: dict[str, float] = {
            u: float(stock.loc[u, last[u]]) for u in ready}  # type: ignore[arg-type]
        self.conv_: Conversion | None = None
        if ready:
            runs = latest_run(flow_hist[flow_hist["unique_id"].isin(ready)])
            # A single year of flows since a gap is too short for a conversion ratio.
            runs = runs[runs.groupby("unique_id")["ds"].transform("size") >= Conversion.min_length]
            ready = [u for u in ready if u in set(runs["unique_id"])]
        if ready:
            self.conv_ = Conversion(**(self.conversion or {})).fit(
                runs[["unique_id", "ds", "y", "requests"]])
            self.ready_: list[str] = [u for u in ready if u not in set(self.conv_.fallback_ids_)]
        else:
            self.ready_ = []
        rest = df[~df["unique_id"].isin(self.ready_)][["unique_id", "ds", "y"]]
        self.fallback_fitted_ = _fit_models(rest, self.fallback_model) if len(rest) else []

    def _center(self, h: int) -> pd.DataFrame:
        if not self.ready_ or self.conv_ is None:
            return pd.DataFrame(columns=["unique_id", "ds", "mean", "sd"])
        new = self.conv_._center(h)
        frames = []
        for uid in self.ready_:
            grp = new[new["unique_id"] == uid]
            n_hat = np.exp(grp["mean"].to_numpy(dtype=float))
            n_sd = grp["sd"].to_numpy(dtype=float)
            c = float(self.cease_.loc[uid])
            s = self.stock_last_[uid]
            mean, var_new = np.empty(h), 0.0
            sd = np.empty(h)
            for k in range(h):
                s = s * (1.0 - c) + n_hat[k]
                mean[k] = s
                var_new = var_new * (1.0 - c) ** 2 + (n_hat[k] * n_sd[k]) ** 2
                # Relative spread: each year's new plans (their spread already grows with
                # the horizon), carried forward through ceasing, and one ceasing-rate error
                # a year.
                sd[k] = np.sqrt(var_new / s**2 + (k + 1) * self.cease_sd_**2)
            frames.append(pd.DataFrame({"unique_id": uid,
                                        "ds": self._future(uid, h),
                                        "mean": np.log(np.maximum(mean, 1e-9)),
                                        "sd": np.maximum.accumulate(sd)}))
        return pd.concat(frames, ignore_index=True)

    def describe(self) -> dict[str, Any]:
        """Each LA's ceasing rate, the LAs on the fallback model and the new-plan ratios."""
        self._check_fitted()
        return {"cease": self.cease_.copy(), "cease_sd": self.cease_sd_,
                "fallback": sorted(set(self.last_ds_.index) - set(self.ready_)),
                "conversion": self.conv_.describe() if self.conv_ is not None else None}

