"""What a synthetic extract is calibrated to: :class:`Calibration`, from figures or the SEN2 panel."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.data.caselevel_schema import NEED_CODES
from forecasting.errors import EhcpError

__all__ = ["DEFAULT_NEED_MIX", "Calibration", "calibration_from_panel"]

#: Share of new EHC plans by primary need, England, calendar 2024 (DfE SEN2 2025 release,
#: ``sen_need_newplans.csv``, percent columns; "need unknown" 1.9% left out).
DEFAULT_NEED_MIX: dict[str, float] = {
    "ASD": 0.275, "SEMH": 0.263, "SLCN": 0.277, "MLD": 0.075, "SpLD": 0.023, "SLD": 0.013,
    "PMLD": 0.006, "PD": 0.023, "HI": 0.007, "VI": 0.005, "MSI": 0.002, "OTH": 0.012,
}
@dataclass(frozen=True)
class Calibration:
    """The SEN2 figures a synthetic extract is made to match.

    Parameters
    ----------
    la : str
        Local authority name.
    requests_per_year : mapping of int to float
        Requests for an EHC needs assessment by calendar year. Years outside the mapping use
        the nearest year's figure.
    refusal_rate : float
        Share of requests refused (decision not to assess), 0-1.
    not_issued_rate : float
        Share of completed assessments that end in a decision not to issue a plan, 0-1.
    pct_within_20wk : float
        Percent of plans issued within 20 weeks, excluding exceptions (0-100).
    pct_over_1yr : float, optional
        Percent of plans issued after more than a year (0-100); when given, the spread of
        case durations is tuned to match it too.
    withdrawn_rate : float
        Share of requests withdrawn before a decision.
    exception_rate : float
        Share of assessments where an exception to the 20-week limit applies.
    need_mix : mapping of str to float
        Share of requests by DfE primary-need code (normalised to sum 1).
    source : str
        Where the figures came from (written to the sidecar).

    Examples
    --------
    >>> cal = Calibration("Testshire", {2024: 1200}, refusal_rate=0.2, not_issued_rate=0.02,
    ...                   pct_within_20wk=50.0)
    >>> cal.volume(2026)
    1200.0
    """

    la: str
    requests_per_year: Mapping[int, float]
    refusal_rate: float
    not_issued_rate: float
    pct_within_20wk: float
    pct_over_1yr: float | None = None
    withdrawn_rate: float = 0.01
    exception_rate: float = 0.03
    need_mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_NEED_MIX))
    source: str = "typed in by hand"

    def __post_init__(self) -> None:
        if not self.requests_per_year:
            raise EhcpError("no yearly request volumes", field="requests_per_year",
                            fix="give at least one year's requests")
        for year, n in self.requests_per_year.items():
            if not np.isfinite(n) or n < 0:
                raise EhcpError(f"requests for {year} must be a count >= 0, got {n}",
                                field="requests_per_year", fix="correct the figure")
        for name in ("refusal_rate", "not_issued_rate", "withdrawn_rate", "exception_rate"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise EhcpError(f"{name} must be a share from 0 to 1, got {value}", field=name,
                                fix="give a share such as 0.2 for 20%")
        if self.refusal_rate + self.withdrawn_rate >= 1.0:
            raise EhcpError("refusal_rate + withdrawn_rate leave no assessments",
                            field="refusal_rate", fix="check the two rates")
        if not 0.0 <= self.pct_within_20wk <= 100.0:
            raise EhcpError(f"pct_within_20wk must be a percent 0-100, got {self.pct_within_20wk}",
                            field="pct_within_20wk", fix="give e.g. 49.2 for 49.2%")
        over = self.pct_over_1yr
        if over is not None and not (0.0 <= over <= 100.0 - self.pct_within_20wk):
            raise EhcpError(f"pct_over_1yr must be a percent from 0 to 100 - pct_within_20wk, "
                            f"got {over}", field="pct_over_1yr", fix="check the two percents")
        unknown = sorted(set(self.need_mix) - set(NEED_CODES))
        if unknown or sum(self.need_mix.values()) <= 0:
            raise EhcpError(f"need_mix has unknown codes {unknown} or sums to 0",
                            field="need_mix", fix=f"use the codes {', '.join(NEED_CODES)}")

    def volume(self, year: int) -> float:
        """Requests in ``year`` (the nearest calibrated year's figure outside the range)."""
        years = sorted(self.requests_per_year)
        nearest = min(years, key=lambda y: (abs(y - year), -y))
        return float(self.requests_per_year[nearest])



_NEEDED = ("requests_received", "requests_refused", "plans_issued_den", "plans_within_20wk")


def _la_rows(panel: pd.DataFrame, la: str) -> tuple[str, pd.DataFrame]:
    missing = [c for c in ("name", "measure", "breakdown", "ds", "y") if c not in panel.columns]
    if missing:
        raise EhcpError(f"the SEN2 panel lacks columns {missing}", field="panel",
                        fix="pass the frame from forecasting.data.load_panel()")
    if "unique_id" in panel.columns and "old_code" in panel.columns:
        # The SEN2 panel's own lookup knows codes, renamed and merged LAs.
        from forecasting.data.sen2_query import find_la

        rows = panel[panel["unique_id"] == find_la(panel, la)]
        return str(rows["name"].iloc[-1]), rows
    names = panel["name"].astype("str")
    hit = names.str.casefold() == la.strip().casefold()
    if not hit.any():
        close = difflib.get_close_matches(la, sorted(set(names)), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "check the spelling"
        raise EhcpError(f"no local authority called '{la}' in the SEN2 panel", field="la",
                        fix=hint)
    return str(names[hit].iloc[0]), panel[hit]


def _trusted(rows: pd.DataFrame) -> pd.Series:
    """Rows with a value that the panel does not flag as implausible (corrected or not)."""
    ok = rows["y"].notna()
    if "flag" in rows.columns:
        ok &= ~rows["flag"].fillna("").astype("str").str.contains("implausible")
    return ok


def _usable(rows: pd.DataFrame, measure: str) -> pd.Series:
    """Yearly totals for ``measure``, leaving out missing and implausible values."""
    sel = rows[(rows["measure"] == measure) & (rows["breakdown"] == "all")]
    sel = sel[_trusted(sel)]
    out = sel.groupby("ds")["y"].sum()
    out.index = out.index.astype(int)
    return out.astype(float)


def _need_mix(rows: pd.DataFrame, years: list[int]) -> dict[str, float] | None:
    sel = rows[(rows["measure"] == "new_plans")
               & rows["breakdown"].astype("str").str.startswith("need:")
               & rows["ds"].astype(int).isin(years)]
    sel = sel[_trusted(sel)]
    if sel.empty:
        return None
    totals = sel.groupby(sel["breakdown"].astype("str").str.removeprefix("need:"))["y"].sum()
    lookup = {c.upper(): c for c in NEED_CODES}
    mix = {lookup[str(k).upper()]: float(v) for k, v in totals.items()
           if str(k).upper() in lookup}
    total = sum(mix.values())
    return {k: round(v / total, 4) for k, v in mix.items()} if total > 0 else None


def calibration_from_panel(panel: pd.DataFrame, la: str, *, n_years: int = 3) -> Calibration:
    """Calibrate to an LA's SEN2 totals in the long panel from ``forecasting.data.load_panel``.

    Rates (refusal, not issued, % within 20 weeks) pool the last ``n_years`` calendar years
    in which requests, refusals, plans issued and plans within 20 weeks are all present and
    not flagged implausible, and on the same side of the SEN2 break in series (flag
    ``break_in_series``) as the latest; request volumes keep every usable year. Values
    flagged ``implausible`` (e.g. Leeds's 2022 new-plans figure, corrected or not) and
    missing values (DfE ``x``, ``c``...) are never used.

    Parameters
    ----------
    panel : DataFrame
        Long SEN2 panel: ``name, level, measure, breakdown, ds, y, flag`` (``breakdown``
        ``"all"`` for totals, ``ds`` the calendar year).
    la : str
        Local authority name (case-insensitive).
    n_years : int
        How many of the latest complete years to pool for the rates.

    Examples
    --------
    >>> rows = [("Leeds", "Local authority", m, "all", yr, v, "")
    ...         for yr, vals in {2023: (1500, 300, 900, 90, 30), 2024: (2300, 350, 700, 70, 10)}.items()
    ...         for m, v in zip(("requests_received", "requests_refused", "plans_issued_den",
    ...                          "plans_within_20wk", "assessed_not_issued"), vals)]
    >>> panel = pd.DataFrame(rows, columns=["name", "level", "measure", "breakdown", "ds", "y", "flag"])
    >>> cal = calibration_from_panel(panel, "leeds")
    >>> cal.la, cal.requests_per_year[2024], round(cal.refusal_rate, 4), cal.pct_within_20wk
    ('Leeds', 2300.0, 0.1711, 10.0)
    """
    name, rows = _la_rows(panel, la)
    series = {m: _usable(rows, m) for m in _NEEDED}
    not_issued = _usable(rows, "assessed_not_issued")
    complete = sorted(set.intersection(*(set(series[m].index) for m in _NEEDED)))
    if not complete:
        raise EhcpError(f"the SEN2 panel has no year with requests, refusals and 20-week "
                        f"timeliness all reported for {name}", field="la",
                        fix="choose another LA or give the figures with Calibration(...)")
    # Pool only years on the same side of the SEN2 break in series as the latest year.
    if "flag" in rows.columns:
        flags = rows["flag"].fillna("").astype("str")
        at_break = flags.str.contains("break_in_series") & rows["measure"].isin(_NEEDED)
        breaks = [int(y) for y in rows.loc[at_break, "ds"]
                  if int(y) <= complete[-1]]
        if breaks:
            complete = [y for y in complete if y >= max(breaks)] or complete[-1:]
    years = complete[-n_years:]
    req = series["requests_received"]
    den = series["plans_issued_den"].loc[years].sum()
    ni_years = [y for y in years if y in not_issued.index]
    not_issued_rate = (
        float(not_issued.loc[ni_years].sum()
              / (not_issued.loc[ni_years].sum() + series["plans_issued_den"].loc[ni_years].sum()))
        if ni_years else 0.03
    )
    kwargs: dict[str, object] = {}
    mix = _need_mix(rows, years)
    if mix:
        kwargs["need_mix"] = mix
    over = _usable(rows, "plans_over_1yr")
    over_years = [y for y in years if y in over.index]
    if over_years:
        kwargs["pct_over_1yr"] = float(100.0 * over.loc[over_years].sum()
                                       / series["plans_issued_den"].loc[over_years].sum())
    withdrawn = _usable(rows, "requests_withdrawn")
    wd_years = [y for y in years if y in withdrawn.index]
    if wd_years:
        kwargs["withdrawn_rate"] = float(withdrawn.loc[wd_years].sum()
                                         / req.loc[wd_years].sum())
    return Calibration(
        la=name,
        requests_per_year={int(str(y)): float(v) for y, v in req.items()},
        refusal_rate=float(series["requests_refused"].loc[years].sum() / req.loc[years].sum()),
        not_issued_rate=not_issued_rate,
        pct_within_20wk=float(100.0 * series["plans_within_20wk"].loc[years].sum() / den)
        if den > 0 else 50.0,
        source=f"DfE SEN2 via forecasting.data.load_panel: {name}, rates pooled over "
               f"{years[0]}-{years[-1]}, requests {min(req.index)}-{max(req.index)}",
        **kwargs,  # type: ignore[arg-type]
    )
