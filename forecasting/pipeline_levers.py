"""Two steps of the main job: calibrating capacity to SEN2 and phasing the staffing plan.

:func:`calibrate_scenarios` fits each pool's productivity factor to the LA's published figures
(new plans issued, annual review decisions) (:mod:`forecasting.capacity.calibrate`) and applies it to every scenario;
:func:`phase_staffing` turns the optimiser's flat plan into extra staff per financial year
(:mod:`forecasting.optimise_phased`), simulating candidates as the flat search does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecasting.costs import weekly_staff_cost
from forecasting.errors import EhcpError
from forecasting.scenarios import ScenarioSet

if TYPE_CHECKING:
    from forecasting.capacity.calibrate import Calibration
    from forecasting.optimise import OptimisationResult
    from forecasting.optimise_phased import PhasedResult

__all__ = ["calibrate_scenarios", "phase_staffing"]


def calibrate_scenarios(scenarios: ScenarioSet, panel: pd.DataFrame,
                        code: str) -> tuple[ScenarioSet, Calibration]:
    """Fit each pool's productivity factor to the LA's published year; apply them to every scenario.

    Returns
    -------
    (ScenarioSet, Calibration)
        The scenarios with each pool's ``productivity`` scaled by its factor, and the calibration.

    Raises
    ------
    EhcpError
        When the panel has no published timeliness for the LA (or the year asked for).
    """
    from forecasting.capacity.calibrate import calibrate, published_year

    settings = scenarios.calibration
    if settings is None:
        raise EhcpError("the config has no calibration section", file=scenarios.file,
                        field="calibration", fix="add 'calibration: {enabled: true}'")
    try:
        published = published_year(panel, code, settings.year)
    except EhcpError as err:
        raise EhcpError(err.message, file=scenarios.file, field=err.field, fix=err.fix) from None
    base = scenarios.baseline.capacity
    cal = calibrate(base, published, settings, seed=base.simulation.seed)
    calibrated = replace(scenarios, scenarios=tuple(
        replace(s, capacity=cal.apply(s.capacity))
        for s in scenarios))
    return calibrated, cal


def phase_staffing(scenarios: ScenarioSet, flat: OptimisationResult,
                   paths_for: Callable[[str], pd.DataFrame], n_paths: int, code: str,
                   advance: Callable[[int], None]) -> PhasedResult:
    """Phase the flat plan by financial year (see :mod:`forecasting.optimise_phased`).

    Candidates are simulated on the optimiser's demand paths with the scenario's seed (common
    random numbers); costs are priced on the same weeks as the flat search's.
    """
    from forecasting.optimise import DIMS
    from forecasting.optimise_phased import PhasedPlan, apply_plan, financial_years, phase_plan
    from forecasting.pipeline import _demand_for, simulate_scenario

    search = scenarios.targets.search
    base = scenarios[search.scenario]
    k = min(search.n_paths, n_paths)
    demand = _demand_for(base, paths_for, n_paths, code)
    demand = demand.loc[demand["sample_id"] < k]
    sim = base.capacity.simulation
    end = pd.Timestamp(sim.start) + pd.Timedelta(days=sim.horizon_days)
    years = financial_years(max(search.start, sim.start), (end - pd.Timedelta(days=1)).date())
    seed = sim.seed

    def evaluate(plan: PhasedPlan) -> pd.DataFrame:
        cfg = apply_plan(base.capacity, plan)
        return simulate_scenario(replace(base, capacity=cfg), demand, k, seed, "optimiser")

    # The same weeks as the flat search's cost, each priced at its financial year's levels.
    weeks = pd.date_range(pd.Timestamp(years[0][1]), end, freq="7D", inclusive="left")
    which = np.searchsorted(np.array([pd.Timestamp(d) for _, d in years], dtype="datetime64[ns]"),
                            weeks.to_numpy(), side="right") - 1

    def cost_by_year(plan: PhasedPlan) -> dict[str, float]:
        level = {d: np.array([getattr(plan.levels[i], d) for i in which], dtype=float)
                 for d in DIMS}
        cost = weekly_staff_cost(base.costs, weeks, ep_fte=level["ep_fte"],
                                 caseworker_fte=level["caseworker_fte"],
                                 locum_hours=level["locum_hours_per_week"])
        return {fy: float(cost[which == i].sum()) for i, (fy, _) in enumerate(years)}

    steps = {d: (getattr(search, d)[1] - getattr(search, d)[0]) / (search.grid_points - 1) / 2
             for d in DIMS}
    return phase_plan(flat, evaluate, cost_by_year, scenarios.targets.goals, years, steps,
                      max_evaluations=search.phase_evaluations,
                      on_step=lambda done, total: advance(1))
