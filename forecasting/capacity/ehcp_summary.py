"""Summaries, the backlog chart and atomic writing of a capacity simulation's outputs.

Used by ``ehcp simulate``. Medians across paths are taken here only for the printed summary
and the chart; the written weekly table keeps every path.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from forecasting.capacity.outputs import BANDS
from forecasting.capacity.simulate import SimulationResult
from forecasting.errors import EhcpError
from forecasting.reporting.outputs import atomic_output_dir, neutralise_frame

__all__ = ["OUTPUT_NAMES", "plot_backlog_bands", "write_simulation", "yearly_summary"]


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


#: Files a simulation folder holds; a folder holding anything else is not replaced.
OUTPUT_NAMES = frozenset({"weekly.parquet", "weekly.csv", "diagnostics.csv",
                          "summary_by_year.csv", "cases.csv", "backlog_bands.png"})
_HARMLESS = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


def _check_replaceable(out: Path) -> None:
    # The whole --out folder is replaced, so a slip such as '--out .' or '--out ~' must not
    # wipe a working folder: only a new, empty or earlier simulation folder is replaced.
    here = Path.cwd().resolve()
    where = out.resolve()
    if where == here or where in here.parents:
        raise EhcpError("--out is the current folder or one above it; it would be replaced",
                        file=out, field="--out", fix="give a new folder, e.g. reports/simulate")
    if out.is_dir():
        try:
            names = [p.name for p in out.iterdir()]
        except OSError as err:
            raise EhcpError(f"cannot read the output folder ({err.strerror})", file=out,
                            field="--out", fix="choose another --out") from None
        other = sorted(n for n in names if n not in OUTPUT_NAMES | _HARMLESS)
        if other:
            shown = ", ".join(other[:3]) + (" ..." if len(other) > 3 else "")
            raise EhcpError(
                f"the folder holds files a simulation did not write ({shown}); it would be "
                "replaced", file=out, field="--out",
                fix="give a new or empty folder, or the folder of an earlier 'ehcp simulate'")


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    # Scenario labels and case fields are user text: a cell starting '=' would run as a
    # spreadsheet formula, so every CSV goes through the toolkit's one neutraliser.
    neutralise_frame(frame).to_csv(path, index=False)


def write_simulation(result: SimulationResult, out_dir: str | Path) -> list[Path]:
    """Write the weekly rows (Parquet and CSV), diagnostics, case records and the chart.

    Everything is written into a temporary folder next to ``out_dir`` and moved into place at
    the end (:func:`forecasting.reporting.outputs.atomic_output_dir`), so an interrupted run
    never leaves half-written files and a failed write or swap keeps any previous
    ``out_dir`` as it was; an existing ``out_dir`` is replaced, but only when it holds
    nothing other than :data:`OUTPUT_NAMES` (and it may not be the working folder or one
    above it). Text cells of the CSV files
    that a spreadsheet would run as formulas get a leading ``'``; the Parquet file keeps the
    values as given.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    EhcpError
        Naming ``--out`` when it is a file, lies below a file, holds other files, is the
        working folder, or cannot be written (a full disk, a read-only folder).
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise EhcpError("output path exists and is not a folder", file=out, field="--out")
    _check_replaceable(out)
    try:
        with atomic_output_dir(out, overwrite=True) as tmp:
            result.weekly.to_parquet(tmp / "weekly.parquet", index=False)
            _write_csv(result.weekly, tmp / "weekly.csv")
            _write_csv(result.diagnostics, tmp / "diagnostics.csv")
            _write_csv(yearly_summary(result.weekly), tmp / "summary_by_year.csv")
            if result.cases is not None:
                _write_csv(result.cases, tmp / "cases.csv")
            fig = plot_backlog_bands(result.weekly)
            fig.savefig(tmp / "backlog_bands.png", dpi=120, bbox_inches="tight")
            os.chmod(tmp, 0o755)
    except EhcpError as err:
        raise EhcpError(err.message, file=err.file, row=err.row, field=err.field or "--out",
                        fix=err.fix) from None
    return sorted(out.iterdir())
