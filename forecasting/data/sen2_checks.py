"""Plausibility rules for the SEN2 panel, and the documented corrections a user can switch off.

Rules only ever add to ``flag``; values change only in :func:`apply_corrections`, which the
loader calls when ``correct_known_errors=True`` and which leaves ``corrected:<old>-><new>`` in
``flag`` so every change stays visible.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["IMPLAUSIBLE_RATIO", "add_flag", "apply_corrections", "flag_implausible_new_plans"]

#: New plans above this multiple of the plans the LA itself reports issuing are implausible.
IMPLAUSIBLE_RATIO = 3.0

_KEY = ["unique_id", "ds"]


def add_flag(flags: pd.Series, mask: pd.Series | np.ndarray, token: pd.Series | str) -> pd.Series:
    """Append ``token`` to the ``;``-separated flags where ``mask`` holds.

    Examples
    --------
    >>> add_flag(pd.Series(["", "x:not available"]), pd.Series([True, True]), "revised:3").tolist()
    ['revised:3', 'x:not available;revised:3']
    """
    mask = pd.Series(np.asarray(mask, dtype=bool), index=flags.index)
    token = token if isinstance(token, pd.Series) else pd.Series(token, index=flags.index)
    joined = flags.where(flags == "", flags + ";") + token.astype(str)
    return flags.where(~mask, joined)


def _reference(panel: pd.DataFrame) -> pd.DataFrame:
    """Per area and year, the plans-issued counts new plans are checked against."""
    ref = panel[
        panel["measure"].isin(["assessments_issued", "plans_issued_den"])
        & (panel["breakdown"] == "all")
    ]
    wide = ref.pivot_table(index=_KEY, columns="measure", values="y", aggfunc="first")
    for col in ("assessments_issued", "plans_issued_den"):
        if col not in wide:
            wide[col] = np.nan
    wide["ref_max"] = wide[["assessments_issued", "plans_issued_den"]].max(axis=1)
    # The correction prefers the LA's own count of assessments that issued a plan.
    wide["ref_fix"] = wide["assessments_issued"].fillna(wide["plans_issued_den"])
    return wide[["ref_max", "ref_fix"]].reset_index()


def flag_implausible_new_plans(
    panel: pd.DataFrame, ratio: float = IMPLAUSIBLE_RATIO
) -> pd.DataFrame:
    """Flag headline ``new_plans`` above ``ratio`` x max(assessments_issued, plans_issued_den).

    Caught in the real data: Leeds 2022, new plans 6078 against 362 assessments that issued a
    plan and a 20-week timeliness denominator of 358 (every Yorkshire and the Humber LA shows
    the regional total 6078 that year). When the value is also over ``ratio`` x the area's
    median new plans, the flag is ``implausible;suggest:<assessments_issued>``, the value
    :func:`apply_corrections` would use; otherwise only ``implausible:...`` is added.

    Examples
    --------
    >>> p = pd.DataFrame({"unique_id": "E1", "breakdown": "all", "flag": "",
    ...                   "ds": [2021, 2022, 2023, 2022, 2022],
    ...                   "measure": ["new_plans"] * 3 + ["assessments_issued", "plans_issued_den"],
    ...                   "y": [548.0, 6078.0, 600.0, 362.0, 358.0]})
    >>> flag_implausible_new_plans(p)["flag"].tolist()
    ['', 'implausible;suggest:362', '', '', '']
    """
    panel = panel.copy()
    ref = _reference(panel)
    merged = panel[_KEY].merge(ref, on=_KEY, how="left")
    headline = (panel["measure"] == "new_plans") & (panel["breakdown"] == "all")
    # The LA's own typical level: a value far above its plans issued AND its other years is a
    # reporting error worth correcting; one out of line only with this year's plans-issued
    # counts may be an error in those counts instead (Isle of Wight 2024), so it is only flagged.
    typical = panel["y"].where(headline).groupby(panel["unique_id"]).transform("median")
    y = panel["y"].to_numpy()
    hit = headline.to_numpy() & (merged["ref_max"].to_numpy() > 0) & (
        y > ratio * merged["ref_max"].to_numpy()
    )
    outlier = hit & (y > ratio * typical.to_numpy())
    suggest = pd.Series("", index=panel.index)
    suggest[outlier] = np.array(
        ["implausible;suggest:" + _fmt(v) for v in merged["ref_fix"].to_numpy()[outlier]], dtype=object
    )
    panel["flag"] = add_flag(panel["flag"], outlier, suggest)
    panel["flag"] = add_flag(
        panel["flag"], hit & ~outlier, "implausible:new_plans above 3x plans issued"
    )
    return panel


def apply_corrections(panel: pd.DataFrame) -> pd.DataFrame:
    """Replace values flagged ``implausible;suggest:<v>`` by ``<v>``; flag ``corrected:old->new``.

    Examples
    --------
    >>> p = pd.DataFrame({"y": [6078.0, 5.0], "flag": ["implausible;suggest:362", ""]})
    >>> out = apply_corrections(p)
    >>> out["y"].tolist(), out["flag"].tolist()
    ([362.0, 5.0], ['implausible;corrected:6078->362', ''])
    """
    panel = panel.copy()
    found = panel["flag"].str.extract(r"suggest:([0-9.]+)")[0]
    hit = found.notna()
    if not hit.any():
        return panel
    new = found[hit].astype(float)
    old = panel.loc[hit, "y"]
    panel.loc[hit, "flag"] = [
        flag.replace(f"suggest:{s}", f"corrected:{_fmt(o)}->{s}")
        for flag, s, o in zip(panel.loc[hit, "flag"], found[hit], old, strict=True)
    ]
    panel.loc[hit, "y"] = new
    return panel


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "nan"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
