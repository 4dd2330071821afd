"""Report tables from simulated paths: percentiles across paths, financial-year summaries.

Input is the simulator's weekly output, one flat row per scenario, path (``sample_id``) and week
(``ds``, the week's first day). Percentiles across paths are computed here, never by the engine.
Budget tables are wide, one column per financial year headed like ``FY 2026-27 (£)``; long tables
carry ``period_type`` and ``period`` columns, so every number says which year it belongs to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from forecasting.costs import CostsConfig, cost_by_financial_year
from forecasting.errors import EhcpError
from forecasting.periods import add_period, period_header

__all__ = [
    "BANDS",
    "backlog_by_fy",
    "cost_by_fy",
    "fte_by_fy",
    "percentile_bands",
    "timeliness_by_fy",
    "wide_by_period",
]

#: Open cases by how far past the 20-week deadline they are, in weeks.
BANDS = ("not_yet_due", "late_0_4", "late_4_13", "late_13_26", "late_26_52", "late_52_plus")
BAND_LABELS = {
    "not_yet_due": "not yet due",
    "late_0_4": "0-4 weeks late",
    "late_4_13": "4-13 weeks late",
    "late_13_26": "13-26 weeks late",
    "late_26_52": "26-52 weeks late",
    "late_52_plus": "over 52 weeks late",
    "reviews_overdue": "annual reviews overdue",
}
_WEEKS_FULL_YEAR = 52


def _require(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise EhcpError(f"{what} lacks columns {missing}", field=", ".join(missing))


def _by_scenario(long: pd.DataFrame, weekly: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    # Scenarios stay in the order the config lists them (the baseline first), not alphabetical.
    order = {name: i for i, name in enumerate(dict.fromkeys(weekly["scenario"]))}
    out = long.assign(_s=long["scenario"].map(order))
    return out.sort_values(["_s", *keys], kind="stable").drop(columns="_s")


def _q(values: Any, q: float) -> pd.Series:
    return values.quantile(q / 100.0)


def percentile_bands(
    weekly: pd.DataFrame,
    columns: Sequence[str],
    *,
    by: Sequence[str] = ("scenario", "ds"),
    q: Sequence[float] = (10, 50, 90),
) -> pd.DataFrame:
    """Percentiles across paths of each column, per group (long: one row per group and column).

    Examples
    --------
    >>> w = pd.DataFrame({"scenario": "a", "ds": pd.Timestamp("2026-04-06"),
    ...                   "sample_id": range(5), "late_0_4": [0, 1, 2, 3, 4]})
    >>> percentile_bands(w, ["late_0_4"], q=(10, 50, 90))[["metric", "p10", "p50", "p90"]].values.tolist()
    [['late_0_4', 0.4, 2.0, 3.6]]
    """
    _require(weekly, [*by, *columns], "simulation output")
    parts = []
    for col in columns:
        g = weekly.groupby(list(by), sort=False)[col]
        part = pd.DataFrame({f"p{v:g}": _q(g, v) for v in q}).reset_index()
        part.insert(len(by), "metric", col)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def wide_by_period(
    long: pd.DataFrame,
    *,
    index: Sequence[str],
    value: str,
    unit: str,
    period_type: str = "financial",
    partial: Mapping[str, bool] | None = None,
) -> pd.DataFrame:
    """Pivot a long table (``period`` column) to one column per period, headed with type and unit.

    Examples
    --------
    >>> long = pd.DataFrame({"scenario": ["a", "a"], "period": ["2026-27", "2027-28"], "v": [1.0, 2.0]})
    >>> wide_by_period(long, index=["scenario"], value="v", unit="£").columns.tolist()
    ['scenario', 'FY 2026-27 (£)', 'FY 2027-28 (£)']
    """
    wide = long.pivot_table(index=list(index), columns="period", values=value, aggfunc="first", sort=False)
    periods = sorted(wide.columns)
    partial = partial or {}
    wide = wide[periods]
    wide.columns = [
        f"{period_header(p, period_type)} ({unit}{', part year' if partial.get(p) else ''})"  # type: ignore[arg-type]
        for p in periods
    ]
    wide.columns.name = None
    return wide.reset_index()


def _partial_years(weekly: pd.DataFrame) -> dict[str, bool]:
    weeks = add_period(weekly[["ds"]].drop_duplicates(), "financial")
    counts = weeks.groupby("period").size()
    return {str(p): bool(n < _WEEKS_FULL_YEAR) for p, n in counts.items()}


def backlog_by_fy(
    weekly: pd.DataFrame, *, q: Sequence[float] = (10, 50, 90), stat: float = 50
) -> pd.DataFrame:
    """Open cases by lateness band (and reviews overdue) at each financial year's last week.

    Rows: scenario x band; columns: ``FY yyyy-yy (cases at year end, p50)``.

    Examples
    --------
    >>> w = pd.DataFrame({"scenario": "a", "sample_id": [0, 1], "ds": pd.Timestamp("2027-03-29"),
    ...     **{b: [1.0, 3.0] for b in BANDS}})
    >>> backlog_by_fy(w).values.tolist()[0]
    ['a', 'not yet due', 2.0]
    """
    bands = [b for b in (*BANDS, "reviews_overdue") if b in weekly.columns]
    _require(weekly, ["scenario", "sample_id", "ds", *BANDS], "simulation output")
    tagged = add_period(weekly, "financial")
    last = tagged.groupby("period")["ds"].transform("max")
    at_end = tagged.loc[tagged["ds"] == last]
    long = percentile_bands(at_end, bands, by=("scenario", "period"), q=q)
    long["band"] = long["metric"].map(BAND_LABELS)
    long["order"] = long["metric"].map({b: i for i, b in enumerate(bands)})
    long = _by_scenario(long, weekly, ["order", "period"])
    return wide_by_period(
        long, index=["scenario", "band"], value=f"p{stat:g}",
        unit=f"cases at year end, p{stat:g}", partial=_partial_years(weekly),
    )


def timeliness_by_fy(weekly: pd.DataFrame, *, q: Sequence[float] = (10, 50, 90)) -> pd.DataFrame:
    """% of new plans issued within 20 weeks per financial year: percentiles across paths.

    Each path's yearly figure pools the year's plans (issued within 20 weeks / issued). Rows:
    scenario x percentile; columns ``FY yyyy-yy (% within 20 weeks)``.

    Examples
    --------
    >>> w = pd.DataFrame({"scenario": "a", "sample_id": [0, 1, 2],
    ...     "ds": pd.Timestamp("2026-05-04"), "plans_issued_ex": [10, 10, 10],
    ...     "plans_within_20wk_ex": [2, 5, 8]})
    >>> timeliness_by_fy(w, q=(50,)).values.tolist()
    [['a', 'p50', 50.0]]
    """
    _require(weekly, ["scenario", "sample_id", "ds", "plans_issued_ex", "plans_within_20wk_ex"],
             "simulation output")
    tagged = add_period(weekly, "financial")
    per_path = tagged.groupby(["scenario", "period", "sample_id"], as_index=False)[
        ["plans_issued_ex", "plans_within_20wk_ex"]
    ].sum()
    issued = per_path["plans_issued_ex"].where(per_path["plans_issued_ex"] > 0)
    per_path["pct"] = 100 * per_path["plans_within_20wk_ex"] / issued
    g = per_path.groupby(["scenario", "period"], sort=True)["pct"]
    long = pd.concat(
        [_q(g, v).rename("value").reset_index().assign(statistic=f"p{v:g}") for v in q],
        ignore_index=True,
    )
    long["_q"] = long["statistic"].str.slice(1).astype(float)
    long = _by_scenario(long, weekly, ["_q", "period"])
    return wide_by_period(long, index=["scenario", "statistic"], value="value",
                          unit="% within 20 weeks", partial=_partial_years(weekly))


FTE_LINES = {"ep_fte": "EP (FTE)", "caseworker_fte": "caseworker (FTE)", "locum_hours": "locum EP (hours/week)"}


def fte_by_fy(weekly: pd.DataFrame, *, stat: float = 50) -> pd.DataFrame:
    """Average staffing over each financial year: a percentile across paths of each path's mean.

    Examples
    --------
    >>> w = pd.DataFrame({"scenario": "a", "sample_id": [0, 0], "ds": pd.to_datetime(["2026-04-06", "2026-04-13"]),
    ...                   "ep_fte": [10.0, 12.0], "caseworker_fte": [30.0, 30.0]})
    >>> fte_by_fy(w).values.tolist()
    [['a', 'EP (FTE)', 11.0], ['a', 'caseworker (FTE)', 30.0]]
    """
    lines = [c for c in FTE_LINES if c in weekly.columns]
    _require(weekly, ["scenario", "sample_id", "ds", "ep_fte", "caseworker_fte"], "simulation output")
    tagged = add_period(weekly, "financial")
    per_path = tagged.groupby(["scenario", "period", "sample_id"], as_index=False)[lines].mean()
    long = percentile_bands(per_path, lines, by=("scenario", "period"), q=(stat,))
    long["line"] = long["metric"].map(FTE_LINES)
    long["order"] = long["metric"].map({b: i for i, b in enumerate(lines)})
    long = _by_scenario(long, weekly, ["order", "period"])
    return wide_by_period(long, index=["scenario", "line"], value=f"p{stat:g}",
                          unit=f"average, p{stat:g}", partial=_partial_years(weekly))


def cost_by_fy(weekly: pd.DataFrame, costs: Mapping[str, CostsConfig]) -> pd.DataFrame:
    """Staff cost by financial year, scenario and cost line: the mean across paths, in pounds.

    ``costs`` maps each scenario name to its :class:`CostsConfig` (scenarios may change pay).

    Examples
    --------
    >>> from forecasting.costs import CostsConfig
    >>> c = CostsConfig.model_validate({"price_base_fy": "2026-27",
    ...     "roles": {"ep": {"grades": {"a": {"salary_gbp": 36525}}},
    ...               "caseworker": {"grades": {"a": {"salary_gbp": 36525}}}},
    ...     "locum": {"ep_day_rate_gbp": 740}})
    >>> w = pd.DataFrame({"scenario": "a", "sample_id": [0, 1], "ds": pd.Timestamp("2026-04-06"),
    ...                   "ep_fte": [1.0, 3.0], "caseworker_fte": 0.0, "locum_hours": 0.0})
    >>> cost_by_fy(w, {"a": c}).round(0).values.tolist()
    [['a', 'EP', 1400.0], ['a', 'caseworker', 0.0], ['a', 'locum EP', 0.0], ['a', 'total', 1400.0]]
    """
    _require(weekly, ["scenario", "sample_id", "ds", "ep_fte", "caseworker_fte"], "simulation output")
    parts = []
    for scenario, frame in weekly.groupby("scenario", sort=False):
        if scenario not in costs:
            raise EhcpError(f"no costs for scenario '{scenario}'", field="costs")
        parts.append(cost_by_financial_year(frame, costs[str(scenario)], by=["scenario", "sample_id"]))
    per_path = pd.concat(parts, ignore_index=True)
    lines = {"ep_cost_gbp": "EP", "caseworker_cost_gbp": "caseworker",
             "locum_cost_gbp": "locum EP", "dispute_cost_gbp": "mediation and tribunal",
             "total_cost_gbp": "total"}
    lines = {k: v for k, v in lines.items() if k in per_path.columns}
    mean = per_path.groupby(["scenario", "period"], sort=False)[list(lines)].mean().reset_index()
    long = mean.melt(id_vars=["scenario", "period"], var_name="metric", value_name="value")
    long["line"] = long["metric"].map(lines)
    long["order"] = long["metric"].map({b: i for i, b in enumerate(lines)})
    long = _by_scenario(long, weekly, ["order", "period"])
    return wide_by_period(long, index=["scenario", "line"], value="value",
                          unit="£, mean across paths", partial=_partial_years(weekly))


def fy_columns(table: pd.DataFrame) -> list[str]:
    """The period columns of a wide table (those headed ``FY ...``).

    Examples
    --------
    >>> fy_columns(pd.DataFrame(columns=["scenario", "FY 2026-27 (£)"]))
    ['FY 2026-27 (£)']
    """
    return [c for c in table.columns if str(c).startswith(("FY ", "AY ", "CY "))]


def totals_row(values: np.ndarray) -> float:
    """Sum ignoring NaN (helper for headline figures).

    Examples
    --------
    >>> totals_row(np.array([1.0, np.nan, 2.0]))
    3.0
    """
    return float(np.nansum(values))
