"""`ehcp run`: exit codes, one-line user errors, nothing written on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from forecasting.cli import main

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "scenarios"


@pytest.mark.parametrize(
    ("fixture", "words"),
    [
        ("bad_typo.yaml", "field 'costs.pay_inflaton': unknown key. Fix: did you mean 'pay_inflation'?"),
        ("bad_type.yaml", "field 'simulation.years'"),
        ("bad_dates_backwards.yaml", "increasing order"),
        ("bad_negative_fte.yaml", "field 'staff.caseworker.fte[0].fte'"),
        ("bad_override_missing_key.yaml", "the baseline has no such key"),
        ("bad_override_section.yaml", "cannot override section 'staf'"),
    ],
)
def test_bad_config_exits_2_with_one_line_and_writes_nothing(
    fixture: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    code = main(["run", "--config", str(FIXTURES / fixture), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and fixture in err and words in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_existing_output_folder_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    out.mkdir()
    code = main(["run", "--config", str(FIXTURES / "small.yaml"), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "already exists" in err and "--overwrite" in err
    assert list(out.iterdir()) == []


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--config", str(tmp_path / "nope.yaml"), "--no-progress"])
    assert code == 2 and "config file not found" in capsys.readouterr().err


def test_paths_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--config", str(FIXTURES / "small.yaml"), "--out", str(tmp_path / "r"),
                 "--paths", "0", "--no-progress"])
    assert code == 2 and "--paths" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::forecasting.errors.EhcpWarning")
def test_a_small_run_prints_the_summary_and_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "report"
    code = main(["run", "--config", str(FIXTURES / "small.yaml"), "--out", str(out), "--paths", "2",
                 "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0
    assert (out / "report.html").is_file() and (out / "report.xlsx").is_file()
    for name in ("baseline", "extra_2_eps", "early_help_minus_10pct", "Optimiser:", "report.html"):
        assert name in printed


def test_summary_prints_the_calibration_and_the_phased_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    import pandas as pd

    from forecasting.pipeline import RunResult

    figures = {"plans_issued": 773.0, "requests_decided": 2028.0, "reviews_decided": 2159.0,
               "pct_within_20wk": 9.34}
    cal = SimpleNamespace(year=2024, factors={"ep": 0.384, "caseworker": 0.41}, converged=True,
                          published=figures, replay={**figures, "pct_within_20wk": 0.04})
    phased = SimpleNamespace(message="Phased plan by financial year: 2026-27: +1 EP.")
    result = RunResult(out=tmp_path, run_id="r", summary=pd.DataFrame({"scenario": ["baseline"]}),
                       calibration=cal, phased=phased)
    monkeypatch.setattr("forecasting.pipeline.run_pipeline", lambda *a, **k: result)
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["run", "--config", str(FIXTURES / "small.yaml"), "--no-progress"]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert ("Calibration (CY 2024, DfE SEN2): productivity factors EP 0.38, caseworker 0.41; "
            "replay vs published: new plans 773 vs 773") in printed
    assert "% of new plans within 20 weeks 0.0% vs 9.3%" in printed
    assert "Optimiser: Phased plan by financial year: 2026-27: +1 EP." in printed
