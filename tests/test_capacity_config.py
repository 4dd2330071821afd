"""Capacity config models, the Leeds config, and CLI messages for bad configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from forecasting.capacity.config import CapacityConfig, capacity_config, load_capacity_config
from forecasting.capacity.ehcp import build_network, mean_work_per_request
from forecasting.cli import main
from forecasting.errors import EhcpError

ROOT = Path(__file__).resolve().parents[1]
POOL = {"fte": [{"date": "2025-04-01", "fte": 2}]}


def test_leeds_config_loads_and_keeps_other_sections_out() -> None:
    cfg = load_capacity_config(ROOT / "configs" / "leeds.yaml")
    assert isinstance(cfg, CapacityConfig)
    # Sourced defaults: Wokingham EP cost with on-costs, Leeds stock January 2025 (SEN2).
    assert cfg.staff.ep.cost_per_fte_year == 71385
    assert cfg.demand.stock.plans_at_start == 6093
    assert cfg.pipeline.milestones_weeks.final == 20
    assert abs(sum(g.share for g in cfg.pipeline.complexity) - 1) < 1e-9


def test_unknown_section_suggests_closest() -> None:
    with pytest.raises(EhcpError) as info:
        capacity_config({"staf": {}, "simulation": {}}, "c.yaml")
    assert info.value.field == "staf"
    assert "did you mean 'staff'" in str(info.value)


def test_section_must_be_mapping() -> None:
    with pytest.raises(EhcpError, match="mapping"):
        capacity_config({"staff": [1, 2]})


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"pipeline": {"p_not_issued": -0.1}}, "pipeline.p_not_issued"),
        ({"pipeline": {"milestones_weeks": {"decision": 18}}}, "pipeline.milestones_weeks"),
        ({"demand": {"seasonality": [1.0] * 11}}, "demand.seasonality"),
        ({"demand": {"requests_per_year": -5}}, "demand.requests_per_year"),
        ({"demand": {"source": "forecast"}}, "demand"),
        ({"simulation": {"years": 0}}, "simulation.years"),
        ({"demand": {"initial": {"late_stage_mix": {"advice": 0.5}}}},
         "demand.initial.late_stage_mix"),
    ],
)
def test_range_checks_name_the_field(override: dict, field: str) -> None:
    data = {"staff": {"ep": POOL, "caseworker": POOL}, **override}
    with pytest.raises(EhcpError) as info:
        capacity_config(data, "c.yaml")
    assert info.value.field == field


def test_calendar_dates_must_increase() -> None:
    pool = {"fte": [{"date": "2026-01-01", "fte": 2}, {"date": "2025-01-01", "fte": 3}]}
    with pytest.raises(EhcpError) as info:
        capacity_config({"staff": {"ep": pool, "caseworker": POOL}})
    assert info.value.field == "staff.ep.fte"


def test_network_routing_matches_probabilities() -> None:
    cfg = capacity_config({"staff": {"ep": POOL, "caseworker": POOL},
                           "pipeline": {"p_refused": 0.25, "p_not_issued": 0.1,
                                        "reviews": {"ep_share": 0.2}}})
    net = build_network(cfg.pipeline)
    visits = net.visit_ratios([1, 0, 0, 0, 0, 0])
    assert visits.tolist() == pytest.approx([1.0, 0.75, 0.75, 0.675, 0.0, 0.0])
    review = net.visit_ratios([0, 0, 0, 0, 1, 0])
    assert review.tolist() == pytest.approx([0, 0, 0, 0, 1.0, 0.2])
    work = mean_work_per_request(cfg.pipeline)
    assert work["ep"] == pytest.approx(0.75 * 10.5)


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("negative_fte.yaml", "staff.ep.fte[0].fte"),
        ("bad_probability.yaml", "pipeline.p_refused"),
        ("shares_not_one.yaml", "pipeline.complexity"),
        ("missing_fte.yaml", "staff.ep.fte"),
        ("unknown_key.yaml", "simulation.yeras"),
        ("duplicate_key.yaml", "years"),
    ],
)
def test_cli_bad_config_exit_2_names_file_and_field(
    fixtures_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, field: str
) -> None:
    path = fixtures_dir / "capacity" / name
    code = main(["simulate", "--config", str(path), "--paths", "2", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ")
    assert name in err and f"'{field}'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("override", "field", "words"),
    [
        ({"demand": {"requests_per_year": 1e300}}, "demand.requests_per_year", "1,000,000"),
        ({"demand": {"requests_per_year": {2025: 2e6}}}, "demand.requests_per_year", "1,000,000"),
        ({"demand": {"requests_per_year": {99999: 10}}}, "demand.requests_per_year", "years"),
        ({"demand": {"requests_per_year": float("nan")}}, "demand.requests_per_year", "finite"),
        ({"demand": {"requests_per_year": float("inf")}}, "demand.requests_per_year", "finite"),
        ({"demand": {"seasonality": [float("nan")] * 12}}, "demand.seasonality[0]", "finite"),
        ({"demand": {"seasonality": [1e9] * 12}}, "demand.seasonality", "0 to 100"),
        ({"demand": {"initial": {"in_time_cases": 1e12}}}, "demand.initial.in_time_cases",
         "less than or equal"),
        ({"demand": {"initial": {"reviews_overdue": 1e12}}}, "demand.initial.reviews_overdue",
         "less than or equal"),
        ({"demand": {"initial": {"late_stage_mix": {"advice": float("nan")}}}},
         "demand.initial.late_stage_mix.advice", "finite"),
        ({"pipeline": {"milestones_weeks": {"final": 1e9}}}, "pipeline.milestones_weeks.final",
         "less than or equal"),
        ({"staff": {"ep": {**POOL, "cost_per_fte_year": 1e20}, "caseworker": POOL}},
         "staff.ep.cost_per_fte_year", "less than or equal"),
        ({"staff": {"ep": {"fte": [{"date": "2025-04-01", "fte": 20000}]}, "caseworker": POOL}},
         "staff.ep.fte[0].fte", "10000"),
        ({"simulation": {"seed": 2**70}}, "simulation.seed", "less than or equal"),
    ],
)
def test_numbers_are_bounded_and_finite(override: dict, field: str, words: str) -> None:
    # Each of these was accepted once and failed later inside numpy with a traceback.
    data = {"staff": {"ep": POOL, "caseworker": POOL}, **override}
    with pytest.raises(EhcpError) as info:
        capacity_config(data, "c.yaml")
    assert info.value.field == field and words in str(info.value)


CW = "caseworker: {fte: [{date: 2025-04-01, fte: 1}]}"
EP = "fte: [{date: 2025-04-01, fte: 1}]"


@pytest.mark.parametrize(
    ("yaml_text", "field", "words"),
    [
        ("simulation: {start: 2025-13-01}", "simulation.start", "2025-13-01"),
        ("simulation: {start: 2024-02-30}", "simulation.start", "2024-02-30"),
        ("simulation: {start: 9999-01-01}", "simulation.start", "2100-12-31"),
        ("simulation: {start: 1900-01-01}", "simulation.start", "2000-01-01"),
        (f"staff: {{ep: {{fte: [{{date: 2025-02-30, fte: 1}}]}}, {CW}}}",
         "staff.ep.fte[0].date", "2025-02-30"),
        (f"staff: {{ep: {{{EP}, locum_hours: [{{date: 2025-00-10, hours_per_week: 5}}]}}, {CW}}}",
         "staff.ep.locum_hours[0].date", "2025-00-10"),
        (f"staff: {{ep: {{{EP}, trainees: [{{start: 2025-09-31, count: 1}}]}}, {CW}}}",
         "staff.ep.trainees[0].start", "2025-09-31"),
        ("pipeline: {reviews: {phase_transfer_deadline: 02-29}}",
         "pipeline.reviews.phase_transfer_deadline", "02-29"),
        ("pipeline: {reviews: {phase_transfer_deadline: 13-01}}",
         "pipeline.reviews.phase_transfer_deadline", "13-01"),
    ],
)
def test_impossible_dates_name_the_field(tmp_path: Path, yaml_text: str, field: str,
                                         words: str) -> None:
    # Read from YAML: PyYAML itself used to raise a bare ValueError for 2025-13-01.
    staff = "" if yaml_text.startswith("staff:") else f"\nstaff: {{ep: {{{EP}}}, {CW}}}"
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text + staff + "\n")
    with pytest.raises(EhcpError) as info:
        load_capacity_config(path)
    assert info.value.field == field and words in str(info.value)
    assert info.value.file == str(path)


def test_bad_date_in_a_config_is_a_cli_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text((ROOT / "tests" / "fixtures" / "capacity" / "tiny.yaml").read_text()
                    .replace("start: 2025-04-01", "start: 2025-13-01"))
    code = main(["simulate", "--config", str(path), "--paths", "1", "--out",
                 str(tmp_path / "sim")])
    err = capsys.readouterr().err
    assert code == 2 and "simulation.start" in err and "2025-13-01" in err
    assert "Traceback" not in err and not (tmp_path / "sim").exists()


def test_late_cases_sets_the_starting_backlog_directly() -> None:
    from forecasting.capacity.initial import estimated_caseload

    def late(initial: dict) -> int:
        cfg = capacity_config({"staff": {"ep": POOL, "caseworker": POOL},
                               "demand": {"initial": {"in_time_cases": 0, **initial}}})
        return estimated_caseload(cfg, 0, 1, requests_per_year=1000).n

    # Little's law from share_late: 1000 x 0.78 x 0.94 plans x 0.5 x 26 / 52 = ~183 open.
    assert 140 < late({"share_late": 0.5, "mean_weeks_late": 26}) < 230
    # late_cases replaces that estimate (SEN2-derived counts, e.g. Leeds ~870 on 1 April 2025).
    assert 800 < late({"share_late": 0.5, "mean_weeks_late": 26, "late_cases": 870}) < 940
    assert load_capacity_config(ROOT / "configs" / "leeds.yaml").demand.initial.late_cases == 870
