"""How earlier vintages did: stored forecasts joined with the actuals that arrived later.

Each batch run is a vintage. When a new SEN2 release brings the figures those runs forecast,
:func:`forecast_history` lines them up: vintage, year, forecast, actual, error and whether the
actual fell inside the 80% interval. :func:`history_summary` scores each vintage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.store import RunStore, ds_from_store

__all__ = ["forecast_history", "history_summary"]


def forecast_history(
    store: RunStore,
    actuals: pd.DataFrame,
    *,
    la: str | None = None,
    measure: str | None = None,
    include_pending: bool = False,
) -> pd.DataFrame:
    """Every stored forecast of ``la`` / ``measure`` next to the actual value, where known.

    Parameters
    ----------
    store : RunStore
        The run store.
    actuals : DataFrame
        ``unique_id, measure, ds, y`` (e.g. the SEN2 panel's ``breakdown == "all"`` rows).
    la, measure : str, optional
        Keep one LA (its key, e.g. ``"E08000035"``) or one measure.
    include_pending : bool
        Keep forecasts whose actual has not arrived yet (``actual`` is NaN).

    Returns
    -------
    DataFrame
        ``run_id, quarter, vintage, la, measure, ds, model, yhat, lo_80, hi_80, actual, error,
        pct_error, inside_80``: ``error = actual - yhat``, ``pct_error`` relative to the actual.

    Examples
    --------
    >>> from forecasting.store import LaResult
    >>> store = RunStore(":memory:")
    >>> store.start_run("r1", quarter="2023Q4", data_checksum="d", config_checksum="c",
    ...                 code_version="v", n_las=1)
    >>> fc = pd.DataFrame({"unique_id": "E1", "measure": "requests_received", "ds": [2024, 2025],
    ...                    "yhat": [100.0, 110.0], "lo_80": [90.0, 95.0], "hi_80": [110.0, 125.0],
    ...                    "model": "drift"})
    >>> store.write_result("r1", LaResult("E1", {"forecasts": fc}))
    >>> act = pd.DataFrame({"unique_id": "E1", "measure": "requests_received", "ds": [2024],
    ...                     "y": [120.0]})
    >>> h = forecast_history(store, act, la="E1")
    >>> h[["quarter", "ds", "yhat", "actual", "error", "inside_80"]].values.tolist()
    [['2023Q4', 2024, 100.0, 120.0, 20.0, False]]
    """
    where, args = ["t.status = 'done'"], []
    if la is not None:
        where.append("f.la = ?")
        args.append(la)
    if measure is not None:
        where.append("f.measure = ?")
        args.append(measure)
    fc = store.con.execute(
        "SELECT f.run_id, r.quarter, r.started AS vintage, f.la, f.unique_id, f.measure, f.ds,"
        " f.freq, f.model, f.yhat, f.lo_80, f.hi_80 FROM forecasts f"
        " JOIN runs r USING (run_id) JOIN tasks t ON t.run_id = f.run_id AND t.la = f.la"
        f" WHERE {' AND '.join(where)} ORDER BY r.started, f.run_id, f.measure, f.ds",
        args,
    ).df()
    cols = ["run_id", "quarter", "vintage", "la", "measure", "ds", "model", "yhat", "lo_80",
            "hi_80", "actual", "error", "pct_error", "inside_80"]
    if fc.empty:
        return pd.DataFrame(columns=cols)
    parts = []
    for freq, grp in fc.groupby("freq", sort=False, dropna=False):
        g = grp.copy()
        g["ds"] = ds_from_store(g["ds"], str(freq))
        act = actuals[["unique_id", "measure", "ds", "y"]].copy()
        if str(freq) == "year":
            if pd.api.types.is_datetime64_any_dtype(act["ds"]):
                act["ds"] = act["ds"].dt.year
            act["ds"] = act["ds"].astype("int64")
        else:
            act["ds"] = pd.to_datetime(act["ds"])
        act = act.dropna(subset=["y"]).rename(columns={"y": "actual"})
        parts.append(g.merge(act, on=["unique_id", "measure", "ds"], how="left",
                             validate="many_to_one"))
    out = pd.concat(parts, ignore_index=True)
    if not include_pending:
        out = out[out["actual"].notna()]
    out["error"] = out["actual"] - out["yhat"]
    out["pct_error"] = 100.0 * out["error"] / out["actual"].where(out["actual"] != 0)
    known = out["actual"].notna() & out["lo_80"].notna()
    inside = (out["actual"] >= out["lo_80"]) & (out["actual"] <= out["hi_80"])
    out["inside_80"] = inside.where(known).astype("boolean") if (~known).any() else inside
    return out[cols].reset_index(drop=True)


def history_summary(history: pd.DataFrame) -> pd.DataFrame:
    """Score each vintage: forecasts checked, mean absolute % error, share inside 80%.

    Examples
    --------
    >>> h = pd.DataFrame({"run_id": ["r1", "r1"], "quarter": "2023Q4", "measure": "requests",
    ...                   "pct_error": [10.0, -20.0], "inside_80": [True, False]})
    >>> history_summary(h)[["run_id", "n", "mape", "coverage_80"]].values.tolist()
    [['r1', 2, 15.0, 50.0]]
    """
    h = history.dropna(subset=["pct_error"])
    if h.empty:
        return pd.DataFrame(columns=["run_id", "quarter", "measure", "n", "mape", "coverage_80"])
    return (
        h.assign(ape=h["pct_error"].abs(), inside=h["inside_80"].astype(float))
        .groupby(["run_id", "quarter", "measure"], sort=False)
        .agg(n=("ape", "size"), mape=("ape", "mean"), coverage_80=("inside", "mean"))
        .assign(coverage_80=lambda d: np.round(100.0 * d["coverage_80"], 6))
        .reset_index()
    )
