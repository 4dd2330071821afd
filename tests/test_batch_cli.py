"""`ehcp batch` and `ehcp history` from the command line, on the embedded DfE data."""

from __future__ import annotations

from pathlib import Path

import pytest

from forecasting.cli import main


def _config(tmp: Path) -> Path:
    path = tmp / "batch.yaml"
    path.write_text(
        f"store: {tmp / 'runs.duckdb'}\nout_dir: {tmp / 'reports'}\nmodels_dir: {tmp / 'models'}\n"
        "include_national: false\n"
        "forecast: {measures: [requests_received], horizon: 2, model: drift}\n"
        "backtest: {h: 1, n_windows: 1, models: [naive]}\n"
        "scenarios: {file: null}\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_batch_then_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path)
    args = ["batch", "--config", str(cfg), "--la", "York", "--la", "rutland", "--workers", "1",
            "--no-progress"]
    assert main([*args, "--quarter", "2022Q4", "--history-end", "2022"]) == 0
    out = capsys.readouterr().out
    assert "finished; 2 done, 0 already done, 0 failed" in out
    assert "capacity scenarios skipped" in out
    assert main([*args, "--quarter", "2022Q4", "--history-end", "2022"]) == 0
    assert "ran run" in capsys.readouterr().out  # a finished run is not resumed: a new vintage
    ranking = list((tmp_path / "reports").glob("2022Q4-*/national/la_ranking.csv"))
    assert len(ranking) == 2
    assert main(["history", "--store", str(tmp_path / "runs.duckdb"), "--runs"]) == 0
    assert capsys.readouterr().out.count("2022Q4-") == 2
    assert main(["history", "--store", str(tmp_path / "runs.duckdb"), "--la", "York",
                 "--measure", "requests"]) == 0
    out = capsys.readouterr().out
    assert "York (E06000014)" in out and "inside_80" in out and "2023" in out
    assert main(["history", "--store", str(tmp_path / "runs.duckdb"), "--la", "York",
                 "--measure", "requestz"]) == 2
    assert "unknown measure 'requestz'" in capsys.readouterr().err


def test_batch_needs_las(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", "--config", str(_config(tmp_path))]) == 2
    assert "give --la NAME (repeatable) or --all" in capsys.readouterr().err


def test_history_without_store_is_a_user_error(tmp_path: Path, capsys) -> None:
    assert main(["history", "--store", str(tmp_path / "none.duckdb"), "--runs"]) == 2
    assert "run store does not exist" in capsys.readouterr().err


def _york_fails(inp):
    from forecasting.batch_la import la_task

    if inp.la_name == "York":
        raise RuntimeError("no staff file for York")
    return la_task(inp)


@pytest.mark.slow
def test_failed_la_is_listed_with_its_reason_and_the_others_finish(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    import forecasting.batch_main as batch_main

    monkeypatch.setattr(batch_main, "_la_task", lambda: _york_fails)
    args = ["batch", "--config", str(_config(tmp_path)), "--la", "York", "--la", "Rutland",
            "--workers", "1", "--no-progress", "--quarter", "2026Q4"]
    assert main(args) == 1  # some LA failed: exit 1, after the others finished
    out = capsys.readouterr().out
    assert "finished_with_errors; 1 done, 0 already done, 1 failed" in out
    assert "failed E06000014: RuntimeError: no staff file for York" in out
    (national,) = (tmp_path / "reports").glob("2026Q4-*/national")
    failed = pd.read_csv(national / "failed.csv")
    assert failed["la_name"].tolist() == ["York"]
    assert "no staff file for York" in failed["error"].iloc[0]
    assert pd.read_csv(national / "la_ranking.csv")["la_name"].tolist() == ["Rutland"]


def test_bad_scheduler_is_refused_before_reading_data(tmp_path: Path, capsys) -> None:
    cfg = _config(tmp_path)
    assert main(["batch", "--config", str(cfg), "--la", "York",
                 "--scheduler", "localhost:notaport"]) == 2
    err = capsys.readouterr().err
    assert "cannot use the Dask scheduler at localhost:notaport" in err
    assert "tcp://HOST:PORT" in err
    assert not (tmp_path / "runs.duckdb").exists()  # no run was started


@pytest.mark.slow
def test_batch_with_scenarios_prints_england_and_the_ranking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    small = Path(__file__).parent / "fixtures" / "scenarios" / "small.yaml"
    cfg = _config(tmp_path)
    cfg.write_text(cfg.read_text().replace(
        "scenarios: {file: null}", f"scenarios: {{file: {small}, names: [baseline]}}"))
    assert main(["batch", "--config", str(cfg), "--la", "Rutland", "--la", "York", "--paths",
                 "3", "--workers", "1", "--no-progress", "--quarter", "2026Q4"]) == 0
    out = capsys.readouterr().out
    assert "LAs ranked by capacity scenario baseline (top 10):" in out
    assert "England, scenario baseline summed over 2 LAs: backlog " in out
    (national,) = (tmp_path / "reports").glob("2026Q4-*/national")
    eng = pd.read_csv(national / "england_capacity.csv")
    rank = pd.read_csv(national / "la_ranking.csv")
    assert eng["n_las"].tolist() == [2]
    assert eng["backlog_end"].iloc[0] == pytest.approx(rank["backlog_end"].sum())
