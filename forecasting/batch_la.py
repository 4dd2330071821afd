"""The real per-LA task of the quarterly batch: forecast, backtest and every capacity scenario.

:func:`make_inputs` cuts the SEN2 panel into one small :class:`~forecasting.batch.LaInput` per
LA (plus England and the regions, which get forecasts and backtests but no capacity scenarios),
and :func:`la_task` does one LA's work in a worker:

1. for each measure, fit the configured model (with its named fallback for short series),
   forecast ``horizon`` years with 80%/95% intervals, and keep the fitted model's state so the
   parent can save it under ``models/<run-id>/<la>/<measure>.json``;
2. a rolling-origin backtest of the configured models, scored with
   :func:`forecasting.backtest.evaluate` / :func:`~forecasting.backtest.leaderboard`;
3. for each scenario of the scenario file, demand sample paths of requests and plans from the
   forecasting engine, the capacity simulator on them, and summaries per scenario.

The scenario file describes one LA's service (e.g. Leeds). For the others it is used as a
template scaled to each LA's size: staff, locums, trainees and overdue reviews are multiplied by
the LA's plans (January stock) over the template's, and the share of late open cases comes from
the LA's latest SEN2 timeliness. That is an ASSUMPTION that makes LAs comparable, not a model of
any LA's real staffing: an LA with its own config should be run with ``ehcp run``. Mediation and
tribunal hours are set aside from each LA's own expected decisions, as in ``ehcp run``; the file's
calibration is not applied (it replays one LA's published year: run ``ehcp run`` for that).
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from forecasting.batch import LaInput, la_seed
from forecasting.batch_config import BatchConfig
from forecasting.errors import EhcpError
from forecasting.store import LaResult

__all__ = [
    "SCENARIO_METRICS",
    "current_las",
    "la_task",
    "make_inputs",
    "scale_capacity",
    "summarise_weekly",
]

#: Modules la_task imports lazily; worker processes import them once, before forking.
PRELOAD = ("forecasting.forecast", "forecasting.backtest", "forecasting.persist",
           "forecasting.scenarios", "forecasting.capacity.simulate")

#: Rough CPU seconds of one measure's forecast and backtest, and of one plan in one sample path
#: of one capacity scenario (one core, 2026): :func:`make_inputs` puts them in each input's
#: ``cost``, which orders parallel work largest first and gives the batch benchmark its first
#: estimate. Results never depend on them.
COST_PER_MEASURE = 0.15
COST_PER_PLAN_PATH = 4.7e-6

#: What each scenario's summary holds (means over paths unless the name says otherwise).
SCENARIO_METRICS = (
    "backlog_start", "backlog_end", "backlog_end_p10", "backlog_end_p90", "backlog_growth",
    "open_new_end", "pct_within_20wk_last_year", "pct_within_20wk_last_year_p10",
    "reviews_overdue_end", "cost_gbp_total", "n_paths", "demand_capped_share",
)


def make_inputs(
    panel: pd.DataFrame,
    cfg: BatchConfig,
    las: Sequence[str] | None = None,
    *,
    scenario_yaml: str | None = None,
) -> list[LaInput]:
    """One input per LA code in ``las`` (default: every LA), plus England and the regions.

    Parameters
    ----------
    panel : DataFrame
        From :func:`forecasting.data.load_panel`.
    cfg : BatchConfig
        The batch settings.
    las : sequence of str, optional
        LA codes (``unique_id`` of level ``la``), e.g. from :func:`forecasting.data.find_la`;
        default: :func:`current_las`.
    scenario_yaml : str, optional
        The text of the scenario file (sent to workers as text so a remote Dask worker needs
        no shared disk).
    """
    measures = set(cfg.forecast.measures) | {"stock_plans", "plans_within_20wk",
                                             "plans_issued_den", cfg.scenarios.demand_measure}
    keep = panel[(panel["breakdown"] == "all") & panel["measure"].isin(measures)]
    if cfg.history_end is not None:
        keep = keep[keep["ds"] <= cfg.history_end]
    names = keep.drop_duplicates("unique_id").set_index("unique_id")
    levels = names["level"].astype(str)
    if las is None:
        chosen = current_las(keep)
    else:
        chosen = list(dict.fromkeys(las))
        unknown = [la for la in chosen if la not in levels.index]
        if unknown:
            raise EhcpError(f"no SEN2 data for LA code(s) {', '.join(unknown)}", field="--la",
                            fix="give LA names as in `ehcp data las`, or check the data folder")
    if cfg.include_national:
        chosen = sorted(levels.index[levels != "la"]) + chosen
    params: dict[str, Any] = {
        "forecast": cfg.forecast.model_dump(mode="json"),
        "backtest": cfg.backtest.model_dump(mode="json"),
        "scenarios": cfg.scenarios.model_dump(mode="json"),
        "scenario_yaml": scenario_yaml,
    }
    groups = dict(tuple(keep.groupby("unique_id", sort=False)))
    cols = ["unique_id", "measure", "ds", "y"]
    cost = _costs(keep, cfg, scenario_yaml)
    fixed = COST_PER_MEASURE * len(cfg.forecast.measures)
    return [
        LaInput(la, groups[la][cols].reset_index(drop=True), params, la_seed(cfg.seed, la),
                la_name=str(names.at[la, "name"]),
                level="la" if levels[la] == "la" else str(levels[la]),
                cost=float(cost.get(la, fixed)) if levels[la] == "la" else fixed)
        for la in chosen
    ]


def _costs(keep: pd.DataFrame, cfg: BatchConfig, scenario_yaml: str | None) -> pd.Series:
    # Scenario work grows with the LA's plans (the cases simulated) x paths x scenarios.
    n_scen = 0
    if scenario_yaml:
        n_scen = len(cfg.scenarios.names or _scenario_set(scenario_yaml).names)
    plans = keep[(keep["measure"] == "stock_plans") & keep["y"].notna()].sort_values("ds")
    latest = plans.groupby("unique_id", sort=False)["y"].last()
    work = latest.astype(float) * (COST_PER_PLAN_PATH * cfg.scenarios.n_paths * n_scen)
    return work + COST_PER_MEASURE * len(cfg.forecast.measures)


def current_las(panel: pd.DataFrame) -> list[str]:
    """LA codes with headline figures in the panel's latest year (``--all`` runs these).

    LAs abolished by boundary changes (e.g. Dorset 2019, Cumbria 2023) stop part-way; their
    forecasts would start years earlier than everyone else's, so ``--all`` leaves them out
    (name them with ``--la`` to run them anyway).

    Examples
    --------
    >>> p = pd.DataFrame({"unique_id": ["A", "A", "B"], "level": "la", "breakdown": "all",
    ...                   "ds": [2024, 2025, 2019], "y": [1.0, 2.0, 3.0]})
    >>> current_las(p)
    ['A']
    """
    rows = panel[(panel["level"] == "la") & (panel["breakdown"] == "all") & panel["y"].notna()]
    last = rows.groupby("unique_id")["ds"].max()
    return sorted(last.index[last == last.max()].astype(str))


def _history(
    data: pd.DataFrame, measure: str, notes: list[str] | None = None
) -> pd.DataFrame:
    """One measure's years with a figure; after a missing year, only the years since it.

    The models need consecutive years. A year DfE did not publish (e.g. Leicester's 2023
    requests) splits the series; the latest unbroken run is used and ``notes`` says so.
    """
    from forecasting.models.base import latest_run

    rows = data[(data["measure"] == measure) & data["y"].notna()]
    hist = rows[["unique_id", "ds", "y"]]
    run = latest_run(hist)
    if len(run) < len(hist) and notes is not None:
        first = int(run["ds"].iloc[0])
        gap = int(hist.loc[hist["ds"] < first, "ds"].max()) + 1
        notes.append(f"{measure}: no figure for {gap}-{first - 1}; used {first}"
                     f"-{int(run['ds'].iloc[-1])} only")
    return run


def la_task(inp: LaInput) -> LaResult:
    """Forecast, backtest and simulate every scenario for one LA (run in a worker).

    Examples
    --------
    >>> data = pd.DataFrame({"unique_id": "E1", "measure": "requests_received",
    ...                      "ds": range(2016, 2025), "y": [636.0, 830, 1179, 953, 786, 803,
    ...                                                     1284, 1497, 2313]})
    >>> params = {"forecast": {"measures": ["requests_received"], "horizon": 2,
    ...                        "model": "drift", "level": [80, 95], "save_models": True},
    ...           "backtest": {"h": 1, "n_windows": 2, "models": ["naive", "drift"]}}
    >>> r = la_task(LaInput("E1", data, params, seed=1))
    >>> r.tables["forecasts"][["ds", "model"]].values.tolist()
    [[2025, 'drift'], [2026, 'drift']]
    >>> sorted(r.tables["backtest_scores"]["model"].unique()), list(r.extras["models"])
    (['drift', 'naive'], ['requests_received'])
    """
    from forecasting.backtest import evaluate, leaderboard
    from forecasting.forecast import cross_validation, fit_with_fallback
    from forecasting.persist import UnpersistableError, model_state

    fp, bp = inp.params["forecast"], inp.params["backtest"]
    levels = tuple(fp["level"])
    forecasts: list[pd.DataFrame] = []
    scores: list[pd.DataFrame] = []
    models: dict[str, Any] = {}
    missing: list[str] = []
    notes: list[str] = []
    # CPU seconds per phase (not wall time), so they say what the work costs on any machine
    # however busy it is: the batch benchmark projects cluster sizes from them.
    timings = {"forecast": 0.0, "backtest": 0.0, "scenarios": 0.0}
    for measure in fp["measures"]:
        hist = _history(inp.data, measure, notes)
        if hist.empty:
            notes.append(f"{measure}: no figures, not forecast")
            continue
        t0 = time.process_time()
        for name, est in fit_with_fallback(hist, fp["model"]):
            forecasts.append(est.predict(fp["horizon"], levels).assign(model=name,
                                                                        measure=measure))
            if fp.get("save_models", True):
                try:
                    models[measure] = model_state(est, meta={
                        "la": inp.la, "la_name": inp.la_name, "measure": measure,
                        "model": name, "last_ds": int(hist["ds"].max()),
                        "n_obs": len(hist)})
                except UnpersistableError as err:
                    missing.append(f"{measure}: {err}")
        t1 = time.process_time()
        timings["forecast"] += t1 - t0
        windows = min(bp["n_windows"], len(hist) - bp["h"] - 1)
        if windows >= 1:
            cv = cross_validation(hist, h=bp["h"], n_windows=windows, models=bp["models"],
                                  level=levels)
            board = leaderboard(evaluate(cv, hist, level=levels))
            long = board.melt(id_vars="model", var_name="metric", value_name="value")
            scores.append(long.assign(measure=measure))
        timings["backtest"] += time.process_time() - t1
    tables: dict[str, pd.DataFrame] = {}
    if forecasts:
        tables["forecasts"] = pd.concat(forecasts, ignore_index=True)
    if scores:
        tables["backtest_scores"] = pd.concat(scores, ignore_index=True)
    sp = inp.params.get("scenarios") or {}
    if inp.level == "la" and inp.params.get("scenario_yaml"):
        t2 = time.process_time()
        tables["scenario_summaries"] = _scenarios(inp, sp, fp["model"], notes)
        timings["scenarios"] = time.process_time() - t2
    result = LaResult(inp.la, tables, la_name=inp.la_name, level=inp.level)
    result.extras.update(models=models, unsaved_models=missing, timings=timings,
                         notes=list(dict.fromkeys(notes)))
    return result


@functools.lru_cache(maxsize=4)
def _scenario_set(text: str) -> Any:
    from forecasting.config_io import loads_yaml
    from forecasting.scenarios import scenario_set

    return scenario_set(loads_yaml(text, "scenario file"), "scenario file")


def scale_capacity(capacity: Any, *, plans: float, late_share: float | None) -> Any:
    """The template's capacity config resized to an LA with ``plans`` plans (see module doc)."""
    from forecasting.capacity.config import capacity_config

    data = capacity.model_dump(mode="json")
    base = float(data["demand"]["stock"]["plans_at_start"]) or 1.0
    k = plans / base
    for pool in data["staff"].values():
        for change in pool["fte"]:
            change["fte"] = change["fte"] * k
        pool["vacant_fte"] = pool["vacant_fte"] * k
        for locum in pool["locum_hours"]:
            locum["hours_per_week"] = locum["hours_per_week"] * k
        for cohort in pool["trainees"]:
            cohort["count"] = cohort["count"] * k
    demand = data["demand"]
    demand["source"], demand["la"] = "fixed", None  # paths are passed in, not looked up
    demand["stock"]["plans_at_start"] = plans
    demand["initial"]["reviews_overdue"] = demand["initial"]["reviews_overdue"] * k
    if demand["initial"].get("in_time_cases") is not None:
        demand["initial"]["in_time_cases"] = demand["initial"]["in_time_cases"] * k
    if late_share is not None and math.isfinite(late_share):
        demand["initial"]["share_late"] = min(max(late_share, 0.0), 1.0)
    return capacity_config(data)


def _latest(data: pd.DataFrame, measure: str) -> float | None:
    rows = _history(data, measure)
    return None if rows.empty else float(rows["y"].iloc[-1])


def _scenarios(inp: LaInput, sp: dict[str, Any], model: str, notes: list[str]) -> pd.DataFrame:
    from forecasting.capacity.disputes import with_dispute_workload
    from forecasting.capacity.simulate import simulate_capacity
    from forecasting.forecast import simulate
    from forecasting.scenarios import apply_request_changes

    sset = _scenario_set(inp.params["scenario_yaml"])
    names = sp.get("names") or list(sset.names)
    n_paths = int(sp["n_paths"])
    plans = _latest(inp.data, "stock_plans")
    if plans is None:
        raise EhcpError(f"no SEN2 stock of plans for {inp.la_name or inp.la}; cannot size "
                        "its capacity scenarios", field="stock_plans")
    within, den = _latest(inp.data, "plans_within_20wk"), _latest(inp.data, "plans_issued_den")
    late = None if not within or not den else 1.0 - within / den
    sim = sset.baseline.capacity.simulation
    last_sim_year = (pd.Timestamp(sim.start) + pd.Timedelta(days=sim.horizon_days)).year
    paths = []
    ratio = float(sp.get("max_demand_ratio", 4.0))
    capped = 0.0
    for k, measure in enumerate((sp.get("demand_measure", "requests_received"), "stock_plans")):
        hist = _history(inp.data, measure, notes)
        h = last_sim_year - int(hist["ds"].max())
        if h < 1:
            continue
        seed = int(np.random.SeedSequence([inp.seed, k]).generate_state(1)[0])
        p = simulate(hist, h=h, n_paths=n_paths, seed=seed, model=model)
        # A log-scale model's paths can explode (1e11 x the last figure has been seen); the
        # simulator would try to create that many cases. Cap each year at ratio x the latest
        # figure and report the share of capped path-years.
        cap = ratio * float(hist["y"].iloc[-1])
        over = p["y"] > cap
        if k == 0:
            capped = float(over.mean())
        p["y"] = p["y"].where(~over, cap)
        paths.append(p.assign(measure="requests_received" if k == 0 else "stock_plans"))
    if capped:
        notes.append(f"{100 * capped:.1f}% of demand path-years capped at {ratio:g} x the "
                     "latest requests")
    demand = pd.concat(paths, ignore_index=True) if paths else None
    if demand is not None:
        # Scenario request changes work on dated periods; a year is the period from 1 January.
        demand["ds"] = pd.to_datetime(demand["ds"].astype("int64").astype(str) + "-01-01")
    rows = []
    for name in names:
        scen = sset[name]
        capacity = scale_capacity(scen.capacity, plans=plans, late_share=late)
        dp = demand
        if dp is not None and scen.request_changes:
            req = dp["measure"] == "requests_received"
            dp = pd.concat([apply_request_changes(dp[req], scen.request_changes), dp[~req]],
                           ignore_index=True)
        # Mediation and tribunal hours are set aside from this LA's expected decisions, as in
        # `ehcp run` (the file's dispute rates are shares of decisions, so they scale with it).
        capacity = with_dispute_workload(capacity, dp)
        with warnings.catch_warnings():
            # Load warnings (a queue that explodes) are part of the answer, not a failure.
            warnings.simplefilter("ignore")
            res = simulate_capacity(capacity, dp, n_paths=n_paths, seed=inp.seed, scenario=name)
        summary = {**summarise_weekly(res.weekly), "demand_capped_share": capped}
        rows += [{"scenario": name, "metric": m, "value": v} for m, v in summary.items()]
    return pd.DataFrame(rows)


def summarise_weekly(weekly: pd.DataFrame) -> dict[str, float]:
    """One scenario's weekly simulator rows -> the :data:`SCENARIO_METRICS` (over paths).

    The backlog is the open new assessments already past their 20-week deadline.

    Examples
    --------
    >>> w = pd.DataFrame({"path": [0, 0, 1, 1], "week": [0, 1, 0, 1],
    ...                   "open_new": [10, 14, 10, 12], "not_yet_due": [4, 4, 4, 4],
    ...                   "plans_within_20wk_ex": [1, 1, 0, 1], "plans_issued_ex": [2, 2, 2, 2],
    ...                   "reviews_overdue": [0, 3, 0, 5], "cost_gbp": [1.0, 1.0, 1.0, 1.0]})
    >>> s = summarise_weekly(w)
    >>> s["backlog_start"], s["backlog_end"], s["backlog_growth"], s["pct_within_20wk_last_year"]
    (6.0, 9.0, 3.0, 37.5)
    """
    w = weekly.sort_values(["path", "week"])
    backlog = (w["open_new"] - w["not_yet_due"]).to_numpy(float)
    by_path = w.assign(backlog=backlog).groupby("path", sort=True)
    first, last = by_path.first(), by_path.last()
    last_weeks = w[w["week"] > w["week"].max() - 52].groupby("path")
    issued = last_weeks["plans_issued_ex"].sum()
    pct = 100.0 * last_weeks["plans_within_20wk_ex"].sum() / issued.where(issued > 0)
    end = last["backlog"].to_numpy(float)
    return {
        "backlog_start": float(first["backlog"].mean()),
        "backlog_end": float(end.mean()),
        "backlog_end_p10": float(np.quantile(end, 0.1)),
        "backlog_end_p90": float(np.quantile(end, 0.9)),
        "backlog_growth": float((last["backlog"] - first["backlog"]).mean()),
        "open_new_end": float(last["open_new"].mean()),
        "pct_within_20wk_last_year": float(pct.mean()),
        "pct_within_20wk_last_year_p10": float(pct.quantile(0.1)),
        "reviews_overdue_end": float(last["reviews_overdue"].mean()),
        "cost_gbp_total": float(by_path["cost_gbp"].sum().mean()),
        "n_paths": float(len(first)),
    }


def scenario_file_text(path: str | None) -> str | None:
    """The scenario file's text (None when no file is configured)."""
    if path is None:
        return None
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        raise EhcpError("scenario file not found", file=p, field="scenarios.file")
    return p.read_text(encoding="utf-8")


def text_sha256(text: str | None) -> str:
    """sha256 of a text (empty string for None)."""
    return hashlib.sha256((text or "").encode("utf-8")).hexdigest()
