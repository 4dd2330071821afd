"""The main job (``ehcp run`` / ``make run``): data -> forecast -> scenarios -> optimiser -> report.

One call of :func:`run_pipeline` loads the embedded DfE SEN2 data, forecasts requests for the
LA with sample paths, backtests the models, projects the complexity mix, simulates every
scenario of the config, searches for the cheapest staffing that meets the targets, and writes
``reports/<run-id>/`` (see :mod:`forecasting.reporting.bundle`). The run id is the UTC time plus
a short hash of the config. The folder appears only when complete.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.costs import weekly_staff_cost
from forecasting.errors import EhcpError
from forecasting.optimise import OptimisationResult, Staffing, apply_staffing, optimise
from forecasting.pipeline_levers import calibrate_scenarios, phase_staffing
from forecasting.reporting.tables import BANDS
from forecasting.scenarios import Scenario, ScenarioSet, apply_request_changes, load_scenarios

__all__ = ["RunResult", "fixed_paths", "normalise_weekly", "run_id_for", "run_pipeline", "simulate_scenario"]


#: Simulator column -> report column.
_RENAME = {
    "path": "sample_id",
    "week_end": "ds",
    "ep_fte_in_post": "ep_fte",
    "caseworker_fte_in_post": "caseworker_fte",
    "ep_locum_hours": "locum_hours",
}


@dataclass
class RunResult:
    """What a run produced: where, under which id, the printed summary and any fallbacks used."""

    out: Path
    run_id: str
    summary: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    optimisation: OptimisationResult | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    calibration: Any = None
    phased: Any = None


def run_id_for(scenarios: ScenarioSet, now: datetime | None = None) -> str:
    """Run id: UTC timestamp and the config's short hash, e.g. ``20261127T131500Z-1a2b3c4d``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> run_id_for(SimpleNamespace(config_hash="1a2b3c4d"), datetime(2026, 11, 27, 13, 15, tzinfo=UTC))
    '20261127T131500Z-1a2b3c4d'
    """
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{scenarios.config_hash}"


def normalise_weekly(weekly: pd.DataFrame) -> pd.DataFrame:
    """The simulator's weekly rows with the report's column names (``sample_id``, ``ds``...).

    ``ds`` is the last day of the simulated week. Text columns become plain ``str``.

    Examples
    --------
    >>> w = pd.DataFrame({"scenario": ["a"], "path": [0], "week": [0],
    ...                   "week_end": [pd.Timestamp("2025-04-07")], "ep_fte_in_post": [3.0]})
    >>> normalise_weekly(w).columns.tolist()
    ['scenario', 'sample_id', 'week', 'ds', 'ep_fte', 'locum_hours']
    """
    out = weekly.rename(columns={k: v for k, v in _RENAME.items() if k in weekly.columns})
    if "scenario" in out.columns:
        out["scenario"] = out["scenario"].astype(str)
    if "locum_hours" not in out.columns and "ep_fte" in out.columns:
        out["locum_hours"] = 0.0
    return out


class _Progress:
    """Rich progress bars when asked for, silent otherwise; also times each step."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.seconds: dict[str, float] = {}
        self._progress: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(), transient=False,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    @contextmanager
    def step(self, name: str, total: int = 1) -> Iterator[Callable[[int], None]]:
        start = time.perf_counter()
        task = self._progress.add_task(name, total=total) if self._progress is not None else None

        def advance(n: int = 1) -> None:
            if task is not None:
                self._progress.advance(task, n)

        yield advance
        if task is not None:
            self._progress.update(task, completed=total)
        self.seconds[name] = round(time.perf_counter() - start, 2)


def _history(panel: pd.DataFrame, code: str, first_year: int) -> pd.DataFrame:
    from forecasting.data import series

    hist = series(panel, "requests_received", level="la", dropna=True)
    hist = hist.loc[(hist["unique_id"] == code) & (hist["ds"] >= first_year)].reset_index(drop=True)
    if len(hist) < 3:
        raise EhcpError(
            f"only {len(hist)} years of requests for this LA in the data", field="report.la",
            fix="choose an LA with SEN2 requests from 2016, or an earlier report.history_from",
        )
    return hist


def _all_history(panel: pd.DataFrame, code: str, first_year: int) -> tuple[pd.DataFrame, str]:
    """Every LA's requests on fixed boundaries, and the series id of ``code`` among them.

    The forecast is fitted on every LA at once, as ``ehcp forecast`` does, so the global and
    auto models borrow strength from the national trend; fitted on one LA alone, ``auto`` has
    no cross-LA backtest to set its intervals from.
    """
    from forecasting.forecast import la_history, la_series_id

    every = la_history(panel, "requests_received")
    every = every.loc[every["ds"] >= first_year].reset_index(drop=True)
    return every, la_series_id(every, code)


def _only(frame: pd.DataFrame, uid: str, code: str) -> pd.DataFrame:
    """The rows of one series, labelled with the LA's own code."""
    mine = frame.loc[frame["unique_id"] == uid].reset_index(drop=True)
    return mine.assign(unique_id=code)


def fixed_paths(scenario: Scenario, n_paths: int, code: str) -> pd.DataFrame:
    """The scenario's fixed yearly request volumes as ``n_paths`` identical sample paths.

    One row per path and calendar year of the simulation, ``unique_id`` = ``code``.
    """
    sim = scenario.capacity.simulation
    years = range(sim.start.year, sim.start.year + sim.years + 1)
    demand = scenario.capacity.demand
    rows = [(code, y, s, demand.requests_in(y)) for s in range(n_paths) for y in years]
    return pd.DataFrame(rows, columns=["unique_id", "ds", "sample_id", "y"])


def simulate_scenario(scenario: Scenario, demand: pd.DataFrame | None, n_paths: int, seed: int,
                      name: str | None = None, open_cases: pd.DataFrame | None = None
                      ) -> pd.DataFrame:
    """Simulate one scenario as ``ehcp run`` does; weekly rows in the report's column names.

    The scenario's mediation and tribunal hours are set aside from the expected decisions of
    ``demand`` (:func:`forecasting.capacity.disputes.with_dispute_workload`) and the weekly
    disputes and their costs are added. Load warnings are silenced (they are in the
    simulator's diagnostics).

    Parameters
    ----------
    scenario : Scenario
        One scenario of a :class:`~forecasting.scenarios.ScenarioSet`.
    demand : DataFrame or None
        ``unique_id, ds, sample_id, y`` sample paths (None: the config's fixed volumes).
    n_paths, seed : int
        Paths to run and the seed (the same seed across scenarios: common random numbers).
    name : str, optional
        The scenario name written in the rows (default the scenario's).
    open_cases : DataFrame, optional
        The open caseload at the start (:func:`forecasting.data.caselevel.open_caseload`).

    Returns
    -------
    DataFrame
        One row per path and week (see :func:`normalise_weekly`).
    """
    import warnings

    from forecasting.capacity.disputes import add_dispute_columns, with_dispute_workload
    from forecasting.capacity.simulate import simulate_capacity

    # Mediation and tribunal hours are set aside from the expected decisions of this demand.
    capacity = with_dispute_workload(scenario.capacity, demand)
    with warnings.catch_warnings():
        # Load warnings are reported in the diagnostics table; the run summary says when a
        # queue explodes, so the console is not flooded once per candidate.
        warnings.simplefilter("ignore")
        result = simulate_capacity(
            capacity, demand, n_paths=n_paths, seed=seed, scenario=name or scenario.name,
            open_cases=open_cases,
        )
    return normalise_weekly(add_dispute_columns(result.weekly, scenario.capacity.pipeline))


def _horizon_cost(scenario: Scenario, start: pd.Timestamp,
                  locum_until: pd.Timestamp | None = None) -> Callable[[Staffing], float]:
    sim = scenario.capacity.simulation
    end = pd.Timestamp(sim.start) + pd.Timedelta(days=sim.horizon_days)
    weeks = pd.date_range(max(start, pd.Timestamp(sim.start)), end, freq="7D", inclusive="left")
    locum_on = np.ones(len(weeks)) if locum_until is None else (weeks < locum_until).astype(float)

    def cost(s: Staffing) -> float:
        return float(
            weekly_staff_cost(
                scenario.costs, weeks, ep_fte=s.ep_fte, caseworker_fte=s.caseworker_fte,
                locum_hours=s.locum_hours_per_week * locum_on,
            ).sum()
        )

    return cost


def run_pipeline(
    config: str | Path,
    *,
    out: str | Path | None = None,
    paths: int | None = None,
    data_dir: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = True,
    reports_root: str | Path = "reports",
    now: datetime | None = None,
) -> RunResult:
    """Run the whole job and write the report folder.

    Parameters
    ----------
    config : str or Path
        The scenario file (e.g. ``configs/leeds.yaml``).
    out : str or Path, optional
        The report folder; default ``<reports_root>/<run-id>``. It must not exist unless
        ``overwrite``.
    paths : int, optional
        Sample paths per scenario (default ``report.n_paths`` of the config).
    data_dir : str or Path, optional
        Folder of the DfE SEN2 zips (default: the embedded ``data/raw``).
    overwrite : bool
        Replace an existing ``out``.
    progress : bool
        Show rich progress bars.

    Returns
    -------
    RunResult

    Raises
    ------
    EhcpError
        Bad config, unknown LA, missing data, or an existing output folder; nothing is written.
    """
    from forecasting.reporting.build import build_bundle
    from forecasting.reporting.bundle import write_report

    scenarios = load_scenarios(config)
    report = scenarios.report
    run_id = run_id_for(scenarios, now)
    target = Path(out) if out is not None else Path(reports_root) / run_id
    if target.exists() and not overwrite:
        raise EhcpError("the output folder already exists", file=target,
                        fix="choose another --out, or pass --overwrite to replace it")
    n_paths = int(paths) if paths is not None else report.n_paths
    if n_paths < 1:
        raise EhcpError(f"need at least one path, got {n_paths}", field="--paths", fix="e.g. --paths 200")
    notes: list[str] = []
    ctx: dict[str, Any] = {"scenarios": scenarios, "n_paths": n_paths, "run_id": run_id}
    with _Progress(progress) as bar:
        with bar.step("load SEN2 data"):
            from forecasting.data import find_la, load_panel

            panel = load_panel(data_dir)
            try:
                code = find_la(panel, report.la)
            except EhcpError as err:
                raise EhcpError(err.message, file=scenarios.file, field="report.la", fix=err.fix) from None
            hist = _history(panel, code, report.history_from)
            ctx.update(panel=panel, code=code, history=hist)
        if scenarios.calibration is not None and scenarios.calibration.enabled:
            with bar.step("calibrate capacity"):
                scenarios, ctx["calibration"] = calibrate_scenarios(scenarios, panel, code)
                ctx["scenarios"] = scenarios
        sim0 = scenarios.baseline.capacity.simulation
        last_sim_year = sim0.start.year + sim0.years
        h = max(report.forecast_years, last_sim_year - int(hist["ds"].max()))
        with bar.step("forecast demand"):
            from forecasting.forecast import forecast, simulate

            model = _model_name(report.forecast_model, notes)
            every, uid = _all_history(panel, code, report.history_from)
            with _warnings_to_notes(notes, "Forecast"):
                fcst = _only(forecast(every, h=h, level=report.levels, model=model), uid, code)
                demand_paths = _only(simulate(every, h=h, n_paths=n_paths, seed=report.seed,
                                              model=model), uid, code)
            ctx.update(forecast=fcst, demand_paths=demand_paths)
            paths_for = _PathsByModel(every, uid, code, h, n_paths, report.seed,
                                      {model: demand_paths}, notes)
        with bar.step("backtest models"):
            ctx["backtest"] = _backtest(hist, report, notes)
        with bar.step("complexity mix"):
            ctx["mix"] = _complexity(panel, code, report, notes)
        fixed = [s.name for s in scenarios if s.capacity.demand.source == "fixed"]
        if fixed:
            notes.append(
                "Scenarios " + ", ".join(fixed) + " use the config's fixed yearly request volumes "
                "(demand.source: fixed), not the forecast shown in the fan chart; set "
                "demand.source: forecast to drive them with the forecast's sample paths."
            )
        weekly = []
        with bar.step("simulate scenarios", total=len(scenarios)) as advance:
            for scenario in scenarios:
                demand = _demand_for(scenario, paths_for, n_paths, code)
                weekly.append(simulate_scenario(scenario, demand, n_paths, sim0.seed))
                advance(1)
        ctx["weekly"] = pd.concat(weekly, ignore_index=True)
        search = scenarios.targets.search
        with bar.step("optimise staffing", total=search.max_evaluations) as advance:
            ctx["optimisation"] = _optimise(scenarios, paths_for, n_paths, code, advance)
        if search.phase_evaluations > 0:
            with bar.step("phase the plan by financial year",
                          total=search.phase_evaluations) as advance:
                ctx["phased"] = phase_staffing(scenarios, ctx["optimisation"], paths_for, n_paths,
                                               code, advance)
        with bar.step("write report"):
            bundle = build_bundle(ctx, notes)
            written = write_report(bundle, target, overwrite=overwrite)
        seconds = dict(bar.seconds)
    summary = _summary(ctx)
    (written / "timings.json").write_text(json.dumps(seconds, indent=2))
    return RunResult(out=written, run_id=run_id, summary=summary, notes=notes,
                     optimisation=ctx["optimisation"], seconds=seconds,
                     calibration=ctx.get("calibration"), phased=ctx.get("phased"))


@contextmanager
def _warnings_to_notes(notes: list[str], what: str) -> Iterator[None]:
    """Turn the toolkit's warnings in a step into report notes (shown once, in the report)."""
    import warnings

    from forecasting.errors import EhcpWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EhcpWarning)
        yield
    for w in caught:
        if issubclass(w.category, EhcpWarning):
            text = f"{what}: {w.message}"
            if text not in notes:
                notes.append(text)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _model_name(name: str, notes: list[str]) -> str:
    from forecasting.models import get_model

    try:
        get_model(name)
    except ImportError as err:
        # A model family still being written must not stop the main job; say what was used.
        text = f"Forecast model '{name}' is not available ({err}); used 'log_drift' instead."
        if text not in notes:
            notes.append(text)
        return "log_drift"
    return name


class _PathsByModel:
    """Demand sample paths per forecasting model, simulated once each (same seed)."""

    def __init__(self, every: pd.DataFrame, uid: str, code: str, h: int, n_paths: int,
                 seed: int, known: dict[str, pd.DataFrame], notes: list[str]) -> None:
        self.every, self.uid, self.code = every, uid, code
        self.h, self.n_paths, self.seed = h, n_paths, seed
        self.known, self.notes = dict(known), notes

    def __call__(self, model: str) -> pd.DataFrame:
        from forecasting.forecast import simulate

        name = _model_name(model, self.notes)
        if name not in self.known:
            with _warnings_to_notes(self.notes, "Forecast"):
                paths = simulate(self.every, h=self.h, n_paths=self.n_paths, seed=self.seed,
                                 model=name)
            self.known[name] = _only(paths, self.uid, self.code)
        return self.known[name]


def _demand_for(scenario: Scenario, paths_for: Callable[[str], pd.DataFrame], n_paths: int,
                code: str) -> pd.DataFrame:
    demand_cfg = scenario.capacity.demand
    if demand_cfg.source == "forecast":
        # The simulator section names its demand model; the report's model draws the fan chart.
        demand = paths_for(str(getattr(demand_cfg, "model", "auto")))
    else:
        demand = fixed_paths(scenario, n_paths, code)
    return apply_request_changes(demand, scenario.request_changes)


def _backtest(hist: pd.DataFrame, report: Any, notes: list[str]) -> pd.DataFrame | None:
    if report.backtest_folds == 0:
        return None
    from forecasting.backtest import evaluate, leaderboard
    from forecasting.forecast import cross_validation

    models = ["naive", "drift", "log_drift"]
    h = min(2, max(1, len(hist) - 4))
    try:
        cv = cross_validation(hist, h=h, n_windows=report.backtest_folds, models=models, level=(80,))
    except EhcpError as err:
        notes.append(f"Backtest skipped: {err}")
        return None
    board = leaderboard(evaluate(cv, hist, level=(80,)))
    board.insert(0, "period_type", "calendar")
    board.insert(1, "horizon_years", f"1-{h}")
    return board


def _complexity(panel: pd.DataFrame, code: str, report: Any, notes: list[str]) -> pd.DataFrame | None:
    try:
        from forecasting.complexity import mix_history, project_mix

        with _warnings_to_notes(notes, "Complexity mix"):
            hist = mix_history(panel, code, measure="stock_plans", topic="need")
            proj = project_mix(panel, la=code, measure="stock_plans", topic="need",
                               h=report.forecast_years, n_paths=200, seed=report.seed)
    except (EhcpError, ImportError, KeyError, ValueError) as err:
        notes.append(f"Complexity mix not shown: {err}")
        return None
    hist_share = hist.copy()
    total = hist_share.groupby(["unique_id", "ds"])["y"].transform("sum")
    hist_share["share"] = hist_share["y"] / total
    hist_share["kind"] = "history"
    proj = proj.assign(kind="forecast")
    cols = ["ds", "category", "share", "kind"]
    mix = pd.concat([hist_share[cols], proj[cols]], ignore_index=True)
    mix = mix.rename(columns={"category": "group"})
    # SEN2 stock is counted in January; label it with the calendar year of that January.
    mix.insert(0, "period_type", "calendar")
    mix["period"] = mix["ds"].astype(int).astype(str)
    return mix.drop(columns="ds")


def _optimise(scenarios: ScenarioSet, paths_for: Callable[[str], pd.DataFrame], n_paths: int, code: str,
              advance: Callable[[int], None]) -> OptimisationResult:
    search = scenarios.targets.search
    base = scenarios[search.scenario]
    k = min(search.n_paths, n_paths)
    demand = _demand_for(base, paths_for, n_paths, code)
    demand = demand.loc[demand["sample_id"] < k]
    seed = base.capacity.simulation.seed
    start = search.start

    def evaluate(s: Staffing) -> pd.DataFrame:
        cfg = apply_staffing(base.capacity, s, start, locum_until=search.locum_until)
        # Common random numbers: one seed for every candidate, so only staffing differs.
        return simulate_scenario(replace(base, capacity=cfg), demand, k, seed, "optimiser")

    until = None if search.locum_until is None else pd.Timestamp(search.locum_until)
    return optimise(evaluate, _horizon_cost(base, pd.Timestamp(start), until), scenarios.targets.goals,
                    search, on_step=lambda done, total: advance(1))


def _summary(ctx: dict[str, Any]) -> pd.DataFrame:
    from forecasting.periods import financial_year, financial_year_bounds

    weekly: pd.DataFrame = ctx["weekly"]
    end = weekly["ds"].max()
    # Timeliness for the year the target is set for (else the last 52 weeks), end-of-run backlog.
    goal_fy = next((g.financial_year for g in ctx["scenarios"].targets.goals
                    if g.metric == "pct_within_20_weeks" and g.financial_year), None)
    if goal_fy is not None and financial_year_bounds(goal_fy)[0] <= end:
        lo, hi = financial_year_bounds(goal_fy)
        label = f"% within 20 wks, FY {goal_fy} (p50)"
    else:
        lo, hi = end - pd.Timedelta(days=364), end
        label = "% within 20 wks, last 52 wks (p50)"
    end_label = f"FY {financial_year(end)} end"
    last = weekly.loc[weekly["ds"] == end]
    rows = []
    for name, frame in last.groupby("scenario", sort=False):
        late = frame[list(BANDS[1:])].sum(axis=1)
        over13 = frame[["late_13_26", "late_26_52", "late_52_plus"]].sum(axis=1)
        whole = weekly.loc[weekly["scenario"] == name]
        window = whole.loc[(whole["ds"] >= lo) & (whole["ds"] <= hi)]
        per_path = window.groupby("sample_id")[["plans_issued_ex", "plans_within_20wk_ex"]].sum()
        pct = 100 * per_path["plans_within_20wk_ex"] / per_path["plans_issued_ex"].replace(0, np.nan)
        rows.append({
            "scenario": name,
            label: round(float(pct.median()), 1),
            f"open late, {end_label} (p50)": round(float(late.median()), 0),
            f">13 wks late, {end_label} (p50)": round(float(over13.median()), 0),
            f"reviews overdue, {end_label} (p50)": round(float(frame["reviews_overdue"].median()), 0),
        })
    return pd.DataFrame(rows)
