"""Scenario files: baseline + named overrides, deep merge, validation with field paths."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.config_io import load_yaml
from forecasting.errors import EhcpError
from forecasting.scenarios import (
    RequestChange,
    apply_request_changes,
    deep_merge,
    load_scenarios,
    scenario_set,
)

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent / "fixtures" / "scenarios"


@pytest.fixture(scope="module")
def small() -> dict:
    return load_yaml(HERE / "small.yaml")


def test_baseline_and_variants_merge(small: dict) -> None:
    s = scenario_set(small, "small.yaml")
    assert s.names == ("baseline", "extra_2_eps", "early_help_minus_10pct")
    assert s.baseline.capacity.staff.ep.fte[0].fte == 4.0
    extra = s["extra_2_eps"]
    assert extra.capacity.staff.ep.fte[0].fte == 6.0
    # Only the overridden key changed: everything else is the baseline's.
    assert extra.capacity.staff.caseworker == s.baseline.capacity.staff.caseworker
    assert extra.capacity.staff.ep.cost_per_fte_year == 71385
    assert extra.costs == s.baseline.costs
    assert s["early_help_minus_10pct"].request_changes[0].percent == -10


def test_scenarios_are_frozen(small: dict) -> None:
    s = scenario_set(small, "small.yaml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.baseline.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        s["extra_2_eps"].overrides["staff"] = {}  # type: ignore[index]
    with pytest.raises(ValueError, match="frozen"):
        s.baseline.capacity.simulation.years = 3  # type: ignore[misc]


def test_config_hash_changes_with_content(small: dict) -> None:
    a = scenario_set(small, "a").config_hash
    changed = {**small, "report": {**small["report"], "seed": 1}}
    assert scenario_set(changed, "a").config_hash != a
    assert scenario_set(dict(small), "b").config_hash == a


def test_scenario_can_change_a_default_the_file_leaves_out(small: dict) -> None:
    # absence_rate is not in small.yaml: the baseline's full form (defaults filled in) has it.
    data = {**small, "scenarios": {"sick": {"overrides": {"staff": {"ep": {"absence_rate": 0.3}}}}}}
    s = scenario_set(data, "x")
    assert s["sick"].capacity.staff.ep.absence_rate == 0.3
    assert s.baseline.capacity.staff.ep.absence_rate != 0.3


def test_unknown_scenario_name_suggests_the_closest(small: dict) -> None:
    s = scenario_set(small, "small.yaml")
    with pytest.raises(EhcpError, match="did you mean 'extra_2_eps'"):
        s["extra_2_ep"]


def test_the_leeds_config_has_the_documented_scenarios() -> None:
    s = load_scenarios(ROOT / "configs" / "leeds.yaml")
    for name in ("baseline", "extra_2_eps", "trainee_pipeline", "digital_ehcp_admin_saving",
                 "early_help_minus_10pct"):
        assert name in s.names
    # The published figures the defaults cite (reference_parameters_from_pages.csv).
    assert s.baseline.costs.roles["ep"].annual_cost_gbp == 71385
    day = s.baseline.costs.roles["ep"].annual_cost_gbp / s.baseline.costs.working_days_per_year
    assert day == pytest.approx(324.5, abs=0.1)
    assert s.report.la == "Leeds"
    saving = s["digital_ehcp_admin_saving"].capacity.pipeline.work_hours
    assert saving.draft.mean < s.baseline.capacity.pipeline.work_hours.draft.mean
    assert saving.advice == s.baseline.capacity.pipeline.work_hours.advice


@pytest.mark.parametrize(
    ("fixture", "field", "words"),
    [
        ("bad_typo.yaml", "costs.pay_inflaton", "did you mean 'pay_inflation'"),
        ("bad_type.yaml", "simulation.years", "valid integer"),
        ("bad_dates_backwards.yaml", "scenarios.extra_2_eps.overrides.staff.ep", "increasing order"),
        ("bad_negative_fte.yaml", "staff.caseworker.fte[0].fte", "greater than or equal to 0"),
        ("bad_override_missing_key.yaml", "scenarios.extra_2_eps.overrides.staff.ep.locum_ours",
         "did you mean 'locum_hours'"),
        ("bad_override_section.yaml", "scenarios.extra_2_eps.overrides", "did you mean 'staff'"),
    ],
)
def test_bad_files_name_the_file_and_field(fixture: str, field: str, words: str) -> None:
    with pytest.raises(EhcpError) as err:
        load_scenarios(HERE / fixture)
    assert err.value.file is not None and err.value.file.endswith(fixture)
    # The simulator's models may report a list problem on the list or on its parent.
    assert err.value.field is not None and err.value.field.startswith(field)
    assert words in str(err.value)


def test_unknown_top_level_section(small: dict) -> None:
    with pytest.raises(EhcpError, match="did you mean 'targets'") as err:
        scenario_set({**small, "target": {}}, "x.yaml")
    assert err.value.field == "target"


def test_baseline_cannot_override_itself(small: dict) -> None:
    data = {**small, "scenarios": {"baseline": {"overrides": {"staff": {"ep": {"vacant_fte": 1}}}}}}
    with pytest.raises(EhcpError, match="cannot override itself"):
        scenario_set(data, "x.yaml")


def test_target_needs_one_window(small: dict) -> None:
    goal = {**small["targets"]["goals"][0], "from_date": "2028-01-01"}
    data = {**small, "targets": {**small["targets"], "goals": [goal]}}
    with pytest.raises(EhcpError, match="exactly one of financial_year or from_date") as err:
        scenario_set(data, "x.yaml")
    assert err.value.field == "targets.goals[0]"


def test_search_scenario_must_exist(small: dict) -> None:
    data = {**small, "targets": {**small["targets"],
                                 "search": {**small["targets"]["search"], "scenario": "basline"}}}
    with pytest.raises(EhcpError, match="did you mean 'baseline'"):
        scenario_set(data, "x.yaml")


def test_deep_merge_replaces_lists_and_keeps_the_rest() -> None:
    base = {"a": {"b": [1, 2], "c": {"d": 1, "e": 2}}}
    assert deep_merge(base, {"a": {"b": [3], "c": {"e": 5}}}) == {"a": {"b": [3], "c": {"d": 1, "e": 5}}}
    assert base == {"a": {"b": [1, 2], "c": {"d": 1, "e": 2}}}  # input untouched


@settings(max_examples=40, deadline=None)
@given(
    percent=st.floats(-90, 90),
    day=st.integers(0, 364),
    y=st.lists(st.floats(0, 5000), min_size=3, max_size=3),
)
def test_request_change_scales_only_the_part_after_its_date(percent: float, day: int, y: list[float]) -> None:
    paths = pd.DataFrame({"unique_id": "x", "ds": [2025, 2026, 2027], "sample_id": 0, "y": y})
    when = pd.Timestamp("2026-01-01") + pd.Timedelta(days=day)
    out = apply_request_changes(paths, [RequestChange(from_date=when.date(), percent=percent)])
    assert out["y"].iloc[0] == y[0]  # before the change
    covered = (pd.Timestamp("2027-01-01") - when).days / 365
    assert out["y"].iloc[1] == pytest.approx(y[1] * (1 + percent / 100 * covered), rel=1e-9, abs=1e-9)
    assert out["y"].iloc[2] == pytest.approx(y[2] * (1 + percent / 100), rel=1e-9, abs=1e-9)


def test_calibration_section_is_validated_with_its_path() -> None:
    small = Path(__file__).resolve().parent / "fixtures" / "scenarios" / "small.yaml"
    data = load_yaml(small)
    assert load_scenarios(small).calibration is None
    data["calibration"] = {"n_path": 3}
    with pytest.raises(EhcpError) as err:
        scenario_set(data, "c.yaml")
    assert err.value.field == "calibration.n_path" and "n_paths" in (err.value.fix or "")
    data["calibration"] = {"n_paths": 3, "caseworker_target": "none",
                           "replay_staff": {"ep": {"vacant_fte": 0}}}
    cal = scenario_set(data, "c.yaml").calibration
    assert cal.caseworker_target == "none" and cal.replay_staff == {"ep": {"vacant_fte": 0}}
