"""Summaries, the backlog chart and atomic writing of a capacity simulation's outputs.

Used by ``ehcp simulate``. Medians across paths are taken here only for the printed summary
and the chart; the written weekly table keeps every path.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from forecasting.capacity.outputs import BANDS
from forecasting.capacity.simulate import SimulationResult
from forecasting.errors import EhcpError

__all__ = ["plot_backlog_bands", "write_simulation", "yearly_summary"]


def yearly_summary(weekly: pd.DataFrame) -> pd.DataFrame:
    """Per scenario and simulated year (52-week blocks): medians across paths.

    Columns: ``scenario, year, period`` (first and last week-end dates), the lateness bands
    of open new assessments at the year's last week, ``open_new``, ``pct_within_20wk`` (plans
    issued within 20 weeks excluding exceptions, pooled over the year), ``plans_issued``,
    ``reviews_overdue`` (at year end), ``ep_fte_in_post`` and ``caseworker_fte_in_post`` (year
    mean) and ``cost_gbp`` (year total).

    Examples
    --------
    >>> wk = pd.DataFrame({"scenario": "b", "path": [0, 0], "week": [0, 1],
    ...     "week_end": pd.to_datetime(["2025-04-07", "2025-04-14"]),
    ...     **{b: [1, 2] for b in BANDS}, "open_new": [6, 12], "plans_issued_ex": [2, 2],
    ...     "plans_within_20wk_ex": [1, 2], "plans_issued": [2, 2], "reviews_overdue": [0, 3],
    ...     "ep_fte_in_post": [1.0, 1.0], "caseworker_fte_in_post": [2.0, 2.0],
    ...     "cost_gbp": [10.0, 10.0]})
    >>> s = yearly_summary(wk)
    >>> s[["open_new", "pct_within_20wk", "reviews_overdue"]].values.tolist()
    [[12.0, 75.0, 3.0]]
    """
    wk = weekly.assign(year=weekly["week"] // 52 + 1)
    # A trailing part-year of under 26 weeks joins the year before it.
    last_year = int(wk["year"].max())
    if last_year > 1 and (wk["week"].max() % 52) < 25:
        wk.loc[wk["year"] == last_year, "year"] = last_year - 1
    keys = ["scenario", "year", "path"]
    ends = wk.loc[wk.groupby(keys, observed=True)["week"].idxmax()]
    sums = wk.groupby(keys, observed=True).agg(
        issued=("plans_issued", "sum"), den=("plans_issued_ex", "sum"),
        num=("plans_within_20wk_ex", "sum"), ep=("ep_fte_in_post", "mean"),
        cw=("caseworker_fte_in_post", "mean"), cost=("cost_gbp", "sum"),
        first=("week_end", "min"), last=("week_end", "max"))
    per_path = ends.set_index(keys)[[*BANDS, "open_new", "reviews_overdue"]].join(sums)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_path["pct_within_20wk"] = np.where(per_path["den"] > 0,
                                               100.0 * per_path["num"] / per_path["den"], np.nan)
    cols = [*BANDS, "open_new", "pct_within_20wk", "issued", "reviews_overdue", "ep", "cw",
            "cost"]
    med = per_path.groupby(["scenario", "year"], observed=True)[cols].median()
    dates = per_path.groupby(["scenario", "year"], observed=True).agg(
        first=("first", "min"), last=("last", "max"))
    out = med.join(dates).reset_index()
    out["scenario"] = out["scenario"].astype(str)
    out["period"] = (out["first"] - pd.Timedelta(days=6)).dt.strftime("%Y-%m-%d") + " to " \
        + out["last"].dt.strftime("%Y-%m-%d")
    out = out.rename(columns={"issued": "plans_issued", "ep": "ep_fte_in_post",
                              "cw": "caseworker_fte_in_post", "cost": "cost_gbp"})
    numeric = [*BANDS, "open_new", "pct_within_20wk", "plans_issued", "reviews_overdue",
               "ep_fte_in_post", "caseworker_fte_in_post", "cost_gbp"]
    return out[["scenario", "year", "period", *numeric]].astype(dict.fromkeys(numeric, float))


def plot_backlog_bands(weekly: pd.DataFrame, scenario: str | None = None,
                       ax: object | None = None) -> Figure:
    """Stacked areas of open new assessments by lateness band (median across paths).

    Each band's median is taken separately, so the stack is a typical picture, not one path.

    Examples
    --------
    >>> wk = pd.DataFrame({"scenario": "b", "path": 0, "week": [0, 1],
    ...     "week_end": pd.to_datetime(["2025-04-07", "2025-04-14"]), **{b: [1, 2] for b in BANDS}})
    >>> fig = plot_backlog_bands(wk)
    >>> len(fig.axes)
    1
    """
    if scenario is not None:
        weekly = weekly[weekly["scenario"] == scenario]
    med = weekly.groupby("week_end")[list(BANDS)].median()
    if ax is None:
        fig = Figure(figsize=(9, 4.5))
        axes = fig.add_subplot()
    else:
        axes = ax  # type: ignore[assignment]
        fig = axes.figure  # type: ignore[attr-defined,assignment]
    colours = ["#9ecae1", "#fdd49e", "#fdbb84", "#fc8d59", "#e34a33", "#b30000"]
    labels = ["not yet due", "0-4 weeks late", "4-13 weeks late", "13-26 weeks late",
              "26-52 weeks late", "52+ weeks late"]
    axes.stackplot(med.index, *(med[b].to_numpy() for b in BANDS), labels=labels,
                   colors=colours)
    axes.set_ylabel("open new assessments (median across paths)")
    axes.set_title("EHC needs assessments open at week end, by weeks past the 20-week deadline")
    axes.legend(loc="upper left", fontsize=8, frameon=False)
    axes.margins(x=0)
    return fig


def _atomic_dir(out: Path) -> tuple[Path, Path]:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    return tmp, out


def write_simulation(result: SimulationResult, out_dir: str | Path) -> list[Path]:
    """Write the weekly rows (Parquet and CSV), diagnostics, case records and the chart.

    Everything is written into a temporary folder next to ``out_dir`` and moved into place at
    the end, so an interrupted run never leaves half-written files; an existing ``out_dir`` is
    replaced.

    Returns
    -------
    list of Path
        The files written.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise EhcpError("output path exists and is not a folder", file=out, field="--out")
    tmp, final = _atomic_dir(out)
    try:
        result.weekly.to_parquet(tmp / "weekly.parquet", index=False)
        result.weekly.to_csv(tmp / "weekly.csv", index=False)
        result.diagnostics.to_csv(tmp / "diagnostics.csv", index=False)
        yearly_summary(result.weekly).to_csv(tmp / "summary_by_year.csv", index=False)
        if result.cases is not None:
            result.cases.to_csv(tmp / "cases.csv", index=False)
        fig = plot_backlog_bands(result.weekly)
        fig.savefig(tmp / "backlog_bands.png", dpi=120, bbox_inches="tight")
        os.chmod(tmp, 0o755)
        if final.exists():
            old = final.with_name(f".{final.name}.old")
            if old.exists():
                shutil.rmtree(old)
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old)
        else:
            tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sorted(final.iterdir())
