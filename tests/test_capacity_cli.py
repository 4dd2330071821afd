"""`ehcp simulate` end to end on the tiny config (forecasting.cli.simulate)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from forecasting.cli import main


@pytest.mark.slow
def test_simulate_writes_outputs_and_prints_summary(
    fixtures_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], close_figures: None
) -> None:
    out = tmp_path / "sim"
    out.mkdir()
    (out / "cases.csv").write_text("from an earlier run")  # replaced as a whole, not mixed
    code = main(["simulate", "--config", str(fixtures_dir / "capacity" / "tiny.yaml"),
                 "--paths", "3", "--seed", "11", "--out", str(out), "--record-path", "0"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "% in 20 wk" in printed and "reviews overdue" in printed
    names = {p.name for p in out.iterdir()}
    assert names == {"weekly.parquet", "weekly.csv", "diagnostics.csv", "summary_by_year.csv",
                     "cases.csv", "backlog_bands.png"}
    weekly = pd.read_parquet(out / "weekly.parquet")
    assert sorted(weekly["path"].unique().tolist()) == [0, 1, 2]
    assert len(pd.read_csv(out / "weekly.csv")) == len(weekly)
    assert (out / "backlog_bands.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The folder was replaced as a whole and no temporary folder is left behind.
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_out_path_that_is_a_file_is_a_user_error(
    fixtures_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    code = main(["simulate", "--config", str(fixtures_dir / "capacity" / "tiny.yaml"),
                 "--paths", "1", "--out", str(target)])
    err = capsys.readouterr().err
    assert code == 2 and "--out" in err and "Traceback" not in err


@pytest.mark.parametrize(("option", "value"), [("--seed", "-1"), ("--seed", "-99"),
                                               ("--paths", "1000000000")])
def test_out_of_range_seed_or_paths_is_refused_without_a_traceback(
    option: str, value: str, fixtures_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = {"--paths": "1", "--seed": "1", option: value}
    code = main(["simulate", "--config", str(fixtures_dir / "capacity" / "tiny.yaml"),
                 *[x for kv in args.items() for x in kv], "--out", str(tmp_path / "sim")])
    err = capsys.readouterr().err
    assert code == 2 and option in err and "Traceback" not in err
    assert not (tmp_path / "sim").exists()


def test_out_folder_with_other_files_is_left_alone(
    fixtures_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], close_figures: None
) -> None:
    (tmp_path / "notes.docx").write_text("a planner's own file")
    code = main(["simulate", "--config", str(fixtures_dir / "capacity" / "tiny.yaml"),
                 "--paths", "1", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "--out" in err and "notes.docx" in err and "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.docx"]
