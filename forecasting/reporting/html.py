"""The self-contained HTML report: inline CSS, base64 images, no scripts, no external links.

It opens from a file or an email attachment with no network. Text from the user or the data is
escaped (jinja2 autoescape). Parts built from synthetic inputs carry a SYNTHETIC badge.
"""

from __future__ import annotations

import base64
import math

import jinja2
import pandas as pd

from forecasting.reporting.bundle import ReportBundle, Table

__all__ = ["render_html", "table_html"]

_CSS = """
body{font-family:Arial,Helvetica,sans-serif;margin:2em auto;max-width:1100px;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;border-bottom:2px solid #2166ac;padding-bottom:.2em;margin-top:2em}
h3{font-size:1.05em;margin-bottom:.3em}
.meta{color:#555;font-size:.9em}
.badge{display:inline-block;background:#b30000;color:#fff;font-weight:bold;padding:.1em .5em;border-radius:3px;font-size:.8em;margin-left:.5em}
.banner{background:#fde0dd;border:2px solid #b30000;padding:.6em 1em;margin:1em 0;font-weight:bold}
.note{background:#fff7e6;border-left:4px solid #f0a30a;padding:.4em .8em;margin:.4em 0}
.headline{display:flex;flex-wrap:wrap;gap:1em}
.kpi{border:1px solid #ccc;border-radius:4px;padding:.6em 1em;min-width:200px;flex:1}
.kpi .v{font-size:1.4em;font-weight:bold;color:#2166ac}.kpi .l{font-size:.85em;color:#444}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:.85em;color:#444}
table{border-collapse:collapse;font-size:.8em;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.2em .5em;text-align:right}
th{background:#f0f4f8}td.t,th.t{text-align:left}
details{margin:.5em 0}summary{cursor:pointer;font-weight:bold}
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ b.title }}</title>
<style>{{ css }}</style>
</head>
<body>
<h1>{{ b.title }}</h1>
<p class="meta">{% for k, v in b.metadata.items() %}{{ k }}: {{ v }}{% if not loop.last %} &middot; {% endif %}{% endfor %}</p>
{% if b.synthetic %}<div class="banner">SYNTHETIC: parts of this report use synthetic inputs (marked SYNTHETIC below). They illustrate the method and are not a record of any council's cases.</div>{% endif %}
{% for n in b.notes %}<div class="note">{{ n }}</div>{% endfor %}
<h2 id="headline">Headline figures</h2>
<div class="headline">
{% for label, value in b.headline %}<div class="kpi"><div class="v">{{ value }}</div><div class="l">{{ label }}</div></div>
{% endfor %}</div>
{% if b.optimiser_message %}<p><strong>Optimiser:</strong> {{ b.optimiser_message }}</p>{% endif %}
<h2 id="charts">Charts</h2>
{% for c in charts %}
<figure id="chart-{{ c.name }}">
<h3>{{ c.title }}{% if c.synthetic %}<span class="badge">SYNTHETIC</span>{% endif %}</h3>
<img src="data:image/png;base64,{{ c.b64 }}" alt="{{ c.title }}">
{% if c.caption %}<figcaption>{{ c.caption }}</figcaption>{% endif %}
</figure>
{% endfor %}
<h2 id="tables">Tables</h2>
<p class="meta">Every table is also in report.xlsx (one sheet each) and under tables/ as CSV and Parquet.
Column headers say the year type: FY = financial year (1 April - 31 March), CY = calendar year,
AY = academic year (1 September - 31 August).</p>
{% for t in tables %}
<details{% if loop.index <= 4 %} open{% endif %} id="table-{{ t.name }}">
<summary>{{ t.title }}{% if t.synthetic %}<span class="badge">SYNTHETIC</span>{% endif %}</summary>
{% if t.note %}<p class="meta">{{ t.note }}</p>{% endif %}
{{ t.html }}
</details>
{% endfor %}
<h2 id="sources">Data sources</h2>
<ul>{% for s in b.sources %}<li>{{ s }}</li>{% endfor %}</ul>
<h2 id="assumptions">Assumptions</h2>
<ul>{% for a in b.assumptions %}<li>{{ a }}</li>{% endfor %}</ul>
<p class="meta">Run {{ b.run_id }}. Self-contained file: no scripts, no external resources.</p>
</body>
</html>
"""


def _cell(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:,.1f}" if abs(value) < 1e5 else f"{value:,.0f}"
    if isinstance(value, pd.Timestamp):
        return str(value.date())
    return str(value)


def table_html(frame: pd.DataFrame, max_rows: int = 60) -> str:
    """An escaped HTML table; long tables are cut to ``max_rows`` with a note.

    Examples
    --------
    >>> print(table_html(pd.DataFrame({"scenario": ["<b>"], "FY 2026-27 (£)": [1234.5]})))
    <table><thead><tr><th class="t">scenario</th><th>FY 2026-27 (£)</th></tr></thead><tbody><tr><td class="t">&lt;b&gt;</td><td>1,234.5</td></tr></tbody></table>
    """
    esc = jinja2.utils.markupsafe.escape
    shown = frame.head(max_rows)
    text_cols = {c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])}
    head = "".join(
        f'<th class="t">{esc(str(c))}</th>' if c in text_cols else f"<th>{esc(str(c))}</th>"
        for c in frame.columns
    )
    rows = []
    for rec in shown.itertuples(index=False):
        cells = "".join(
            f'<td class="t">{esc(_cell(v))}</td>' if c in text_cols else f"<td>{esc(_cell(v))}</td>"
            for c, v in zip(frame.columns, rec, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    more = (
        f'<p class="meta">First {max_rows} of {len(frame)} rows; all rows are in the CSV and workbook.</p>'
        if len(frame) > max_rows
        else ""
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def render_html(bundle: ReportBundle) -> str:
    """The report as one self-contained HTML page.

    Examples
    --------
    >>> html = render_html(ReportBundle("Demand <& capacity>", "r1", {"LA": "Leeds"}))
    >>> "Demand &lt;&amp; capacity&gt;" in html and "<script" not in html
    True
    """
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(_TEMPLATE)
    charts = [
        {"name": c.name, "title": c.title, "caption": c.caption, "synthetic": c.synthetic,
         "b64": base64.b64encode(c.render()).decode("ascii")}
        for c in bundle.charts
    ]
    tables = [_table_ctx(t) for t in bundle.tables]
    return template.render(b=bundle, css=_CSS, charts=charts, tables=tables)


def _table_ctx(t: Table) -> dict:
    return {
        "name": t.name,
        "title": t.title,
        "note": t.note,
        "synthetic": t.synthetic,
        "html": jinja2.utils.markupsafe.Markup(table_html(t.frame)),
    }
