"""Questions asked of the SEN2 panel: one series, an LA's code from its name, the LA list."""

from __future__ import annotations

import difflib

import pandas as pd

from forecasting.errors import EhcpError

__all__ = ["find_la", "headline_table", "la_names", "series"]

#: Measures shown by ``ehcp data show``, in pipeline order.
HEADLINE_MEASURES: tuple[str, ...] = (
    "requests_received",
    "requests_refused",
    "requests_decided_to_assess",
    "assessments_completed",
    "assessments_issued",
    "assessed_not_issued",
    "new_plans",
    "plans_issued_den",
    "plans_within_20wk",
    "pct_within_20wk_ex",
    "plans_over_1yr",
    "stock_plans",
    "ceased_plans",
    "annual_reviews_expected",
    "annual_reviews_decision_outstanding",
    "mediation_held",
    "mediation_request_decision",
    "tribunal_after_mediation",
    "tribunal_request_decision",
    "tribunal_appeals_registered",
    "tribunal_appeal_rate",
    "tribunal_appeal_rate_in_development",
)


def series(
    panel: pd.DataFrame,
    measure: str,
    breakdown: str = "all",
    level: str | None = None,
    *,
    dropna: bool = False,
) -> pd.DataFrame:
    """One measure as the models' contract frame ``unique_id, ds, y`` (sorted).

    Parameters
    ----------
    panel : DataFrame
        From :func:`forecasting.data.load_panel`.
    measure, breakdown : str
        E.g. ``"requests_received"``, ``"all"`` / ``"need:ASD"`` / ``"age:5-10"``.
    level : {"national", "regional", "la"}, optional
        Keep one geographic level only.
    dropna : bool
        Drop years with no figure (NaN ``y``, reason in the panel's ``flag``).

    Examples
    --------
    >>> p = pd.DataFrame({"unique_id": ["E1", "E1"], "level": "la", "measure": "new_plans",
    ...                   "breakdown": "all", "ds": [2023, 2022], "y": [5.0, 4.0]})
    >>> series(p, "new_plans")
      unique_id    ds    y
    0        E1  2022  4.0
    1        E1  2023  5.0
    """
    known = set(panel["measure"])
    if measure not in known:
        close = difflib.get_close_matches(measure, sorted(known), n=3)
        raise EhcpError(
            f"unknown measure {measure!r}" + (f"; did you mean {', '.join(close)}?" if close else ""),
            field="measure",
        )
    mask = (panel["measure"] == measure) & (panel["breakdown"] == breakdown)
    if level is not None:
        if level not in ("national", "regional", "la"):
            raise EhcpError(f"unknown level {level!r}; use national, regional or la", field="level")
        mask &= panel["level"] == level
    if not mask.any():
        have = sorted(set(panel.loc[panel["measure"] == measure, "breakdown"]))
        raise EhcpError(
            f"no {measure} figures with breakdown {breakdown!r}; available: {', '.join(have)}",
            field="breakdown",
        )
    out = panel.loc[mask, ["unique_id", "ds", "y"]]
    if dropna:
        out = out[out["y"].notna()]
    return out.sort_values(["unique_id", "ds"]).reset_index(drop=True)


def la_names(panel: pd.DataFrame) -> pd.DataFrame:
    """Every LA in the panel: ``unique_id, name, old_code, first_year, last_year`` by name.

    The name and DfE code are the latest the LA was published under.

    Examples
    --------
    >>> p = pd.DataFrame({"unique_id": ["E08000035"] * 2, "name": "Leeds", "level": "la",
    ...                   "old_code": "383", "ds": [2016, 2024]})
    >>> la_names(p).to_dict("records")
    [{'unique_id': 'E08000035', 'name': 'Leeds', 'old_code': '383', 'first_year': 2016, 'last_year': 2024}]
    """
    la = panel[panel["level"] == "la"].sort_values("ds")
    spans = la.groupby("unique_id")["ds"].agg(first_year="min", last_year="max")
    latest = la.drop_duplicates("unique_id", keep="last").set_index("unique_id")[["name", "old_code"]]
    out = latest.join(spans).reset_index().sort_values(["name", "last_year"])
    for col in ("first_year", "last_year"):
        out[col] = out[col].astype("int64")
    return out.reset_index(drop=True)


def find_la(panel: pd.DataFrame, name: str) -> str:
    """The ONS code of an LA given its name (any case), ONS code or DfE 3-digit code.

    A name used by several codes (Dorset before and after 2019; Buckinghamshire, which DfE
    publishes under two codes) gives the code with the most recent figures.

    Examples
    --------
    >>> p = pd.DataFrame({"unique_id": ["E08000035"], "name": "Leeds", "level": "la",
    ...                   "old_code": "383", "ds": [2024]})
    >>> find_la(p, "leeds"), find_la(p, "383"), find_la(p, "e08000035")
    ('E08000035', 'E08000035', 'E08000035')
    >>> find_la(p, "Leds")
    Traceback (most recent call last):
    ...
    forecasting.errors.EhcpError: field 'la': unknown local authority 'Leds'; closest: Leeds. Fix: use the LA name as DfE spells it, its ONS code (E08000035) or DfE code (383).
    """
    las = la_names(panel)
    wanted = name.strip().casefold()
    for col in ("unique_id", "old_code", "name"):
        hit = las[las[col].str.casefold() == wanted]
        if not hit.empty:
            return str(hit.sort_values("last_year").iloc[-1]["unique_id"])
    names = sorted(set(las["name"]))
    folded = {n.casefold(): n for n in names}
    close = [folded[c] for c in difflib.get_close_matches(wanted, list(folded), n=3, cutoff=0.5)]
    close += [n for n in names if wanted and wanted in n.casefold() and n not in close][:3]
    raise EhcpError(
        f"unknown local authority {name!r}" + (f"; closest: {', '.join(close)}" if close else ""),
        field="la",
        fix="use the LA name as DfE spells it, its ONS code (E08000035) or DfE code (383)",
    )


def headline_table(panel: pd.DataFrame, unique_id: str, *, first_year: int | None = None) -> pd.DataFrame:
    """An area's headline (``breakdown == "all"``) figures: measures as rows, years as columns.

    ``pct_within_20wk_ex`` (DfE's headline: % of new plans issued within 20 weeks, excluding
    exceptions) is derived for display; it is not a panel measure.

    Values carrying a flag other than a plain DfE missing-data code are kept; the flags are
    returned in ``table.attrs["flags"]`` as ``{(measure, ds): flag}`` for display.

    Examples
    --------
    >>> p = pd.DataFrame({"unique_id": "E1", "measure": ["new_plans", "stock_plans"],
    ...                   "breakdown": "all", "ds": [2024, 2025], "y": [773.0, 6093.0],
    ...                   "flag": ["", ""]})
    >>> table = headline_table(p, "E1")
    >>> table.index.tolist(), table.columns.tolist(), table.loc["stock_plans", 2025]
    (['new_plans', 'stock_plans'], [2024, 2025], np.float64(6093.0))
    """
    rows = panel[(panel["unique_id"] == unique_id) & (panel["breakdown"] == "all")]
    if first_year is not None:
        if not rows.empty and first_year > rows["ds"].max():
            raise EhcpError(f"no published year from {first_year}; the data end in "
                            f"{int(rows['ds'].max())}", field="--from",
                            fix=f"use --from {int(rows['ds'].max()) - 5} or earlier")
        rows = rows[rows["ds"] >= first_year]
    shown = rows[rows["measure"].isin(HEADLINE_MEASURES)]
    table = shown.pivot_table(index="measure", columns="ds", values="y", aggfunc="first", dropna=False)
    pair = rows[rows["measure"].isin(["plans_within_20wk_ex", "plans_issued_den_ex"])]
    if not pair.empty:
        # Derived for display only: DfE's headline "% of new plans issued within 20 weeks,
        # excluding exceptions", to one decimal place as DfE publishes it.
        ex = pair.pivot_table(index="measure", columns="ds", values="y", aggfunc="first")
        if {"plans_within_20wk_ex", "plans_issued_den_ex"} <= set(ex.index):
            pct = 100 * ex.loc["plans_within_20wk_ex"] / ex.loc["plans_issued_den_ex"]
            table.loc["pct_within_20wk_ex"] = pct.round(1).reindex(table.columns)
    order = [m for m in HEADLINE_MEASURES if m in table.index]
    table = table.reindex(order)
    table = table.dropna(how="all")
    flagged = shown[(shown["flag"] != "") & shown["measure"].isin(table.index)]
    table.attrs["flags"] = {
        (m, int(d)): f for m, d, f in zip(flagged["measure"], flagged["ds"], flagged["flag"], strict=True)
    }
    return table
