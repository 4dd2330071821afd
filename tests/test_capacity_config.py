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
