"""Reading a case-level extract file into text columns, and parsing its cells.

File-level problems (missing file, empty file, wrong delimiter, missing columns) raise
:class:`~forecasting.errors.EhcpError`. Cell-level problems are returned as
``(row_index, field, reason)`` tuples so the loader can reject rows instead of failing.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from forecasting.data.caselevel_schema import CASE_SCHEMA, normalise_header
from forecasting.errors import EhcpError

__all__ = ["DATE_DTYPE", "Problem", "as_day", "parse_bool", "parse_codes", "parse_dates", "parse_ints",
           "read_sidecar", "read_table", "sidecar_path"]

#: The dtype every date column has after loading (and in the generator's output).
DATE_DTYPE: Final = "datetime64[ns]"

Problem = tuple[int, str, str]

_ISO = r"^(\d{4}-\d{2}-\d{2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
_UK = r"^(\d{1,2}/\d{1,2}/\d{4})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$"
_SHORT_YEAR = r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2}$"
_SERIAL = r"^\d{5}(?:\.0+)?$"
# Excel's day zero: serial 45123 is 2023-07-16 (Excel counts a 29 Feb 1900 that never was).
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_EXPECTED_DATE = "expected YYYY-MM-DD (or DD/MM/YYYY)"
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0", ""}


def as_day(value: str | pd.Timestamp, field: str) -> pd.Timestamp:
    """Parse a user-given date (``YYYY-MM-DD``) to a midnight Timestamp, or raise EhcpError.

    Examples
    --------
    >>> as_day("2024-03-31", "--as-of")
    Timestamp('2024-03-31 00:00:00')
    """
    try:
        day = pd.Timestamp(value)
    except (ValueError, TypeError) as err:
        raise EhcpError(f"'{value}' is not a date", field=field,
                        fix="give the date as YYYY-MM-DD") from err
    if pd.isna(day):
        raise EhcpError("a date is needed", field=field, fix="give the date as YYYY-MM-DD")
    return day.normalize()


def sidecar_path(path: Path) -> Path:
    """The metadata sidecar next to an extract: ``x.csv`` -> ``x.meta.json``."""
    return path.with_name(path.stem + ".meta.json")


def read_sidecar(path: Path) -> dict[str, Any]:
    """Read the ``.meta.json`` sidecar next to ``path``, or ``{}`` if there is none."""
    meta = sidecar_path(path)
    if not meta.exists():
        return {}
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise EhcpError(f"the metadata sidecar is not valid JSON ({err})", file=meta,
                        fix="repair or delete the .meta.json file") from err
    if not isinstance(data, dict):
        raise EhcpError("the metadata sidecar must hold a JSON object", file=meta,
                        fix="repair or delete the .meta.json file")
    return data


def _check_delimiter(path: Path) -> None:
    with path.open("r", encoding="utf-8-sig", errors="replace") as fh:
        first = fh.readline()
    if "," in first:
        return
    for sep, label in ((";", "semicolons (';')"), ("\t", "tabs"), ("|", "'|'")):
        if sep in first:
            raise EhcpError(
                f"the columns are separated by {label}, not commas", file=path, row=1,
                fix="save the file as 'CSV UTF-8 (Comma delimited)' (in Excel: File > Save As), "
                    "or replace the separators with commas",
            )


def read_table(path: str | Path) -> pd.DataFrame:
    """Read an extract as text columns with normalised headers (Parquet keeps date types).

    Raises
    ------
    EhcpError
        If the file is missing, empty, not UTF-8, uses another delimiter, is ragged, or
        repeats a column.
    """
    path = Path(path)
    if not path.exists():
        raise EhcpError("file not found", file=path, fix="check the path")
    if path.is_dir():
        raise EhcpError("expected a file, got a folder", file=path, fix="give the extract file")
    if path.stat().st_size == 0:
        raise EhcpError("the file is empty", file=path,
                        fix="export the extract again with a header row and one row per request")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            table = pd.read_parquet(path)
        except Exception as err:  # pyarrow raises several types for a damaged file
            raise EhcpError(f"cannot read as Parquet ({err})", file=path,
                            fix="export the extract again, or save it as CSV") from err
    else:
        _check_delimiter(path)
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except UnicodeDecodeError as err:
            raise EhcpError("the file is not UTF-8 text", file=path,
                            fix="save it as 'CSV UTF-8 (Comma delimited)'") from err
        except pd.errors.EmptyDataError as err:
            raise EhcpError("the file is empty", file=path,
                            fix="export the extract again with a header row") from err
        except pd.errors.ParserError as err:
            raise EhcpError(f"the rows do not line up with the header ({err})", file=path,
                            fix="check for unquoted commas inside values; quote them or "
                                "export the file again") from err
    if table.empty:
        # A header alone would "validate" with nothing checked and summarise to nothing.
        raise EhcpError("the file has a header but no rows", file=path, row=2,
                        fix="export the extract again with one row per request")
    headers = [normalise_header(c) for c in table.columns]
    seen: set[str] = set()
    for name in headers:
        if name in seen:
            raise EhcpError("this column appears twice", file=path, row=1, field=name,
                            fix="delete or rename one of the two columns")
        seen.add(name)
    table.columns = pd.Index(headers)
    return table


def check_columns(table: pd.DataFrame, path: str | Path) -> list[str]:
    """Raise if a required column is missing; return the names of unknown extra columns."""
    known = {c.name for c in CASE_SCHEMA}
    extras = [c for c in table.columns if c not in known]
    missing = [c.name for c in CASE_SCHEMA if c.required and c.name not in table.columns]
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, extras, n=1, cutoff=0.5)
            if close:
                hints.append(f"rename '{close[0]}' to '{name}'")
        expected = ", ".join(c.name for c in CASE_SCHEMA if c.required)
        plural = "s" if len(missing) > 1 else ""
        raise EhcpError(
            f"missing required column{plural} {', '.join(repr(m) for m in missing)} "
            f"(the header has: {', '.join(map(str, table.columns))}; "
            f"required columns are: {expected})",
            file=path, row=1, field=missing[0],
            fix=("; ".join(hints) if hints else "add the column")
            + " (see docs/case-level-schema.md)",
        )
    return extras


def _blank(values: pd.Series) -> pd.Series:
    return values.isna() | (values.astype("str").str.strip() == "")


def parse_dates(values: pd.Series, field: str) -> tuple[pd.Series, list[Problem]]:
    """Parse a date column: ISO ``YYYY-MM-DD`` or UK ``DD/MM/YYYY`` (time of day ignored).

    Excel serial numbers (``45123``) and two-digit years (``1/2/24``) are not guessed: they
    are reported with the date they might mean, because a wrong guess would move a case by
    months. Blank cells become ``NaT``.

    Examples
    --------
    >>> dates, problems = parse_dates(pd.Series(["2024-02-01", "01/02/2024", "", "45123"]), "x")
    >>> [str(d.date()) if pd.notna(d) else None for d in dates]
    ['2024-02-01', '2024-02-01', None, None]
    >>> problems[0][0], problems[0][1]
    (3, 'x')
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values)
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
        return parsed.dt.normalize().astype(DATE_DTYPE), []
    text = values.astype("str").str.strip()
    blank = _blank(values)
    out = pd.Series(pd.NaT, index=values.index, dtype=DATE_DTYPE)
    iso = text.str.extract(_ISO, expand=False)
    uk = text.str.extract(_UK, expand=False)
    has_iso = iso.notna() & ~blank
    has_uk = uk.notna() & ~blank & ~has_iso
    if has_iso.any():
        out[has_iso] = pd.to_datetime(iso[has_iso], format="%Y-%m-%d", errors="coerce")
    if has_uk.any():
        out[has_uk] = pd.to_datetime(uk[has_uk], format="%d/%m/%Y", errors="coerce")
    problems: list[Problem] = []
    bad = ~blank & out.isna()
    for idx in bad[bad].index:
        raw = text[idx]
        if pd.notna(iso[idx]) or pd.notna(uk[idx]):
            reason = f"'{raw}' is not a real calendar date ({_EXPECTED_DATE}; month/day swapped?)"
        elif re.match(_SERIAL, raw):
            guess = (_EXCEL_EPOCH + pd.Timedelta(days=int(float(raw)))).date()
            reason = (f"'{raw}' looks like an Excel serial number (it would be {guess}); "
                      f"format the column as a date in Excel before saving, {_EXPECTED_DATE}")
        elif re.match(_SHORT_YEAR, raw):
            reason = (f"'{raw}' has a two-digit year and may be day/month or month/day "
                      f"(Excel re-saved the file?); {_EXPECTED_DATE} with a four-digit year")
        else:
            reason = f"'{raw}' is not a date ({_EXPECTED_DATE})"
        problems.append((int(idx), field, reason))  # type: ignore[call-overload]
    return out, problems


def parse_codes(
    values: pd.Series, field: str, codes: tuple[str, ...]
) -> tuple[pd.Series, list[Problem]]:
    """Match codes case-insensitively to their canonical spelling; blank becomes missing.

    Examples
    --------
    >>> parsed, problems = parse_codes(pd.Series(["asd", "SpLD", "", "ADHD"]), "primary_need",
    ...                                ("ASD", "SpLD"))
    >>> parsed.tolist()[:2], problems[0][0]
    (['ASD', 'SpLD'], 3)
    """
    lookup = {c.lower(): c for c in codes}
    text = values.astype("str").str.strip()
    blank = _blank(values)
    canon = text.str.lower().str.replace(" ", "_").str.replace("-", "_").map(lookup)
    out = canon.where(~blank).astype(str)
    problems = [
        (int(idx), field, f"'{text[idx]}' is not a known code (allowed: {', '.join(codes)})")
        for idx in (~blank & canon.isna()).pipe(lambda m: m[m].index)
    ]
    return out, problems


def parse_ints(
    values: pd.Series, field: str, low: int, high: int
) -> tuple[pd.Series, list[Problem]]:
    """Parse whole numbers in ``[low, high]``; blank becomes ``<NA>``."""
    text = values.astype("str").str.strip()
    blank = _blank(values)
    nums = pd.to_numeric(text.where(~blank), errors="coerce")
    whole = nums.notna() & (np.floor(nums) == nums)
    ok = whole & (nums >= low) & (nums <= high)
    problems = [
        (int(idx), field, f"'{text[idx]}' is not a whole number from {low} to {high}")
        for idx in (~blank & ~ok).pipe(lambda m: m[m].index)
    ]
    out = nums.where(ok).astype("Int64")
    return out, problems


def parse_bool(values: pd.Series, field: str) -> tuple[pd.Series, list[Problem]]:
    """Parse yes/no flags (true/false, yes/no, y/n, 1/0); blank means no."""
    if pd.api.types.is_bool_dtype(values):
        return values.fillna(False).astype(bool), []
    text = values.astype("str").str.strip().str.lower().fillna("")
    true = text.isin(_TRUE)
    bad = ~true & ~text.isin(_FALSE) & ~values.isna()
    problems = [
        (int(idx), field, f"'{values[idx]}' is not yes/no (use true/false, yes/no or 1/0)")
        for idx in bad[bad].index
    ]
    return true.astype(bool), problems
