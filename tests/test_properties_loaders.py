"""Property tests of the loaders, beyond the count check in tests/test_caselevel.py: a bad row
is never dropped silently, it is rejected *by number*, exactly the rows that were spoiled, and
strict loading raises on one of them; written tables read back to what was written."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecasting.data.caselevel import load_extract
from forecasting.data.export import write_table
from forecasting.data.sen2_read import parse_table, read_csv_bytes
from forecasting.data.sen2_schema import spec_for
from forecasting.errors import EhcpError
from forecasting.reporting.outputs import neutralise_frame

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

with zipfile.ZipFile(FIXTURES / "sen2" / "good" / "education-health-and-care-plans_2025.zip") as _z:
    REQUESTS = _z.read("data/requests.csv").decode("utf-8-sig")
HEADER = REQUESTS.splitlines()[0].split(",")
ROWS = [line.split(",") for line in REQUESTS.splitlines()[1:]]
#: The count columns the loader reads (others, like requests_rya, are not used).
COUNT_COLUMNS = sorted({col for block in spec_for("requests.csv").blocks  # type: ignore[union-attr]
                        for col, _, _ in block.columns} & set(HEADER))
#: Values that spoil a count cell, whatever the row.
BAD_COUNTS = ["abc", "-5", "12.5", "1.2E+03", "99999999999", "£12", "n/a"]


def _sen2_csv(rows: list[list[str]]) -> bytes:
    return ("\n".join([",".join(HEADER), *(",".join(r) for r in rows)]) + "\n").encode()


spoils = st.lists(st.tuples(st.integers(0, len(ROWS) - 1), st.sampled_from(COUNT_COLUMNS),
                            st.sampled_from(BAD_COUNTS)), max_size=6)


@SETTINGS
@given(spoil=spoils)
def test_sen2_rejects_exactly_the_spoiled_rows(spoil: list[tuple[int, str, str]]) -> None:
    rows = [list(r) for r in ROWS]
    for i, col, value in spoil:
        rows[i][HEADER.index(col)] = value
    spoiled = {i + 2 for i, _, _ in spoil}  # 1-based file rows; the header is row 1
    df = read_csv_bytes(_sen2_csv(rows), "requests.csv")
    parsed = parse_table(df, spec_for("requests.csv"), "requests.csv", strict=False)
    assert parsed.rows_read == len(ROWS)
    assert parsed.rejected_rows == spoiled
    assert {e.row for e in parsed.problems} == spoiled
    assert all(e.field in COUNT_COLUMNS and e.file == "requests.csv" for e in parsed.problems)
    # Every row that was not rejected reaches the long table: nothing else went missing.
    kept = {(r[HEADER.index("new_la_code")] or r[HEADER.index("region_code")]
             or r[HEADER.index("country_code")], int(r[0]))
            for n, r in enumerate(rows, start=2) if n not in spoiled}
    assert set(zip(parsed.long["unique_id"], parsed.long["ds"], strict=True)) == kept
    if spoiled:
        with pytest.raises(EhcpError) as info:
            parse_table(df, spec_for("requests.csv"), "requests.csv")
        assert info.value.row in spoiled
    else:
        assert parse_table(df, spec_for("requests.csv"), "requests.csv").problems == []


CASES = (FIXTURES / "cases" / "good.csv").read_text().splitlines()
CASE_HEADER = CASES[0].split(",")
#: (column, bad value) pairs each of which makes any row of good.csv invalid.
BAD_CASE_CELLS = [("age", "-1"), ("age", "seven"), ("primary_need", "ADHD"),
                  ("request_date", "45299"), ("request_date", "2099-01-01"),
                  ("request_date", "31/02/2024"), ("setting", "£ independent"),
                  ("exception", "maybe")]


@SETTINGS
@given(picks=st.lists(st.tuples(st.integers(0, len(CASES) - 2),
                                st.sampled_from(BAD_CASE_CELLS) | st.none()),
                      min_size=1, max_size=25))
def test_extract_rejects_exactly_the_spoiled_rows(
    picks: list[tuple[int, tuple[str, str] | None]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    lines, spoiled = [CASES[0]], set()
    for n, (src, bad) in enumerate(picks):
        cells = CASES[src + 1].split(",")
        cells[0] = f"R{n}"  # unique ids: only the spoiled cells are wrong
        if bad is not None:
            cells[CASE_HEADER.index(bad[0])] = bad[1]
            spoiled.add(n + 2)
        lines.append(",".join(cells))
    path = tmp_path_factory.mktemp("x") / "extract.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ext = load_extract(path, today="2025-01-31", strict=False)
    assert set(ext.rejects["row"]) == spoiled
    assert ext.frame["case_id"].tolist() == [f"R{n - 2}" for n in range(2, len(lines) + 1)
                                             if n not in spoiled]
    if spoiled:
        with pytest.raises(EhcpError) as info:
            load_extract(path, today="2025-01-31")
        assert info.value.row in spoiled and info.value.file == str(path)


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                max_size=20) | st.sampled_from(["=1+1", "+44 113", "-x", "@SUM(A1)",
                                                "Leeds, City of", 'say "hi"', "£1,000"])


@SETTINGS
@given(rows=st.lists(st.tuples(names, st.integers(2010, 2030),
                               st.floats(0, 1e6) | st.just(float("nan"))),
                     min_size=1, max_size=15))
def test_export_round_trips(rows: list[tuple[str, int, float | None]],
                            tmp_path_factory: pytest.TempPathFactory) -> None:
    df = pd.DataFrame(rows, columns=["name", "ds", "y"]).astype({"y": "float64"})
    folder = tmp_path_factory.mktemp("rt")
    back = pd.read_parquet(write_table(df, folder / "t.parquet"))
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    text = pd.read_csv(write_table(df, folder / "t.csv"), dtype={"name": str},
                       keep_default_na=False, na_values={"y": [""]})
    expected = neutralise_frame(df)
    assert text["name"].tolist() == expected["name"].astype(str).tolist()
    assert text["ds"].tolist() == df["ds"].tolist()
    pd.testing.assert_series_equal(text["y"], df["y"], check_names=False)
    assert sorted(p.name for p in folder.iterdir()) == ["t.csv", "t.parquet"]


def test_spoiled_sen2_zip_is_refused_by_the_panel(tmp_path: Path) -> None:
    from forecasting.data import load_panel

    rows = [list(r) for r in ROWS]
    rows[3][HEADER.index("requests_withdrawn")] = "1.5"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("data/requests.csv", _sen2_csv(rows))
    (tmp_path / "education-health-and-care-plans_2025.zip").write_bytes(buf.getvalue())
    with pytest.raises(EhcpError) as info:
        load_panel(tmp_path, cache=False)
    assert (info.value.row, info.value.field) == (5, "requests_withdrawn")
