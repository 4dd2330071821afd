"""The batch runner: isolation of failures, resuming, and equal results however it is run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from forecasting.batch import LaInput, la_seed, run_batch
from forecasting.batch_tasks import synthetic_inputs, synthetic_task
from forecasting.errors import EhcpError
from forecasting.store import TIMING_COLUMNS, RunStore

LAS = ["E08000035", "E08000032", "E08000034", "E08000036", "E06000014"]
FIXTURES = Path(__file__).parent / "fixtures" / "batch"


def _run(store: RunStore, las=LAS, *, run_id="r1", workers=1, scheduler=None, **params):
    inputs, config = synthetic_inputs(las, seed=7, h=3, **params)
    return run_batch(inputs, synthetic_task, store, quarter="2026Q4", data_checksum="d",
                     config=config, run_id=run_id, workers=workers, scheduler=scheduler)


def _assert_same(a: RunStore, b: RunStore, *, drop: tuple[str, ...] = TIMING_COLUMNS) -> None:
    sa, sb = a.snapshot(drop=drop), b.snapshot(drop=drop)
    for name in sa:
        pd.testing.assert_frame_equal(sa[name], sb[name], obj=name)


@pytest.fixture(scope="module")
def serial_store():
    """The reference: the five LAs run one after the other in this process."""
    store = RunStore(":memory:")
    _run(store)
    yield store
    store.close()


def test_serial_run_stores_every_la(serial_store: RunStore) -> None:
    tasks = serial_store.table("tasks")
    assert tasks["la"].tolist() == sorted(LAS)
    assert (tasks["status"] == "done").all()
    assert serial_store.run("r1")["status"] == "finished"
    fc = serial_store.table("forecasts")
    # 5 LAs x 2 measures x 3 years, each exactly once.
    assert len(fc) == 30
    assert not fc.duplicated(["la", "unique_id", "ds"]).any()


def test_failed_la_is_reported_and_others_finish() -> None:
    with RunStore(":memory:") as store:
        report = _run(store, fail=["E08000034"])
        assert report.status == "finished_with_errors"
        assert report.failed.keys() == {"E08000034"}
        assert "synthetic failure for E08000034" in report.failed["E08000034"]
        assert sorted(report.done) == sorted(set(LAS) - {"E08000034"})
        row = store.table("tasks", la="E08000034").iloc[0]
        assert row["status"] == "failed" and "ValueError" in row["error"]
        assert store.table("forecasts", la="E08000034").empty


def test_rerun_of_same_la_never_duplicates_rows(serial_store: RunStore) -> None:
    with RunStore(":memory:") as store:
        _run(store)
        _run(store, run_id="r1")  # same run again: every LA already committed, nothing redone
        inputs, config = synthetic_inputs(LAS, seed=7, h=3)
        store.write_result("r1", synthetic_task(inputs[0]))  # a retried LA rewrites its rows
        _assert_same(store, serial_store)


def test_resume_retries_failed_las_only(serial_store: RunStore) -> None:
    with RunStore(":memory:") as store:
        inputs, config = synthetic_inputs(LAS, seed=7, h=3)
        # First attempt: the task fails for two LAs (e.g. a transient error).
        flaky = [LaInput(i.la, i.data, {**i.params, "fail": LAS[:2]}, i.seed, i.la_name)
                 for i in inputs]
        first = run_batch(flaky, synthetic_task, store, quarter="2026Q4", data_checksum="d",
                          config=config, run_id="r1")
        assert sorted(first.failed) == sorted(LAS[:2])
        again = run_batch(inputs, synthetic_task, store, quarter="2026Q4", data_checksum="d",
                          config=config, resume="r1")
        assert again.resumed and sorted(again.skipped) == sorted(LAS[2:])
        assert sorted(again.done) == sorted(LAS[:2]) and again.status == "finished"
        _assert_same(store, serial_store)


def test_resume_refuses_a_different_config() -> None:
    with RunStore(":memory:") as store:
        _run(store)
        inputs, config = synthetic_inputs(LAS, seed=8, h=3)
        with pytest.raises(EhcpError, match="different config"):
            run_batch(inputs, synthetic_task, store, quarter="2026Q4", data_checksum="d",
                      config=config, resume="r1")
        with pytest.raises(EhcpError, match="different config"):
            run_batch(inputs, synthetic_task, store, quarter="2026Q4", data_checksum="d",
                      config=config, run_id="r1")  # an existing id is resumed, so checked too
        same_inputs, same_config = synthetic_inputs(LAS, seed=7, h=3)
        with pytest.raises(EhcpError, match="different data release"):
            run_batch(same_inputs, synthetic_task, store, quarter="2026Q4",
                      data_checksum="other", config=same_config, resume="r1")
        with pytest.raises(EhcpError, match="no run 'nope'"):
            run_batch(inputs, synthetic_task, store, quarter="2026Q4", data_checksum="d",
                      config=config, resume="nope")


def test_duplicate_la_is_a_user_error() -> None:
    with RunStore(":memory:") as store, pytest.raises(EhcpError, match="more than once"):
        _run(store, las=["A", "B", "A"])


def test_seed_depends_on_la_not_on_order() -> None:
    fwd, _ = synthetic_inputs(LAS, seed=7)
    rev, _ = synthetic_inputs(LAS[::-1], seed=7)
    assert {i.la: i.seed for i in fwd} == {i.la: i.seed for i in rev}
    assert len({la_seed(7, la) for la in LAS}) == len(LAS)


def test_outputs_written_per_la(tmp_path: Path) -> None:
    inputs, config = synthetic_inputs(LAS[:2], seed=7, h=3)
    with RunStore(":memory:") as store:
        run_batch(inputs, synthetic_task, store, quarter="2026Q4", data_checksum="d",
                  config=config, run_id="r1", out_dir=tmp_path)
        stored = store.table("forecasts", la=LAS[0])
    written = pd.read_csv(tmp_path / "r1" / LAS[0] / "forecasts.csv")
    written = written.sort_values(["unique_id", "ds"])
    assert len(written) == len(stored) == 6
    assert written["yhat"].tolist() == pytest.approx(stored["yhat"].tolist())


@pytest.mark.slow
def test_process_pool_equals_serial(serial_store: RunStore) -> None:
    with RunStore(":memory:") as store:
        report = _run(store, workers=2)
        assert report.status == "finished"
        _assert_same(store, serial_store)


@pytest.mark.slow
def test_worker_crash_fails_only_that_la() -> None:
    with RunStore(":memory:") as store:
        report = _run(store, las=LAS[:3], workers=2, crash=[LAS[1]])
        assert list(report.failed) == [LAS[1]]
        assert "worker process died" in report.failed[LAS[1]]
        assert sorted(report.done) == sorted([LAS[0], LAS[2]])


@pytest.mark.slow
def test_dask_local_cluster_equals_serial(serial_store: RunStore) -> None:
    distributed = pytest.importorskip("distributed")
    # Threads in this process, but a real TCP scheduler on the loopback address, as a remote
    # cluster would be reached with --scheduler tcp://HOST:PORT.
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp", host="127.0.0.1", scheduler_port=0,
                                  dashboard_address=None) as cluster:
        with RunStore(":memory:") as store:
            report = _run(store, scheduler=cluster.scheduler_address)
            assert report.status == "finished"
            _assert_same(store, serial_store)


@pytest.mark.slow
def test_sigkill_mid_batch_then_resume_equals_uninterrupted(tmp_path: Path) -> None:
    db = tmp_path / "runs.duckdb"
    cmd = [sys.executable, str(FIXTURES / "run_synthetic.py"), str(db), "2026Q4-kill", "0.4",
           "2", *LAS]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True)
    committed = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while len(committed) < 2 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("committed "):
            committed.append(line.split()[1])
    # The whole process group: the parent and its worker processes, mid-way, without cleanup.
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert len(committed) >= 2, "the batch did not commit two LAs before the deadline"

    with RunStore(db) as store:
        assert store.run("2026Q4-kill")["status"] == "running"
        done = store.done_las("2026Q4-kill")
        assert set(committed) <= done and len(done) < len(LAS)
        # Same quarter, data and config: the unfinished run is found without naming it.
        inputs, config = synthetic_inputs(LAS, seed=7, h=3, sleep=0.4)
        report = run_batch(inputs, synthetic_task, store, quarter="2026Q4",
                           data_checksum="fixture", config=config, workers=1)
        assert report.run_id == "2026Q4-kill" and report.resumed
        assert set(report.skipped) == done and report.status == "finished"
        with RunStore(":memory:") as ref:
            run_batch(inputs, synthetic_task, ref, quarter="2026Q4", data_checksum="fixture",
                      config=config, run_id="2026Q4-kill", workers=1)
            # The child process may have seen another git state of the tree (".dirty").
            _assert_same(store, ref, drop=(*TIMING_COLUMNS, "code_version"))


def test_models_written_and_unsaved_ones_explained(tmp_path: Path) -> None:
    from forecasting.batch import write_la_files
    from forecasting.models import get_model
    from forecasting.persist import load_model, model_state
    from forecasting.store import LaResult

    hist = pd.DataFrame({"unique_id": "A", "ds": [2022, 2023, 2024], "y": [5.0, 6.0, 8.0]})
    model = get_model("drift").fit(hist)
    result = LaResult("A", extras={"models": {"requests_received": model_state(model)},
                                   "unsaved_models": ["new_plans: results_ is a Results"]})
    write_la_files(result, None, tmp_path)
    again = load_model(tmp_path / "A" / "requests_received.json")
    pd.testing.assert_frame_equal(again.predict(2), model.predict(2))
    assert "results_ is a Results" in (tmp_path / "A" / "UNSAVED.txt").read_text()


def test_parallel_runs_hand_out_costliest_las_first(monkeypatch: pytest.MonkeyPatch) -> None:
    import forecasting.batch_exec as bx

    seen: list[list[str]] = []

    def fake_pool(task, inputs, workers):
        seen.append([i.la for i in inputs])
        yield from bx._serial(task, inputs)

    monkeypatch.setattr(bx, "_pool", fake_pool)
    inputs, config = synthetic_inputs(LAS, seed=7, h=3)
    costs = dict(zip(LAS, [1.0, 5.0, 0.5, 5.0, 9.0], strict=True))
    costed = [LaInput(i.la, i.data, i.params, i.seed, cost=costs[i.la]) for i in inputs]
    with RunStore(":memory:") as store:
        rep = run_batch(costed, synthetic_task, store, quarter="2026Q4", data_checksum="d",
                        config=config, run_id="r1", workers=2)
    # Largest first; equal costs keep the given order (E08000032 before E08000036).
    assert seen == [["E06000014", "E08000032", "E08000036", "E08000035", "E08000034"]]
    assert rep.done == sorted(LAS)


@pytest.mark.parametrize("address", ["tcp://HOST:PORT", "http://127.0.0.1:8786"])
def test_bad_scheduler_address_is_a_user_error_before_any_run(address: str) -> None:
    with RunStore(":memory:") as store:
        with pytest.raises(EhcpError, match="cannot use the Dask scheduler") as err:
            _run(store, scheduler=address)
        assert err.value.field == "--scheduler" and "tcp://HOST:PORT" in (err.value.fix or "")
        assert store.runs().empty  # no run was started, so none is left to resume


def test_progress_bar_counts_las_and_shows_an_eta() -> None:
    import io
    import re

    from rich.console import Console

    from forecasting.batch_exec import Progress

    console = Console(file=io.StringIO(), force_terminal=True, width=160, color_system=None)
    bar = Progress(True, total=5, completed=1, run_id="2026Q4-x", console=console)
    with bar:
        bar.advance("Leeds", ok=True)
        time.sleep(0.05)
        bar.advance("York", ok=False)
        shot = Console(file=io.StringIO(), width=160, color_system=None)
        shot.print(bar.progress.get_renderable())
    text = shot.file.getvalue()
    assert "2026Q4-x" in text and "3/5" in text and "York (1 failed)" in text
    assert re.search(r"ETA -?\d+:\d\d:\d\d", text), text
    off = Progress(False, total=5, completed=0, run_id="r")
    with off:
        off.advance("Leeds", ok=True)  # disabled: draws nothing, raises nothing


def test_england_capacity_adds_up_the_las_that_ran() -> None:
    import numpy as np

    from forecasting.batch_summary import national_summary

    with RunStore(":memory:") as store:
        _run(store, fail=[LAS[1]])
        out = national_summary(store, "r1")
        scen = store.table("scenario_summaries", run_id="r1", scenario="baseline")
    per = scen.pivot(index="la", columns="metric", values="value")
    assert LAS[1] not in per.index and len(per) == 4
    (eng,) = out["england_capacity"].to_dict("records")
    assert eng["scenario"] == "baseline" and eng["n_las"] == 4  # the failed LA is not a zero
    assert eng["backlog_start"] == pytest.approx(per["backlog_start"].sum())
    assert eng["backlog_growth"] == pytest.approx(per["backlog_growth"].sum())
    assert eng["las_backlog_growing"] == int((per["backlog_growth"] > 0).sum())
    # The synthetic task reports no end backlog or timeliness: missing, not zero.
    assert np.isnan(eng["backlog_end"]) and np.isnan(eng["pct_within_20wk_median_la"])
    assert out["failed"]["la"].tolist() == [LAS[1]]
