"""Read DfE SEN2 CSVs (inside a "Download all data" zip or loose) into long rows.

Every problem a user can cause (a corrupt zip, a truncated CSV, a missing or renamed column,
text or a negative number in a count, a duplicated row, an unknown LA code) is reported as an
:class:`~forecasting.errors.EhcpError` naming the file, the 1-based row (header = row 1), the
column, and what was expected. In ``strict`` mode the first problem is raised; otherwise the
offending rows are set aside as rejects, each with its reason, and the rest is returned.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.data.sen2_schema import CODE_FLAGS, ID_COLUMNS, FileSpec, spec_for
from forecasting.errors import EhcpError

# Imported late: sen2_appeals needs LONG_COLUMNS from this module.
__all__ = ["ParsedFile", "read_csv_bytes", "read_zip", "zip_members", "parse_table"]

_LEVELS = {"National": "national", "Regional": "regional", "Local authority": "la"}
_LA_CODE = re.compile(r"^E(0[6-9]|10)\d{6}$")
_OLD_CODE = re.compile(r"^\d{3}$")
_REGION_CODE = re.compile(r"^E1[23]\d{6}$")  # regions; E13 = Inner/Outer London
_COUNTRY_CODE = re.compile(r"^[ENSW]92\d{6}$")  # E92000001 England; N/S/W92 the other nations
_PERIOD = re.compile(r"^\d{4}(\d{2})?$")

#: The largest count accepted in a SEN2 table (England's stock of plans is under a million).
MAX_COUNT = 10_000_000

#: The largest zip member read (the biggest DfE SEN2 table unpacks to a few tens of MB).
MAX_MEMBER_BYTES = 512 * 2**20

#: Long-row columns produced by :func:`parse_table` (before the panel is assembled).
LONG_COLUMNS = ["unique_id", "name", "level", "old_code", "measure", "breakdown", "ds", "y", "flag"]


@dataclass
class ParsedFile:
    """One CSV read into long rows, with what was set aside and why."""

    source: str
    spec: FileSpec
    rows_read: int
    long: pd.DataFrame
    problems: list[EhcpError] = field(default_factory=list)
    rejected_rows: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def zip_members(path: Path) -> list[str]:
    """Names of the files inside a zip; a corrupt or truncated zip raises :class:`EhcpError`."""
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise EhcpError(
            f"not a readable zip file ({err})",
            file=path,
            fix="download the 'Download all data' zip again from explore-education-statistics",
        ) from err


def read_zip(path: Path, *, strict: bool = True) -> list[ParsedFile]:
    """Parse every known SEN2 CSV inside a DfE zip.

    Unknown members (data guidance, supporting files) are skipped; the zip must hold at least
    one known CSV.
    """
    members = zip_members(path)
    known = [m for m in members if spec_for(m) is not None]
    if not known:
        raise EhcpError(
            "the zip holds none of the known SEN2 CSVs (e.g. data/requests.csv, data/sen2_mi.csv)",
            file=path,
            fix="use the 'Download all data' zip of the DfE publication 'Education, health and care plans'",
        )
    parsed = []
    with zipfile.ZipFile(path) as zf:
        for member in known:
            source = f"{path.name}:{member}"
            data = _read_member(zf, member, source)
            spec = spec_for(member)
            assert spec is not None
            parsed.append(parse_table(read_csv_bytes(data, source), spec, source, strict=strict))
        for member in members:
            if APPEALS_PATTERN.search(member.rsplit("/", 1)[-1]):
                parsed.append(_read_appeals(zf, member, f"{path.name}:{member}", parsed, strict))
    return parsed


def _read_appeals(zf, member, source, parsed, strict) -> ParsedFile:
    """The tribunal appeal-rate table, with LAs matched to the codes of the other files."""
    la = pd.concat([p.long[p.long["level"] == "la"] for p in parsed]).sort_values("ds")
    latest = la.drop_duplicates("unique_id", keep="last")
    lookup: dict[str, tuple[str, str, str]] = {}
    for uid, name, old in zip(latest["unique_id"], latest["name"], latest["old_code"], strict=True):
        lookup[old] = (uid, name, old)
        lookup[name.casefold()] = (uid, name, old)
    data = _read_member(zf, member, source)
    long, problems = parse_appeals(data, source, lookup, strict=strict)
    spec = FileSpec(member.rsplit("/", 1)[-1], "supporting", "flow", (), ())
    return ParsedFile(source, spec, len(long), long, problems)


def _read_member(zf: zipfile.ZipFile, member: str, source: str) -> bytes:
    """A member's bytes; one larger than any DfE table (a zip bomb) is refused unread."""
    size = zf.getinfo(member).file_size
    if size > MAX_MEMBER_BYTES:
        raise EhcpError(
            f"this file would unpack to {size / 2**20:,.0f} MB, more than any DfE SEN2 table "
            f"(limit {MAX_MEMBER_BYTES / 2**20:,.0f} MB)",
            file=source,
            fix="use the 'Download all data' zip from explore-education-statistics",
        )
    try:
        return zf.read(member)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
        raise EhcpError(
            f"cannot read this file from the zip ({err})",
            file=source,
            fix="the zip is damaged: download it again",
        ) from err


def read_csv_bytes(data: bytes, source: str) -> pd.DataFrame:
    """Read CSV bytes as text columns (BOM removed); a malformed CSV raises :class:`EhcpError`."""
    try:
        df = pd.read_csv(
            io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig"
        )
    except pd.errors.EmptyDataError as err:
        raise EhcpError("the file is empty", file=source, fix="re-extract it from the DfE zip") from err
    except pd.errors.ParserError as err:
        match = re.search(r"line (\d+)", str(err))
        raise EhcpError(
            f"malformed CSV ({err})",
            file=source,
            row=int(match.group(1)) if match else None,
            fix="the file looks cut short or edited: re-extract it from the DfE zip",
        ) from err
    except UnicodeDecodeError as err:
        raise _encoding_error(data, err, source) from err
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    # pandas pads a short row (a file cut off mid-line) with blanks, which would pass as
    # "missing" values. Only a row whose last cell is blank can be short, so the slow
    # field count runs only when there is one.
    short: list[int] = []
    if len(df.columns) and (df.iloc[:, -1].fillna("") == "").any():
        width = len(df.columns)
        reader = csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace")))
        short = [reader.line_num for record in reader if record and len(record) < width]
    df.attrs["short_rows"] = short
    return df


def _encoding_error(data: bytes, err: UnicodeDecodeError, source: str) -> EhcpError:
    """Name the encoding a spreadsheet probably used, and the line of the first bad byte."""
    fix = "save the file as 'CSV UTF-8 (Comma delimited)'"
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return EhcpError("the file is UTF-16 text (Excel's 'Unicode Text'), not UTF-8",
                         file=source, fix=fix)
    line = data[: err.start].count(b"\n") + 1
    byte = data[err.start : err.start + 1]
    hint = " (a '\u00a3' saved as Latin-1/Windows-1252?)" if byte == b"\xa3" else ""
    return EhcpError(f"not UTF-8 text: byte {byte!r} ({err.reason}){hint}", file=source,
                     row=line, fix=fix)


def _problem(problems, rejected, strict, message, *, file, row=None, field=None, fix=None):
    err = EhcpError(message, file=file, row=row, field=field, fix=fix)
    if strict:
        raise err
    problems.append(err)
    if row is not None:
        rejected.add(row)


def _check_columns(df: pd.DataFrame, spec: FileSpec, source: str) -> None:
    header = list(df.columns)
    for col in spec.required_columns():
        if col not in df.columns:
            close = difflib.get_close_matches(col, header, n=2, cutoff=0.6)
            hint = f"; found {', '.join(repr(c) for c in close)} instead" if close else ""
            seps = [name for sep, name in ((";", "semicolons"), ("\t", "tabs"))
                    if len(header) == 1 and sep in header[0]]
            if seps:
                hint = f"; the columns look separated by {seps[0]}, not commas"
            raise EhcpError(
                f"missing column '{col}' that {spec.name} must have{hint}",
                file=source,
                row=1,
                field=col,
                fix="restore the DfE header (columns are read by name, order does not matter)",
            )


def parse_table(
    df: pd.DataFrame, spec: FileSpec, source: str, *, strict: bool = True
) -> ParsedFile:
    """Validate a DfE table and turn the columns named in ``spec`` into long rows.

    Parameters
    ----------
    df : DataFrame
        The CSV as read by :func:`read_csv_bytes` (all columns text).
    spec : FileSpec
        What to read from it.
    source : str
        Shown in messages (``zipname:member`` or a path).
    strict : bool
        Raise the first problem (``True``) or set bad rows aside and list them.

    Returns
    -------
    ParsedFile
        ``long`` has :data:`LONG_COLUMNS`; ``y`` is NaN with the DfE reason in ``flag`` for
        ``x``/``z``/``c``/blank cells.

    Examples
    --------
    >>> from forecasting.data.sen2_schema import spec_for
    >>> head = ("time_period,geographic_level,country_code,country_name,region_code,region_name,"
    ...         "new_la_code,old_la_code,la_name,NewallEHC,InreqEHC")
    >>> spec = spec_for("sen2_mi.csv")
    >>> csv = head + "\\n2021,National,E92000001,England,,,,,,62180,93302\\n"
    >>> df = read_csv_bytes(csv.encode(), "t.csv")
    >>> parse_table(df, spec, "t.csv", strict=False).problems[0].field
    'AssRefusedEHC'
    """
    problems: list[EhcpError] = []
    rejected: set[int] = set()
    notes: list[str] = []
    try:
        _check_columns(df, spec, source)
    except EhcpError as err:
        if strict:
            raise
        return ParsedFile(source, spec, len(df), _empty_long(), [err], set(range(2, len(df) + 2)))
    if df.empty:
        _problem(problems, rejected, strict, "the file has a header but no data rows",
                 file=source, row=2, field=df.columns[0] if len(df.columns) else None,
                 fix="re-extract it from the DfE zip")
    dup_headers = [c for c in df.columns if re.search(r"\.\d+$", c) and c.rsplit(".", 1)[0] in df.columns]
    if dup_headers:
        notes.append(f"repeated column names in the header: {', '.join(dup_headers)} (ignored)")

    rownum = pd.Series(np.arange(2, len(df) + 2), index=df.index)
    short = df.isna().any(axis=1) | rownum.isin(df.attrs.get("short_rows", []))
    for row in rownum[short]:
        _problem(problems, rejected, strict, "the row has fewer fields than the header (file cut short?)",
                 file=source, row=int(row), field=df.columns[-1],
                 fix="re-extract the file from the DfE zip")
    df = df.fillna("")

    level = df["geographic_level"].str.strip().map(_LEVELS)
    for row, value in zip(rownum[level.isna()], df.loc[level.isna(), "geographic_level"], strict=True):
        _problem(problems, rejected, strict,
                 f"unknown geographic_level {value!r}; expected National, Regional or Local authority",
                 file=source, row=int(row), field="geographic_level")
    period = df["time_period"].str.strip()
    bad_period = ~period.str.match(_PERIOD)
    for row, value in zip(rownum[bad_period], period[bad_period], strict=True):
        _problem(problems, rejected, strict,
                 f"time_period {value!r} is not a year (2021) or an academic year (202425)",
                 file=source, row=int(row), field="time_period")
    _check_areas(df, level, rownum, source, problems, rejected, strict)

    key = [*ID_COLUMNS, *spec.key]
    dup = df.duplicated(subset=key, keep="first")
    if dup.any():
        first = df[df.duplicated(subset=key, keep=False) & ~dup]
        firsts = {tuple(r): n for r, n in zip(first[key].itertuples(index=False), rownum[first.index], strict=True)}
        for idx in df.index[dup]:
            origin = firsts.get(tuple(df.loc[idx, key]))
            _problem(problems, rejected, strict,
                     f"duplicated row: same {', '.join(key)} as row {origin}",
                     file=source, row=int(rownum[idx]), field="time_period",
                     fix="delete one of the two rows")

    uid = np.select(
        [level == "national", level == "regional"],
        [df["country_code"], df["region_code"]],
        default=df["new_la_code"],
    )
    name = np.select(
        [level == "national", level == "regional"],
        [df["country_name"], df["region_name"]],
        default=df["la_name"],
    )
    years = pd.to_numeric(period.str[:4], errors="coerce")
    if spec.timing == "stock":
        # An academic year 202425 counts the plans of January 2025; a bare year is that January.
        years = years + (period.str.len() == 6).astype(int)
    base = pd.DataFrame(
        {
            "unique_id": uid,
            "name": name,
            "level": level,
            "old_code": np.where(level == "la", df["old_la_code"], ""),
            "ds": years,
            "_row": rownum,
        },
        index=df.index,
    )

    pieces = []
    for block in spec.blocks:
        mask = pd.Series(True, index=df.index)
        for col, allowed in block.where:
            mask &= df[col].str.strip().isin(allowed)
        labels = None
        if block.label_col is not None and block.label is not None:
            values = df[block.label_col].str.strip()
            lookup = {v: block.label(v) for v in values[mask].unique()}
            labels = values.map(lookup)
            mask &= labels.notna()
        for col, measure, breakdown in block.columns:
            if col not in df.columns:  # an optional column absent from this year's file
                continue
            sub = base[mask].copy()
            sub["measure"] = measure
            sub["breakdown"] = labels[mask] if labels is not None and breakdown == "{label}" else breakdown
            sub["raw"] = df.loc[mask, col].str.strip()
            sub["column"] = col
            pieces.append(sub)
    long = pd.concat(pieces, ignore_index=True) if pieces else _empty_raw()
    long = long[~long["_row"].isin(rejected)]
    long = _to_numbers(long, spec, source, problems, rejected, strict)
    long = long[~long["_row"].isin(rejected)]
    return ParsedFile(source, spec, len(df), _exclusive(_combine(long)), problems, rejected, notes)


def _check_areas(df, level, rownum, source, problems, rejected, strict) -> None:
    checks = [
        (level == "la", "new_la_code", _LA_CODE, "an ONS local authority code like E08000035"),
        (level == "la", "old_la_code", _OLD_CODE, "a 3-digit DfE LA code like 383"),
        (level == "regional", "region_code", _REGION_CODE, "an ONS region code like E12000003"),
        # The code becomes a folder name in batch outputs: only a real ONS code may pass.
        (level == "national", "country_code", _COUNTRY_CODE, "an ONS country code like E92000001"),
    ]
    for mask, col, pattern, expected in checks:
        values = df[col].str.strip()
        bad = mask & ~values.str.match(pattern)
        for row, value in zip(rownum[bad], values[bad], strict=True):
            _problem(problems, rejected, strict,
                     f"unknown local authority or region code {value!r}; expected {expected}",
                     file=source, row=int(row), field=col,
                     fix="check the code against the DfE file it came from")
    # Names become parts of file names (forecast CSVs and charts): no path separators or
    # control characters, which no DfE name has.
    for mask, col in ((level == "la", "la_name"), (level == "regional", "region_name"),
                      (level == "national", "country_name")):
        odd = mask & df[col].str.contains(r"[/\\\x00-\x1f]", regex=True)
        for row, value in zip(rownum[odd], df.loc[odd, col], strict=True):
            _problem(problems, rejected, strict,
                     f"name {value!r} has a '/', '\\' or control character, which no DfE "
                     "area name has", file=source, row=int(row), field=col,
                     fix="restore the name as DfE publishes it")
    named = df["la_name"].str.strip()
    bad = (level == "la") & (named == "")
    for row in rownum[bad]:
        _problem(problems, rejected, strict, "local authority row without la_name",
                 file=source, row=int(row), field="la_name")
    la = df[(level == "la") & ~bad]
    names = la.groupby("new_la_code")["la_name"].nunique()
    for code in names[names > 1].index:
        rows = rownum[la.index[la["new_la_code"] == code]]
        shown = sorted(set(la.loc[la["new_la_code"] == code, "la_name"]))
        _problem(problems, rejected, strict,
                 f"LA code {code} is used for different names: {', '.join(shown)}",
                 file=source, row=int(rows.iloc[-1]), field="la_name",
                 fix="each new_la_code must belong to one LA")


def _to_numbers(long, spec, source, problems, rejected, strict) -> pd.DataFrame:
    raw = long["raw"]
    lowered = raw.str.lower()
    coded = lowered.isin(list(CODE_FLAGS))
    numbers = pd.to_numeric(raw.str.replace(",", "", regex=False).where(~coded), errors="coerce")
    text = ~coded & numbers.isna()
    for row, col, value in zip(long.loc[text, "_row"], long.loc[text, "column"], raw[text], strict=True):
        _problem(problems, rejected, strict,
                 f"expected a count (a whole number, or x/z/c for missing), got {value!r}",
                 file=source, row=int(row), field=col,
                 fix="correct the value or write x if it is not available")
    # Excel writes big counts as 9.33E+04 (digits lost) and a hand edit can leave 810.5; a
    # count beyond every child in England is a typo. Each is refused, never rounded.
    odd_form = ~coded & ~text & (raw.str.contains("[eE]", regex=True) | (numbers % 1 != 0))
    huge = ~coded & ~text & ~odd_form & (numbers.abs() > MAX_COUNT)
    for mask, what in ((odd_form, "a whole number written out in full"),
                       (huge, f"a count below {MAX_COUNT:,}")):
        for row, col, value in zip(long.loc[mask, "_row"], long.loc[mask, "column"], raw[mask], strict=True):
            _problem(problems, rejected, strict, f"expected {what}, got {value!r}",
                     file=source, row=int(row), field=col,
                     fix="correct the value (format the column as Number with 0 decimals)")
    numbers = numbers.where(~(odd_form | huge))
    derived = long["column"].isin(list(spec.derived))
    negative = (numbers < 0) & ~derived
    for row, col, value in zip(long.loc[negative, "_row"], long.loc[negative, "column"], raw[negative], strict=True):
        _problem(problems, rejected, strict, f"a count cannot be negative, got {value}",
                 file=source, row=int(row), field=col, fix="correct the value")
    out = long.drop(columns=["raw"]).copy()
    out["y"] = numbers.astype("float64")
    out["flag"] = lowered.map(CODE_FLAGS).fillna("").astype(str)
    odd = (numbers < 0) & derived
    out.loc[odd, "flag"] = "implausible:negative " + raw[odd]
    out.loc[odd, "y"] = np.nan
    return out


def _combine(long: pd.DataFrame) -> pd.DataFrame:
    """Sum rows that share an area, measure, breakdown and year (age bands, two-column sums).

    A sum with any missing part is missing (never understated), keeping the parts' reasons.
    """
    keys = ["unique_id", "name", "level", "old_code", "measure", "breakdown", "ds"]
    if long.empty:
        return _empty_long()
    many = long.duplicated(subset=keys, keep=False)
    single = long.loc[~many, [*keys, "y", "flag"]]
    parts = long[many]
    grouped = parts.groupby(keys, sort=False)
    summed = grouped["y"].sum(min_count=1).to_frame()
    any_missing = parts.assign(_nan=parts["y"].isna()).groupby(keys, sort=False)["_nan"].any()
    summed.loc[any_missing.reindex(summed.index).to_numpy(), "y"] = np.nan
    flagged = parts[parts["flag"] != ""].drop_duplicates([*keys, "flag"])
    flags = flagged.groupby(keys, sort=False)["flag"].agg(";".join)
    summed["flag"] = flags.reindex(summed.index).fillna("").astype(str)
    out = pd.concat([single, summed.reset_index()], ignore_index=True)
    out["ds"] = out["ds"].astype("int64")
    return out[LONG_COLUMNS]


from forecasting.data.sen2_appeals import APPEALS_PATTERN, parse_appeals  # noqa: E402


def _exclusive(long: pd.DataFrame) -> pd.DataFrame:
    """Make ``placement:special`` exclude independent special schools, as DfE totals include them.

    Placement categories are then distinct, so a mix over them does not count a plan twice.
    """
    keys = ["unique_id", "measure", "ds"]
    special = long["breakdown"] == "placement:special"
    indep = long.loc[long["breakdown"] == "placement:independent special", [*keys, "y", "flag"]]
    if not special.any() or indep.empty:
        return long
    merged = long.loc[special, keys].merge(indep, on=keys, how="left")
    long = long.copy()
    long.loc[special, "y"] = long.loc[special, "y"].to_numpy() - merged["y"].to_numpy()
    # A missing independent count makes the difference unknown, as in _combine.
    both = long.loc[special, "flag"].to_numpy(), merged["flag"].fillna("").to_numpy()
    long.loc[special, "flag"] = [";".join(dict.fromkeys(f for f in pair if f)) for pair in zip(*both, strict=True)]
    return long


def _empty_raw() -> pd.DataFrame:
    cols = ["unique_id", "name", "level", "old_code", "ds", "_row", "measure", "breakdown", "raw", "column"]
    return pd.DataFrame({c: pd.Series(dtype="float64" if c == "ds" else str) for c in cols})


def _empty_long() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="float64" if c == "y" else ("int64" if c == "ds" else str)) for c in LONG_COLUMNS}
    )
