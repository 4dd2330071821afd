"""Report charts: each function draws one chart and returns the matplotlib Figure.

Inputs are the report tables (percentiles already computed by :mod:`.tables`). A chart drawn
from synthetic inputs says SYNTHETIC in its title.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("agg")  # reports are written headless; a GUI backend would need a display

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from forecasting.reporting.tables import BAND_LABELS, BANDS, fy_columns

__all__ = [
    "plot_backlog_bands",
    "plot_complexity_mix",
    "plot_cost_fte",
    "plot_demand_fallback",
    "plot_timeliness",
    "plot_tradeoff",
]

_BAND_COLOURS = ("#c7e9c0", "#fdd49e", "#fdbb84", "#fc8d59", "#e34a33", "#b30000")


def _title(text: str, synthetic: bool) -> str:
    return f"SYNTHETIC - {text}" if synthetic else text


def plot_backlog_bands(
    bands: pd.DataFrame, *, synthetic: bool = False, stat: str = "p50"
) -> Figure:
    """Open cases by lateness band over time, one panel per scenario (stacked medians).

    Parameters
    ----------
    bands : DataFrame
        Long percentiles from :func:`.tables.percentile_bands` over the band columns with
        ``by=("scenario", "ds")``.

    Examples
    --------
    >>> b = pd.DataFrame({"scenario": "a", "ds": pd.Timestamp("2026-04-06"),
    ...                   "metric": list(BANDS), "p50": 1.0})
    >>> len(plot_backlog_bands(b).axes)
    1
    """
    scenarios = list(dict.fromkeys(bands["scenario"]))
    cols = min(3, len(scenarios))
    rows = int(np.ceil(len(scenarios) / cols))
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharey=True)
    for ax, scenario in zip(axes.flat, scenarios, strict=False):
        sub = bands.loc[bands["scenario"] == scenario]
        wide = sub.pivot_table(index="ds", columns="metric", values=stat).reindex(columns=list(BANDS))
        wide = wide.fillna(0.0)
        ax.stackplot(
            wide.index, *[wide[b].to_numpy() for b in BANDS],
            labels=[BAND_LABELS[b] for b in BANDS], colors=_BAND_COLOURS,
        )
        ax.set_title(str(scenario), fontsize=10)
        locator = mdates.AutoDateLocator(maxticks=6)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.tick_params(labelsize=8)
        ax.set_ylabel("open cases (median across paths)", fontsize=8)
    for ax in list(axes.flat)[len(scenarios):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=6, fontsize=8)
    fig.suptitle(_title("Open cases by weeks past the 20-week deadline (week ending)", synthetic))
    return fig


def plot_timeliness(
    table: pd.DataFrame, *, target: float | None = None, synthetic: bool = False
) -> Figure:
    """% of new plans within 20 weeks by financial year per scenario (median, p10-p90 bars).

    Parameters
    ----------
    table : DataFrame
        From :func:`.tables.timeliness_by_fy` (rows scenario x statistic p10/p50/p90).
    target : float, optional
        Draw the target as a horizontal line.

    Examples
    --------
    >>> t = pd.DataFrame({"scenario": ["a"] * 3, "statistic": ["p10", "p50", "p90"],
    ...                   "FY 2026-27 (% within 20 weeks)": [10.0, 20.0, 30.0]})
    >>> plot_timeliness(t, target=60).axes[0].get_ylabel()
    '% of new plans issued within 20 weeks'
    """
    years = fy_columns(table)
    scenarios = list(dict.fromkeys(table["scenario"]))
    stats = sorted(set(table["statistic"]), key=lambda s: float(s[1:]))
    lo, mid, hi = (stats[0], stats[len(stats) // 2], stats[-1])
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(years))
    width = 0.8 / max(len(scenarios), 1)
    for i, scenario in enumerate(scenarios):
        sub = table.loc[table["scenario"] == scenario].set_index("statistic")
        med = sub.loc[mid, years].to_numpy(float)
        err = np.vstack([med - sub.loc[lo, years].to_numpy(float), sub.loc[hi, years].to_numpy(float) - med])
        ax.bar(x + i * width - 0.4 + width / 2, med, width, yerr=np.nan_to_num(err), capsize=2,
               label=str(scenario))
    if target is not None:
        ax.axhline(target, color="black", linestyle="--", linewidth=1, label=f"target {target:g}%")
    ax.set_xticks(x, [y.split(" (")[0] for y in years], fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of new plans issued within 20 weeks")
    ax.legend(fontsize=8, ncols=2)
    ax.set_title(_title(f"Timeliness by financial year ({mid}; bars {lo}-{hi})", synthetic), fontsize=10)
    return fig


def plot_cost_fte(cost: pd.DataFrame, fte: pd.DataFrame, *, synthetic: bool = False) -> Figure:
    """Total staff cost (left) and EP / caseworker FTE (right) by financial year and scenario.

    Examples
    --------
    >>> c = pd.DataFrame({"scenario": ["a"], "line": ["total"], "FY 2026-27 (£)": [1e6]})
    >>> f = pd.DataFrame({"scenario": ["a", "a"], "line": ["EP (FTE)", "caseworker (FTE)"],
    ...                   "FY 2026-27 (FTE)": [10.0, 30.0]})
    >>> len(plot_cost_fte(c, f).axes)
    2
    """
    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    scenarios = list(dict.fromkeys([*cost["scenario"], *fte["scenario"]]))
    # One colour per scenario in both panels; overlapping lines mean equal figures.
    colour = {s: matplotlib.colormaps["tab10"](i % 10) for i, s in enumerate(scenarios)}
    years = fy_columns(cost)
    labels = [y.split(" (")[0] for y in years]
    totals = cost.loc[cost["line"] == "total"]
    for _, row in totals.iterrows():
        left.plot(labels, row[years].to_numpy(float) / 1e6, marker="o", color=colour[row["scenario"]],
                  label=str(row["scenario"]))
    left.set_ylabel("staff cost, £ million (mean across paths)")
    left.set_title("Staff cost by financial year", fontsize=10)
    left.tick_params(labelsize=8)
    left.legend(fontsize=7)
    fyears = fy_columns(fte)
    for _, row in fte.iterrows():
        line = str(row["line"])
        if "hours" in line:
            continue
        right.plot([y.split(" (")[0] for y in fyears], row[fyears].to_numpy(float),
                   "-" if line.startswith("EP") else ":", marker="o" if line.startswith("EP") else "s",
                   color=colour[row["scenario"]], markersize=4)
    right.set_ylabel("FTE in post (average over the year)")
    right.set_title("Staffing by financial year (solid: EP, dotted: caseworkers)", fontsize=10)
    right.tick_params(labelsize=8)
    fig.suptitle(_title("Cost and FTE by financial year (April-March)", synthetic), fontsize=11)
    return fig


def plot_tradeoff(
    candidates: pd.DataFrame, *, probability: float | None = None, best_cost: float | None = None
) -> Figure:
    """The optimiser's cost-versus-P(target met) trade-off, Pareto front joined.

    Examples
    --------
    >>> c = pd.DataFrame({"cost_gbp": [1e6, 2e6], "p_all": [0.2, 0.9], "evaluated": [True, True],
    ...                   "feasible": [False, True], "pareto": [True, True]})
    >>> plot_tradeoff(c, probability=0.8).axes[0].get_xlabel()
    'extra staff cost over the horizon, £ million'
    """
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    ev = candidates.loc[candidates["evaluated"].astype(bool)]
    ok = ev["feasible"].astype(bool)
    ax.scatter(ev.loc[~ok, "cost_gbp"] / 1e6, ev.loc[~ok, "p_all"], color="#999999", s=18,
               label="misses a target")
    ax.scatter(ev.loc[ok, "cost_gbp"] / 1e6, ev.loc[ok, "p_all"], color="#1b7837", s=18,
               label="meets every target")
    front = ev.loc[ev["pareto"].astype(bool)].sort_values("cost_gbp")
    ax.step(front["cost_gbp"] / 1e6, front["p_all"], where="post", color="#2166ac", label="Pareto front")
    if probability is not None:
        ax.axhline(probability, color="black", linestyle="--", linewidth=1,
                   label=f"required probability {probability:g}")
    if best_cost is not None:
        ax.axvline(best_cost / 1e6, color="#1b7837", linestyle=":", linewidth=1, label="cheapest plan")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("extra staff cost over the horizon, £ million")
    ax.set_ylabel("P(all targets met)")
    ax.legend(fontsize=8)
    ax.set_title("Cost versus chance of meeting the targets", fontsize=10)
    return fig


def plot_complexity_mix(mix: pd.DataFrame, *, synthetic: bool = False) -> Figure:
    """Share of plans by group (e.g. primary need) over time, as stacked bars.

    Parameters
    ----------
    mix : DataFrame
        Long: ``period`` (year label), ``group`` and ``share`` (0-1), optional ``kind``
        (history / forecast).

    Examples
    --------
    >>> m = pd.DataFrame({"period": ["2024", "2024"], "group": ["ASD", "SEMH"], "share": [0.6, 0.4]})
    >>> plot_complexity_mix(m).axes[0].get_ylabel()
    'share of plans (%)'
    """
    wide = mix.pivot_table(index="period", columns="group", values="share", aggfunc="sum").fillna(0.0)
    wide = wide[wide.sum().sort_values(ascending=False).index]
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    bottom = np.zeros(len(wide))
    cmap = matplotlib.colormaps["tab20"]
    for i, group in enumerate(wide.columns):
        vals = 100 * wide[group].to_numpy(float)
        ax.bar(wide.index.astype(str), vals, bottom=bottom, label=str(group), color=cmap(i % 20))
        bottom += vals
    ax.set_ylabel("share of plans (%)")
    ax.tick_params(axis="x", labelsize=8, rotation=45)
    ax.legend(fontsize=7, ncols=1, loc="center left", bbox_to_anchor=(1, 0.5))
    ax.set_title(_title("Complexity mix: plans by primary need", synthetic), fontsize=10)
    return fig


def plot_demand_fallback(
    history: pd.DataFrame, fcst: pd.DataFrame, *, levels: Sequence[int] = (80, 95)
) -> Figure:
    """Demand fan chart (used only while the forecasting engineer's ``plot_forecast`` is missing).

    Examples
    --------
    >>> h = pd.DataFrame({"ds": pd.to_datetime(["2023-01-01", "2024-01-01"]), "y": [1.0, 2.0]})
    >>> f = pd.DataFrame({"ds": pd.to_datetime(["2025-01-01"]), "yhat": [3.0], "lo_80": [2.0],
    ...                   "hi_80": [4.0]})
    >>> len(plot_demand_fallback(h, f, levels=(80,)).axes)
    1
    """
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    for level in sorted(levels, reverse=True):
        lo, hi = f"lo_{level}", f"hi_{level}"
        if lo in fcst and hi in fcst:
            ax.fill_between(fcst["ds"], fcst[lo], fcst[hi], alpha=0.25, color="#2166ac",
                            label=f"{level}% interval")
    ax.plot(history["ds"], history["y"], "k-o", markersize=3, label="history")
    ax.plot(fcst["ds"], fcst["yhat"], "-o", color="#2166ac", markersize=3, label="forecast")
    ax.legend(fontsize=8)
    return fig
