"""Run the planners' notebooks (``notebooks/*.ipynb``) and the glue they share.

``python -m forecasting.notebooks --out reports/notebooks [--small]`` (``make notebooks``)
executes every notebook with papermill in the repository folder, writes the executed copy and an
HTML rendering of each under ``--out``, and exits non-zero if any notebook raised. ``--small``
uses the tiny parameters of :data:`SMALL_PARAMETERS` (the test suite's).

The notebooks are committed without outputs; they call the package. The few helpers below are
glue between public package functions (no forecasting or simulation logic of their own) so that
each notebook cell stays a line or two:

- :func:`area_comparison` - an LA's series next to its region's and England's;
- :func:`load_scenario_file` - a scenario file with the simulation window changed;
- :func:`calibrate_to_sen2` - the scenarios calibrated to the LA's published year (as ``ehcp run``);
- :func:`simulate_scenarios` - every scenario simulated, weekly rows in the report's names;
- :func:`with_staffing` / :func:`staffing_what_if` - a scenario with extra staff, side by side;
- :func:`optimise_scenarios` - the cheapest staffing meeting the file's targets.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from forecasting.errors import EhcpError

__all__ = [
    "NOTEBOOK_DIR",
    "SMALL_PARAMETERS",
    "area_comparison",
    "calibrate_to_sen2",
    "execute_notebook",
    "load_scenario_file",
    "main",
    "notebook_paths",
    "optimise_scenarios",
    "output_problems",
    "render_html",
    "run_all",
    "simulate_scenarios",
    "staffing_what_if",
    "with_staffing",
]

ROOT = Path(__file__).resolve().parents[1]
#: Where the committed notebooks live.
NOTEBOOK_DIR = ROOT / "notebooks"
#: Tiny parameters per notebook (by file stem) for the tests and ``--small``: each notebook
#: then runs in well under a minute on one core.
SMALL_PARAMETERS: dict[str, dict[str, Any]] = {
    "01-demand-forecast": {"horizon": 2, "n_paths": 50, "backtest_windows": 2,
                           "models": ["naive", "drift", "log_drift"]},
    "02-capacity-scenarios": {"n_paths": 3, "years": 2, "what_if_paths": 3},
    "03-budget-paper": {"n_paths": 3, "search_paths": 2, "max_evaluations": 3},
    "04-case-level-data": {"n_paths": 3, "sim_years": 1, "horizon_months": 12},
}
#: Parameters pointing at output folders: the runner sets them under ``--out``.
_OUTPUT_PARAMETERS = {"03-budget-paper": "out_dir"}


# --------------------------------------------------------------------------------------------
# Glue used by the notebooks


def area_comparison(panel: pd.DataFrame, la: str, measure: str = "requests_received",
                    first_year: int | None = None) -> pd.DataFrame:
    """An LA's yearly series with its region's and England's, and each indexed to 100.

    Parameters
    ----------
    panel : DataFrame
        From :func:`forecasting.data.load_panel`.
    la : str
        Name, ONS or DfE code (see :func:`forecasting.data.find_la`).
    measure : str
        A panel measure with ``breakdown == "all"``.
    first_year : int, optional
        First year kept and the base of the index (default: the first year all three have).

    Returns
    -------
    DataFrame
        ``area, level, unique_id, ds, y, index`` where ``index = 100 * y / y[first year]``
        (so areas of very different sizes share one chart). An LA reorganised since 2019 is
        shown on fixed boundaries (:func:`forecasting.forecast.la_history`), its name
        marked so.

    Examples
    --------
    >>> p = pd.DataFrame({"unique_id": ["E1", "E1", "R1", "R1", "E92000001", "E92000001"],
    ...     "name": ["Leeds", "Leeds", "Yorks", "Yorks", "England", "England"],
    ...     "level": ["la", "la", "regional", "regional", "national", "national"],
    ...     "region_code": ["R1", "R1", "", "", "", ""], "old_code": ["383"] * 6,
    ...     "measure": "requests_received", "breakdown": "all", "ds": [2023, 2024] * 3,
    ...     "y": [10.0, 15.0, 100.0, 110.0, 1000.0, 1200.0]})
    >>> area_comparison(p, "Leeds")[["area", "ds", "index"]].values.tolist()
    [['Leeds', 2023, 100.0], ['Leeds', 2024, 150.0], ['Yorks', 2023, 100.0], ['Yorks', 2024, 110.0], ['England', 2023, 100.0], ['England', 2024, 120.0]]
    """
    from forecasting.data import find_la, series
    from forecasting.forecast import la_history, la_series_id

    code = find_la(panel, la)
    region = _region_of(panel, code)
    national = panel.loc[panel["level"] == "national", "unique_id"].astype(str)
    every_la = la_history(panel, measure)
    own = every_la[every_la["unique_id"] == la_series_id(every_la, code)]
    ids = [str(own["unique_id"].iloc[0]), *([region] if region else []), *national.unique()[:1]]
    data = series(panel, measure, dropna=True)
    data = pd.concat([own, data[data["unique_id"].astype(str).isin(ids[1:])]], ignore_index=True)
    common = set.intersection(*(set(g["ds"]) for _, g in data.groupby("unique_id")))
    base = first_year if first_year is not None else (min(common) if common else data["ds"].min())
    data = data[data["ds"] >= base].copy()
    names = panel.drop_duplicates("unique_id", keep="last").set_index("unique_id")
    la_name = str(names.loc[code, "name"]) + ("" if ids[0] == code else " (fixed boundaries)")
    data["area"] = data["unique_id"].map({**names["name"].to_dict(), ids[0]: la_name}).astype(str)
    data["level"] = data["unique_id"].map({**names["level"].to_dict(), ids[0]: "la"}).astype(str)
    first = data.sort_values("ds").groupby("unique_id")["y"].transform("first")
    data["index"] = (100.0 * data["y"] / first).round(1)
    order = {u: i for i, u in enumerate(ids)}
    data = data.sort_values(["unique_id", "ds"], key=lambda s: s.map(order) if s.name ==
                            "unique_id" else s, kind="stable")
    return data[["area", "level", "unique_id", "ds", "y", "index"]].reset_index(drop=True)


def _region_of(panel: pd.DataFrame, code: str) -> str | None:
    if "region_code" in panel.columns:
        rows = panel.loc[(panel["unique_id"] == code), "region_code"].dropna().astype(str)
        rows = rows[rows != ""]
        if len(rows):
            return str(rows.iloc[-1])
    from forecasting.reconcile import la_regions

    try:
        regions = la_regions()
    except EhcpError:
        return None
    return str(regions[code]) if code in regions.index else None


def load_scenario_file(path: str | Path, *, years: int | None = None,
                       start: str | date | None = None) -> Any:
    """Read a scenario file, optionally with another simulation length or start date.

    Parameters
    ----------
    path : str or Path
        A scenario file such as ``configs/leeds.yaml``.
    years : int, optional
        Replace ``simulation.years`` (e.g. a short run while exploring).
    start : date-like, optional
        Replace ``simulation.start`` (e.g. the day after a case-level extract ends).

    Returns
    -------
    ScenarioSet
        As :func:`forecasting.scenarios.load_scenarios`, validated again after the change.

    Examples
    --------
    >>> s = load_scenario_file(ROOT / "tests" / "fixtures" / "scenarios" / "small.yaml", years=1)
    >>> s.baseline.capacity.simulation.years, s.names[0]
    (1, 'baseline')
    """
    from forecasting.config_io import load_yaml
    from forecasting.scenarios import scenario_set

    data = load_yaml(path)
    sim = dict(data.get("simulation") or {})
    if years is not None:
        sim["years"] = int(years)
    if start is not None:
        sim["start"] = pd.Timestamp(start).date()
    data["simulation"] = sim
    return scenario_set(data, path)


def simulate_scenarios(scenarios: Iterable[Any], *, n_paths: int, seed: int | None = None,
                       demand_paths: pd.DataFrame | None = None,
                       open_cases: pd.DataFrame | None = None) -> pd.DataFrame:
    """Simulate each scenario and return the weekly rows with the report's column names.

    Demand as in ``ehcp run``: ``demand.source: fixed`` scenarios use the file's yearly volumes,
    ``forecast`` ones ``demand_paths`` (or, if None, paths from the SEN2 forecast); then each
    scenario's ``request_changes`` are applied. Mediation and tribunal hours are set aside as in
    ``ehcp run`` (:func:`forecasting.pipeline.simulate_scenario`); calibrate first with
    :func:`calibrate_to_sen2` to match its figures. Common random numbers: every scenario gets the
    same seed (default: the file's ``simulation.seed``), so differences come from the scenario.

    Parameters
    ----------
    scenarios : iterable of Scenario
        E.g. a :class:`~forecasting.scenarios.ScenarioSet` or a list of some of its scenarios.
    n_paths : int
        Sample paths per scenario.
    seed : int, optional
    demand_paths : DataFrame, optional
        Yearly ``unique_id, ds, sample_id, y`` sample paths of requests.
    open_cases : DataFrame, optional
        The open caseload at the start (:func:`forecasting.data.caselevel.open_caseload`).

    Returns
    -------
    DataFrame
        One row per scenario, path (``sample_id``) and week (``ds``).

    Examples
    --------
    >>> s = load_scenario_file(ROOT / "tests" / "fixtures" / "scenarios" / "small.yaml", years=1)
    >>> w = simulate_scenarios([s.baseline], n_paths=2, seed=1)
    >>> w["scenario"].unique().tolist(), sorted(w["sample_id"].unique().tolist())
    (['baseline'], [0, 1])
    """
    from forecasting.capacity.simulate import demand_from_sen2
    from forecasting.pipeline import fixed_paths, simulate_scenario
    from forecasting.scenarios import apply_request_changes

    frames = []
    for scenario in scenarios:
        cfg = scenario.capacity
        run_seed = cfg.simulation.seed if seed is None else int(seed)
        if cfg.demand.source == "forecast":
            paths = demand_paths if demand_paths is not None else demand_from_sen2(
                cfg, n_paths, run_seed)
        else:
            paths = fixed_paths(scenario, n_paths, cfg.demand.la or "LA")
        paths = apply_request_changes(paths, scenario.request_changes)
        frames.append(simulate_scenario(scenario, paths, n_paths, run_seed,
                                        open_cases=open_cases))
    return pd.concat(frames, ignore_index=True)


def calibrate_to_sen2(scenarios: Any, data_dir: str | Path | None = None) -> tuple[Any, Any]:
    """Calibrate the scenarios to the LA's published SEN2 year, as ``ehcp run`` does.

    When the file says ``calibration: {enabled: true}``, each pool's productivity factor is
    fitted so that a replay of the published year issues as many plans and decides as many
    reviews as SEN2 reports (:func:`forecasting.pipeline_levers.calibrate_scenarios`), and the
    factors are applied to every scenario. Otherwise the scenarios are returned unchanged, at
    face value.

    Parameters
    ----------
    scenarios : ScenarioSet
        From :func:`load_scenario_file`; its ``report.la`` names the LA.
    data_dir : str or Path, optional
        Folder with the DfE SEN2 zips (default ``data/raw``).

    Returns
    -------
    (ScenarioSet, Calibration or None)
        The scenarios to simulate, and the calibration (None when it is not enabled).

    Examples
    --------
    >>> s = load_scenario_file(ROOT / "tests" / "fixtures" / "scenarios" / "small.yaml")
    >>> same, cal = calibrate_to_sen2(s)
    >>> same is s, cal is None
    (True, True)
    """
    settings = scenarios.calibration
    if settings is None or not settings.enabled:
        return scenarios, None
    from forecasting.data import find_la, load_panel
    from forecasting.pipeline_levers import calibrate_scenarios

    panel = load_panel(data_dir)
    try:
        code = find_la(panel, scenarios.report.la)
    except EhcpError as err:
        raise EhcpError(err.message, file=scenarios.file, field="report.la", fix=err.fix) from None
    return calibrate_scenarios(scenarios, panel, code)


def with_staffing(scenario: Any, ep_fte: float = 0.0, caseworker_fte: float = 0.0,
                  locum_hours_per_week: float = 0.0, *, start: str | date | None = None,
                  name: str | None = None) -> Any:
    """A copy of ``scenario`` with extra EP / caseworker FTE and locum hours from ``start``.

    ``start`` defaults to the simulation's start. The name says what was added unless given.

    Examples
    --------
    >>> s = load_scenario_file(ROOT / "tests" / "fixtures" / "scenarios" / "small.yaml")
    >>> more = with_staffing(s.baseline, ep_fte=2)
    >>> more.name, more.capacity.staff.ep.fte[-1].fte
    ('+2 EP FTE', 6.0)
    """
    from forecasting.optimise import Staffing, apply_staffing

    extra = Staffing(float(ep_fte), float(caseworker_fte), float(locum_hours_per_week))
    when = pd.Timestamp(start).date() if start is not None else scenario.capacity.simulation.start
    if name is None:
        parts = [f"+{ep_fte:g} EP FTE" if ep_fte else "",
                 f"+{caseworker_fte:g} caseworker FTE" if caseworker_fte else "",
                 f"+{locum_hours_per_week:g} locum h/week" if locum_hours_per_week else ""]
        name = ", ".join(p for p in parts if p) or f"{scenario.name} (unchanged)"
    return replace(scenario, name=name, capacity=apply_staffing(scenario.capacity, extra, when))


def staffing_what_if(scenario: Any, ep_fte: float = 0.0, caseworker_fte: float = 0.0,
                     locum_hours_per_week: float = 0.0, *, start: str | date | None = None,
                     n_paths: int = 50, seed: int | None = None) -> pd.DataFrame:
    """Simulate ``scenario`` as it is and with extra staff, on the same random numbers.

    Returns the weekly rows of both (scenario names: the original and e.g. ``+2 EP FTE``),
    ready for :func:`forecasting.reporting.tables.timeliness_by_fy` and ``backlog_by_fy``.

    Examples
    --------
    >>> s = load_scenario_file(ROOT / "tests" / "fixtures" / "scenarios" / "small.yaml", years=1)
    >>> w = staffing_what_if(s.baseline, ep_fte=1, n_paths=1, seed=3)
    >>> w["scenario"].unique().tolist()
    ['baseline', '+1 EP FTE']
    """
    more = with_staffing(scenario, ep_fte, caseworker_fte, locum_hours_per_week, start=start)
    return simulate_scenarios([scenario, more], n_paths=n_paths, seed=seed)


def optimise_scenarios(scenarios: Any, *, n_paths: int | None = None,
                       max_evaluations: int | None = None,
                       demand_paths: pd.DataFrame | None = None) -> Any:
    """Search for the cheapest extra staffing that meets the file's targets (as ``ehcp run``).

    Parameters
    ----------
    scenarios : ScenarioSet
        Its ``targets.goals`` and ``targets.search`` (bounds, start, paths) are used.
    n_paths, max_evaluations : int, optional
        Override ``targets.search.n_paths`` / ``max_evaluations`` (fewer for a quick look).
    demand_paths : DataFrame, optional
        Passed to :func:`simulate_scenarios` for ``demand.source: forecast``.

    Returns
    -------
    OptimisationResult
        See :func:`forecasting.optimise.optimise`.

    Examples
    --------
    >>> s = load_scenario_file(ROOT / "tests" / "fixtures" / "scenarios" / "small.yaml")
    >>> r = optimise_scenarios(s, n_paths=1, max_evaluations=1)
    >>> r.n_evaluations
    1
    """
    from forecasting.costs import weekly_staff_cost
    from forecasting.optimise import Staffing, optimise

    search = scenarios.targets.search
    updates: dict[str, int] = {}
    if n_paths is not None:
        updates["n_paths"] = int(n_paths)
    if max_evaluations is not None:
        updates["max_evaluations"] = int(max_evaluations)
    search = search.model_copy(update=updates)
    base = scenarios[search.scenario]
    start = pd.Timestamp(search.start)
    sim = base.capacity.simulation
    end = pd.Timestamp(sim.start) + pd.Timedelta(days=sim.horizon_days)
    weeks = pd.date_range(max(start, pd.Timestamp(sim.start)), end, freq="7D", inclusive="left")

    def evaluate(s: Staffing) -> pd.DataFrame:
        trial = with_staffing(base, s.ep_fte, s.caseworker_fte, s.locum_hours_per_week,
                              start=start, name="optimiser")
        return simulate_scenarios([trial], n_paths=search.n_paths, demand_paths=demand_paths)

    def cost(s: Staffing) -> float:
        return float(weekly_staff_cost(base.costs, weeks, ep_fte=s.ep_fte,
                                       caseworker_fte=s.caseworker_fte,
                                       locum_hours=s.locum_hours_per_week).sum())

    return optimise(evaluate, cost, scenarios.targets.goals, search)


# --------------------------------------------------------------------------------------------
# Running the notebooks


def notebook_paths(folder: str | Path | None = None) -> list[Path]:
    """The notebooks to run, in name order (``NN-*.ipynb``; checkpoints left out).

    Examples
    --------
    >>> [p.name for p in notebook_paths()][:1]
    ['01-demand-forecast.ipynb']
    """
    base = Path(folder) if folder is not None else NOTEBOOK_DIR
    return sorted(p for p in base.glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def output_problems(nb: Any) -> list[str]:
    """Why a notebook is not clean for git: cells with outputs or execution counts.

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    >>> output_problems(nb)
    []
    >>> nb.cells[0].execution_count = 3
    >>> output_problems(nb)
    ['cell 0 has execution count 3']
    """
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {i} has {len(cell['outputs'])} output(s)")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {i} has execution count {cell['execution_count']}")
    return problems


def execute_notebook(path: str | Path, out: str | Path,
                     parameters: Mapping[str, Any] | None = None, *,
                     cwd: str | Path | None = None, kernel_name: str = "python3",
                     timeout: int = 1800) -> Any:
    """Execute a notebook with papermill and write the executed copy to ``out``.

    The kernel is ``python3`` of this interpreter's environment (jupyter_client starts
    ``python3`` kernels with ``sys.executable``); the working folder is the repository, so
    relative paths such as ``configs/leeds.yaml`` resolve.

    Returns
    -------
    NotebookNode
        The executed notebook.

    Raises
    ------
    papermill.PapermillExecutionError
        When a cell raises (the executed copy, with the traceback, is still written).
    """
    import papermill as pm

    return pm.execute_notebook(
        str(path), str(out), parameters=dict(parameters or {}), kernel_name=kernel_name,
        cwd=str(cwd if cwd is not None else ROOT), progress_bar=False, log_output=False,
        execution_timeout=timeout,
    )


def render_html(nb_path: str | Path, html_path: str | Path) -> Path:
    """Render an (executed) notebook file as a standalone HTML page (images embedded)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(nb_path), as_version=4)
    body, _ = HTMLExporter().from_notebook_node(nb)
    out = Path(html_path)
    out.write_text(body, encoding="utf-8")
    return out


def run_all(out: str | Path, *, small: bool = False, only: Sequence[str] = (),
            folder: str | Path | None = None, html: bool = True,
            parameters: Mapping[str, Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """Execute every notebook into ``out`` (executed ``.ipynb`` + ``.html``); one row each.

    ``parameters`` maps a notebook's stem to parameters set on top of the defaults (or of
    :data:`SMALL_PARAMETERS` with ``small``).

    Returns
    -------
    DataFrame
        ``notebook, ok, seconds, error``. A failing notebook does not stop the others.
    """
    from papermill.exceptions import PapermillExecutionError

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in notebook_paths(folder):
        if only and path.stem not in only and path.name not in only:
            continue
        params = dict(SMALL_PARAMETERS.get(path.stem, {})) if small else {}
        params.update((parameters or {}).get(path.stem, {}))
        if path.stem in _OUTPUT_PARAMETERS:
            params[_OUTPUT_PARAMETERS[path.stem]] = str((out / f"{path.stem}-files").resolve())
        target = out / path.name
        start = time.perf_counter()
        error = ""
        try:
            execute_notebook(path, target, params)
        except PapermillExecutionError as err:
            error = f"{err.ename}: {err.evalue}"
        if html and target.exists():
            render_html(target, target.with_suffix(".html"))
        rows.append({"notebook": path.name, "ok": not error,
                     "seconds": round(time.perf_counter() - start, 1), "error": error})
    return pd.DataFrame(rows, columns=["notebook", "ok", "seconds", "error"])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m forecasting.notebooks --out DIR [--small] [--only NAME ...]``."""
    parser = argparse.ArgumentParser(prog="python -m forecasting.notebooks",
                                     description="Execute the notebooks and render them as HTML.")
    parser.add_argument("--out", default="reports/notebooks", help="output folder")
    parser.add_argument("--small", action="store_true",
                        help="tiny parameters (a quick check, not for reading)")
    parser.add_argument("--only", nargs="*", default=[],
                        help="notebook names (stem or file name) to run")
    parser.add_argument("--folder", default=None, help="notebook folder (default: notebooks/)")
    args = parser.parse_args(argv)
    table = run_all(args.out, small=args.small, only=args.only, folder=args.folder)
    if table.empty:
        print("error: no notebooks found", file=sys.stderr)
        return 2
    for rec in table.itertuples(index=False):
        status = "ok" if rec.ok else f"FAILED ({rec.error})"
        print(f"{rec.notebook}: {status} in {rec.seconds:.1f} s")
    print(f"executed notebooks and HTML in {args.out}")
    return 0 if bool(table["ok"].all()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
