"""The national summary of a batch run: England and the regions, and LAs ranked.

England's capacity row adds up the baseline scenario over the LAs that ran it (each LA's
service is the scenario file scaled to its size: see :mod:`forecasting.batch_la`).

LAs are ranked by projected backlog growth (the baseline capacity scenario: open new
assessments past 20 weeks, end minus start) and by timeliness (the baseline's share of plans
issued within 20 weeks in its last simulated year). A run without capacity scenarios ranks by
the projected growth of requests instead, and by the latest published SEN2 timeliness, and says
so in the ``ranked_by`` column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.store import RunStore, ds_from_store

__all__ = ["national_summary", "write_national_summary"]


def _forecasts(store: RunStore, run_id: str) -> pd.DataFrame:
    fc = store.con.execute(
        "SELECT f.*, t.la_name, t.level FROM forecasts f JOIN tasks t"
        " ON t.run_id = f.run_id AND t.la = f.la WHERE f.run_id = ? AND t.status = 'done'"
        " ORDER BY f.la, f.measure, f.ds", [run_id]).df()
    if len(fc) and fc["freq"].eq("year").all():
        fc["ds"] = ds_from_store(fc["ds"], "year")
    return fc


def _latest_actual(
    actuals: pd.DataFrame | None, measure: str, before: pd.Series | None = None
) -> pd.Series:
    # The last actual each LA had when it was forecast (a backfilled vintage stops early).
    if actuals is None or actuals.empty:
        return pd.Series(dtype=float)
    a = actuals[(actuals["measure"] == measure) & actuals["y"].notna()]
    if before is not None and len(before):
        cut = a["unique_id"].map(before)
        a = a[cut.isna() | (a["ds"] < cut)]
    return a.sort_values("ds").groupby("unique_id")["y"].last()


def national_summary(
    store: RunStore, run_id: str, actuals: pd.DataFrame | None = None, *,
    baseline: str = "baseline",
) -> dict[str, pd.DataFrame]:
    """England/regions forecasts, the LA ranking and the failed LAs of one run.

    Parameters
    ----------
    store : RunStore
        The run store.
    run_id : str
        The run.
    actuals : DataFrame, optional
        ``unique_id, measure, ds, y`` (the panel's headline rows) for the latest actual values.
    baseline : str
        The scenario whose backlog and timeliness rank the LAs.

    Returns
    -------
    dict of str to DataFrame
        ``england_capacity`` (the baseline scenario summed over the LAs that ran it: backlog,
        open cases, overdue reviews and cost, how many LAs' backlogs grow, and the median LA's
        timeliness; empty without scenarios), ``england_regions`` (the forecasts of England and
        the regions), ``la_ranking`` and ``failed``.

    Examples
    --------
    >>> from forecasting.batch import run_batch
    >>> from forecasting.batch_tasks import synthetic_inputs, synthetic_task
    >>> inputs, cfg = synthetic_inputs(["A", "B", "C"], seed=1, h=2)
    >>> with RunStore(":memory:") as store:
    ...     _ = run_batch(inputs, synthetic_task, store, quarter="2026Q4", data_checksum="d",
    ...                   config=cfg, run_id="r1")
    ...     out = national_summary(store, "r1")
    >>> sorted(out), len(out["la_ranking"]), out["la_ranking"]["ranked_by"].iloc[0]
    (['england_capacity', 'england_regions', 'failed', 'la_ranking'], 3, 'capacity scenario baseline')
    >>> out["england_capacity"][["scenario", "n_las"]].values.tolist()
    [['baseline', 3]]
    """
    fc = _forecasts(store, run_id)
    tasks = store.table("tasks", run_id=run_id)
    failed = tasks.loc[tasks["status"] != "done", ["la", "la_name", "level", "error"]]
    keep = ["la", "la_name", "level", "measure", "ds", "yhat", "lo_80", "hi_80", "lo_95",
            "hi_95", "model"]
    upper = fc[fc["level"].isin(["national", "regional"])][keep] if len(fc) else fc
    las = tasks[(tasks["status"] == "done") & (tasks["level"].fillna("la") == "la")]
    rank = las[["la", "la_name"]].set_index("la")
    if len(fc):
        req = fc[(fc["measure"] == "requests_received") & fc["la"].isin(rank.index)]
        end = req.sort_values("ds").groupby("la").last()
        rank["requests_forecast_end"] = end["yhat"]
        rank["forecast_end_year"] = end["ds"]
    first_fc = fc.groupby("la")["ds"].min() if len(fc) else None
    last = _latest_actual(actuals, "requests_received", first_fc)
    rank["requests_latest"] = last.reindex(rank.index)
    if "requests_forecast_end" in rank:
        rank["requests_growth_pct"] = 100.0 * (
            rank["requests_forecast_end"] / rank["requests_latest"] - 1.0)
    within = _latest_actual(actuals, "plans_within_20wk", first_fc)
    den = _latest_actual(actuals, "plans_issued_den", first_fc)
    rank["pct_within_20wk_latest"] = (100.0 * within / den.where(den > 0)).reindex(rank.index)
    scen = store.table("scenario_summaries", run_id=run_id, scenario=baseline)
    england = pd.DataFrame()
    if len(scen):
        wide = scen.pivot_table(index="la", columns="metric", values="value", aggfunc="first")
        england = _england_capacity(wide.reindex(rank.index), baseline)
        for col in ("backlog_start", "backlog_end", "backlog_growth",
                    "pct_within_20wk_last_year"):
            rank[col] = wide[col].reindex(rank.index) if col in wide else np.nan
        growth, timely = "backlog_growth", "pct_within_20wk_last_year"
        rank["ranked_by"] = f"capacity scenario {baseline}"
    else:
        growth, timely = "requests_growth_pct", "pct_within_20wk_latest"
        rank["ranked_by"] = "projected requests growth; latest SEN2 timeliness"
    if growth not in rank:
        rank[growth] = np.nan
    # 1 = the LA most in trouble: biggest backlog growth, lowest timeliness.
    rank["rank_backlog_growth"] = rank[growth].rank(ascending=False, method="min")
    rank["rank_timeliness"] = rank[timely].rank(ascending=True, method="min")
    rank = rank.sort_values(["rank_backlog_growth", "rank_timeliness"], na_position="last")
    return {
        "england_capacity": england,
        "england_regions": upper.reset_index(drop=True),
        "la_ranking": rank.reset_index(),
        "failed": failed.reset_index(drop=True),
    }


#: Scenario metrics that add up over LAs (means over paths, so their sum is the mean of the
#: total); percentiles do not, and are left out of the England row.
ADDITIVE = ("backlog_start", "backlog_end", "backlog_growth", "open_new_end",
            "reviews_overdue_end", "cost_gbp_total")


def _england_capacity(wide: pd.DataFrame, scenario: str) -> pd.DataFrame:
    # Only LAs that ran the scenario: a failed or missing LA is not counted as zero.
    done = wide.dropna(how="all")
    row: dict[str, object] = {"scenario": scenario, "n_las": len(done)}
    for col in ADDITIVE:
        row[col] = float(done[col].sum(min_count=1)) if col in done else np.nan
    growth = done["backlog_growth"] if "backlog_growth" in done else pd.Series(dtype=float)
    row["las_backlog_growing"] = int((growth > 0).sum())
    timely = done.get("pct_within_20wk_last_year", pd.Series(dtype=float))
    row["pct_within_20wk_median_la"] = float(timely.median()) if timely.notna().any() else np.nan
    return pd.DataFrame([row])


def write_national_summary(summary: dict[str, pd.DataFrame], folder: str | Path) -> Path:
    """Write each summary table as ``<folder>/national/<name>.csv`` (text cells that a
    spreadsheet would run as formulas are neutralised); returns the folder."""
    from forecasting.reporting.outputs import neutralise_frame

    out = Path(folder) / "national"
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in summary.items():
        # LA names come from the DfE files: a name starting '=' must not run as a formula.
        neutralise_frame(frame).to_csv(out / f"{name}.csv", index=False)
    return out
