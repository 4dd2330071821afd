"""Monthly series, stage durations and the open backlog, checked by hand on ``good.csv``.

The expected figures were counted by hand from the eight rows of
``tests/fixtures/cases/good.csv`` (see the comments in ``make_fixtures.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.data.caselevel import CaseExtract, load_extract
from forecasting.data.caselevel_derived import (
    BACKLOG_BANDS,
    OPEN_STAGES,
    SERIES_IDS,
    backlog_by_age,
    duration_summary,
    monthly_series,
    open_caseload,
    stage_durations,
    timeliness_by_year,
)

CASES = Path(__file__).resolve().parent / "fixtures" / "cases"


@pytest.fixture(scope="module")
def good() -> CaseExtract:
    return load_extract(CASES / "good.csv", today="2024-12-31")


def _by_month(series: pd.DataFrame, uid: str) -> dict[str, float]:
    sel = series[(series["unique_id"] == uid) & (series["y"] != 0) & series["y"].notna()]
    return {ds.strftime("%Y-%m"): y for ds, y in zip(sel["ds"], sel["y"], strict=True)}


def test_monthly_series_contract(good: CaseExtract) -> None:
    s = monthly_series(good)
    assert list(s.columns) == ["unique_id", "ds", "y"]
    assert set(s["unique_id"]) == set(SERIES_IDS)
    # Every month from the first event (Jan 2024) to the last (Dec 2024), for every series.
    assert len(s) == 12 * len(SERIES_IDS)
    assert (s["ds"].dt.day == 1).all() and s["ds"].dtype == "datetime64[ns]"


def test_monthly_counts_by_hand(good: CaseExtract) -> None:
    s = monthly_series(good)
    assert _by_month(s, "requests") == {"2024-01": 2, "2024-02": 1, "2024-03": 1, "2024-05": 1,
                                        "2024-06": 1, "2024-07": 1, "2024-12": 1}
    assert _by_month(s, "decisions") == {"2024-02": 2, "2024-03": 1, "2024-04": 1,
                                         "2024-07": 1, "2024-08": 1}
    assert _by_month(s, "refusals") == {"2024-02": 1}
    assert _by_month(s, "withdrawn") == {"2024-06": 1}
    assert _by_month(s, "plans_issued") == {"2024-05": 1, "2024-09": 1}
    assert _by_month(s, "not_issued") == {"2024-06": 1}
    assert _by_month(s, "issued_within_20wk") == {"2024-05": 1}
    # C003 (September) has an exception, so September has no plan in the percentage.
    assert _by_month(s, "pct_within_20wk") == {"2024-05": 100.0}
    assert int(s["y"][s["unique_id"] == "requests"].sum()) == 8


def test_timeliness_by_year_leaves_out_exceptions(good: CaseExtract) -> None:
    t = timeliness_by_year(good)
    assert t.to_dict("records") == [
        {"year": 2024, "plans_issued": 1, "within_20wk": 1, "over_1yr": 0,
         "pct_within_20wk": 100.0, "pct_over_1yr": 0.0}]


def test_stage_durations_by_hand(good: CaseExtract) -> None:
    d = stage_durations(good).set_index(["case_id", "stage"])["days"]
    assert d["C001", "request_to_decision"] == 37
    assert d["C001", "ep_advice"] == 34
    assert d["C001", "request_to_final"] == 133
    assert d["C003", "request_to_final"] == 238
    assert d["C004", "decision_to_not_issued"] == 66
    assert ("C006", "ep_advice") not in d.index  # not received yet
    summary = duration_summary(stage_durations(good))
    assert summary.loc["request_to_final", "n"] == 2
    assert summary.loc["request_to_final", "median"] == pytest.approx((133 + 238) / 2)


def test_open_caseload_at_the_end(good: CaseExtract) -> None:
    o = open_caseload(good, as_of="2024-12-31")
    assert o.attrs["as_of"] == "2024-12-31"
    got = o.set_index("case_id")[["stage", "age_days", "weeks_past_deadline"]]
    assert got.to_dict("index") == {
        "C007": {"stage": "finalising", "age_days": 204, "weeks_past_deadline": 9.1},
        "C006": {"stage": "awaiting_advice", "age_days": 183, "weeks_past_deadline": 6.1},
        "C008": {"stage": "awaiting_decision", "age_days": 29, "weeks_past_deadline": -15.9},
    }
    assert o["due_date"][o["case_id"] == "C008"].iloc[0] == pd.Timestamp("2025-04-21")


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        ("2024-01-07", {}),
        ("2024-03-01", {"C001": "awaiting_advice", "C003": "awaiting_decision"}),
        ("2024-04-01", {"C001": "drafting", "C003": "awaiting_advice",
                        "C004": "awaiting_decision"}),
        ("2024-05-10", {"C001": "finalising", "C003": "awaiting_advice",
                        "C004": "awaiting_advice"}),
    ],
)
def test_open_caseload_rebuilds_the_past(good: CaseExtract, as_of: str,
                                         expected: dict[str, str]) -> None:
    o = open_caseload(good, as_of=as_of)
    assert dict(zip(o["case_id"], o["stage"], strict=True)) == expected


def test_backlog_bands_edges() -> None:
    weeks = [-3.0, 0.0, 0.1, 4.0, 4.1, 13.0, 26.0, 51.9, 52.0, 52.1, 300.0]
    open_ = pd.DataFrame({"weeks_past_deadline": weeks, "stage": "drafting"})
    b = backlog_by_age(open_)
    assert b["band"].tolist() == [band[0] for band in BACKLOG_BANDS]
    assert list(b.columns) == ["band", *OPEN_STAGES, "total"]
    # (lower, upper]: on the deadline is not late; exactly 4 weeks late is still "0-4".
    assert b["drafting"].tolist() == [2, 2, 2, 1, 2, 2]
    assert b["total"].sum() == len(weeks)


def test_backlog_by_age_of_empty_caseload_is_all_zero() -> None:
    b = backlog_by_age(pd.DataFrame({"weeks_past_deadline": pd.Series([], dtype=float),
                                     "stage": pd.Series([], dtype="str")}))
    assert len(b) == len(BACKLOG_BANDS) and int(b["total"].sum()) == 0


def test_series_sum_matches_events_on_larger_input(good: CaseExtract) -> None:
    # Every final date is counted once, whatever the month layout.
    frame = pd.concat([good.frame] * 3, ignore_index=True)
    frame["case_id"] = [f"K{i}" for i in range(len(frame))]
    s = monthly_series(frame)
    assert s.loc[s["unique_id"] == "plans_issued", "y"].sum() == 3 * good.frame[
        "final_date"].notna().sum()
    assert np.isclose(s.loc[s["unique_id"] == "decisions", "y"].sum(), 3 * 6)


def test_public_module_gives_the_simulators_starting_backlog() -> None:
    # The capacity layer calls caselevel.load_extract(path) then caselevel.open_caseload(...).
    from forecasting.data import caselevel

    extract = caselevel.load_extract(CASES / "good.csv")
    o = caselevel.open_caseload(extract, as_of=pd.Timestamp("2024-04-01"))
    assert sorted(o["case_id"]) == ["C001", "C003", "C004"]
    assert {"stage", "age_days", "primary_need"} <= set(o.columns)
