"""Calendar, financial and academic years: labels, bounds and tagging of dated rows.

Councils budget by financial year (1 April to 31 March, labelled ``2026-27``), the DfE SEN2
return counts flows by calendar year (``2026``) and schools work by academic year
(1 September to 31 August, labelled ``2026/27``). Every number the toolkit reports says which of
the three it means, so these helpers are the one place the labels are made.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal, TypeAlias, get_args

import pandas as pd

from forecasting.errors import EhcpError

__all__ = [
    "PERIOD_PREFIX",
    "PeriodType",
    "add_period",
    "academic_year",
    "calendar_year",
    "financial_year",
    "financial_year_bounds",
    "period_header",
    "period_label",
    "weeks_in_financial_year",
]

PeriodType = Literal["calendar", "financial", "academic"]
#: Anything ``pandas.Timestamp`` accepts as one date.
DateLike: TypeAlias = str | date | datetime | pd.Timestamp

#: Short prefix used in column headers, e.g. ``FY 2026-27``.
PERIOD_PREFIX: dict[str, str] = {"calendar": "CY", "financial": "FY", "academic": "AY"}

_FY_RE = re.compile(r"^(\d{4})-(\d{2})$")


def _start_year(ts: pd.Timestamp, start_month: int) -> int:
    return ts.year if ts.month >= start_month else ts.year - 1


def financial_year(ds: DateLike) -> str:
    """Financial year (1 April - 31 March) of a date, labelled ``YYYY-YY``.

    Examples
    --------
    >>> financial_year("2027-03-31"), financial_year("2027-04-01")
    ('2026-27', '2027-28')
    """
    start = _start_year(pd.Timestamp(ds), 4)
    return f"{start}-{(start + 1) % 100:02d}"


def academic_year(ds: DateLike) -> str:
    """Academic year (1 September - 31 August) of a date, labelled ``YYYY/YY``.

    Examples
    --------
    >>> academic_year("2026-08-31"), academic_year("2026-09-01")
    ('2025/26', '2026/27')
    """
    start = _start_year(pd.Timestamp(ds), 9)
    return f"{start}/{(start + 1) % 100:02d}"


def calendar_year(ds: DateLike) -> str:
    """Calendar year of a date, as text.

    Examples
    --------
    >>> calendar_year("2026-12-31")
    '2026'
    """
    return str(pd.Timestamp(ds).year)


_LABELLERS = {"calendar": calendar_year, "financial": financial_year, "academic": academic_year}


def period_label(ds: DateLike, period_type: PeriodType) -> str:
    """Label of the year of ``period_type`` that contains ``ds``.

    Examples
    --------
    >>> period_label("2026-06-01", "financial"), period_label("2026-06-01", "academic")
    ('2026-27', '2025/26')
    """
    if period_type not in _LABELLERS:
        raise EhcpError(
            f"unknown period type {period_type!r}",
            field="period_type",
            fix=f"use one of {', '.join(get_args(PeriodType))}",
        )
    return _LABELLERS[period_type](ds)


def period_header(label: str, period_type: PeriodType) -> str:
    """Column header that carries the period type, e.g. ``FY 2026-27``.

    Examples
    --------
    >>> period_header("2026-27", "financial")
    'FY 2026-27'
    """
    return f"{PERIOD_PREFIX[period_type]} {label}"


def financial_year_bounds(label: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day of a financial year given as ``YYYY-YY``.

    Examples
    --------
    >>> [str(d.date()) for d in financial_year_bounds("2027-28")]
    ['2027-04-01', '2028-03-31']
    """
    match = _FY_RE.match(str(label).strip())
    if not match or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
        raise EhcpError(
            f"{label!r} is not a financial year label",
            field="financial_year",
            fix="write it as YYYY-YY with consecutive years, e.g. 2027-28",
        )
    start = int(match.group(1))
    return pd.Timestamp(start, 4, 1), pd.Timestamp(start + 1, 3, 31)


def weeks_in_financial_year() -> float:
    """Weeks in an average financial year (365.25 / 7), used to annualise weekly figures.

    Examples
    --------
    >>> round(weeks_in_financial_year(), 3)
    52.179
    """
    return 365.25 / 7


def add_period(
    df: pd.DataFrame, period_type: PeriodType, *, ds_col: str = "ds"
) -> pd.DataFrame:
    """Return a copy of ``df`` with ``period_type`` and ``period`` columns from ``ds_col``.

    Examples
    --------
    >>> df = pd.DataFrame({"ds": pd.to_datetime(["2026-03-30", "2026-04-06"]), "y": [1, 2]})
    >>> add_period(df, "financial")[["period_type", "period"]].values.tolist()
    [['financial', '2025-26'], ['financial', '2026-27']]
    """
    if ds_col not in df.columns:
        raise EhcpError(f"no column {ds_col!r} to take dates from", field=ds_col)
    out = df.copy()
    dates = pd.to_datetime(out[ds_col])
    if period_type == "calendar":
        labels = dates.dt.year.astype(str)
    else:
        start_month = 4 if period_type == "financial" else 9
        start = dates.dt.year - (dates.dt.month < start_month).astype(int)
        sep = "-" if period_type == "financial" else "/"
        labels = start.astype(str) + sep + ((start + 1) % 100).map(lambda y: f"{y:02d}")
    out["period_type"] = period_type
    out["period"] = labels.astype(str)
    return out
