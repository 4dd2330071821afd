"""Loading and validating case-level extracts, and the CLI's answer to bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecasting.cli import main
from forecasting.data.caselevel import load_extract, validate_extract
from forecasting.data.caselevel_schema import CASE_SCHEMA, schema_table
from forecasting.errors import EhcpError

ROOT = Path(__file__).resolve().parents[1]
CASES = Path(__file__).resolve().parent / "fixtures" / "cases"
TODAY = "2024-12-31"

# fixture -> (field the message must name, row it must name or None for file-level problems)
BAD_FILES = {
    "missing_column.csv": ("decision", 1),
    "renamed_header.csv": ("request_date", 1),
    "text_in_date.csv": ("decision_date", 4),
    "excel_serial_date.csv": ("final_date", 2),
    "ambiguous_date.csv": ("request_date", 3),
    "dates_out_of_order.csv": ("decision_date", 5),
    "future_date.csv": ("draft_date", 8),
    "unknown_need.csv": ("primary_need", 7),
    "duplicate_case_id.csv": ("case_id", 3),
    "empty.csv": (None, None),
    "semicolon.csv": (None, 1),
}


def test_good_fixture_loads_every_row() -> None:
    ext = load_extract(CASES / "good.csv", today=TODAY)
    assert len(ext.frame) == 8 and ext.rejects.empty
    assert list(ext.frame.columns) == [c.name for c in CASE_SCHEMA]
    assert ext.frame["request_date"].dtype == "datetime64[ns]"
    assert ext.frame.loc[0, "final_date"] == pd.Timestamp("2024-05-20")
    # Blank optional cells become missing / False, not text.
    assert ext.frame["exception"].tolist() == [False, False, True, False, False, False, False,
                                               False]
    assert ext.synthetic is False


def test_uk_export_with_bom_and_title_case_headers_matches_iso() -> None:
    iso = load_extract(CASES / "good.csv", today=TODAY).frame
    uk = load_extract(CASES / "good_uk_bom.csv", today=TODAY).frame
    pd.testing.assert_frame_equal(uk, iso)


def test_parquet_round_trip(tmp_path: Path) -> None:
    frame = load_extract(CASES / "good.csv", today=TODAY).frame
    path = tmp_path / "cases.parquet"
    frame.to_parquet(path)
    pd.testing.assert_frame_equal(load_extract(path, today=TODAY).frame, frame)


def test_non_strict_returns_rejects_with_reasons() -> None:
    ext = load_extract(CASES / "duplicate_case_id.csv", today=TODAY, strict=False)
    assert ext.rejects["row"].tolist() == [3, 9]
    assert ext.rejects["case_id"].tolist() == ["C002", "C002"]
    assert "appears on rows 3, 9" in ext.rejects["reason"][0]
    assert len(ext.frame) + len(ext.rejects) == 8


def test_one_row_with_several_problems_is_one_reject(tmp_path: Path) -> None:
    text = (CASES / "good.csv").read_text().replace("C002,2024-01-15,2024-02-20,not_assess",
                                                    "C002,2024-01-15,2023-02-20,maybe")
    path = tmp_path / "two_problems.csv"
    path.write_text(text)
    ext = load_extract(path, today=TODAY, strict=False)
    assert ext.rejects["row"].tolist() == [3]
    assert ext.rejects["field"][0] == "decision, decision_date"
    assert ext.rejects["reason"][0].startswith("decision: 'maybe' is not a known code")


def test_future_is_relative_to_today() -> None:
    # The same file is fine a few months later.
    assert len(load_extract(CASES / "future_date.csv", today="2025-03-01").frame) == 8


def test_validate_extract_reports_instead_of_raising() -> None:
    good = validate_extract(CASES / "good.csv", today=TODAY)
    assert good.ok and good.n_rows == 8 and good.n_valid == 8
    bad = validate_extract(CASES / "unknown_need.csv", today=TODAY)
    assert not bad.ok and bad.n_valid == 7 and bad.rejects["row"].tolist() == [7]
    assert "row 7 (case_id 'C006'): 'ADHD' is not a known code" in bad.format()
    broken = validate_extract(CASES / "semicolon.csv")
    assert not broken.ok and "semicolons" in broken.errors[0]


def test_schema_doc_has_the_schema_table() -> None:
    doc = (ROOT / "docs" / "case-level-schema.md").read_text(encoding="utf-8")
    assert schema_table() in doc


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_cli_rejects_bad_file(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    field, row = BAD_FILES[name]
    path = tmp_path / name
    shutil.copy(CASES / name, path)
    monkeypatch.chdir(tmp_path)
    status = main(["cases", "summary", str(path), "--today", TODAY])
    captured = capsys.readouterr()
    assert status == 2
    assert "Traceback" not in captured.err
    assert captured.err.startswith(f"error: {path}")
    if field is not None:
        assert f"field '{field}'" in captured.err
    if row is not None:
        assert f"row {row}" in captured.err
    assert captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # nothing written


def test_cli_errors_name_the_problem(capsys: pytest.CaptureFixture[str]) -> None:
    expected = {
        "renamed_header.csv": "rename 'date_of_request' to 'request_date'",
        "excel_serial_date.csv": "Excel serial number (it would be 2024-05-20)",
        "ambiguous_date.csv": "two-digit year",
        "semicolon.csv": "separated by semicolons",
        "empty.csv": "the file is empty",
    }
    for name, words in expected.items():
        assert main(["cases", "summary", str(CASES / name), "--today", TODAY]) == 2
        assert words in capsys.readouterr().err, name


def test_cli_keep_going_prints_rejects_and_summary(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["cases", "summary", str(CASES / "unknown_need.csv"), "--today", TODAY,
                   "--as-of", TODAY, "--keep-going"])
    captured = capsys.readouterr()
    assert status == 0
    assert "row 7 (case_id 'C006')" in captured.err
    assert "7 requests from 2024-01-08" in captured.out
    assert "Open cases on 2024-12-31: 2;" in captured.out  # C006 was rejected


def test_cli_summary_default_as_of_is_the_latest_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cases", "summary", str(CASES / "good.csv")]) == 0
    out = capsys.readouterr().out
    # C008's request (2 December 2024) is the latest date in the file.
    assert "Open cases on 2024-12-02: 3;" in out
    assert "SYNTHETIC" not in out


def test_cli_validate_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cases", "validate", str(CASES / "good.csv"), "--today", TODAY]) == 0
    assert "8 rows: 8 valid, 0 rejected" in capsys.readouterr().out
    assert main(["cases", "validate", str(CASES / "dates_out_of_order.csv"),
                 "--today", TODAY]) == 2
    assert "row 5" in capsys.readouterr().err


def test_missing_file_is_a_user_error() -> None:
    with pytest.raises(EhcpError, match="file not found"):
        load_extract(CASES / "no_such_file.csv")


# Cells that break a row, by column; anything else in a row stays valid.
_CORRUPT = {
    "request_date": ["", "TBC", "45123", "1/2/24", "2030-01-01", "31/02/2024"],
    "decision": ["maybe", "ASSESS", ""],
    "primary_need": ["ADHD", "asd", ""],
    "age": ["-1", "7.5", "30", ""],
    "final_date": ["2023-01-01", "2099-01-01", "nope"],
}


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    picks=st.lists(
        st.tuples(st.integers(0, 7), st.sampled_from(sorted(_CORRUPT)), st.integers(0, 5),
                  st.booleans()),
        min_size=1, max_size=30,
    )
)
def test_loaded_plus_rejected_is_every_input_row(
    picks: list[tuple[int, str, int, bool]], tmp_path: Path
) -> None:
    base = pd.read_csv(CASES / "good.csv", dtype=str, keep_default_na=False)
    rows = []
    for i, (src, col, which, corrupt) in enumerate(picks):
        row = base.iloc[src].copy()
        row["case_id"] = f"X{i}" if i % 7 else row["case_id"]  # some duplicate ids too
        if corrupt:
            options = _CORRUPT[col]
            row[col] = options[which % len(options)]
        rows.append(row)
    frame = pd.DataFrame(rows)
    path = tmp_path / "cases.csv"
    frame.to_csv(path, index=False)
    ext = load_extract(path, today=TODAY, strict=False)
    assert len(ext.frame) + len(ext.rejects) == len(frame)
    assert ext.rejects["row"].is_unique
    assert set(ext.frame["case_id"]).isdisjoint(set(ext.rejects["case_id"]))
