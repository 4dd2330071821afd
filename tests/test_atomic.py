"""Atomic outputs: a write error part-way (a full disk, simulated by a writer that writes half a
file and raises ``OSError(ENOSPC)``) or a failed rename leaves the previous export, extract,
report folder, simulation folder, panel cache or run store exactly as it was, with no
temporary files behind, and the CLI says so without a traceback."""

from __future__ import annotations

import errno
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from forecasting.cli import main
from forecasting.errors import EhcpError, EhcpWarning

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOOD = FIXTURES / "sen2" / "good"


def disk_full(real: Callable[..., Any]) -> Callable[..., Any]:
    """A writer that writes a little of its file, then fails as a full disk does."""

    def write(self: Any, path: Any = None, *args: Any, **kwargs: Any) -> Any:
        if path is not None and not hasattr(path, "write"):
            Path(path).write_bytes(b"half a fi")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    return write


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file (and folder, as b'') under ``folder``, hidden ones included."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else b"")
            for p in sorted(folder.rglob("*"))}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder outside the output folder for the panel cache, primed once."""
    from forecasting.data import load_panel

    monkeypatch.setenv("EHCP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("EHCP_DATA_DIR", str(GOOD))
    load_panel(GOOD)  # the cache is written now, not while a writer is broken
    out = tmp_path / "out"
    out.mkdir()
    return out


@pytest.mark.parametrize(("suffix", "writer"), [(".csv", "to_csv"), (".parquet", "to_parquet")])
def test_export_disk_full_keeps_the_previous_file(
    suffix: str, writer: str, env: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = env / f"panel{suffix}"
    assert main(["data", "export", "--out", str(target)]) == 0
    before = snapshot(env)
    monkeypatch.setattr(pd.DataFrame, writer, disk_full(getattr(pd.DataFrame, writer)))
    capsys.readouterr()
    assert main(["data", "export", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(target) in err and "No space left" in err
    assert snapshot(env) == before


def test_synthetic_extract_pair_survives_a_failed_rewrite(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["cases", "synth", "--la", "Leeds", "--out", str(env), "--seed", "1",
            "--start", "2022-01-01", "--end", "2022-06-30"]
    assert main(args) == 0
    before = snapshot(env)
    assert sorted(before) == ["leeds_case_extract_synthetic.csv",
                              "leeds_case_extract_synthetic.meta.json"]
    # The sidecar is written after the CSV: failing there must not leave a new CSV beside
    # the old sidecar (the pair would disagree on seed and rows).
    def full(self: Path, *args: Any, **kwargs: Any) -> int:
        self.write_bytes(b"{half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_text", full)
    capsys.readouterr()
    assert main([*args[:-4], "--seed", "2", *args[-4:]]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "meta.json" in err and "No space left" in err
    assert snapshot(env) == before


def test_synthetic_extract_csv_disk_full(env: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(pd.DataFrame, "to_csv", disk_full(pd.DataFrame.to_csv))
    code = main(["cases", "synth", "--la", "Leeds", "--out", str(env), "--start", "2022-01-01",
                 "--end", "2022-03-31"])
    assert code == 2 and "No space left" in capsys.readouterr().err
    assert snapshot(env) == {}


def test_panel_cache_write_failure_is_a_warning_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forecasting.data import load_panel

    monkeypatch.setenv("EHCP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(pd.DataFrame, "to_parquet", disk_full(pd.DataFrame.to_parquet))
    with pytest.warns(EhcpWarning, match="could not write the panel cache"):
        panel = load_panel(GOOD)
    assert len(panel) > 10
    assert snapshot(tmp_path / "cache") == {}


def test_panel_cache_interrupted_write_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forecasting.data import load_panel

    def interrupted(self: Any, path: Any, *args: Any, **kwargs: Any) -> None:
        Path(path).write_bytes(b"PAR1 half")
        raise KeyboardInterrupt

    monkeypatch.setenv("EHCP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(pd.DataFrame, "to_parquet", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_panel(GOOD)
    assert snapshot(tmp_path / "cache") == {}


# --- report folders (forecasting.reporting) -------------------------------------------------

def _bundle() -> Any:
    from matplotlib.figure import Figure

    from forecasting.reporting.bundle import Chart, ReportBundle, Table

    fig = Figure()
    fig.subplots().plot([1, 2])
    return ReportBundle("t", "run1", {"LA": "Leeds"},
                        tables=[Table("x", "X", pd.DataFrame({"FY 2026-27 (£)": [1.0]}))],
                        charts=[Chart("c", "C", fig)])


def test_report_rewrite_disk_full_keeps_the_previous_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, close_figures: None
) -> None:
    from forecasting.reporting import bundle as bundle_module
    from forecasting.reporting import xlsx

    out = tmp_path / "report"
    bundle_module.write_report(_bundle(), out)
    before = snapshot(tmp_path)

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(xlsx, "write_workbook", full)
    with pytest.raises((OSError, EhcpError)):
        bundle_module.write_report(_bundle(), out, overwrite=True)
    assert snapshot(tmp_path) == before


def _fail_rename_into(target: Path, real: Callable[..., Any]) -> Callable[..., Any]:
    """``os.replace``/``Path.rename`` that fails only when the new folder moves onto target."""

    def rename(src: Any, dst: Any) -> Any:
        if Path(dst) == target and Path(src).name.startswith("."):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real(src, dst)

    return rename


def test_report_failed_swap_keeps_the_previous_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, close_figures: None
) -> None:
    from forecasting.reporting.bundle import write_report

    out = tmp_path / "report"
    write_report(_bundle(), out)
    before = snapshot(tmp_path)
    monkeypatch.setattr(os, "replace", _fail_rename_into(out, os.replace))
    with pytest.raises((OSError, EhcpError)):
        write_report(_bundle(), out, overwrite=True)
    assert snapshot(tmp_path) == before


# --- simulation folders (forecasting.capacity.ehcp_summary) ---------------------------------

@pytest.fixture(scope="module")
def sim_result() -> Any:
    from forecasting.capacity.config import load_capacity_config
    from forecasting.capacity.simulate import simulate_capacity

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EhcpWarning)
        return simulate_capacity(load_capacity_config(FIXTURES / "capacity" / "tiny.yaml"),
                                 n_paths=1, seed=3)


def test_simulation_rewrite_disk_full_keeps_the_previous_folder(
    sim_result: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, close_figures: None
) -> None:
    from forecasting.capacity.ehcp_summary import write_simulation

    out = tmp_path / "sim"
    write_simulation(sim_result, out)
    before = snapshot(tmp_path)
    monkeypatch.setattr(pd.DataFrame, "to_csv", disk_full(pd.DataFrame.to_csv))
    with pytest.raises((OSError, EhcpError)):
        write_simulation(sim_result, out)
    assert snapshot(tmp_path) == before


def test_simulation_failed_swap_keeps_the_previous_folder(
    sim_result: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, close_figures: None
) -> None:
    from forecasting.capacity.ehcp_summary import write_simulation

    out = tmp_path / "sim"
    write_simulation(sim_result, out)
    before = snapshot(tmp_path)
    # Whichever way the folder is moved into place, that move fails.
    real = Path.rename
    monkeypatch.setattr(Path, "rename", lambda self, dst: _fail_rename_into(out, real)(self, dst))
    monkeypatch.setattr(os, "replace", _fail_rename_into(out, os.replace))
    with pytest.raises((OSError, EhcpError)):
        write_simulation(sim_result, out)
    assert snapshot(tmp_path) == before


# --- the run store (forecasting.store) ------------------------------------------------------

class _FailingConnection:
    """Forwards to a DuckDB connection but fails the tasks-row insert, after the deletes ran."""

    def __init__(self, con: Any) -> None:
        self._con = con

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("INSERT INTO tasks"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self._con.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def test_store_write_failing_mid_transaction_keeps_the_earlier_rows(tmp_path: Path) -> None:
    from forecasting.store import LaResult, RunStore

    def result(scale: float) -> LaResult:
        fc = pd.DataFrame({"unique_id": "leeds/requests", "measure": "requests",
                           "ds": [2025, 2026], "yhat": [10.0 * scale, 11.0 * scale],
                           "lo_80": [8.0, 9.0], "hi_80": [12.0, 13.0], "model": "drift"})
        return LaResult("leeds", {"forecasts": fc}, la_name="Leeds", seconds=0.5)

    path = tmp_path / "runs.duckdb"
    with RunStore(path) as store:
        store.start_run("r1", quarter="2026Q4", data_checksum="d", config_checksum="c",
                        code_version="v", n_las=1)
        store.write_result("r1", result(1.0))
        before = {k: v.copy() for k, v in store.snapshot().items()}
        real = store.con
        store.con = _FailingConnection(real)  # type: ignore[assignment]
        with pytest.raises(OSError):
            store.write_result("r1", result(5.0))
        store.con = real
    with RunStore(path, read_only=True) as store:
        after = store.snapshot()
    assert set(after) == set(before)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(after[name], frame, check_dtype=False)
    assert after["forecasts"]["yhat"].tolist() == [10.0, 11.0]


# --- whole commands: a full disk is a message, not a traceback -------------------------------

def run_cli(args: list[str]) -> int | str:
    """``main(args)``, or the name of the exception that escaped it (a traceback for a user)."""
    try:
        return main(args)
    except Exception as err:  # the point is to see what escapes
        return type(err).__name__


def test_simulate_disk_full_is_a_message_and_keeps_the_previous_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    close_figures: None,
) -> None:
    out = tmp_path / "sim"
    out.mkdir()
    (out / "weekly.csv").write_text("from an earlier run\n")
    before = snapshot(tmp_path)
    monkeypatch.setattr(pd.DataFrame, "to_csv", disk_full(pd.DataFrame.to_csv))
    code = run_cli(["simulate", "--config", str(FIXTURES / "capacity" / "tiny.yaml"),
                    "--paths", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert snapshot(tmp_path) == before
    assert code == 2 and "Traceback" not in err and "No space left" in err and "sim" in err


@pytest.mark.slow
def test_run_disk_full_is_a_message_and_keeps_the_previous_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    close_figures: None,
) -> None:
    from forecasting.reporting import xlsx

    monkeypatch.setenv("EHCP_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.html").write_text("<p>last quarter's report</p>")
    before = snapshot(out)

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(xlsx, "write_workbook", full)
    code = run_cli(["run", "--config", str(FIXTURES / "scenarios" / "small.yaml"), "--out",
                    str(out), "--overwrite", "--paths", "2", "--data-dir", str(GOOD),
                    "--no-progress"])
    err = capsys.readouterr().err
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "report"]
    assert code == 2 and "Traceback" not in err and "No space left" in err
