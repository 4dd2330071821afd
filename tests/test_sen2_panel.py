"""The SEN2 panel built from the embedded DfE zips: figures checked against DOMAIN.md / DfE."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from forecasting.data import (
    PANEL_COLUMNS,
    consistent_series,
    find_la,
    la_names,
    load_panel,
    series,
)
from forecasting.errors import EhcpError

ENGLAND = "E92000001"
LEEDS = "E08000035"


@pytest.fixture(scope="session")
def panel(raw_dir) -> pd.DataFrame:
    # The Parquet cache under data/interim makes every load after the first one fast.
    return load_panel(raw_dir)


@pytest.fixture(scope="session")
def raw_panel(raw_dir) -> pd.DataFrame:
    return load_panel(raw_dir, correct_known_errors=False)


def value(panel, uid, measure, ds, breakdown="all"):
    rows = panel[
        (panel["unique_id"] == uid)
        & (panel["measure"] == measure)
        & (panel["breakdown"] == breakdown)
        & (panel["ds"] == ds)
    ]
    assert len(rows) == 1, (uid, measure, ds, breakdown, len(rows))
    return rows.iloc[0]


def test_columns_and_types(panel):
    assert list(panel.columns) == PANEL_COLUMNS
    assert panel["ds"].dtype == "int64"
    assert panel["y"].dtype == "float64"
    assert set(panel["level"]) == {"national", "regional", "la"}
    assert not panel.duplicated(["unique_id", "measure", "breakdown", "ds"]).any()


def test_england_requests_2016_2024_match_dfe(panel):
    got = series(panel, "requests_received", level="national").set_index("ds")["y"]
    expected = [55235, 64555, 72423, 82329, 75951, 93302, 114482, 138242, 154489]
    assert got.loc[2016:2024].tolist() == expected


def test_england_stock_january_2025(panel):
    assert value(panel, ENGLAND, "stock_plans", 2025)["y"] == 638745
    # January 2017 stock (statements + EHC plans), DOMAIN.md "2016, stock Jan next yr".
    assert value(panel, ENGLAND, "stock_plans", 2017)["y"] == 287290


def test_at_least_150_las_have_requests(panel):
    las = series(panel, "requests_received", level="la", dropna=True)["unique_id"].nunique()
    assert las >= 150


@pytest.mark.parametrize(
    ("measure", "ds", "expected"),
    [
        ("requests_received", 2016, 636),
        ("requests_received", 2019, 953),
        ("requests_received", 2024, 2313),
        ("stock_plans", 2025, 6093),
        ("new_plans", 2016, 365),
        ("new_plans", 2024, 773),
    ],
)
def test_leeds_figures_from_domain(panel, measure, ds, expected):
    assert value(panel, LEEDS, measure, ds)["y"] == expected


def test_leeds_2022_new_plans_flagged_and_corrected(panel, raw_panel):
    fixed = value(panel, LEEDS, "new_plans", 2022)
    assert fixed["y"] == 362
    assert "implausible" in fixed["flag"] and "corrected:6078->362" in fixed["flag"]
    raw = value(raw_panel, LEEDS, "new_plans", 2022)
    assert raw["y"] == 6078
    assert "implausible" in raw["flag"] and "corrected" not in raw["flag"]


def test_missing_codes_are_nan_with_reason_never_zero(panel):
    row = value(panel, ENGLAND, "requests_received", 2015)
    assert math.isnan(row["y"]) and row["flag"].startswith("z:")
    missing = panel[panel["y"].isna()]
    assert (missing["flag"] != "").all()


def test_overlap_takes_later_release_and_keeps_revision(panel):
    # Calendar 2019-2021 flows are in both releases: the 2025 release wins.
    row = value(panel, ENGLAND, "requests_received", 2019)
    assert row["release"] == "2025" and row["source"].endswith("requests.csv")
    revised = panel[panel["flag"].str.contains("revised:")]
    assert len(revised) > 0
    assert revised["revised_from"].notna().all()
    assert (revised["revised_from"] != revised["y"]).all()
    assert value(panel, ENGLAND, "requests_received", 2016)["release"] == "2022"


def test_break_in_series_on_first_person_level_year(panel):
    assert "break_in_series" in value(panel, ENGLAND, "requests_received", 2022)["flag"]
    assert "break_in_series" in value(panel, ENGLAND, "stock_plans", 2023)["flag"]
    assert "break_in_series" not in value(panel, ENGLAND, "stock_plans", 2022)["flag"]


def test_breakdowns_by_need_age_placement(panel):
    needs = panel[(panel["unique_id"] == ENGLAND) & (panel["measure"] == "stock_plans")
                  & panel["breakdown"].str.startswith("need:") & (panel["ds"] == 2025)]
    assert value(panel, ENGLAND, "stock_plans", 2025, "need:ASD")["y"] == 201183
    assert needs["y"].sum() == 638745
    ages = panel[(panel["unique_id"] == ENGLAND) & (panel["measure"] == "stock_plans")
                 & panel["breakdown"].str.startswith("age:") & (panel["ds"] == 2025)]
    assert ages["y"].sum() == 638745
    assert value(panel, ENGLAND, "stock_plans", 2022, "age:under 5")["y"] == 18054
    assert value(panel, ENGLAND, "new_plans", 2019, "placement:mainstream")["y"] == 36755


def test_find_la_and_names(panel):
    assert find_la(panel, "LEEDS") == LEEDS
    assert find_la(panel, "383") == LEEDS
    with pytest.raises(EhcpError, match="Leeds"):
        find_la(panel, "Leedz")
    names = la_names(panel)
    assert {"unique_id", "name", "old_code"} <= set(names.columns)
    assert names["unique_id"].is_unique and len(names) >= 150


def test_consistent_series_sums_cumbria_successors(panel):
    out = consistent_series(panel, "requests_received").set_index(["unique_id", "ds"])["y"]
    plain = series(panel, "requests_received", level="la").set_index(["unique_id", "ds"])["y"]
    group = "E06000063+E06000064"
    assert out[(group, 2022)] == plain[("E10000006", 2022)]
    assert out[(group, 2024)] == plain[("E06000063", 2024)] + plain[("E06000064", 2024)]
    assert out[(LEEDS, 2024)] == 2313


def test_series_rejects_unknown_measure(panel):
    with pytest.raises(EhcpError, match="requests_received"):
        series(panel, "requests_recieved")


def test_tribunal_appeal_rates_from_supporting_file(panel):
    assert value(panel, ENGLAND, "tribunal_appeals_registered", 2024)["y"] == 22276
    assert value(panel, LEEDS, "tribunal_appeals_registered", 2024)["y"] == 126
    # DOMAIN.md: Leeds appeal rate 3.6% in 2024 (DfE's new "in development" denominator).
    assert value(panel, LEEDS, "tribunal_appeal_rate_in_development", 2024)["y"] == 3.6
    assert value(panel, LEEDS, "tribunal_appeal_rate", 2014)["y"] == 1.4


@pytest.mark.parametrize(
    ("uid", "year", "new_plans", "pct_20wk", "stock_next_jan"),
    [  # DOMAIN.md table (from the DfE files)
        (ENGLAND, 2016, 36094, 58.6, 287290),
        (ENGLAND, 2019, 53899, 60.4, 390109),
        (ENGLAND, 2022, 66706, 49.2, 517048),
        (ENGLAND, 2024, 97747, 46.4, 638745),
        (LEEDS, 2016, 365, 90.4, 2873),
        (LEEDS, 2019, 594, 96.1, 4339),
        (LEEDS, 2022, 362, 12.3, 5137),
        (LEEDS, 2024, 773, 9.3, 6093),
    ],
)
def test_domain_table(panel, uid, year, new_plans, pct_20wk, stock_next_jan):
    from forecasting.data import headline_table

    table = headline_table(panel, uid)
    assert table.loc["new_plans", year] == new_plans
    assert table.loc["pct_within_20wk_ex", year] == pct_20wk
    assert table.loc["stock_plans", year + 1] == stock_next_jan
