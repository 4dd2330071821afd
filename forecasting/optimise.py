"""The cheapest staffing that meets the service targets, with a stated probability.

The optimiser searches extra EP FTE, caseworker FTE and locum EP hours (added to a scenario from
a start date) for the cheapest mix whose simulated paths meet every target with at least the
target's probability. It only needs an ``evaluate(staffing) -> weekly`` callable that returns one
row per simulated path and week (``sample_id, ds`` and the simulator's columns), so it runs the
same on the real simulator (with one seed for every candidate: common random numbers, so two
candidates differ only by their staffing) and on the analytic stand-in :func:`erlang_c_evaluator`.

Search: a coarse grid visited cheapest first, pruned by monotonicity (more staff never makes
things worse: a candidate with at least the staff of a feasible one is feasible and dearer, one
with at most the staff of an infeasible one is infeasible), then coordinate descent with
halving steps around the best plan. Every evaluated candidate goes into the trade-off table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from forecasting.capacity.config import CapacityConfig
from forecasting.capacity.staff import value_on
from forecasting.scenarios import LATE_OVER_13, SearchBounds, Target

__all__ = [
    "OptimisationResult",
    "Staffing",
    "apply_staffing",
    "erlang_c",
    "erlang_c_evaluator",
    "optimise",
    "pareto_front",
    "path_metric",
    "target_met",
]

DIMS = ("ep_fte", "caseworker_fte", "locum_hours_per_week")


@dataclass(frozen=True, order=True)
class Staffing:
    """Extra staffing added to a scenario from the search's start date."""

    ep_fte: float = 0.0
    caseworker_fte: float = 0.0
    locum_hours_per_week: float = 0.0

    def covers(self, other: Staffing) -> bool:
        """True when this plan has at least as much of every kind of staff as ``other``.

        Examples
        --------
        >>> Staffing(2, 1, 0).covers(Staffing(1, 1, 0)), Staffing(2, 0, 0).covers(Staffing(1, 1, 0))
        (True, False)
        """
        return all(getattr(self, d) >= getattr(other, d) - 1e-9 for d in DIMS)


Evaluator = Callable[[Staffing], pd.DataFrame]
CostFn = Callable[[Staffing], float]


def _window(weekly: pd.DataFrame, target: Target) -> pd.DataFrame:
    start, end = target.window
    ds = pd.to_datetime(weekly["ds"])
    keep = ds >= start
    if end is not None:
        keep &= ds <= end
    return weekly.loc[keep]


def path_metric(weekly: pd.DataFrame, target: Target) -> pd.Series:
    """The target's metric for each simulated path (``sample_id``) over the target's window.

    Paths with no week in the window get NaN and so never meet the target.

    Examples
    --------
    >>> w = pd.DataFrame({"sample_id": [0, 0, 1, 1],
    ...     "ds": pd.to_datetime(["2027-05-03", "2027-05-10"] * 2),
    ...     "plans_issued_ex": [10, 10, 10, 10], "plans_within_20wk_ex": [6, 8, 2, 4]})
    >>> t = Target(name="t", metric="pct_within_20_weeks", at_least=60, financial_year="2027-28")
    >>> path_metric(w, t).tolist()
    [70.0, 30.0]
    """
    win = _window(weekly, target)
    paths = pd.Index(sorted(weekly["sample_id"].unique()), name="sample_id")
    grouped = win.groupby("sample_id")
    if target.metric == "pct_within_20_weeks":
        if {"plans_issued_ex", "plans_within_20wk_ex"} <= set(win.columns):
            sums = grouped[["plans_issued_ex", "plans_within_20wk_ex"]].sum()
            issued = sums["plans_issued_ex"].where(sums["plans_issued_ex"] > 0)
            values = 100 * sums["plans_within_20wk_ex"] / issued
        else:
            values = grouped["pct_within_20wk"].mean()
    else:
        if target.metric == "cases_late_over_13_weeks":
            col = win[list(LATE_OVER_13)].sum(axis=1)
        elif target.metric == "open_late":
            col = win[[c for c in win.columns if c.startswith("late_")]].sum(axis=1)
        else:
            col = win["reviews_overdue"]
        frame = pd.DataFrame({"sample_id": win["sample_id"], "v": col})
        values = frame.groupby("sample_id")["v"].agg("mean" if target.at_least is not None else "max")
    return values.reindex(paths).astype(float)


def target_met(weekly: pd.DataFrame, target: Target) -> tuple[float, pd.Series]:
    """Share of paths that meet ``target``, and whether each path does.

    Examples
    --------
    >>> w = pd.DataFrame({"sample_id": [0, 1, 2, 3], "ds": pd.to_datetime(["2028-04-03"] * 4),
    ...     "late_13_26": [0, 0, 1, 0], "late_26_52": [0, 0, 0, 2], "late_52_plus": [0, 0, 0, 0]})
    >>> t = Target(name="t", metric="cases_late_over_13_weeks", at_most=0, from_date="2028-04-01")
    >>> target_met(w, t)[0]
    0.5
    """
    values = path_metric(weekly, target)
    if target.at_least is not None:
        ok = values >= target.at_least
    else:
        ok = values <= float(target.at_most or 0.0)
    return (float(ok.mean()) if len(ok) else 0.0), ok


@dataclass(frozen=True)
class OptimisationResult:
    """What the search found.

    ``candidates`` has one row per staffing plan considered: the plan, ``cost_gbp``,
    ``p_<target>`` for each target, ``p_all`` (all targets met on the same path), the median
    metric ``median_<target>``, ``feasible``, ``evaluated`` (False when inferred by
    monotonicity), ``phase`` (grid / refine) and ``pareto`` (on the cost-vs-P(all) front).
    """

    best: Staffing | None
    best_cost_gbp: float | None
    candidates: pd.DataFrame
    targets: tuple[Target, ...]
    message: str
    n_evaluations: int
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        return self.best is not None


def pareto_front(candidates: pd.DataFrame, *, cost: str = "cost_gbp", prob: str = "p_all") -> pd.Series:
    """Mark the rows no other row beats on both lower cost and higher probability.

    Examples
    --------
    >>> c = pd.DataFrame({"cost_gbp": [1, 2, 3, 4], "p_all": [0.1, 0.5, 0.4, 0.9]})
    >>> pareto_front(c).tolist()
    [True, True, False, True]
    """
    order = candidates.sort_values([cost, prob], ascending=[True, False]).index
    best = -math.inf
    keep = pd.Series(False, index=candidates.index)
    probs = candidates[prob].astype(float)
    for idx in order:
        p = float(probs[idx])
        if p > best + 1e-12:
            keep[idx] = True
            best = p
    return keep


def _grid(bounds: SearchBounds, points: int) -> list[list[float]]:
    axes = []
    for d in DIMS:
        lo, hi = getattr(bounds, d)
        axes.append([float(lo)] if hi <= lo else [float(v) for v in np.linspace(lo, hi, points)])
    return axes


def optimise(
    evaluate: Evaluator,
    cost: CostFn,
    targets: Sequence[Target],
    bounds: SearchBounds,
    *,
    on_step: Callable[[int, int], None] | None = None,
) -> OptimisationResult:
    """Find the cheapest staffing within ``bounds`` that meets every target.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(staffing) -> DataFrame`` with one row per path and week (``sample_id``,
        ``ds`` and the metric columns the targets need). Use one seed for every call.
    cost : callable
        ``cost(staffing) -> float``: pounds over the horizon; must grow with every kind of staff.
    targets : sequence of Target
    bounds : SearchBounds
        Ranges of extra EP FTE, caseworker FTE and locum hours a week; grid size, refinement
        steps and the evaluation budget.
    on_step : callable, optional
        ``on_step(done, budget)`` after each evaluation (for progress bars).

    Returns
    -------
    OptimisationResult
        ``best`` is None, and ``message`` says so plainly, when no plan within the bounds meets
        the targets.

    Examples
    --------
    >>> from forecasting.scenarios import SearchBounds, Target
    >>> t = Target(name="t", metric="pct_within_20_weeks", at_least=50, financial_year="2026-27",
    ...            probability=1.0)
    >>> def evaluate(s):  # within-20-week share rises with EP FTE
    ...     return pd.DataFrame({"sample_id": [0], "ds": [pd.Timestamp("2026-06-01")],
    ...                          "pct_within_20wk": [10 * s.ep_fte + 2 * s.caseworker_fte]})
    >>> b = SearchBounds(start="2026-04-01", ep_fte=(0, 8), caseworker_fte=(0, 8), grid_points=5)
    >>> r = optimise(evaluate, lambda s: 70 * s.ep_fte + 40 * s.caseworker_fte, [t], b)
    >>> r.best, r.best_cost_gbp
    (Staffing(ep_fte=5.0, caseworker_fte=0.0, locum_hours_per_week=0.0), 350.0)
    """
    targets = tuple(targets)
    if not targets:
        raise ValueError("optimise needs at least one target")
    budget = bounds.max_evaluations
    rows: list[dict] = []
    seen: dict[Staffing, dict] = {}

    def run(s: Staffing, phase: str) -> dict:
        if s in seen:
            return seen[s]
        weekly = evaluate(s)
        row: dict = {**asdict(s), "cost_gbp": float(cost(s)), "phase": phase, "evaluated": True}
        met_all = None
        feasible = True
        for t in targets:
            p, ok = target_met(weekly, t)
            row[f"p_{t.name}"] = p
            row[f"median_{t.name}"] = float(path_metric(weekly, t).median())
            met_all = ok if met_all is None else (met_all & ok)
            feasible &= p >= t.probability - 1e-12
        row["p_all"] = float(met_all.mean()) if met_all is not None and len(met_all) else 0.0
        row["feasible"] = bool(feasible)
        rows.append(row)
        seen[s] = row
        if on_step is not None:
            on_step(len(rows), budget)
        return row

    def inferred(s: Staffing) -> bool | None:
        for other, row in seen.items():
            if row["feasible"] and s.covers(other):
                return True
            if not row["feasible"] and other.covers(s):
                return False
        return None

    axes = _grid(bounds, bounds.grid_points)
    grid = [Staffing(a, b, c) for a in axes[0] for b in axes[1] for c in axes[2]]
    top = Staffing(*(max(ax) for ax in axes))
    refine_budget = min(budget // 3, 6 * bounds.refine_steps) if bounds.refine_steps else 0
    skipped: list[dict] = []
    best: Staffing | None = None
    if not run(top, "grid")["feasible"]:
        # Monotonicity: nothing within the bounds can do better than all of it. Evaluate the
        # diagonal so the trade-off curve still shows how close each level of spend gets.
        for k in range(bounds.grid_points - 1):
            if len(rows) >= budget:
                break
            frac = k / (bounds.grid_points - 1)
            run(Staffing(*(ax[0] + frac * (ax[-1] - ax[0]) for ax in axes)), "diagonal")
        message = (
            "No staffing plan within the given bounds meets the target(s): even the largest "
            f"({_describe(top)}) reaches "
            + ", ".join(f"P={seen[top]['p_' + t.name]:.2f} for {t.describe()}" for t in targets)
            + ". Widen the bounds, start earlier or relax the target."
        )
    else:
        for s in sorted(grid, key=lambda s: (cost(s), s)):
            if s in seen:
                continue
            known = inferred(s)
            if known is not None:
                skipped.append({**asdict(s), "cost_gbp": float(cost(s)), "phase": "grid",
                                "evaluated": False, "feasible": known})
                continue
            if len(rows) >= budget - refine_budget:
                break
            run(s, "grid")
        best = min((s for s, r in seen.items() if r["feasible"]), key=lambda s: (cost(s), s))
        best = _refine(best, axes, bounds, run, cost, budget, lambda: len(rows))
        message = (
            f"Cheapest plan found: {_describe(best)} at £{cost(best):,.0f} over the horizon; "
            + "; ".join(f"{t.describe()}: P={seen[best]['p_' + t.name]:.2f}" for t in targets)
            + "."
        )
    table = pd.DataFrame(rows + skipped)
    evaluated = table["evaluated"].astype(bool)
    table["pareto"] = False
    table.loc[evaluated, "pareto"] = pareto_front(table.loc[evaluated])
    table = table.sort_values(["cost_gbp", *DIMS]).reset_index(drop=True)
    return OptimisationResult(
        best=best,
        best_cost_gbp=None if best is None else float(cost(best)),
        candidates=table,
        targets=targets,
        message=message,
        n_evaluations=len(rows),
        bounds={d: tuple(getattr(bounds, d)) for d in DIMS},
    )


def _describe(s: Staffing) -> str:
    return (
        f"+{s.ep_fte:g} EP FTE, +{s.caseworker_fte:g} caseworker FTE, "
        f"+{s.locum_hours_per_week:g} locum EP hours/week"
    )


def _refine(
    best: Staffing,
    axes: list[list[float]],
    bounds: SearchBounds,
    run: Callable[[Staffing, str], dict],
    cost: CostFn,
    budget: int,
    used: Callable[[], int],
) -> Staffing:
    steps = [(ax[1] - ax[0]) if len(ax) > 1 else 0.0 for ax in axes]
    lows = [getattr(bounds, d)[0] for d in DIMS]
    highs = [getattr(bounds, d)[1] for d in DIMS]
    for _ in range(bounds.refine_steps):
        steps = [s / 2 for s in steps]
        improved = True
        while improved and used() < budget:
            improved = False
            here = [getattr(best, d) for d in DIMS]
            moves = []
            for i, step in enumerate(steps):
                if step <= 0:
                    continue
                moves.append([v - step if j == i else v for j, v in enumerate(here)])
                for j, other in enumerate(steps):
                    if j != i and other > 0:
                        moves.append([here[k] - step if k == i else here[k] + other if k == j
                                      else here[k] for k in range(3)])
            cands = [Staffing(*(round(v, 9) for v in m)) for m in moves
                     if all(lo - 1e-9 <= v <= hi + 1e-9 for v, lo, hi in zip(m, lows, highs, strict=True))]
            for cand in sorted(cands, key=lambda s: (cost(s), s)):
                if cost(cand) >= cost(best) or used() >= budget:
                    continue
                if run(cand, "refine")["feasible"]:
                    best = cand
                    improved = True
                    break
    return best


def erlang_c(servers: int, offered_load: float) -> float:
    """Erlang C: probability an arrival waits in an M/M/c queue (1 when the queue is unstable).

    Examples
    --------
    >>> round(erlang_c(2, 1.0), 4)  # textbook: c=2, a=1 -> 1/3
    0.3333
    """
    if servers <= 0 or offered_load >= servers:
        return 1.0
    # Erlang B by the stable recursion, then C = B / (1 - rho (1 - B)).
    b = 1.0
    for k in range(1, servers + 1):
        b = offered_load * b / (k + offered_load * b)
    rho = offered_load / servers
    return b / (1 - rho * (1 - b))


def erlang_c_evaluator(
    arrivals: pd.DataFrame,
    *,
    ep_fte: float,
    caseworker_fte: float,
    ep_hours_per_case: float,
    caseworker_hours_per_case: float,
    hours_per_fte_week: float = 20.0,
    deadline_weeks: float = 20.0,
) -> Evaluator:
    """A cheap analytic stand-in for the simulator: two M/M/c stations (EP, then caseworker).

    Each week of each path is treated as a steady state at that week's arrival rate. The share
    within 20 weeks is P(wait at EP <= slack/2) x P(wait at caseworker <= slack/2), with slack the
    deadline less the mean service times; cases waiting more than ``x`` weeks past the deadline
    follow Little's law on the Erlang C tail: lambda * C * exp(-theta (d + x)) / theta, with
    theta = c mu - lambda. It is monotone in every kind of staff, as the optimiser assumes.

    Parameters
    ----------
    arrivals : DataFrame
        ``sample_id, ds, y``: requests reaching the EP stage per week.
    ep_fte, caseworker_fte : float
        Staffing before the optimiser's extra.
    ep_hours_per_case, caseworker_hours_per_case : float
        Work per case.
    hours_per_fte_week : float
        Productive statutory hours per FTE per week (locum hours add to the EP pool directly).

    Examples
    --------
    >>> a = pd.DataFrame({"sample_id": [0], "ds": [pd.Timestamp("2026-06-01")], "y": [10.0]})
    >>> ev = erlang_c_evaluator(a, ep_fte=5, caseworker_fte=4, ep_hours_per_case=10,
    ...                         caseworker_hours_per_case=6, hours_per_fte_week=17)
    >>> [round(float(ev(Staffing(ep_fte=e))["pct_within_20wk"].iloc[0]), 1) for e in (0, 1, 2)]
    [0.0, 85.9, 100.0]
    """
    lam = arrivals["y"].to_numpy(float)

    def station(fte: float, extra_hours: float, hours_per_case: float):
        mu = hours_per_fte_week / hours_per_case  # cases per server-week
        c = int(math.floor(fte + extra_hours / hours_per_fte_week + 1e-9))
        waits = np.array([erlang_c(c, x / mu) for x in lam])
        theta = np.maximum(c * mu - lam, 0.0)
        return waits, theta, 1.0 / mu

    def evaluate(s: Staffing) -> pd.DataFrame:
        c1, th1, s1 = station(ep_fte + s.ep_fte, s.locum_hours_per_week, ep_hours_per_case)
        c2, th2, s2 = station(caseworker_fte + s.caseworker_fte, 0.0, caseworker_hours_per_case)
        slack = max(deadline_weeks - s1 - s2, 0.0) / 2
        ok1 = np.where(th1 > 0, 1 - c1 * np.exp(-th1 * slack), 0.0)
        ok2 = np.where(th2 > 0, 1 - c2 * np.exp(-th2 * slack), 0.0)

        def late_over(x: float) -> np.ndarray:
            # An unstable station (theta = 0) grows without bound: cap it so the bands stay finite.
            t = deadline_weeks + x
            total = np.zeros_like(lam)
            for c, th in ((c1, th1), (c2, th2)):
                safe = np.where(th > 0, th, 1.0)
                total += np.where(th > 0, lam * c * np.exp(-safe * t) / safe, 1e9)
            return np.minimum(total, 1e9)

        out = arrivals[["sample_id", "ds"]].copy()
        out["pct_within_20wk"] = 100 * ok1 * ok2
        edges = [0, 4, 13, 26, 52]
        names = ["late_0_4", "late_4_13", "late_13_26", "late_26_52"]
        for name, lo, hi in zip(names, edges[:-1], edges[1:], strict=True):
            out[name] = late_over(lo) - late_over(hi)
        out["late_52_plus"] = late_over(52)
        out = out.fillna(0.0)
        return out

    return evaluate


def apply_staffing(
    config: CapacityConfig, extra: Staffing, start: date, *, locum_until: date | None = None
) -> CapacityConfig:
    """Add the optimiser's extra staffing to a simulator config from ``start`` on.

    Extra EP and caseworker FTE raise the funded establishment from ``start`` (so recruitment
    lag, success rate and attrition apply to the new posts as to the old); extra locum hours are
    added to the EP locum calendar from ``start`` until ``locum_until`` (a catch-up contract),
    or to the end when it is None.

    Examples
    --------
    >>> from forecasting.capacity.config import capacity_config
    >>> pool = {"fte": [{"date": "2025-04-01", "fte": 10}, {"date": "2027-04-01", "fte": 12}]}
    >>> cfg = capacity_config({"staff": {"ep": pool, "caseworker": pool}})
    >>> new = apply_staffing(cfg, Staffing(ep_fte=2, locum_hours_per_week=30), date(2026, 4, 1))
    >>> [(str(c.date), c.fte) for c in new.staff.ep.fte]
    [('2025-04-01', 10.0), ('2026-04-01', 12.0), ('2027-04-01', 14.0)]
    >>> [(str(c.date), c.hours_per_week) for c in new.staff.ep.locum_hours]
    [('2026-04-01', 30.0)]
    >>> new = apply_staffing(cfg, Staffing(locum_hours_per_week=30), date(2026, 4, 1),
    ...                      locum_until=date(2027, 4, 1))
    >>> [(str(c.date), c.hours_per_week) for c in new.staff.ep.locum_hours]
    [('2026-04-01', 30.0), ('2027-04-01', 0.0)]
    """

    def shift(changes: Sequence[Any], key: str, amount: float, until: date | None = None) -> list[dict]:
        rows = [c.model_dump() for c in changes]
        if amount == 0:
            return rows
        calendar = [(r["date"], r[key]) for r in rows]
        # The simulator holds an establishment calendar at its first value before its first
        # date (staff.simulate_pool), so extra posts add to that; hours are 0 before theirs.
        fte = key == "fte"
        dates = sorted({start, *(r["date"] for r in rows), *([until] if until else [])})
        out = []
        for d in dates:
            if d < start:
                out.append({"date": d, key: value_on(calendar, d, hold_first=fte)})
                continue
            bump = amount if until is None or d < until else 0.0
            out.append({"date": d, key: value_on(calendar, d, hold_first=fte) + bump})
        return out

    data = config.model_dump()
    staff = data["staff"]
    staff["ep"]["fte"] = shift(config.staff.ep.fte, "fte", extra.ep_fte)
    staff["caseworker"]["fte"] = shift(config.staff.caseworker.fte, "fte", extra.caseworker_fte)
    staff["ep"]["locum_hours"] = shift(
        config.staff.ep.locum_hours, "hours_per_week", extra.locum_hours_per_week, locum_until
    )
    return CapacityConfig.model_validate(data)
