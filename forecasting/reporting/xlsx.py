"""The budget-paper workbook: a first sheet on the run, then one sheet per table.

Plain values only (no formulas), headers carry units and year types (``FY 2026-27 (£)``), text
cells that a spreadsheet would run as formulas are neutralised with a leading ``'``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from forecasting.reporting.bundle import ReportBundle
from forecasting.reporting.outputs import neutralise

__all__ = ["sheet_name", "write_workbook"]

_BAD = re.compile(r"[\[\]:*?/\\']")


def sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet name (31 characters, none of ``[]:*?/\\'``).

    Examples
    --------
    >>> sheet_name("cost_by_financial_year_per_scenario_and_line", set())
    'cost_by_financial_year_per_scen'
    >>> sheet_name("a/b", {"a_b"})
    'a_b 2'
    """
    base = _BAD.sub("_", name)[:31] or "sheet"
    out, k = base, 2
    while out in taken:
        suffix = f" {k}"
        out = base[: 31 - len(suffix)] + suffix
        k += 1
    taken.add(out)
    return out


def _plain(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()  # numpy scalar -> Python, so openpyxl stores a number
    return neutralise(value)


def write_workbook(bundle: ReportBundle, path: str | Path) -> Path:
    """Write ``report.xlsx``: sheet ``About`` (run, sources, assumptions), then the tables.

    Examples
    --------
    >>> import tempfile
    >>> from openpyxl import load_workbook
    >>> b = ReportBundle("t", "r1", {"LA": "=cmd"})
    >>> p = write_workbook(b, Path(tempfile.mkdtemp()) / "r.xlsx")
    >>> ws = load_workbook(p)["About"]
    >>> [c.value for c in ws[3]]
    ['LA', "'=cmd"]
    """
    wb = Workbook()
    about = wb.active
    assert about is not None
    about.title = "About"
    bold = Font(bold=True)
    about.append([neutralise(bundle.title)])
    about["A1"].font = Font(bold=True, size=14)
    about.append(["Run id", bundle.run_id])
    for key, value in bundle.metadata.items():
        about.append([neutralise(str(key)), neutralise(str(value))])
    if bundle.synthetic:
        about.append(["SYNTHETIC", "Parts of this workbook use synthetic inputs; see the sheet notes."])
        about.cell(about.max_row, 1).font = Font(bold=True, color="B30000")
    for heading, lines in (
        ("Headline figures", [f"{k}: {v}" for k, v in bundle.headline]),
        ("Notes", bundle.notes),
        ("Data sources", bundle.sources),
        ("Assumptions", bundle.assumptions),
        ("Sheets", [f"{t.name}: {t.title}" for t in bundle.tables]),
    ):
        if not lines:
            continue
        about.append([])
        about.append([heading])
        about.cell(about.max_row, 1).font = bold
        for line in lines:
            about.append([neutralise(str(line))])
    about.column_dimensions["A"].width = 28
    about.column_dimensions["B"].width = 80
    taken = {"About"}
    for table in bundle.tables:
        ws = wb.create_sheet(sheet_name(table.name, taken))
        ws.append([neutralise(table.title + (" (SYNTHETIC)" if table.synthetic else ""))])
        ws["A1"].font = bold
        ws.append([neutralise(table.note)] if table.note else [])
        ws.append([neutralise(str(c)) for c in table.frame.columns])
        for cell in ws[3]:
            cell.font = bold
            cell.alignment = Alignment(wrap_text=True)
        for rec in table.frame.itertuples(index=False):
            ws.append([_plain(v) for v in rec])
        for i, col in enumerate(table.frame.columns, start=1):
            ws.column_dimensions[get_column_letter(i)].width = max(12, min(40, len(str(col)) + 2))
            if pd.api.types.is_float_dtype(table.frame[col]):
                for (cell,) in ws.iter_rows(min_row=4, min_col=i, max_col=i):
                    cell.number_format = "#,##0.0"
        ws.freeze_panes = "A4"
    path = Path(path)
    wb.save(path)
    return path
