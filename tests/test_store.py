"""The run store: schema, one-transaction idempotent writes per LA, durability across reopen."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.errors import EhcpError
from forecasting.store import TABLE_COLUMNS, LaResult, RunStore, ds_from_store, ds_to_store


def _result(la: str, scale: float = 1.0) -> LaResult:
    fc = pd.DataFrame({"unique_id": f"{la}/requests", "measure": "requests",
                       "ds": [2025, 2026], "yhat": [10.0 * scale, 11.0 * scale],
                       "lo_80": [8.0, 9.0], "hi_80": [12.0, 13.0], "model": "drift"})
    scores = pd.DataFrame({"measure": ["requests"], "model": ["drift"], "metric": ["mase"],
                           "value": [0.9]})
    scen = pd.DataFrame({"scenario": ["baseline"], "metric": ["backlog_growth"], "value": [3.0]})
    return LaResult(la, {"forecasts": fc, "backtest_scores": scores, "scenario_summaries": scen},
                    la_name=la.title(), seconds=0.5)


def _start(store: RunStore, run_id: str = "r1") -> None:
    store.start_run(run_id, quarter="2026Q4", data_checksum="d", config_checksum="c",
                    code_version="v", n_las=2)


def test_schema_has_the_five_tables() -> None:
    with RunStore(":memory:") as store:
        names = {r[0] for r in store.con.execute("SHOW TABLES").fetchall()}
    assert names == {"runs", "tasks", "forecasts", "backtest_scores", "scenario_summaries"}
    assert {"data_checksum", "config_checksum", "code_version", "started", "finished",
            "seconds", "status"} <= set(TABLE_COLUMNS["runs"])


def test_write_is_delete_then_insert_per_la() -> None:
    with RunStore(":memory:") as store:
        _start(store)
        store.write_result("r1", _result("leeds"))
        store.write_result("r1", _result("york"))
        store.write_result("r1", _result("leeds", scale=2.0))  # a retry replaces, never adds
        fc = store.table("forecasts")
        assert len(fc) == 4
        assert store.table("forecasts", la="leeds")["yhat"].tolist() == [20.0, 22.0]
        assert store.table("forecasts", la="york")["yhat"].tolist() == [10.0, 11.0]
        assert len(store.table("tasks")) == 2


def test_failed_write_rolls_back_everything_for_that_la() -> None:
    with RunStore(":memory:") as store:
        _start(store)
        store.write_result("r1", _result("leeds"))
        bad = _result("leeds", scale=3.0)
        bad.tables["backtest_scores"] = pd.DataFrame({"measure": ["requests"]})  # lacks columns
        with pytest.raises(ValueError, match="lack columns"):
            store.write_result("r1", bad)
        # The earlier committed rows are intact: nothing was deleted, nothing half-written.
        assert store.table("forecasts", la="leeds")["yhat"].tolist() == [10.0, 11.0]
        assert store.done_las("r1") == {"leeds"}


def test_failed_task_removes_earlier_rows_and_keeps_reason() -> None:
    with RunStore(":memory:") as store:
        _start(store)
        store.write_result("r1", _result("leeds"))
        store.write_result("r1", LaResult("leeds", error="ValueError: no 2024 data"))
        assert store.table("forecasts").empty
        task = store.table("tasks").iloc[0]
        assert task["status"] == "failed" and task["error"] == "ValueError: no 2024 data"
        assert store.finish_run("r1") == "finished_with_errors"


def test_store_survives_reopen_and_finds_unfinished_run(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "runs.duckdb"
    with RunStore(path) as store:
        _start(store)
        store.write_result("r1", _result("leeds"))
    with RunStore(path) as store:
        assert store.done_las("r1") == {"leeds"}
        assert store.find_unfinished(quarter="2026Q4", data_checksum="d",
                                     config_checksum="c") == "r1"
        assert store.find_unfinished(quarter="2026Q4", data_checksum="other",
                                     config_checksum="c") is None
        assert store.finish_run("r1") == "finished"
        row = store.run("r1")
        assert row["status"] == "finished" and row["seconds"] >= 0
    with RunStore(path, read_only=True) as store:
        assert store.find_unfinished(quarter="2026Q4", data_checksum="d",
                                     config_checksum="c") is None


def test_read_only_store_must_exist(tmp_path: Path) -> None:
    with pytest.raises(EhcpError, match="does not exist"):
        RunStore(tmp_path / "missing.duckdb", read_only=True)


def test_unknown_run_is_a_user_error() -> None:
    with RunStore(":memory:") as store, pytest.raises(EhcpError, match="no run 'x'"):
        store.run("x")


def test_ds_round_trip_for_years_and_months() -> None:
    years = pd.Series([2019, 2024])
    freq, ts = ds_to_store(years)
    assert ds_from_store(ts, freq).tolist() == [2019, 2024]
    months = pd.Series(pd.to_datetime(["2024-01-01", "2024-02-01"]))
    freq, ts = ds_to_store(months)
    assert freq == "month" and ds_from_store(ts, freq).equals(months)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["leeds", "york", "hull"]),
                          st.integers(min_value=1, max_value=5), st.booleans()),
                min_size=1, max_size=8))
def test_store_holds_exactly_the_last_write_of_each_la(writes) -> None:
    # Any sequence of writes and failures: each LA ends with its last attempt's rows only.
    with RunStore(":memory:") as store:
        _start(store)
        for la, scale, ok in writes:
            store.write_result("r1", _result(la, float(scale)) if ok
                               else LaResult(la, error="boom"))
        last = {la: (scale, ok) for la, scale, ok in writes}
        fc = store.table("forecasts")
        assert not fc.duplicated(["la", "unique_id", "ds"]).any()
        assert store.done_las("r1") == {la for la, (_, ok) in last.items() if ok}
        for la, (scale, ok) in last.items():
            rows = fc[fc["la"] == la]
            assert rows["yhat"].tolist() == ([10.0 * scale, 11.0 * scale] if ok else [])
