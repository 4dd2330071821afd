"""The SEND Tribunal appeal-rate table shipped in the 2025 zip's ``supporting-files``.

``SEND Tribunals and appeal rate 2014-2024.csv`` is a spreadsheet saved as CSV: a title, a
two-row header (years, then "Appeals registered / Total Appealable Decisions / SEND Tribunal
Appeal Rate" under each year), region banner rows, LA rows whose names carry footnote digits
(``Poole5``), an ``England Total`` row and notes. Its conventions: ``-`` = nil (zero), ``..`` =
not available, ``~`` = suppressed; numbers use thousands separators and rates a ``%``.

It gives three calendar-year measures: ``tribunal_appeals_registered``,
``tribunal_appealable_decisions`` and ``tribunal_appeal_rate`` (percent, as published), plus
for the latest year DfE's "in development" denominator and rate
(``tribunal_appealable_decisions_in_development``, ``tribunal_appeal_rate_in_development``:
Leeds 2024 = 3.6%).
"""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pandas as pd

from forecasting.data.sen2_read import LONG_COLUMNS
from forecasting.errors import EhcpError

__all__ = ["APPEALS_PATTERN", "parse_appeals"]

#: Member names (case-insensitive) read as the appeal-rate table.
APPEALS_PATTERN = re.compile(r"appeal rate.*\.csv$", re.IGNORECASE)

_MEASURES = (
    "tribunal_appeals_registered",
    "tribunal_appealable_decisions",
    "tribunal_appeal_rate",
)
_CODES = {"..": "..:not available", "~": "~:suppressed", "x": "x:not available", "": "blank:missing"}


def _clean_name(text: str) -> str:
    return re.sub(r"[\d,\s]+$", "", text).strip()


def _number(text: str) -> tuple[float, str] | None:
    value = text.strip()
    if value in ("-", "–"):
        return 0.0, ""
    if value in _CODES:
        return np.nan, _CODES[value]
    try:
        return float(value.replace(",", "").rstrip("%")), ""
    except ValueError:
        return None


def parse_appeals(
    data: bytes,
    source: str,
    la_lookup: dict[str, tuple[str, str, str]],
    *,
    strict: bool = True,
) -> tuple[pd.DataFrame, list[EhcpError]]:
    """Read the appeal-rate table into long rows (:data:`~forecasting.data.sen2_read.LONG_COLUMNS`).

    Parameters
    ----------
    data : bytes
        The CSV as stored in the zip.
    source : str
        Shown in messages.
    la_lookup : dict
        Maps a DfE 3-digit code or a case-folded LA name to ``(ONS code, name, DfE code)``;
        built from the other SEN2 files so the table's LAs get the panel's codes.
    strict : bool
        Raise the first problem, or return the problems next to the rows that could be read.

    Examples
    --------
    >>> text = (",,\\nLocal Authority,LA code,2023,,\\n"
    ...         ",,Appeals registered4,Total Appealable Decisions1,SEND Tribunal Appeal Rate2\\n"
    ...         "YORKSHIRE AND THE HUMBER,,,,\\nLeeds,383,107,\\"5,920\\",1.80%\\n"
    ...         "\\"England Total4,9\\",,-,..,~\\n")
    >>> rows, _ = parse_appeals(text.encode(), "t.csv", {"383": ("E08000035", "Leeds", "383")})
    >>> rows["unique_id"].unique().tolist(), rows["y"].tolist()
    (['E08000035', 'E92000001'], [107.0, 5920.0, 1.8, 0.0, nan, nan])
    >>> rows["flag"].tolist()[-2:]
    ['..:not available', '~:suppressed']
    """
    problems: list[EhcpError] = []

    def problem(message: str, row: int | None = None, field: str | None = None) -> None:
        err = EhcpError(message, file=source, row=row, field=field)
        if strict:
            raise err
        problems.append(err)

    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace"))))
    header_at = next((i for i, r in enumerate(lines) if r[:2] == ["Local Authority", "LA code"]), None)
    if header_at is None:
        problem("header row 'Local Authority,LA code,<years>' not found", field="Local Authority")
        return _empty(), problems
    years: dict[int, int] = {}
    for col, cell in enumerate(lines[header_at]):
        if re.fullmatch(r"\d{4}", cell.strip()):
            years[col] = int(cell)
    # DfE's new ("in development") measure of appealable decisions, latest year only.
    extra: dict[int, tuple[int, str]] = {}
    subheader = lines[header_at + 1] if len(lines) > header_at + 1 else []
    for col, cell in enumerate(subheader):
        if cell.lower().startswith("in development") and years:
            kind = "rate" if "rate" in cell.lower() else "decisions"
            name = f"tribunal_appeal_{kind}_in_development" if kind == "rate" else (
                "tribunal_appealable_decisions_in_development"
            )
            extra[col] = (max(years.values()), name)
    records = []
    for i, row in enumerate(lines[header_at + 2 :], start=header_at + 3):
        if not row or not row[0].strip():
            continue
        name = _clean_name(row[0])
        if name.lower().startswith("england total excluding"):
            continue
        if name.lower() == "england total":
            uid, shown, level, old = "E92000001", "England", "national", ""
        elif name.isupper():  # region banner rows carry no figures
            continue
        elif name.lower().startswith(("sources", "notes", "..", "~")) or row[0][:1].isdigit():
            break
        else:
            code = row[1].strip() if len(row) > 1 else ""
            found = la_lookup.get(code) or la_lookup.get(name.casefold())
            if found is None:
                problem(f"unknown local authority {name!r} (code {code!r})", row=i, field="LA code")
                continue
            uid, shown, old = found
            level = "la"
        for col, year in years.items():
            for offset, measure in enumerate(_MEASURES):
                cell = row[col + offset] if col + offset < len(row) else ""
                parsed = _number(cell)
                if parsed is None:
                    problem(f"expected a number, '-', '..' or '~', got {cell.strip()!r}", row=i,
                            field=f"{year} {measure}")
                    continue
                records.append((uid, shown, level, old, measure, "all", year, *parsed))
        for col, (year, measure) in extra.items():
            cell = row[col] if col < len(row) else ""
            parsed = _number(cell)
            if parsed is not None:
                records.append((uid, shown, level, old, measure, "all", year, *parsed))
            else:
                problem(f"expected a number, '-', '..' or '~', got {cell.strip()!r}", row=i,
                        field=f"{year} {measure}")
    out = pd.DataFrame.from_records(records, columns=LONG_COLUMNS)
    if out.empty:
        return _empty(), problems
    out["ds"] = out["ds"].astype("int64")
    out["y"] = out["y"].astype("float64")
    return out[LONG_COLUMNS], problems


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="float64" if c == "y" else ("int64" if c == "ds" else str)) for c in LONG_COLUMNS}
    )
