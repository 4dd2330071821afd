"""Plain-text summaries of a case-level extract, for ``ehcp cases summary``."""

from __future__ import annotations

import pandas as pd

from forecasting.data.caselevel_derived import (
    backlog_by_age,
    default_as_of,
    monthly_series,
    open_caseload,
    timeliness_by_year,
)
from forecasting.data.caselevel_load import CaseExtract, with_field
from forecasting.data.caselevel_read import as_day
from forecasting.errors import EhcpError

__all__ = ["format_rejects", "summary_text"]

_MONTH_COLUMNS = ["requests", "decisions", "refusals", "plans_issued", "issued_within_20wk",
                  "pct_within_20wk"]


def format_rejects(rejects: pd.DataFrame, max_rows: int = 20) -> str:
    """The rejected rows as lines ``row N (case_id X): reason``.

    Examples
    --------
    >>> rej = pd.DataFrame({"row": [3], "case_id": ["A2"], "field": ["age"],
    ...                     "reason": ["age: '99' is not a whole number from 0 to 25"]})
    >>> print(format_rejects(rej))
    1 rejected row:
      row 3 (case_id 'A2'): age: '99' is not a whole number from 0 to 25
    """
    n = len(rejects)
    lines = [f"{n} rejected row{'s' if n != 1 else ''}:"]
    for rec in rejects.head(max_rows).itertuples(index=False):
        lines.append(f"  row {rec.row} (case_id {rec.case_id!r}): {with_field(rec)}")
    if n > max_rows:
        lines.append(f"  ... and {n - max_rows} more")
    return "\n".join(lines)


def summary_text(
    extract: CaseExtract, as_of: str | pd.Timestamp | None = None, months: int = 12
) -> str:
    """Monthly counts, timeliness by year and the open backlog by weeks late, as text.

    Parameters
    ----------
    extract : CaseExtract
    as_of : date-like, optional
        The day the backlog is counted on (default: :func:`default_as_of`).
    months : int
        How many of the latest months to list.
    """
    df = extract.frame
    if df.empty:
        # Nothing to count: say so rather than print a table of zeros that looks like data.
        rejected = f" ({len(extract.rejects)} rejected)" if len(extract.rejects) else ""
        raise EhcpError(f"no valid rows to summarise{rejected}", file=extract.source,
                        fix="correct the rejected rows listed above")
    day = as_day(as_of, "--as-of") if as_of is not None else default_as_of(extract)
    label = "SYNTHETIC case-level extract (not real cases)" if extract.synthetic else (
        "case-level extract")
    lines = [f"{extract.source}: {label}"]
    lines.append(
        f"{len(df)} requests from {df['request_date'].min().date()} to "
        f"{df['request_date'].max().date()}; rows rejected: {len(extract.rejects)}"
    )
    wide = monthly_series(df).pivot(index="ds", columns="unique_id", values="y")
    wide = wide[_MONTH_COLUMNS].tail(months)
    wide.index = pd.DatetimeIndex(wide.index).strftime("%Y-%m")
    wide.index.name = "month"
    wide.columns.name = None
    for col in _MONTH_COLUMNS[:-1]:
        wide[col] = wide[col].astype("int64")
    wide["pct_within_20wk"] = wide["pct_within_20wk"].round(1)
    lines += ["", f"Monthly counts (latest {len(wide)} months; event month):",
              wide.to_string()]
    timely = timeliness_by_year(df)
    lines += ["", "Plans issued by calendar year, % within 20 weeks and % over a year "
              "(excluding exceptions):",
              timely.to_string(index=False) if not timely.empty else "  none issued"]
    open_ = open_caseload(df, day)
    table = backlog_by_age(open_)
    lines += ["", f"Open cases on {day.date()}: {len(open_)}; by weeks past the 20-week "
                  "deadline and stage:", table.to_string(index=False)]
    if extract.synthetic:
        lines += ["", "These figures describe SYNTHETIC data made by the toolkit's generator."]
    return "\n".join(lines)
