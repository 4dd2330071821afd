"""The planners' notebooks: committed clean, built by their script, and executable end to end.

The execution tests run each notebook with the tiny ``SMALL_PARAMETERS`` in a fresh ``python3``
kernel of this environment (jupyter_client starts ``python3`` with ``sys.executable``; nothing
is installed). Their time is printed, not asserted: small parameters keep them short.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from forecasting.errors import EhcpError
from forecasting.notebooks import (
    NOTEBOOK_DIR,
    SMALL_PARAMETERS,
    area_comparison,
    calibrate_to_sen2,
    execute_notebook,
    load_scenario_file,
    notebook_paths,
    output_problems,
    run_all,
    simulate_scenarios,
    with_staffing,
)

ROOT = Path(__file__).resolve().parents[1]
SMALL_YAML = ROOT / "tests" / "fixtures" / "scenarios" / "small.yaml"
LEEDS_YAML = ROOT / "configs" / "leeds.yaml"
STEMS = ["01-demand-forecast", "02-capacity-scenarios", "03-budget-paper", "04-case-level-data"]


def _read(stem: str) -> nbformat.NotebookNode:
    return nbformat.read(str(NOTEBOOK_DIR / f"{stem}.ipynb"), as_version=4)


def _parameters_cell(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]


# ---------------------------------------------------------------------------- committed files


def test_the_four_notebooks_are_committed_and_listed() -> None:
    assert [p.stem for p in notebook_paths()] == STEMS
    assert sorted(SMALL_PARAMETERS) == STEMS


@pytest.mark.parametrize("stem", STEMS)
def test_committed_notebook_is_valid_and_has_no_outputs(stem: str) -> None:
    nb = _read(stem)
    nbformat.validate(nb)
    assert output_problems(nb) == []
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("stem", STEMS)
def test_one_parameters_cell_defines_every_small_parameter(stem: str) -> None:
    cells = _parameters_cell(_read(stem))
    assert len(cells) == 1 and cells[0].cell_type == "code"
    assigned = set(re.findall(r"^(\w+)\s*=", cells[0].source, flags=re.M))
    # papermill injects unknown names silently; a typo here would leave the full-size default.
    assert set(SMALL_PARAMETERS[stem]) <= assigned


def test_notebooks_are_exactly_what_the_build_script_writes(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("build_notebooks", NOTEBOOK_DIR / "build_notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for stem in STEMS:
        built = json.loads((tmp_path / f"{stem}.ipynb").read_text())
        committed = json.loads((NOTEBOOK_DIR / f"{stem}.ipynb").read_text())
        assert built == committed, f"{stem}: run notebooks/build_notebooks.py and commit"


def test_case_level_notebook_says_synthetic_up_front() -> None:
    nb = _read("04-case-level-data")
    assert "**SYNTHETIC DATA.**" in nb.cells[0].source
    assert "synthetic" in _parameters_cell(nb)[0].source


def test_output_problems_names_outputs_and_counts() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="x")]
    nb.cells[0].execution_count = 1
    assert output_problems(nb) == ["cell 0 has 1 output(s)", "cell 0 has execution count 1"]


def test_python3_kernel_is_this_environment() -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    argv = KernelSpecManager().get_kernel_spec("python3").argv
    # jupyter_client swaps a bare "python" for sys.executable when it starts the kernel.
    assert argv[0] in ("python", "python3", sys.executable)


# ----------------------------------------------------------------------------------- the glue


def _tiny_panel() -> pd.DataFrame:
    rows = []
    for uid, name, level, ys in [
        ("E08000035", "Leeds", "la", [100.0, 150.0, 200.0]),
        ("E12000003", "Yorkshire and The Humber", "regional", [1000.0, 1100.0, 1200.0]),
        ("E92000001", "England", "national", [10000.0, 12000.0, 15000.0]),
    ]:
        for ds, y in zip([2022, 2023, 2024], ys, strict=True):
            rows.append({"unique_id": uid, "name": name, "level": level, "old_code": "383",
                         "measure": "requests_received", "breakdown": "all", "ds": ds, "y": y})
    return pd.DataFrame(rows)


def test_area_comparison_indexes_each_area_to_its_first_year() -> None:
    out = area_comparison(_tiny_panel(), "leeds", first_year=2023)
    assert out["area"].unique().tolist() == ["Leeds", "Yorkshire and The Humber", "England"]
    last = out[out["ds"] == 2024].set_index("area")["index"]
    # Hand-computed: 200/150, 1200/1100, 15000/12000.
    assert last.to_dict() == {"Leeds": 133.3, "Yorkshire and The Humber": 109.1, "England": 125.0}
    assert (out[out["ds"] == 2023]["index"] == 100.0).all()


def test_area_comparison_unknown_la_is_a_user_error() -> None:
    with pytest.raises(EhcpError, match="unknown local authority"):
        area_comparison(_tiny_panel(), "Leds")


def test_area_comparison_of_a_reorganised_la_is_on_fixed_boundaries(raw_dir: Path) -> None:
    from forecasting.data import load_panel

    out = area_comparison(load_panel(raw_dir), "Westmorland and Furness", first_year=2016)
    la = out[out["level"] == "la"]
    # Cumbria (to 2022) then Cumberland + Westmorland and Furness: one unbroken series.
    assert la["area"].unique().tolist() == ["Westmorland and Furness (fixed boundaries)"]
    assert la["unique_id"].iloc[0] == "E06000063+E06000064"
    assert la["ds"].min() == 2016 and la["ds"].max() >= 2024
    assert out["area"].unique().tolist()[1:] == ["North West", "England"]


def test_with_staffing_adds_fte_from_the_start_date_only() -> None:
    base = load_scenario_file(SMALL_YAML).baseline
    more = with_staffing(base, ep_fte=2, caseworker_fte=1, start="2027-01-01")
    assert more.name == "+2 EP FTE, +1 caseworker FTE"
    ep = {str(c.date): c.fte for c in more.capacity.staff.ep.fte}
    assert ep == {"2026-04-01": 4.0, "2027-01-01": 6.0}
    assert more.costs == base.costs and base.capacity.staff.ep.fte[-1].fte == 4.0


def test_load_scenario_file_moves_the_start_and_length() -> None:
    s = load_scenario_file(SMALL_YAML, years=1, start="2026-05-01")
    sim = s.baseline.capacity.simulation
    assert (str(sim.start), sim.years) == ("2026-05-01", 1)
    assert all(x.capacity.simulation.years == 1 for x in s)


def test_calibrate_to_sen2_gives_every_scenario_the_same_fitted_factors(raw_dir: Path) -> None:
    # configs/leeds.yaml enables calibration, as `ehcp run` uses it: the notebooks must match.
    scenarios = load_scenario_file(LEEDS_YAML, years=1)
    calibrated, cal = calibrate_to_sen2(scenarios, data_dir=raw_dir)
    assert cal is not None and cal.year >= 2024
    lo, hi = scenarios.calibration.factor_bounds
    assert all(lo <= f <= hi and f != 1.0 for f in cal.factors.values())
    assert calibrated.names == scenarios.names
    for before, after in zip(scenarios, calibrated, strict=True):
        assert after.capacity == cal.apply(before.capacity)
        assert after.capacity != before.capacity


def test_calibrate_to_sen2_names_the_field_of_an_unknown_la() -> None:
    scenarios = load_scenario_file(LEEDS_YAML, years=1)
    wrong = replace(scenarios, report=scenarios.report.model_copy(update={"la": "Atlantis"}))
    with pytest.raises(EhcpError) as err:
        calibrate_to_sen2(wrong)
    assert err.value.field == "report.la" and "leeds.yaml" in str(err.value.file)


def test_simulate_scenarios_sets_aside_dispute_hours_as_ehcp_run() -> None:
    import warnings

    from forecasting.capacity.simulate import demand_from_sen2, simulate_capacity
    from forecasting.pipeline import normalise_weekly

    base = load_scenario_file(LEEDS_YAML, years=1).baseline
    paths = demand_from_sen2(base.capacity, 1, 1)
    ours = simulate_scenarios([base], n_paths=1, seed=1, demand_paths=paths)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        face = normalise_weekly(simulate_capacity(base.capacity, paths, n_paths=1, seed=1).weekly)
    assert len(ours) == len(face)
    for pool in ("ep", "caseworker"):
        assert ours[f"{pool}_dispute_hours"].sum() > 0
        assert ours[f"{pool}_hours_available"].sum() < face[f"{pool}_hours_available"].sum()
    assert {"mediations", "tribunals"} <= set(ours.columns) - set(face.columns)


# ------------------------------------------------------------------------------- execution


@pytest.mark.slow
def test_runner_reports_each_notebook_and_keeps_going(tmp_path: Path) -> None:
    folder = tmp_path / "nbs"
    folder.mkdir()
    for name, body in [("a-ok", "assert x == 2"), ("b-fails", "raise ValueError('boom')")]:
        params = nbformat.v4.new_code_cell("x = 1")
        params.metadata["tags"] = ["parameters"]
        nb = nbformat.v4.new_notebook(cells=[params, nbformat.v4.new_code_cell(body)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, str(folder / f"{name}.ipynb"))
    table = run_all(tmp_path / "out", folder=folder, parameters={"a-ok": {"x": 2}})
    assert table["notebook"].tolist() == ["a-ok.ipynb", "b-fails.ipynb"]
    assert table["ok"].tolist() == [True, False]
    assert table.loc[1, "error"] == "ValueError: boom"
    html = (tmp_path / "out" / "a-ok.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "injected-parameters" in html
    assert (tmp_path / "out" / "b-fails.ipynb").exists()


#: Charts each notebook draws: fewer means one went missing, more that one is shown twice
#: (pyplot figures shown by the inline backend and again as the cell's result).
CHARTS = {"01-demand-forecast": 4, "02-capacity-scenarios": 2, "03-budget-paper": 3,
          "04-case-level-data": 4}


@pytest.mark.slow
@pytest.mark.parametrize("stem", STEMS)
def test_notebook_runs_with_small_parameters(stem: str, tmp_path: Path) -> None:
    params = dict(SMALL_PARAMETERS[stem])
    if stem == "03-budget-paper":
        params["out_dir"] = str(tmp_path / "paper")
    start = time.perf_counter()
    nb = execute_notebook(NOTEBOOK_DIR / f"{stem}.ipynb", tmp_path / f"{stem}.ipynb", params)
    print(f"{stem}: {time.perf_counter() - start:.1f} s with {params}")
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == CHARTS[stem]
    assert any("text/html" in o.get("data", {}) for o in outputs), "no table was shown"
    if stem == "04-case-level-data":
        text = " ".join(str(o.get("data", {}).get("text/markdown", "")) for o in outputs)
        assert "SYNTHETIC" in text
    if stem == "03-budget-paper":
        written = {p.name for p in (tmp_path / "paper").rglob("*") if p.is_file()}
        assert {"report.xlsx", "report.html", "cost_by_fy.csv", "cost_fte.png"} <= written
