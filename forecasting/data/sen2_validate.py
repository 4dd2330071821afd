"""Check data files before use (``ehcp data validate``): DfE zips, CSVs from them, extracts.

Unlike :func:`~forecasting.data.load_panel`, validation does not stop at the first problem: it
reads everything it can and reports, per file, the rows read, measures, LAs, years, flagged
values and every rejected row with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from forecasting.data.sen2_read import ParsedFile, parse_table, read_csv_bytes, read_zip
from forecasting.data.sen2_schema import FILE_SPECS, FileSpec, spec_for
from forecasting.errors import EhcpError

__all__ = ["FileReport", "validate_data_dir", "validate_path"]

_SKIP_SUFFIXES = {".md", ".txt", ".json", ".gitkeep"}


@dataclass
class FileReport:
    """What validation found in one file."""

    path: str
    kind: str
    rows: int = 0
    members: list[str] = field(default_factory=list)
    measures: set[str] = field(default_factory=set)
    las: int = 0
    years: tuple[int, int] | None = None
    flagged: int = 0
    errors: list[str] = field(default_factory=list)
    rejects: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file could be read and no row was rejected."""
        return not self.errors and not self.rejects

    def format(self, max_rejects: int = 20) -> str:
        """A short plain-text report."""
        status = "OK" if self.ok else "INVALID"
        lines = [f"{self.path} [{self.kind}]: {status}"]
        if self.members:
            lines.append(f"  files: {', '.join(self.members)}")
        if self.rows:
            years = f"{self.years[0]}-{self.years[1]}" if self.years else "none"
            lines.append(
                f"  rows: {self.rows}; measures: {len(self.measures)}; LAs: {self.las}; "
                f"years: {years}; flagged values: {self.flagged}"
            )
        lines += [f"  error: {e}" for e in self.errors]
        lines += [f"  reject: {r}" for r in self.rejects[:max_rejects]]
        if len(self.rejects) > max_rejects:
            lines.append(f"  ... and {len(self.rejects) - max_rejects} more rejects")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _summarise(report: FileReport, parsed: list[ParsedFile]) -> FileReport:
    las: set[str] = set()
    years: list[int] = []
    for pf in parsed:
        report.members.append(pf.source.rsplit(":", 1)[-1])
        report.rows += pf.rows_read
        report.measures |= set(pf.long["measure"])
        las |= set(pf.long.loc[pf.long["level"] == "la", "unique_id"])
        years += pf.long["ds"].tolist()
        report.flagged += int((pf.long["flag"] != "").sum())
        report.rejects += [str(p) for p in pf.problems]
        report.notes += [f"{pf.source}: {n}" for n in pf.notes]
    report.las = len(las)
    report.years = (min(years), max(years)) if years else None
    return report


def _guess_spec(header: list[str]) -> FileSpec | None:
    """The spec whose columns best match a header (a CSV saved under another name)."""
    if not {"time_period", "geographic_level"} <= set(header):
        return None
    scored = [(len(set(s.required_columns()) & set(header)) / len(s.required_columns()), s)
              for s in FILE_SPECS]
    score, spec = max(scored, key=lambda t: t[0])
    return spec if score >= 0.6 else None


def _is_case_extract(header: list[str]) -> bool:
    try:
        from forecasting.data.caselevel_schema import CASE_SCHEMA, normalise_header
    except ImportError:  # the case-level module is optional
        return False
    required = {c.name for c in CASE_SCHEMA if c.required}
    names = {normalise_header(h) for h in header}
    return "time_period" not in names and len(required & names) >= max(2, len(required) // 2)


def validate_path(path: str | Path) -> FileReport:
    """Validate one file: a DfE zip, a CSV from one, or a case-level extract.

    Examples
    --------
    >>> validate_path("no/such.zip").errors
    ['no/such.zip: file not found. Fix: check the path.']
    """
    path = Path(path)
    if not path.exists():
        return FileReport(str(path), "missing", errors=[str(EhcpError("file not found", file=path, fix="check the path"))])
    if path.suffix.lower() == ".zip":
        report = FileReport(str(path), "DfE SEN2 zip")
        try:
            return _summarise(report, read_zip(path, strict=False))
        except EhcpError as err:
            report.errors.append(str(err))
            return report
    if path.suffix.lower() != ".csv":
        return FileReport(str(path), "not checked", notes=["not a .zip or .csv file"])
    try:
        data = path.read_bytes()
        header = read_csv_bytes(data.split(b"\n", 1)[0] + b"\n", str(path)).columns.tolist()
    except (EhcpError, OSError) as err:
        return FileReport(str(path), "CSV", errors=[str(err)])
    if _is_case_extract(header):
        return _validate_extract(path)
    spec = spec_for(path.name) or _guess_spec(header)
    if spec is None:
        if path.name == "reference_parameters_from_pages.csv":
            return _validate_reference(path)
        return FileReport(
            str(path),
            "CSV",
            errors=[str(EhcpError(
                "not a known SEN2 CSV or case-level extract (header not recognised)",
                file=path, row=1,
                fix="name it as in the DfE zip (e.g. requests.csv) or check the header",
            ))],
        )
    report = FileReport(str(path), f"DfE SEN2 CSV ({spec.name})")
    try:
        parsed = parse_table(read_csv_bytes(data, str(path)), spec, str(path), strict=False)
    except EhcpError as err:
        report.errors.append(str(err))
        return report
    report = _summarise(report, [parsed])
    report.members = []
    return report


def _validate_extract(path: Path) -> FileReport:
    from forecasting.data.caselevel import validate_extract

    found = validate_extract(path)
    report = FileReport(str(path), "case-level extract" + (" (SYNTHETIC)" if found.synthetic else ""))
    report.rows = found.n_rows
    report.errors = list(found.errors)
    report.rejects = [
        f"{path}, row {r.row}, field '{r.field}': {r.reason}"
        for r in found.rejects.itertuples(index=False)
    ]
    report.notes = list(found.warnings)
    return report


def _validate_reference(path: Path) -> FileReport:
    from forecasting.data.reference import load_reference_parameters

    report = FileReport(str(path), "reference parameters")
    try:
        ref = load_reference_parameters(path)
    except EhcpError as err:
        report.errors.append(str(err))
        return report
    report.rows = len(ref)
    report.notes.append(f"{int(ref['value_num'].isna().sum())} values are ranges or text, not one number")
    return report


def validate_data_dir(data_dir: str | Path) -> list[FileReport]:
    """Validate every data file in a folder (documentation files are skipped)."""
    folder = Path(data_dir)
    if not folder.is_dir():
        raise EhcpError("data folder not found", file=folder, fix="pass an existing folder")
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() not in _SKIP_SUFFIXES]
    if not files:
        raise EhcpError("no data files in the folder", file=folder)
    return [validate_path(p) for p in files]
