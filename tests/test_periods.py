"""Calendar, financial and academic year labels."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.errors import EhcpError
from forecasting.periods import (
    academic_year,
    add_period,
    calendar_year,
    financial_year,
    financial_year_bounds,
    period_header,
    period_label,
)


@pytest.mark.parametrize(
    ("day", "fy", "ay", "cy"),
    [
        ("2026-03-31", "2025-26", "2025/26", "2026"),
        ("2026-04-01", "2026-27", "2025/26", "2026"),
        ("2026-08-31", "2026-27", "2025/26", "2026"),
        ("2026-09-01", "2026-27", "2026/27", "2026"),
        ("2026-12-31", "2026-27", "2026/27", "2026"),
        ("1999-06-01", "1999-00", "1998/99", "1999"),
    ],
)
def test_labels_at_the_boundaries(day: str, fy: str, ay: str, cy: str) -> None:
    assert financial_year(day) == fy
    assert academic_year(day) == ay
    assert calendar_year(day) == cy


def test_header_carries_the_period_type() -> None:
    assert period_header("2026-27", "financial") == "FY 2026-27"
    assert period_header("2026/27", "academic") == "AY 2026/27"
    assert period_header("2026", "calendar") == "CY 2026"


def test_unknown_period_type_is_a_user_error() -> None:
    with pytest.raises(EhcpError, match="unknown period type"):
        period_label("2026-01-01", "fiscal")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["2026-28", "2026/27", "26-27", "FY2026-27"])
def test_bad_financial_year_label(bad: str) -> None:
    with pytest.raises(EhcpError, match="not a financial year label"):
        financial_year_bounds(bad)


def test_add_period_needs_the_date_column() -> None:
    with pytest.raises(EhcpError, match="no column 'when'"):
        add_period(pd.DataFrame({"ds": []}), "financial", ds_col="when")


@settings(max_examples=60, deadline=None)
@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)))
def test_vectorised_labels_match_scalar_and_bounds_contain_the_day(day: date) -> None:
    frame = pd.DataFrame({"ds": pd.to_datetime([day, day + timedelta(days=1)])})
    for kind in ("calendar", "financial", "academic"):
        tagged = add_period(frame, kind)
        assert tagged["period"].tolist() == [period_label(d, kind) for d in frame["ds"]]
        assert set(tagged["period_type"]) == {kind}
    start, end = financial_year_bounds(financial_year(day))
    assert start <= pd.Timestamp(day) <= end
    assert (end - start).days in (364, 365)
