"""Loader behaviour on the small committed fixtures (tests/fixtures/sen2, see make_fixtures.py)."""

from __future__ import annotations

import math
import shutil
import zipfile

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.data import load_panel
from forecasting.data.sen2_read import parse_table, read_csv_bytes
from forecasting.data.sen2_schema import age_band, spec_for
from forecasting.errors import EhcpError

LEEDS = "E08000035"


@pytest.fixture(scope="module")
def good_dir(fixtures_dir):
    return fixtures_dir / "sen2" / "good"


@pytest.fixture(scope="module")
def small(good_dir):
    return load_panel(good_dir, cache=False)


def pick(panel, uid, measure, ds):
    rows = panel[(panel["unique_id"] == uid) & (panel["measure"] == measure)
                 & (panel["breakdown"] == "all") & (panel["ds"] == ds)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_both_column_orders_and_bom_are_read(small):
    # 2022-style file: old_la_code before new_la_code, no BOM; 2025-style: BOM, other order.
    assert pick(small, LEEDS, "requests_received", 2020)["y"] == 786
    assert pick(small, LEEDS, "requests_received", 2022)["y"] == 1284
    assert set(small.loc[small["level"] == "la", "old_code"]) == {"383", "380"}


def test_later_release_wins_and_revision_is_visible(small):
    row = pick(small, LEEDS, "requests_received", 2021)
    assert row["y"] == 810 and row["release"] == "2025"
    assert row["revised_from"] == 803 and "revised:803" in row["flag"]
    same = pick(small, "E92000001", "requests_received", 2021)
    assert math.isnan(same["revised_from"]) and "revised" not in same["flag"]


def test_later_gap_falls_back_to_earlier_figure(small):
    # requests_refused 2021: both releases publish it; requests_decided_to_assess 2021 is x.
    gap = pick(small, LEEDS, "requests_decided_to_assess", 2021)
    assert math.isnan(gap["y"]) and gap["flag"].startswith("x:")


def test_implausible_rule_and_switchable_correction(good_dir, small):
    fixed = pick(small, LEEDS, "new_plans", 2022)
    assert fixed["y"] == 362 and "implausible;corrected:6078->362" in fixed["flag"]
    kept = pick(load_panel(good_dir, cache=False, correct_known_errors=False), LEEDS, "new_plans", 2022)
    assert kept["y"] == 6078 and "implausible" in kept["flag"]
    fine = pick(small, "E08000032", "new_plans", 2022)  # Bradford: 796 vs 796 issued
    assert fine["y"] == 796 and "implausible" not in fine["flag"]


def test_break_in_series_flag(small):
    assert "break_in_series" in pick(small, LEEDS, "requests_received", 2022)["flag"]
    assert "break_in_series" not in pick(small, LEEDS, "requests_received", 2021)["flag"]


def test_cache_written_under_interim_and_reused(good_dir, tmp_path):
    data = tmp_path / "raw"
    shutil.copytree(good_dir, data)
    first = load_panel(data)
    cached = list((tmp_path / "interim").glob("sen2_panel_*.parquet"))
    assert len(cached) == 1
    assert sorted(p.name for p in data.iterdir()) == sorted(p.name for p in good_dir.iterdir())
    pd.testing.assert_frame_equal(load_panel(data), first)


def test_next_years_zip_is_discovered_by_pattern(good_dir, tmp_path):
    shutil.copytree(good_dir, tmp_path / "raw")
    src = zipfile.ZipFile(good_dir / "education-health-and-care-plans_2025.zip")
    with zipfile.ZipFile(tmp_path / "raw" / "education-health-and-care-plans_2026.zip", "w") as zf:
        text = src.read("data/requests.csv").decode("utf-8-sig").replace(",1284,", ",1300,")
        zf.writestr("data/requests.csv", text)
    panel = load_panel(tmp_path / "raw", cache=False)
    row = pick(panel, LEEDS, "requests_received", 2022)
    assert row["y"] == 1300 and row["release"] == "2026" and "revised:1284" in row["flag"]


def test_strict_parse_raises_with_file_row_field(fixtures_dir):
    path = fixtures_dir / "sen2" / "bad" / "text_in_count" / "requests.csv"
    df = read_csv_bytes(path.read_bytes(), str(path))
    with pytest.raises(EhcpError) as info:
        parse_table(df, spec_for("requests.csv"), str(path))
    err = info.value
    assert (err.row, err.field) == (4, "requests_received_in_year")
    loose = parse_table(df, spec_for("requests.csv"), str(path), strict=False)
    assert loose.rejected_rows == {4} and len(loose.problems) == 1
    leeds_2021 = (loose.long["unique_id"] == LEEDS) & (loose.long["ds"] == 2021)
    assert not leeds_2021.any() and (loose.long["unique_id"] == "E08000032").any()


@pytest.mark.parametrize(
    ("label", "band"),
    [("Under 5", "under 5"), ("Age 16 to 19", "16-19"), ("age 4", "under 5"), ("Aged 5", "5-10"),
     ("age 10", "5-10"), ("age 11", "11-15"), ("age 19", "16-19"), ("age 25", "20-25"),
     ("Aged 20 and over", "20-25"), ("unknown", "unknown"), ("Total", None)],
)
def test_age_bands(label, band):
    assert age_band(label) == band


@given(st.integers(min_value=0, max_value=25))
@settings(max_examples=30, deadline=None)
def test_single_ages_fall_in_their_band(age):
    band = age_band(f"age {age}")
    low, high = (0, 4) if band == "under 5" else map(int, band.split("-"))
    assert low <= age <= high


@given(st.lists(st.tuples(st.sampled_from(["E10000006", "E06000063", "E06000064", "E08000035"]),
                          st.integers(2020, 2024), st.integers(0, 5000)),
                min_size=1, max_size=20, unique_by=lambda t: t[:2]))
@settings(max_examples=40, deadline=None)
def test_consistent_series_preserves_yearly_totals(rows):
    from forecasting.data import consistent_series

    panel = pd.DataFrame(rows, columns=["unique_id", "ds", "y"]).assign(
        level="la", measure="requests_received", breakdown="all", y=lambda d: d["y"].astype(float)
    )
    out = consistent_series(panel, "requests_received")
    pd.testing.assert_series_equal(
        out.groupby("ds")["y"].sum(), panel.groupby("ds")["y"].sum(), check_names=False
    )
    assert set(out["unique_id"]) <= {"E06000063+E06000064", "E08000035"}


def test_data_dir_from_environment(good_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("EHCP_DATA_DIR", str(good_dir))
    monkeypatch.setenv("EHCP_CACHE_DIR", str(tmp_path))
    panel = load_panel()
    assert set(panel["release"]) == {"2022", "2025"}
    assert list(tmp_path.glob("sen2_panel_*.parquet"))


def test_missing_folder_and_empty_folder(tmp_path):
    with pytest.raises(EhcpError, match="data folder not found"):
        load_panel(tmp_path / "nope", cache=False)
    with pytest.raises(EhcpError, match="no DfE SEN2 zip"):
        load_panel(tmp_path, cache=False)
