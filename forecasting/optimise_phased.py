"""A phased staffing plan: extra EP FTE, caseworker FTE and locum hours set per financial year.

Councils budget by financial year, so a plan that holds the same extra staff to the end of the
horizon may pay for staff in years the targets no longer need them (or need them less). Starting
from the cheapest flat plan :func:`forecasting.optimise.optimise` found, :func:`phase_plan` tries
cutting one lever in one financial year at a time, biggest saving first; a cut that keeps every
target met (on the same simulated paths: common random numbers) is kept and the search goes on
from the cheaper plan, until no cut is left or the evaluation budget is spent. When the flat
search found nothing within the bounds, no phasing can (more staff never makes things worse
here), and the result says so plainly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from forecasting.capacity.config import CapacityConfig
from forecasting.capacity.staff import value_on
from forecasting.optimise import DIMS, OptimisationResult, Staffing, target_met
from forecasting.periods import financial_year, financial_year_bounds
from forecasting.scenarios import Target

__all__ = ["PhasedPlan", "PhasedResult", "apply_plan", "financial_years", "phase_plan"]

_LABELS = {"ep_fte": "extra EP (FTE)", "caseworker_fte": "extra caseworker (FTE)",
           "locum_hours_per_week": "extra locum EP (hours/week)"}


def financial_years(start: date, end: date) -> list[tuple[str, date]]:
    """Financial years from the one holding ``start`` to the one holding ``end``, with the day
    each starts to count (``start`` for the first).

    Examples
    --------
    >>> financial_years(date(2026, 4, 1), date(2028, 1, 1))
    [('2026-27', datetime.date(2026, 4, 1)), ('2027-28', datetime.date(2027, 4, 1))]
    """
    out = []
    fy = financial_year(start)
    while True:
        first = financial_year_bounds(fy)[0].date()
        if first > end:
            break
        out.append((fy, max(first, start)))
        fy = financial_year(pd.Timestamp(first) + pd.DateOffset(years=1))
    return out


@dataclass(frozen=True)
class PhasedPlan:
    """Extra staffing per financial year: ``levels[k]`` holds from ``starts[k]``."""

    years: tuple[str, ...]
    starts: tuple[date, ...]
    levels: tuple[Staffing, ...]

    def with_level(self, k: int, dim: str, value: float) -> PhasedPlan:
        """The plan with one lever of one year changed.

        Examples
        --------
        >>> p = PhasedPlan(("2026-27",), (date(2026, 4, 1),), (Staffing(2, 1, 0),))
        >>> p.with_level(0, "ep_fte", 1).levels[0]
        Staffing(ep_fte=1, caseworker_fte=1, locum_hours_per_week=0)
        """
        levels = list(self.levels)
        levels[k] = Staffing(**{**{d: getattr(levels[k], d) for d in DIMS}, dim: value})
        return PhasedPlan(self.years, self.starts, tuple(levels))

    def describe(self) -> str:
        """The plan in one line, e.g. ``2026-27: +2 EP, +1 CW, +0 locum h/wk; ...``."""
        return "; ".join(
            f"{fy}: +{s.ep_fte:g} EP, +{s.caseworker_fte:g} CW, +{s.locum_hours_per_week:g} locum h/wk"
            for fy, s in zip(self.years, self.levels, strict=True))

    def mean(self) -> Staffing:
        """The levels averaged over the years (for the trade-off table)."""
        n = max(len(self.levels), 1)
        return Staffing(*(round(sum(getattr(s, d) for s in self.levels) / n, 6) for d in DIMS))


def apply_plan(config: CapacityConfig, plan: PhasedPlan) -> CapacityConfig:
    """Add a phased plan's extra staff to the simulator config.

    Extra FTE raise (and, when a later year's level is lower, lower) the funded establishment
    from each year's start, so recruitment lag and attrition apply; locum hours are bought
    year by year.

    Examples
    --------
    >>> from forecasting.capacity.config import capacity_config
    >>> pool = {"fte": [{"date": "2025-04-01", "fte": 10}]}
    >>> cfg = capacity_config({"staff": {"ep": pool, "caseworker": pool}})
    >>> plan = PhasedPlan(("2026-27", "2027-28"), (date(2026, 4, 1), date(2027, 4, 1)),
    ...                   (Staffing(2, 0, 30), Staffing(1, 0, 0)))
    >>> new = apply_plan(cfg, plan)
    >>> [(str(c.date), c.fte) for c in new.staff.ep.fte]
    [('2025-04-01', 10.0), ('2026-04-01', 12.0), ('2027-04-01', 11.0)]
    >>> [(str(c.date), c.hours_per_week) for c in new.staff.ep.locum_hours]
    [('2026-04-01', 30.0), ('2027-04-01', 0.0)]
    """

    def merged(changes: Sequence[Any], key: str, dim: str) -> list[dict]:
        rows = [c.model_dump() for c in changes]
        if all(getattr(s, dim) == 0 for s in plan.levels):
            return rows
        calendar = [(r["date"], r[key]) for r in rows]
        # The simulator holds an establishment calendar at its first value before its first
        # date (staff.simulate_pool), so extra posts add to that; hours are 0 before theirs.
        fte = key == "fte"
        extra = [(first, getattr(s, dim)) for first, s in zip(plan.starts, plan.levels, strict=True)]
        days = sorted({*(r["date"] for r in rows), *plan.starts})
        return [{"date": d, key: value_on(calendar, d, hold_first=fte) + value_on(extra, d)}
                for d in days]

    data = config.model_dump()
    staff = data["staff"]
    staff["ep"]["fte"] = merged(config.staff.ep.fte, "fte", "ep_fte")
    staff["caseworker"]["fte"] = merged(config.staff.caseworker.fte, "fte", "caseworker_fte")
    staff["ep"]["locum_hours"] = merged(config.staff.ep.locum_hours, "hours_per_week",
                                        "locum_hours_per_week")
    return CapacityConfig.model_validate(data)


@dataclass(frozen=True)
class PhasedResult:
    """The phased plan found (None when the flat search found nothing) and every plan tried."""

    plan: PhasedPlan | None
    cost_by_year: dict[str, float]
    candidates: pd.DataFrame
    message: str
    n_evaluations: int

    def table(self) -> pd.DataFrame:
        """Financial years x levers with the extra cost per year, and a total row.

        Examples
        --------
        >>> plan = PhasedPlan(("2026-27",), (date(2026, 4, 1),), (Staffing(2, 1, 0),))
        >>> r = PhasedResult(plan, {"2026-27": 100.0}, pd.DataFrame(), "", 0)
        >>> r.table().values.tolist()[0]
        ['financial', '2026-27', 2.0, 1.0, 0.0, 100.0]
        """
        cols = ["period_type", "period", *_LABELS.values(), "extra cost (£)"]
        if self.plan is None:
            return pd.DataFrame(columns=cols)
        rows = [["financial", fy, float(s.ep_fte), float(s.caseworker_fte),
                 float(s.locum_hours_per_week), float(self.cost_by_year.get(fy, 0.0))]
                for fy, s in zip(self.plan.years, self.plan.levels, strict=True)]
        first, last = self.plan.years[0], self.plan.years[-1]
        rows.append(["financial", f"total {first} to {last}", float("nan"), float("nan"),
                     float("nan"), float(sum(self.cost_by_year.values()))])
        return pd.DataFrame(rows, columns=cols)


def phase_plan(
    flat: OptimisationResult,
    evaluate: Callable[[PhasedPlan], pd.DataFrame],
    cost_by_year: Callable[[PhasedPlan], dict[str, float]],
    targets: Sequence[Target],
    years: Sequence[tuple[str, date]],
    steps: dict[str, float],
    *,
    max_evaluations: int = 8,
    on_step: Callable[[int, int], None] | None = None,
) -> PhasedResult:
    """Cut the flat plan year by year, biggest saving first, while every target stays met.

    Parameters
    ----------
    flat : OptimisationResult
        The flat search; its ``best`` is the starting plan in every year.
    evaluate : callable
        ``evaluate(plan) -> weekly`` rows per path and week (one seed for every call).
    cost_by_year : callable
        ``cost_by_year(plan) -> {financial year: pounds}`` of the extra staff.
    targets : sequence of Target
    years : sequence of (str, date)
        The financial years the plan sets, with the day each starts (:func:`financial_years`).
    steps : dict of str to float
        How much one cut takes off each lever (e.g. half the flat grid's spacing).
    max_evaluations : int
        Simulations the phasing may run.

    Returns
    -------
    PhasedResult

    Examples
    --------
    >>> from forecasting.optimise import Staffing, optimise
    >>> from forecasting.scenarios import SearchBounds, Target
    >>> t = Target(name="t", metric="pct_within_20_weeks", at_least=50, financial_year="2026-27",
    ...            probability=1.0)
    >>> def flat_eval(s):
    ...     return pd.DataFrame({"sample_id": [0], "ds": [pd.Timestamp("2026-06-01")],
    ...                          "pct_within_20wk": [10 * s.ep_fte]})
    >>> b = SearchBounds(start="2026-04-01", ep_fte=(0, 8), caseworker_fte=(0, 0), grid_points=5)
    >>> flat = optimise(flat_eval, lambda s: 70 * s.ep_fte, [t], b)
    >>> years = financial_years(date(2026, 4, 1), date(2027, 12, 31))
    >>> def plan_eval(p):  # only the first year is judged
    ...     return flat_eval(p.levels[0])
    >>> cost = lambda p: {fy: 70 * s.ep_fte for fy, s in zip(p.years, p.levels)}
    >>> r = phase_plan(flat, plan_eval, cost, [t], years, {"ep_fte": 2, "caseworker_fte": 1,
    ...                "locum_hours_per_week": 1})
    >>> [s.ep_fte for s in r.plan.levels], r.cost_by_year
    ([5.0, 0.0], {'2026-27': 350.0, '2027-28': 0.0})
    """
    targets = tuple(targets)
    labels = tuple(fy for fy, _ in years)
    starts = tuple(d for _, d in years)
    rows: list[dict] = []
    if flat.best is None:
        return PhasedResult(None, {}, pd.DataFrame(rows), "No phased plan: " + flat.message, 0)
    plan = PhasedPlan(labels, starts, tuple(flat.best for _ in labels))
    best_costs = cost_by_year(plan)
    flat_total = sum(best_costs.values())
    used = 0

    def record(p: PhasedPlan, costs: dict[str, float], weekly: pd.DataFrame | None) -> bool:
        row: dict = {**{d: getattr(p.mean(), d) for d in DIMS}, "cost_gbp": sum(costs.values()),
                     "phase": "phasing", "evaluated": weekly is not None, "plan": p.describe()}
        feasible = True
        met_all = None
        if weekly is not None:
            for t in targets:
                share, ok = target_met(weekly, t)
                row[f"p_{t.name}"] = share
                met_all = ok if met_all is None else (met_all & ok)
                feasible &= share >= t.probability - 1e-12
            row["p_all"] = float(met_all.mean()) if met_all is not None and len(met_all) else 0.0
        row["feasible"] = bool(feasible)
        rows.append(row)
        return feasible

    record(plan, best_costs, None)  # the flat plan: feasible by the flat search
    tried: set[tuple] = set()
    # Plans only ever lose staff, so a cut that failed once fails again from any later plan
    # (monotonicity): it is not tried twice.
    failed: set[tuple[int, str, float]] = set()
    improved = True
    while improved and used < max_evaluations:
        improved = False
        moves = []
        for k in range(len(labels)):
            for d in DIMS:
                level = float(getattr(plan.levels[k], d))
                step = float(steps.get(d, 0.0))
                if level <= 0 or step <= 0:
                    continue
                value = round(max(level - step, 0.0), 9)
                cand = plan.with_level(k, d, value)
                key = tuple(tuple(getattr(s, x) for x in DIMS) for s in cand.levels)
                if key in tried or (k, d, value) in failed:
                    continue
                costs = cost_by_year(cand)
                moves.append((sum(costs.values()), k, d, cand, costs, key))
        # Biggest saving first: the cheapest candidate plans are tried first.
        for _, k, d, cand, costs, key in sorted(moves, key=lambda m: (m[0], m[1], m[2])):
            if used >= max_evaluations:
                break
            tried.add(key)
            used += 1
            ok = record(cand, costs, evaluate(cand))
            if on_step is not None:
                on_step(used, max_evaluations)
            if ok:
                plan, best_costs, improved = cand, costs, True
                break
            failed.add((k, d, float(getattr(cand.levels[k], d))))
    total = sum(best_costs.values())
    message = (f"Phased plan by financial year: {plan.describe()}; extra cost £{total:,.0f} "
               f"(the flat plan: £{flat_total:,.0f}); {used} phasing simulations"
               + ("" if used < max_evaluations else ", budget spent (more cuts may be possible)")
               + ".")
    return PhasedResult(plan, best_costs, pd.DataFrame(rows), message, used)
