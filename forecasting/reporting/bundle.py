"""What a report holds (tables, charts, headline figures, sources, assumptions) and how it is written.

:func:`write_report` writes a :class:`ReportBundle` into ``<out>/`` all at once (temporary folder,
renamed when complete): ``report.html`` (self-contained), ``report.xlsx`` (budget-paper workbook),
``charts/<name>.png``, ``tables/<name>.csv`` and ``tables/<name>.parquet``, and ``run.json``.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from forecasting.reporting.outputs import atomic_output_dir, write_table

__all__ = ["Chart", "ReportBundle", "Table", "write_report"]


@dataclass
class Table:
    """One report table: a file-safe ``name``, a ``title``, the frame and a note on its units."""

    name: str
    title: str
    frame: pd.DataFrame
    note: str = ""
    synthetic: bool = False


@dataclass
class Chart:
    """One chart: a file-safe ``name``, a caption and the Figure (rendered once to PNG)."""

    name: str
    title: str
    figure: Figure
    caption: str = ""
    synthetic: bool = False
    png: bytes = b""

    def render(self, dpi: int = 110) -> bytes:
        """PNG bytes of the figure (cached)."""
        if not self.png:
            buf = io.BytesIO()
            self.figure.savefig(buf, format="png", dpi=dpi)
            self.png = buf.getvalue()
        return self.png


@dataclass
class ReportBundle:
    """Everything one run reports."""

    title: str
    run_id: str
    metadata: dict[str, str]
    headline: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    optimiser_message: str = ""

    @property
    def synthetic(self) -> bool:
        """True when any table or chart comes from synthetic inputs."""
        return any(t.synthetic for t in self.tables) or any(c.synthetic for c in self.charts)


def write_report(bundle: ReportBundle, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write the report folder atomically and return its path.

    Examples
    --------
    >>> import tempfile
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(); _ = fig.subplots().plot([1, 2])
    >>> b = ReportBundle("t", "run1", {"LA": "Leeds"},
    ...                  tables=[Table("x", "X", pd.DataFrame({"FY 2026-27 (£)": [1.0]}))],
    ...                  charts=[Chart("c", "C", fig)])
    >>> out = write_report(b, Path(tempfile.mkdtemp()) / "run1")
    >>> sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    ['charts/c.png', 'report.html', 'report.xlsx', 'run.json', 'tables/x.csv', 'tables/x.parquet']
    """
    from forecasting.reporting.html import render_html
    from forecasting.reporting.xlsx import write_workbook

    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        (tmp / "charts").mkdir()
        (tmp / "tables").mkdir()
        for chart in bundle.charts:
            (tmp / "charts" / f"{chart.name}.png").write_bytes(chart.render())
        for table in bundle.tables:
            write_table(table.frame, tmp / "tables", table.name)
        (tmp / "report.html").write_text(render_html(bundle), encoding="utf-8")
        write_workbook(bundle, tmp / "report.xlsx")
        meta = {
            "run_id": bundle.run_id,
            "title": bundle.title,
            "metadata": bundle.metadata,
            "synthetic": bundle.synthetic,
            "headline": bundle.headline,
            "notes": bundle.notes,
            "tables": [t.name for t in bundle.tables],
            "charts": [c.name for c in bundle.charts],
        }
        (tmp / "run.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    return Path(out)
