"""Property tests of the capacity simulator, beyond tests/test_capacity_simulate.py (which checks
conservation, band sums, non-negative queues, same-seed identity, common random numbers and
"more staff never lengthens the list"). Here: a path does not depend on how many paths run,
watching a path (case records, scenario label) never changes it, each recorded case moves
through its stages in order without gaps, counts stay whole and non-negative, nothing is issued
that was never requested, staff hours used to date never exceed those available, and no demand
means no work."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecasting.capacity.config import CapacityConfig, capacity_config
from forecasting.capacity.simulate import SimulationResult, simulate_capacity
from forecasting.errors import EhcpError, EhcpWarning

SETTINGS = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STAGES = ["decision", "advice", "draft", "final"]
COUNTS = ["requests", "reviews_due", "refused", "not_issued", "plans_issued", "plans_issued_ex",
          "plans_within_20wk_ex", "reviews_done", "reviews_open", "reviews_overdue", "open_new"]


def config(ep: float, cw: float, requests: float, stock: float = 150.0,
           share_late: float = 0.5, attrition: float = 0.0) -> CapacityConfig:
    def pool(fte: float) -> dict:
        return {"fte": [{"date": "2025-04-01", "fte": fte}], "attrition_per_year": attrition}

    return capacity_config({
        "simulation": {"start": "2025-04-01", "years": 1},
        "staff": {"ep": pool(ep), "caseworker": pool(cw)},
        "demand": {"requests_per_year": requests, "stock": {"plans_at_start": stock},
                   "initial": {"share_late": share_late, "mean_weeks_late": 6,
                               "reviews_overdue": 5}},
    })


def run(cfg: CapacityConfig, **kw: object) -> SimulationResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EhcpWarning)
        return simulate_capacity(cfg, **kw)  # type: ignore[arg-type]


configs = st.builds(config, ep=st.integers(1, 4).map(float), cw=st.integers(1, 5).map(float),
                    requests=st.floats(20.0, 350.0), stock=st.floats(0.0, 300.0),
                    share_late=st.floats(0.0, 1.0))


@SETTINGS
@given(cfg=configs, seed=st.integers(0, 2**20), n=st.integers(2, 4))
def test_a_path_does_not_depend_on_how_many_paths_run(cfg: CapacityConfig, seed: int,
                                                      n: int) -> None:
    one = run(cfg, n_paths=1, seed=seed).weekly
    many = run(cfg, n_paths=n, seed=seed).weekly
    assert sorted(many["path"].unique()) == list(range(n))
    pd.testing.assert_frame_equal(one, many[many["path"] == 0].reset_index(drop=True))


# Scenario names are printable text; control characters are refused (see the next test).
LABELS = st.text(st.characters(exclude_categories=("C",)), min_size=1, max_size=12)


@SETTINGS
@given(cfg=configs, seed=st.integers(0, 2**20), label=LABELS)
def test_watching_a_path_never_changes_it(cfg: CapacityConfig, seed: int, label: str) -> None:
    plain = run(cfg, n_paths=2, seed=seed).weekly
    watched = run(cfg, n_paths=2, seed=seed, record_path=1, scenario=label)
    assert (watched.weekly["scenario"] == label).all()
    pd.testing.assert_frame_equal(plain.drop(columns="scenario"),
                                  watched.weekly.drop(columns="scenario"))


@pytest.mark.parametrize("label", ["", "a\x00b", "tab\there", "\x1b[31m"])
def test_scenario_names_with_control_characters_are_refused(label: str) -> None:
    cfg = config(ep=1.0, cw=1.0, requests=20.0, stock=0.0, share_late=0.0)
    with pytest.raises(EhcpError, match="scenario"):
        run(cfg, n_paths=1, seed=0, scenario=label)


@SETTINGS
@given(cfg=configs, seed=st.integers(0, 2**20))
def test_recorded_cases_move_through_stages_in_order_without_gaps(cfg: CapacityConfig,
                                                                  seed: int) -> None:
    cases = run(cfg, n_paths=1, seed=seed, record_path=0).cases
    assert cases is not None
    new = cases[cases["case_class"] == "new"].copy()
    assert not new.duplicated(["case", "stage"]).any()  # a case is never in a stage twice
    new["k"] = new["stage"].map(STAGES.index)
    by_case = new.groupby("case", sort=False)
    first = by_case.cumcount() == 0
    # decision, advice, ... in row order with none skipped; a case open at the start of the
    # simulation may begin at a later stage.
    assert (new.loc[first & (new["origin"] == "request"), "k"] == 0).all()
    assert (by_case["k"].diff()[~first] == 1).all()
    assert (by_case["exit"].nunique() == 1).all()
    assert (by_case["exit_time"].nunique(dropna=False) == 1).all()
    done = new.dropna(subset=["end"])
    assert (done["start"] >= done["arrive"]).all() and (done["end"] >= done["start"]).all()
    # Each stage starts where the last one ended: no time lost or invented between them.
    previous_end = by_case["end"].shift()
    assert np.allclose(new.loc[~first, "arrive"], previous_end[~first])
    last = new[by_case.cumcount(ascending=False) == 0]
    issued = last[last["exit"] == "issued"]
    assert (issued["stage"] == "final").all()
    assert np.allclose(issued["end"], issued["exit_time"])


@SETTINGS
@given(cfg=configs, seed=st.integers(0, 2**20))
def test_counts_whole_non_negative_and_nothing_issued_unrequested(cfg: CapacityConfig,
                                                                  seed: int) -> None:
    weekly = run(cfg, n_paths=2, seed=seed).weekly
    counts = weekly[COUNTS].to_numpy(dtype=float)
    assert (counts >= 0).all() and np.array_equal(counts, np.round(counts))
    for _, g in weekly.groupby("path"):
        g = g.sort_values("week")
        opened_before = g["open_new"].iloc[0] - g["requests"].iloc[0] + (
            g[["refused", "not_issued", "plans_issued"]].iloc[0].sum())
        exits = g[["refused", "not_issued", "plans_issued"]].sum(axis=1).cumsum()
        assert (exits <= opened_before + g["requests"].cumsum()).all()
    assert (weekly["plans_within_20wk_ex"] <= weekly["plans_issued_ex"]).all()


@SETTINGS
@given(cfg=configs, seed=st.integers(0, 2**20))
def test_hours_used_never_exceed_hours_available(cfg: CapacityConfig, seed: int) -> None:
    weekly = run(cfg, n_paths=1, seed=seed).weekly
    for role in ("ep", "caseworker"):
        # Week by week a task's hours can land in a neighbouring week; to date, never more
        # hours are used than the staff had.
        used = weekly[f"{role}_hours_used"].cumsum()
        available = (weekly[f"{role}_hours_available"] + weekly[f"{role}_locum_hours"]).cumsum()
        assert (used <= available * (1 + 1e-9) + 1e-6).all()
        assert np.allclose(weekly[f"{role}_fte_in_post"], cfg.staff.model_dump()[role]["fte"][0]["fte"])


def test_no_demand_means_no_new_work() -> None:
    weekly = run(config(ep=2, cw=2, requests=0.0, stock=0.0, share_late=0.0), n_paths=2,
                 seed=1).weekly
    assert (weekly[["requests", "open_new", "plans_issued", "refused", "not_issued"]] == 0).all().all()
