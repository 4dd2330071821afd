"""`ehcp data` commands, run through forecasting.cli.main (exit codes, messages, outputs)."""

from __future__ import annotations

import pandas as pd
import pytest

from forecasting.cli import main

BAD_CSV = {
    "truncated_csv": ("requests.csv", "fewer fields"),
    "missing_column": ("requests.csv", "requests_decided_to_assess"),
    "renamed_header": ("requests.csv", "requests_received_in_year"),
    "text_in_count": ("requests.csv", "requests_received_in_year"),
    "negative_count": ("requests.csv", "requests_decided_not_to_assess"),
    "duplicated_rows": ("requests.csv", "duplicated row"),
    "unknown_la": ("requests.csv", "new_la_code"),
}


@pytest.fixture(scope="module")
def sen2_fixtures(fixtures_dir):
    return fixtures_dir / "sen2"


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_validate_bad_csv_exits_2_naming_file_and_field(case, sen2_fixtures, capsys):
    name, field = BAD_CSV[case]
    path = sen2_fixtures / "bad" / case / name
    assert main(["data", "validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert err.startswith("error:")
    assert str(path) in err and field in err
    assert "row " in err
    assert "INVALID" in out


def test_validate_truncated_zip(sen2_fixtures, capsys):
    path = sen2_fixtures / "bad" / "truncated_zip" / "education-health-and-care-plans_2025.zip"
    assert main(["data", "validate", str(path)]) == 2
    _, err = capsys.readouterr()
    assert "Traceback" not in err and str(path) in err and "not a readable zip" in err


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("truncated_zip", "not a readable zip"),
        ("zip_text_in_count", "field 'requests_received_in_year'"),
    ],
)
def test_show_with_bad_data_dir_exits_2(case, expected, sen2_fixtures, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("EHCP_CACHE_DIR", str(tmp_path))
    folder = sen2_fixtures / "bad" / case
    assert main(["data", "show", "--la", "Leeds", "--data-dir", str(folder)]) == 2
    _, err = capsys.readouterr()
    assert "Traceback" not in err
    assert "education-health-and-care-plans_2025.zip" in err and expected in err


def test_validate_good_fixtures(sen2_fixtures, capsys):
    assert main(["data", "validate", "--data-dir", str(sen2_fixtures / "good")]) == 0
    out, _ = capsys.readouterr()
    assert "2 of 2 files valid" in out and "data/requests.csv" in out


@pytest.mark.slow
def test_validate_real_data(raw_dir, capsys):
    assert main(["data", "validate", "--data-dir", str(raw_dir)]) == 0
    out, _ = capsys.readouterr()
    assert "3 of 3 files valid" in out and "LAs: 159" in out


def test_show_leeds_real_data(capsys):
    assert main(["data", "show", "--la", "leeds"]) == 0
    out, _ = capsys.readouterr()
    assert "Leeds (E08000035)" in out
    assert "2,313" in out and "6,093" in out  # requests 2024, January 2025 stock
    assert "corrected:6078->362" in out
    assert "pct_within_20wk_ex" in out and "12.3" in out


def test_show_unknown_la_suggests(capsys):
    assert main(["data", "show", "--la", "Leedz"]) == 2
    _, err = capsys.readouterr()
    assert "Leeds" in err and "field 'la'" in err and "Traceback" not in err


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_small_panel(suffix, sen2_fixtures, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EHCP_CACHE_DIR", str(tmp_path / "cache"))  # keep tests/fixtures clean
    out = tmp_path / f"panel{suffix}"
    assert main(["data", "export", "--out", str(out), "--data-dir", str(sen2_fixtures / "good")]) == 0
    frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert {"unique_id", "measure", "breakdown", "ds", "y", "flag"} <= set(frame.columns)
    assert len(frame) > 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", out.name]  # no temp file left


def test_export_unknown_suffix(tmp_path, capsys):
    assert main(["data", "export", "--out", str(tmp_path / "panel.xlsx")]) == 2
    _, err = capsys.readouterr()
    assert "--out" in err and ".csv or .parquet" in err


def test_validate_detects_case_level_extract(tmp_path, capsys):
    schema = pytest.importorskip("forecasting.data.caselevel_schema")
    required = [c.name for c in schema.CASE_SCHEMA if c.required]
    path = tmp_path / "extract.csv"
    path.write_text(",".join(required) + "\n" + ",".join("?" for _ in required) + "\n")
    code = main(["data", "validate", str(path)])
    out, err = capsys.readouterr()
    assert "case-level extract" in out
    assert code == 2 and str(path) in err and "Traceback" not in err
