"""Demand paths -> dated cases, and the starting caseload (demand.py, initial.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.capacity.config import CapacityConfig, capacity_config
from forecasting.capacity.demand import (
    CaseArrays,
    block_cases,
    day_weights,
    demand_paths_from_frame,
    path_cases,
)
from forecasting.capacity.demand_buffers import EMPTY_DTYPES, FIELDS
from forecasting.capacity.ehcp import CLASS_NEW, CLASS_REVIEW, STAGES
from forecasting.capacity.initial import estimated_caseload, from_open_caseload
from forecasting.errors import EhcpError, EhcpWarning

POOL = {"fte": [{"date": "2025-01-01", "fte": 2}]}


def config(**sections: dict) -> CapacityConfig:
    base: dict = {"staff": {"ep": POOL, "caseworker": POOL},
                  "simulation": {"start": "2025-01-01", "years": 2}}
    for key, value in sections.items():
        base[key] = base.get(key, {}) | value
    return capacity_config(base)


def cases_of(cfg: CapacityConfig, frame: pd.DataFrame | None = None, path: int = 0,
             seed: int = 1, n_paths: int = 1) -> CaseArrays:
    d = demand_paths_from_frame(frame, cfg, n_paths)
    w = day_weights(cfg.simulation.start, cfg.simulation.horizon_days, cfg.demand.seasonality)
    return CaseArrays.concat(path_cases(cfg, d, path, seed, w))


def test_block_cases_from_a_generator_into_reused_buffers() -> None:
    cfg = config(demand={"requests_per_year": 300, "stock": {"plans_at_start": 200}})
    d = demand_paths_from_frame(None, cfg, 6)
    w = day_weights(cfg.simulation.start, cfg.simulation.horizon_days, cfg.demand.seasonality)
    initial = estimated_caseload(cfg, 0, 1, 300.0)
    paths = [path_cases(cfg, d, p, 1, w, initial if p % 2 else None) for p in range(6)]
    want, want_offsets = block_cases(paths)
    assert want_offsets.tolist() == np.cumsum([0] + [sum(c.n for c in p) for p in paths]).tolist()
    buffers: dict[str, np.ndarray] = {}
    # Buffers made from a too-small guess (n_paths 1) grow as paths come; a smaller block
    # then reuses them; the paths come from a generator, one at a time.
    for block, hint in ((paths, 1), (paths[:2], 2), (paths[::-1], 6)):
        got, offsets = block_cases((p for p in block), buffers, n_paths=hint)
        ref, ref_offsets = block_cases(block)
        np.testing.assert_array_equal(offsets, ref_offsets)
        for name in CaseArrays.__dataclass_fields__:
            np.testing.assert_array_equal(getattr(got, name), getattr(ref, name), name)
            assert getattr(got, name).dtype == getattr(want, name).dtype
            assert np.shares_memory(getattr(got, name), buffers[name])
    made = buffers["time"]
    block_cases(iter(paths[:3]), buffers, n_paths=3)
    assert buffers["time"] is made
    empty, offsets = block_cases(iter([]), {}, n_paths=0)
    assert empty.n == 0 and offsets.tolist() == [0]


def test_buffer_fields_are_the_case_fields() -> None:
    assert FIELDS == tuple(CaseArrays.__dataclass_fields__) == tuple(EMPTY_DTYPES)


def test_block_cases_takes_paths_written_in_place() -> None:
    # path_cases called while block_cases waits for the path writes it straight into the
    # buffers (the yielded parts are views there, nothing is copied); a generator that makes
    # paths ahead of yielding them, or a path made outside, still gives the same block.
    cfg = config(demand={"requests_per_year": 300, "stock": {"plans_at_start": 200}})
    d = demand_paths_from_frame(None, cfg, 5)
    w = day_weights(cfg.simulation.start, cfg.simulation.horizon_days, cfg.demand.seasonality)
    initial = estimated_caseload(cfg, 0, 1, 300.0)

    def make(p: int) -> list[CaseArrays]:
        return path_cases(cfg, d, p, 1, w, initial if p % 2 else None)

    want, want_offsets = block_cases([make(p) for p in range(5)])
    outside = make(4)
    yielded: list[list[CaseArrays]] = []

    def one_at_a_time():
        for p in range(4):
            yielded.append(make(p))
            yield yielded[-1]
        yield outside

    def ahead():
        made = [make(p) for p in range(4)]  # the first goes in place, the others are copied
        yield from made
        yield outside

    buffers: dict[str, np.ndarray] = {}
    for paths in (one_at_a_time(), ahead(), one_at_a_time()):
        got, offsets = block_cases(paths, buffers, n_paths=5)
        np.testing.assert_array_equal(offsets, want_offsets)
        for name in CaseArrays.__dataclass_fields__:
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name), name)
    for path in yielded[-4:]:
        for part in path:
            assert all(np.shares_memory(getattr(part, f), buffers[f])
                       for f in CaseArrays.__dataclass_fields__ if getattr(part, f).size)
    assert not np.shares_memory(outside[0].time, buffers["time"])


def test_request_counts_follow_volumes_and_seasonality() -> None:
    cfg = config(demand={"requests_per_year": {2025: 1000, 2026: 2000},
                         "stock": {"plans_at_start": 0}})
    counts = np.zeros(24)
    for path in range(30):
        c = cases_of(cfg, path=path)
        t = c.time[c.case_class == CLASS_NEW]
        months = pd.Timestamp("2025-01-01") + pd.to_timedelta(t, unit="D")
        idx = (months.year - 2025) * 12 + months.month - 1
        counts += np.bincount(idx, minlength=24)
    counts /= 30
    assert counts[:12].sum() == pytest.approx(1000, rel=0.03)
    assert counts[12:].sum() == pytest.approx(2000, rel=0.03)
    # August has weight 0.4 against about 1 elsewhere: the term-time dip.
    assert counts[7] < 0.6 * counts[9]


def test_cases_depend_only_on_seed_and_path() -> None:
    cfg = config(demand={"requests_per_year": 200, "stock": {"plans_at_start": 100}})
    a = cases_of(cfg, path=3, n_paths=4)
    b = cases_of(cfg, path=3, n_paths=10)
    c = cases_of(cfg, path=4, n_paths=10)
    assert np.array_equal(a.time, b.time) and np.array_equal(a.work_multiplier, b.work_multiplier)
    assert not np.array_equal(a.time, c.time[: a.n]) or a.n != c.n


def test_reviews_come_from_stock_and_new_plans_with_deadlines() -> None:
    cfg = config(demand={"requests_per_year": 500, "stock": {"plans_at_start": 1000,
                                                            "cessation_rate_per_year": 0.0}},
                 pipeline={"reviews": {"phase_transfer_share": 0.0, "under5_share": 0.0}})
    c = cases_of(cfg)
    rev = c.case_class == CLASS_REVIEW
    assert (c.stage[rev] == STAGES.index("review")).all()
    assert (c.deadline[rev] - c.time[rev] == pytest.approx(28.0))
    stock_reviews = int((c.origin == 2).sum())
    assert stock_reviews == pytest.approx(2000, rel=0.1)  # 1000 plans, two years, no ceasing
    assert (c.origin == 3).sum() > 0  # plans issued in year 1 reviewed in year 2
    assert (c.time >= 0).all() and (c.time < 730).all()


def test_phase_transfer_reviews_are_due_on_15_february() -> None:
    cfg = config(demand={"requests_per_year": 0, "stock": {"plans_at_start": 500}},
                 pipeline={"reviews": {"phase_transfer_share": 1.0}})
    c = cases_of(cfg)
    due = pd.Timestamp("2025-01-01") + pd.to_timedelta(c.deadline, unit="D")
    assert ((due.month == 2) & (due.day == 15)).all()
    assert (c.deadline > c.time).all()


def test_forecast_paths_are_used_per_sample() -> None:
    cfg = config(demand={"stock": {"plans_at_start": 0}})
    frame = pd.DataFrame({"unique_id": "E08000035", "ds": [2025, 2026, 2025, 2026],
                          "sample_id": [0, 0, 1, 1], "y": [100.0, 100.0, 1000.0, 1000.0]})
    low = cases_of(cfg, frame, path=0, n_paths=2)
    high = cases_of(cfg, frame, path=1, n_paths=2)
    # Forecast counts are scattered exactly (thinning of the path's annual count).
    assert (low.case_class == CLASS_NEW).sum() == 200
    assert (high.case_class == CLASS_NEW).sum() == 2000


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        (pd.DataFrame({"unique_id": "a", "ds": [2025], "y": [1.0]}), "demand_paths"),
        (pd.DataFrame({"unique_id": "a", "ds": [2025, 2026], "sample_id": 0, "y": [1.0, -1.0]}),
         "demand_paths.y"),
        (pd.DataFrame({"unique_id": "a", "ds": [2025], "sample_id": 0, "y": [1.0]}),
         "demand_paths.ds"),
        (pd.DataFrame({"unique_id": ["a", "b"], "ds": 2025, "sample_id": 0, "y": 1.0}),
         "demand_paths.unique_id"),
        (pd.DataFrame({"unique_id": "a", "ds": [2025, 2026], "sample_id": 0, "y": 1.0,
                       "measure": "new_plans"}), "demand_paths.measure"),
    ],
)
def test_wrong_demand_paths_name_the_field(frame: pd.DataFrame, field: str) -> None:
    with pytest.raises(EhcpError) as info:
        demand_paths_from_frame(frame, config(), 1)
    assert info.value.field == field


def test_too_few_sample_paths_warns_and_reuses() -> None:
    frame = pd.DataFrame({"unique_id": "a", "ds": [2025, 2026], "sample_id": 0, "y": 5.0})
    with pytest.warns(EhcpWarning, match="reusing"):
        d = demand_paths_from_frame(frame, config(), 3)
    assert d.requests.shape == (3, 2)


def test_estimated_caseload_backlog_by_littles_law() -> None:
    cfg = config(pipeline={"p_refused": 0.0, "p_not_issued": 0.0},
                 demand={"initial": {"share_late": 1.0, "mean_weeks_late": 10,
                                     "late_stage_mix": {"advice": 1.0}}})
    late = []
    for path in range(20):
        c = estimated_caseload(cfg, path, 1, requests_per_year=520)
        late.append(int((c.deadline < 0).sum()))
    # 520 plans a year, all late by 10 weeks on average: about 520 x 10 / 52 = 100 late cases.
    assert np.mean(late) == pytest.approx(100, rel=0.1)


def test_open_caseload_from_extract_and_bad_stage(fixtures_dir: Path) -> None:
    cfg = config()
    df = pd.DataFrame({"stage": ["awaiting_decision", "finalising"], "age_days": [3, 300],
                       "primary_need": ["all", "other"]})
    c = from_open_caseload(df, cfg, 0, 1)
    assert c.stage.tolist() == [STAGES.index("decision"), STAGES.index("final")]
    assert c.deadline.tolist() == [137.0, -160.0]
    with pytest.raises(EhcpError, match="unknown stage"):
        from_open_caseload(df.assign(stage="lost"), cfg, 0, 1)
    with pytest.raises(EhcpError) as info:
        from_open_caseload(df.assign(age_days=[1, -4]), cfg, 0, 1, file="open.csv")
    assert info.value.row == 3 and info.value.field == "age_days"


@pytest.mark.slow
def test_demand_paths_from_the_sen2_panel_for_leeds() -> None:
    from forecasting.capacity.config import load_capacity_config
    from forecasting.capacity.simulate import demand_from_sen2

    root = Path(__file__).resolve().parents[1]
    data = load_capacity_config(root / "configs" / "leeds.yaml").model_dump(mode="json")
    data["demand"].update(source="forecast", model="drift")
    cfg = capacity_config(data)
    paths = demand_from_sen2(cfg, n_paths=3, seed=1)
    req = paths[paths["measure"] == "requests_received"]
    assert req["sample_id"].nunique() == 3 and (req["y"] >= 0).all()
    assert req["ds"].max() >= 2030  # covers the five simulated years from April 2025
    stock = paths.loc[paths["measure"] == "stock_plans", "y"]
    assert (stock == 6093).all()  # Leeds, January 2025 (DfE SEN2)
    d = demand_paths_from_frame(paths, cfg, 3)
    assert d.stock_start is not None and d.requests.shape == (3, 6)


def test_open_caseload_from_a_case_extract_file(fixtures_dir: Path) -> None:
    from forecasting.capacity.simulate import simulate_capacity

    cfg = capacity_config({
        "staff": {"ep": POOL, "caseworker": POOL},
        "simulation": {"start": "2024-06-01", "years": 1},
        "demand": {"requests_per_year": 0, "stock": {"plans_at_start": 0},
                   "initial": {"extract": str(fixtures_dir / "cases" / "good.csv")}},
    })
    res = simulate_capacity(cfg, n_paths=1, seed=1, record_path=0)
    assert res.cases is not None
    first = res.cases.drop_duplicates("case")
    # The fixture has three cases open on 1 June 2024 (awaiting advice, drafting, decision).
    assert len(first) == 3
    assert sorted(first["stage"]) == ["advice", "decision", "draft"]
    assert first["request_time"].max() < 0 and first["exception"].sum() == 1
