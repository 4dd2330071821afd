"""Load and validate a case-level extract (one row per request for an EHC needs assessment).

The schema is in :mod:`forecasting.data.caselevel_schema` and ``docs/case-level-schema.md``.
Problems with the whole file raise :class:`~forecasting.errors.EhcpError`. Problems with single
rows are collected: ``strict=True`` (the default) raises naming the rows; ``strict=False``
returns them as ``rejects`` next to the rows that loaded. No row is dropped without a reason.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from forecasting.data.caselevel_read import (
    DATE_DTYPE,
    Problem,
    as_day,
    check_columns,
    parse_bool,
    parse_codes,
    parse_dates,
    parse_ints,
    read_sidecar,
    read_table,
)
from forecasting.data.caselevel_schema import ADVICE_TYPES, CASE_SCHEMA
from forecasting.errors import EhcpError

__all__ = ["REJECT_COLUMNS", "CaseExtract", "ValidationReport", "load_extract",
           "validate_extract"]

REJECT_COLUMNS = ["row", "case_id", "field", "reason"]
_AGE_RANGE = (0, 25)


@dataclass
class CaseExtract:
    """A loaded case-level extract.

    Attributes
    ----------
    frame : DataFrame
        The valid rows, one per request, with every schema column (dates as datetimes,
        missing optional columns filled as blank / False).
    rejects : DataFrame
        Rows that failed a check: ``row`` (file line, header = 1), ``case_id``, ``field``
        and ``reason``. Empty when every row loaded.
    source : str
        The file it came from.
    today : Timestamp
        The date after which no event may lie.
    synthetic : bool
        True if the rows were made by the synthetic generator (file name, sidecar or column).
    metadata : dict
        The ``.meta.json`` sidecar, if any.
    extra_columns : list of str
        Columns in the file that are not in the schema (ignored).
    """

    frame: pd.DataFrame
    rejects: pd.DataFrame
    source: str
    today: pd.Timestamp
    synthetic: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)

    @property
    def n_input_rows(self) -> int:
        """Rows in the file (loaded plus rejected)."""
        return len(self.frame) + len(self.rejects)


@dataclass
class ValidationReport:
    """What :func:`validate_extract` found in a file.

    ``errors`` holds a file-level problem (the file cannot be read at all); ``rejects`` the
    row-level ones. ``ok`` is true when both are empty.
    """

    file: str
    n_rows: int
    n_valid: int
    rejects: pd.DataFrame
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    synthetic: bool = False

    @property
    def ok(self) -> bool:
        """True when the file loaded with no rejected row."""
        return not self.errors and self.rejects.empty

    def format(self, max_rows: int = 20) -> str:
        """A short plain-text report for the terminal."""
        label = " (SYNTHETIC data)" if self.synthetic else ""
        lines = [f"{self.file}{label}: case-level extract"]
        lines += [f"error: {e}" for e in self.errors]
        if not self.errors:
            lines.append(f"{self.n_rows} rows: {self.n_valid} valid, {len(self.rejects)} rejected")
        lines += [f"warning: {w}" for w in self.warnings]
        for rec in self.rejects.head(max_rows).itertuples(index=False):
            lines.append(f"  row {rec.row} (case_id {rec.case_id!r}): {with_field(rec)}")
        if len(self.rejects) > max_rows:
            lines.append(f"  ... and {len(self.rejects) - max_rows} more rejected rows")
        return "\n".join(lines)


def with_field(rec: Any) -> str:
    """A reject's reason, ending with its column when the reason does not start with it.

    Examples
    --------
    >>> from types import SimpleNamespace as R
    >>> with_field(R(field="age", reason="'-7' is not a whole number from 0 to 25"))
    "'-7' is not a whole number from 0 to 25 (field 'age')"
    >>> with_field(R(field="age", reason="age: '-7' is too small"))
    "age: '-7' is too small"
    """
    reason, fld = str(rec.reason), str(rec.field)
    # A row with several problems already says "field: reason; field: reason".
    if not fld or reason.split(":", 1)[0] in fld.split(", "):
        return reason
    return f"{reason} (field '{fld}')"


def _today(today: str | pd.Timestamp | None) -> pd.Timestamp:
    if today is None:
        return pd.Timestamp.today().normalize()
    return as_day(today, "today")


def _cross_checks(df: pd.DataFrame, today: pd.Timestamp) -> list[Problem]:
    """Rules between columns: order of dates, outcome consistency, nothing in the future."""
    problems: list[Problem] = []

    def flag(mask: pd.Series, fld: str, template: str) -> None:
        # The reason is filled in only for the rows that fail: most files have none.
        for idx in mask[mask.fillna(False).astype(bool)].index:
            values = {k: (v.strftime("%Y-%m-%d") if isinstance(v, pd.Timestamp) else v)
                      for k, v in df.loc[idx].items()}
            problems.append((int(idx), fld, template.format(**values)))  # type: ignore[call-overload]

    req, dec = df["request_date"], df["decision_date"]
    has_dec = df["decision"].notna()
    flag(df["case_id"].isna(), "case_id", "case_id is blank (every request needs a reference)")
    flag(req.isna(), "request_date", "request_date is blank (every request needs one)")
    flag(dec.notna() & ~has_dec, "decision",
         "decision is blank but decision_date is given (expected assess, not_assess or withdrawn)")
    flag(has_dec & dec.isna(), "decision_date", "decision is given but decision_date is blank")
    flag(dec < req, "decision_date",
         "decision_date {decision_date} is before request_date {request_date}")
    for kind in ADVICE_TYPES:
        asked, got = f"{kind}_advice_requested", f"{kind}_advice_received"
        flag(df[got].notna() & df[asked].isna(), asked, f"{got} is given but {asked} is blank")
        flag(df[got] < df[asked], got, f"{got} {{{got}}} is before {asked} {{{asked}}}")
        flag(df[asked] < req, asked,
             f"{asked} {{{asked}}} is before request_date {{request_date}}")
    not_assessed = has_dec & (df["decision"] != "assess")
    for col in ("draft_date", "final_date", "not_issued_date"):
        flag(df[col].notna() & not_assessed, col,
             f"{col} is given but decision is '{{decision}}' (expected assess)")
        flag(df[col].notna() & ~has_dec, col, f"{col} is given but there is no decision to assess")
        flag(df[col] < dec, col, f"{col} {{{col}}} is before decision_date {{decision_date}}")
    flag(df["final_date"] < df["draft_date"], "final_date",
         "final_date {final_date} is before draft_date {draft_date}")
    flag(df["final_date"].notna() & df["not_issued_date"].notna(), "not_issued_date",
         "both final_date and not_issued_date are given (a plan is either issued or not)")
    for col in (c.name for c in CASE_SCHEMA if c.kind == "date"):
        flag(df[col] > today, col, f"{col} {{{col}}} is in the future (after {today.date()})")
    return problems


def _duplicate_ids(ids: pd.Series) -> list[Problem]:
    dup = ids.notna() & ids.duplicated(keep=False)
    rows_of: dict[str, list[int]] = defaultdict(list)
    for idx in dup[dup].index:
        rows_of[str(ids[idx])].append(int(idx))  # type: ignore[call-overload]
    problems: list[Problem] = []
    for case_id, idxs in rows_of.items():
        lines = ", ".join(str(i + 2) for i in idxs)
        for idx in idxs:
            problems.append((idx, "case_id", f"case_id '{case_id}' appears on rows {lines} "
                                             "(keep one row per request)"))
    return problems


def _typed(raw: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    out: dict[str, pd.Series] = {}
    problems: list[Problem] = []
    found: list[Problem]
    n = len(raw)
    for col in CASE_SCHEMA:
        values = raw[col.name] if col.name in raw.columns else pd.Series([pd.NA] * n,
                                                                       index=raw.index)
        if col.kind == "id":
            text = values.astype("str").str.strip()
            parsed, found = text.where(text != ""), []
        elif col.kind == "date":
            parsed, found = parse_dates(values, col.name)
        elif col.kind == "code":
            assert col.codes is not None
            parsed, found = parse_codes(values, col.name, col.codes)
        elif col.kind == "int":
            parsed, found = parse_ints(values, col.name, *_AGE_RANGE)
        else:
            parsed, found = parse_bool(values, col.name)
        out[col.name] = parsed
        problems += found
    return pd.DataFrame(out, index=raw.index), problems


def _rejects_frame(problems: list[Problem], ids: pd.Series) -> pd.DataFrame:
    by_row: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for idx, fld, reason in problems:
        by_row[idx].append((fld, reason))
    records = []
    for idx in sorted(by_row):
        items = by_row[idx]
        case_id = ids.get(idx)
        records.append({
            "row": idx + 2,
            "case_id": "" if pd.isna(case_id) else str(case_id),
            "field": ", ".join(dict.fromkeys(f for f, _ in items)),
            # One problem: the field is in its own column; several: say which is which.
            "reason": items[0][1] if len(items) == 1 else "; ".join(f"{f}: {r}" for f, r in items),
        })
    frame = pd.DataFrame(records, columns=REJECT_COLUMNS)
    return frame.astype({"row": "int64", "case_id": "str", "field": "str", "reason": "str"})


def _strict_error(rejects: pd.DataFrame, n_rows: int, path: str) -> EhcpError:
    first = rejects.iloc[0]
    others = ", ".join(f"{r.row} ({r.field})" for r in rejects.iloc[1:6].itertuples())
    more = f"; other rows: {others}" if others else ""
    if len(rejects) > 6:
        more += f" and {len(rejects) - 6} more"
    return EhcpError(
        f"{len(rejects)} of {n_rows} rows failed the checks; first: {first['reason']}{more}",
        file=path, row=int(first["row"]), field=str(first["field"]).split(", ")[0],
        fix="correct those rows (see docs/case-level-schema.md), or load with "
            "strict=False / --keep-going to use the other rows and list these as rejects",
    )


def load_extract(
    path: str | Path, *, today: str | pd.Timestamp | None = None, strict: bool = True
) -> CaseExtract:
    """Load and validate a case-level extract (CSV, UTF-8 with or without BOM, or Parquet).

    Parameters
    ----------
    path : str or Path
        The extract. Headers are matched after trimming, lower-casing and turning spaces
        into underscores; columns outside the schema are ignored (listed in
        ``extra_columns``).
    today : date-like, optional
        No date may be after this day (default: the real today).
    strict : bool
        If True, any row that fails a check raises :class:`EhcpError` naming the rows. If
        False, those rows come back in ``rejects`` with the reason and the rest load.

    Returns
    -------
    CaseExtract

    Raises
    ------
    EhcpError
        A file-level problem (missing, empty, wrong delimiter, missing column), or, when
        ``strict``, any rejected row.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "cases.csv"
    >>> _ = tmp.write_text(
    ...     "case_id,request_date,decision_date,decision,draft_date,final_date,"
    ...     "not_issued_date,primary_need\\n"
    ...     "A1,2024-01-08,2024-02-12,assess,2024-04-01,2024-05-10,,ASD\\n"
    ...     "A2,15/01/2024,,,,,,\\n"
    ...     "A3,2024-01-20,2024-01-02,not_assess,,,,SEMH\\n")
    >>> ext = load_extract(tmp, today="2024-06-01", strict=False)
    >>> ext.frame["case_id"].tolist(), ext.rejects["row"].tolist()
    (['A1', 'A2'], [4])
    >>> print(ext.rejects["reason"][0])
    decision_date 2024-01-02 is before request_date 2024-01-20
    """
    path = Path(path)
    day = _today(today)
    raw = read_table(path)
    extras = check_columns(raw, path)
    raw = raw.reset_index(drop=True)
    typed, problems = _typed(raw)
    problems += _duplicate_ids(typed["case_id"])
    # A cell that failed to parse is blank now; don't report it a second time as blank.
    unparsed = {(idx, fld) for idx, fld, _ in problems}
    problems += [p for p in _cross_checks(typed, day) if (p[0], p[1]) not in unparsed]
    rejects = _rejects_frame(problems, typed["case_id"])
    bad_idx = [int(r) - 2 for r in rejects["row"]]
    frame = typed.drop(index=bad_idx).reset_index(drop=True)
    if strict and not rejects.empty:
        raise _strict_error(rejects, len(raw), str(path))
    meta = read_sidecar(path)
    synthetic = (
        bool(meta.get("synthetic", False))
        or "synthetic" in path.name.lower()
        or bool(len(frame) and frame["synthetic"].all())
    )
    frame.attrs.update({"source": str(path), "synthetic": synthetic, "today": str(day.date())})
    return CaseExtract(frame=frame, rejects=rejects, source=str(path), today=day,
                       synthetic=synthetic, metadata=meta, extra_columns=list(extras))


def validate_extract(
    path: str | Path, *, today: str | pd.Timestamp | None = None
) -> ValidationReport:
    """Check an extract without stopping at the first problem (for ``ehcp data validate``).

    A file-level problem is returned in ``errors`` rather than raised; row problems are in
    ``rejects``. Use ``report.ok`` to decide the exit status.

    Examples
    --------
    >>> report = validate_extract("no/such/file.csv")
    >>> report.ok, report.errors[0]
    (False, 'no/such/file.csv: file not found. Fix: check the path.')
    """
    empty = pd.DataFrame(columns=REJECT_COLUMNS)
    try:
        ext = load_extract(path, today=today, strict=False)
    except EhcpError as err:
        return ValidationReport(file=str(path), n_rows=0, n_valid=0, rejects=empty,
                                errors=[str(err)])
    warnings = []
    if ext.extra_columns:
        warnings.append("ignored columns not in the schema: " + ", ".join(ext.extra_columns))
    return ValidationReport(file=str(path), n_rows=ext.n_input_rows, n_valid=len(ext.frame),
                            rejects=ext.rejects, warnings=warnings, synthetic=ext.synthetic)


def empty_frame() -> pd.DataFrame:
    """A zero-row frame with the loaded dtypes of every schema column."""
    dtypes = {"id": "str", "date": DATE_DTYPE, "code": "str", "int": "Int64", "bool": "bool"}
    return pd.DataFrame({c.name: pd.Series([], dtype=dtypes[c.kind]) for c in CASE_SCHEMA})
