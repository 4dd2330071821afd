"""Mediation and SEND tribunal appeals: the staff hours they take and how many there are.

A share of appealable decisions (refusals to assess and decisions not to issue, new plans,
annual review decisions) goes to mediation and a share is appealed to the SEND tribunal
(``pipeline.disputes``). That is work for caseworkers (and EPs, who give evidence at tribunal)
and a legal / admin cost; it does not stop the 20-week clock of the original request, which
has already ended in a decision.

Two views of the same rates:

- **capacity set aside** before the simulation: :func:`with_dispute_workload` turns the
  expected decisions of each calendar year (from the median demand path and the stock of plans)
  into hours a week taken from each pool (``staff.<pool>.reserved_hours``), so less time is left
  for assessments and reviews; the same hours on every path (an approximation: the engine
  has no per-path side workload);
- **counts after** the simulation: :func:`add_dispute_columns` puts the expected mediations,
  tribunal appeals and their hours on every simulated week, from that path's own refusals,
  plans issued and reviews done; ``forecasting.costs`` prices them by financial year.

With every rate at 0 (the default) nothing is set aside and the columns are zero.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from forecasting.capacity.config import CapacityConfig, Disputes, PipelineConfig
from forecasting.capacity.staff import value_on

__all__ = ["DISPUTE_COLUMNS", "add_dispute_columns", "expected_decisions",
           "reserved_hours_by_year", "with_dispute_workload"]

#: Columns :func:`add_dispute_columns` adds to a weekly table.
DISPUTE_COLUMNS = ("mediations", "tribunals", "caseworker_dispute_hours", "ep_dispute_hours")
_DAYS_PER_YEAR = 365.25


def _reviews_per_plan(pipeline: PipelineConfig) -> float:
    r = pipeline.reviews
    return (1.0 - r.under5_share) * 12.0 / r.interval_months \
        + r.under5_share * 12.0 / r.under5_interval_months


def expected_decisions(config: CapacityConfig, requests: dict[int, float],
                       stock_at_start: float | None = None) -> pd.DataFrame:
    """Expected appealable decisions per calendar year from requests and the stock of plans.

    Refusals include decisions not to issue after assessment; reviews follow the stock of plans,
    which grows by the plans issued and shrinks by cessations.

    Parameters
    ----------
    config : CapacityConfig
    requests : dict of int to float
        Requests for assessment per calendar year.
    stock_at_start : float, optional
        Plans in the stock at the start (default ``demand.stock.plans_at_start``).

    Returns
    -------
    DataFrame
        ``year, requests, refusals, plans, reviews, stock``.

    Examples
    --------
    >>> from forecasting.capacity.config import capacity_config
    >>> pool = {"fte": [{"date": "2025-01-01", "fte": 1}]}
    >>> cfg = capacity_config({"staff": {"ep": pool, "caseworker": pool},
    ...     "pipeline": {"p_refused": 0.2, "p_not_issued": 0.0,
    ...                  "reviews": {"under5_share": 0.0}},
    ...     "demand": {"stock": {"plans_at_start": 1000, "cessation_rate_per_year": 0.1}}})
    >>> expected_decisions(cfg, {2025: 100.0, 2026: 100.0}).round(1).values.tolist()
    [[2025.0, 100.0, 20.0, 80.0, 1000.0, 1000.0], [2026.0, 100.0, 20.0, 80.0, 980.0, 980.0]]
    """
    p = config.pipeline
    stock = config.demand.stock.plans_at_start if stock_at_start is None else float(stock_at_start)
    per_plan = _reviews_per_plan(p)
    rows = []
    for year in sorted(requests):
        r = float(requests[year])
        plans = r * (1.0 - p.p_refused) * (1.0 - p.p_not_issued)
        rows.append((year, r, r - plans, plans, stock * per_plan, stock))
        stock = stock * (1.0 - config.demand.stock.cessation_rate_per_year) + plans
    return pd.DataFrame(rows, columns=["year", "requests", "refusals", "plans", "reviews", "stock"])


def _per_decision_hours(d: Disputes, pool: str) -> dict[str, float]:
    med, trib = getattr(d.mediation_hours, pool), getattr(d.tribunal_hours, pool)
    return {kind: getattr(d.mediation, kind) * med + getattr(d.tribunal, kind) * trib
            for kind in ("refusals", "plans", "reviews")}


def reserved_hours_by_year(config: CapacityConfig, decisions: pd.DataFrame) -> pd.DataFrame:
    """Hours a week each pool spends on mediation and tribunals, per calendar year.

    Examples
    --------
    >>> from forecasting.capacity.config import capacity_config
    >>> pool = {"fte": [{"date": "2025-01-01", "fte": 1}]}
    >>> cfg = capacity_config({"staff": {"ep": pool, "caseworker": pool}, "pipeline": {
    ...     "disputes": {"tribunal": {"plans": 0.1}, "tribunal_hours": {"caseworker": 36.525}}}})
    >>> d = pd.DataFrame({"year": [2025], "refusals": [0.0], "plans": [100.0], "reviews": [0.0]})
    >>> reserved_hours_by_year(cfg, d).round(2).values.tolist()
    [[2025.0, 0.0, 7.0]]
    """
    d = config.pipeline.disputes
    out = pd.DataFrame({"year": decisions["year"].astype(float)})
    for pool in ("ep", "caseworker"):
        per = _per_decision_hours(d, pool)
        per_year = sum(decisions[k].to_numpy(float) * v for k, v in per.items())
        out[pool] = np.asarray(per_year, dtype=float) * 7.0 / _DAYS_PER_YEAR
    return out


def _requests_by_year(config: CapacityConfig, demand_paths: pd.DataFrame | None
                      ) -> tuple[dict[int, float], float | None]:
    sim = config.simulation
    last = (pd.Timestamp(sim.start) + pd.Timedelta(days=sim.horizon_days)).year
    years = range(sim.start.year, last + 1)
    stock = None
    if demand_paths is None or demand_paths.empty:
        return {y: config.demand.requests_in(y) for y in years}, stock
    frame = demand_paths
    if "measure" in frame.columns:
        stock_rows = frame.loc[frame["measure"] == "stock_plans", "y"]
        stock = float(stock_rows.mean()) if len(stock_rows) else None
        frame = frame.loc[frame["measure"] != "stock_plans"]
    ds = frame["ds"]
    year = ds.astype(int) if pd.api.types.is_integer_dtype(ds) else pd.to_datetime(ds).dt.year
    # The median path, not the mean: a few explosive forecast paths would otherwise take
    # hours from every path.
    per_path = frame.groupby([year.to_numpy(), frame["sample_id"].to_numpy()])["y"].sum()
    mid = per_path.groupby(level=0).median()
    known = {int(k): float(v) for k, v in zip(mid.index, mid.to_numpy(float), strict=True)}
    # Years past the paths keep the last year's volume (the simulator does the same).
    out = {}
    for y in years:
        near = min(known, key=lambda k: (abs(k - y), -k)) if known else None
        out[y] = known.get(y, known[near] if near is not None else config.demand.requests_in(y))
    return out, stock


def with_dispute_workload(config: CapacityConfig,
                          demand_paths: pd.DataFrame | None = None) -> CapacityConfig:
    """The config with each pool's mediation and tribunal hours set aside (``reserved_hours``).

    The hours are the expected decisions of each calendar year (the median path's demand, else
    the config's fixed volumes; every plan decided in its year, so the stock and its reviews
    grow as if the pipeline kept up) times the dispute rates and hours per dispute; the same
    hours are set aside on every path. Any
    ``reserved_hours`` already in the config are kept and added to. With every dispute rate at
    0 the config is returned unchanged.

    Examples
    --------
    >>> from forecasting.capacity.config import capacity_config
    >>> pool = {"fte": [{"date": "2025-04-01", "fte": 1}]}
    >>> cfg = capacity_config({"staff": {"ep": pool, "caseworker": pool},
    ...     "simulation": {"start": "2025-04-01", "years": 1},
    ...     "demand": {"requests_per_year": 1000, "stock": {"plans_at_start": 0}},
    ...     "pipeline": {"p_refused": 0.2, "p_not_issued": 0.0,
    ...         "disputes": {"mediation": {"refusals": 0.5}, "mediation_hours": {"caseworker": 10}}}})
    >>> new = with_dispute_workload(cfg)
    >>> [(str(c.date), round(c.hours_per_week, 2)) for c in new.staff.caseworker.reserved_hours]
    [('2025-04-01', 19.16), ('2026-01-01', 19.16)]
    >>> new.staff.ep.reserved_hours
    ()
    """
    if not config.pipeline.disputes.active:
        return config
    requests, stock = _requests_by_year(config, demand_paths)
    hours = reserved_hours_by_year(config, expected_decisions(config, requests, stock))
    start = config.simulation.start
    data = config.model_dump()
    for pool in ("ep", "caseworker"):
        if not (hours[pool] > 0).any():
            continue
        own = getattr(config.staff, pool).reserved_hours
        dates = sorted({start, *(date(int(y), 1, 1) for y in hours["year"] if int(y) > start.year),
                        *(c.date for c in own)})
        by_year = dict(zip(hours["year"].astype(int), hours[pool], strict=True))
        mine = [(c.date, c.hours_per_week) for c in own]
        data["staff"][pool]["reserved_hours"] = [
            {"date": d, "hours_per_week": float(by_year.get(d.year, 0.0)) + value_on(mine, d)}
            for d in dates]
    return CapacityConfig.model_validate(data)


def add_dispute_columns(weekly: pd.DataFrame, pipeline: PipelineConfig) -> pd.DataFrame:
    """Expected mediations, tribunal appeals and their staff hours on every simulated week.

    From each row's own decisions: ``refused`` and ``not_issued`` (refusals), ``plans_issued``
    and ``reviews_done``. Expected values (not random draws), so they are smooth and cost the
    same on every run.

    Examples
    --------
    >>> from forecasting.capacity.config import PipelineConfig
    >>> p = PipelineConfig(disputes={"mediation": {"refusals": 0.1}, "tribunal": {"plans": 0.02},
    ...     "mediation_hours": {"caseworker": 6}, "tribunal_hours": {"caseworker": 30, "ep": 7}})
    >>> w = pd.DataFrame({"refused": [10], "not_issued": [0], "plans_issued": [50],
    ...                   "reviews_done": [100]})
    >>> add_dispute_columns(w, p)[list(DISPUTE_COLUMNS)].round(2).values.tolist()
    [[1.0, 1.0, 36.0, 7.0]]
    """
    d = pipeline.disputes
    refusals = weekly["refused"].to_numpy(float) + weekly["not_issued"].to_numpy(float)
    flows = {"refusals": refusals, "plans": weekly["plans_issued"].to_numpy(float),
             "reviews": weekly["reviews_done"].to_numpy(float)}
    out = weekly.copy()
    out["mediations"] = sum(flows[k] * getattr(d.mediation, k) for k in flows)
    out["tribunals"] = sum(flows[k] * getattr(d.tribunal, k) for k in flows)
    for pool in ("caseworker", "ep"):
        per = _per_decision_hours(d, pool)
        out[f"{pool}_dispute_hours"] = sum(flows[k] * per[k] for k in flows)
    return out
