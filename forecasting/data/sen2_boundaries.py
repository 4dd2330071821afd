"""Local authority boundary and code changes, and series that stay comparable across them.

DfE publishes each LA under its ONS code of the time, so a reorganised area's series stops
and a successor's starts. :data:`BOUNDARY_CHANGES` lists the changes seen in SEN2 since 2014;
:func:`consistent_series` sums each group's predecessors and successors into one area whose
boundary does not change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.data.sen2_query import series

__all__ = ["BOUNDARY_CHANGES", "BoundaryChange", "consistent_series", "group_of"]


@dataclass(frozen=True)
class BoundaryChange:
    """Predecessor codes replaced by successor codes from ``year`` (first year of new codes)."""

    group_id: str
    name: str
    year: int
    predecessors: tuple[str, ...]
    successors: tuple[str, ...]
    note: str = ""


BOUNDARY_CHANGES: tuple[BoundaryChange, ...] = (
    BoundaryChange(
        "E06000058+E06000059",
        "Bournemouth, Christchurch and Poole + Dorset",
        2019,
        ("E06000028", "E06000029", "E10000009"),  # Bournemouth, Poole, Dorset county
        ("E06000058", "E06000059"),
        "Christchurch moved from Dorset county into BCP, so only the sum is comparable.",
    ),
    BoundaryChange(
        "E06000060",
        "Buckinghamshire",
        2020,
        ("E10000002",),
        ("E06000060",),
        "Same area; DfE's 2025 release uses E10000002 again for 2019, 2020, 2024 and 2025.",
    ),
    BoundaryChange(
        "E06000061+E06000062",
        "North Northamptonshire + West Northamptonshire",
        2021,
        ("E10000021",),
        ("E06000061", "E06000062"),
    ),
    BoundaryChange(
        "E06000063+E06000064",
        "Cumberland + Westmorland and Furness",
        2023,
        ("E10000006",),
        ("E06000063", "E06000064"),
        "Cumbria split; stock from January 2024, flows from calendar 2023.",
    ),
    BoundaryChange(
        "E06000065",
        "North Yorkshire",
        2023,
        ("E10000023",),
        ("E06000065",),
        "Same area; DfE files keep publishing it under the county code E10000023.",
    ),
    BoundaryChange(
        "E06000066",
        "Somerset",
        2023,
        ("E10000027",),
        ("E06000066",),
        "Same area; DfE files keep publishing it under the county code E10000027.",
    ),
)


def group_of(code: str) -> BoundaryChange | None:
    """The boundary change an LA code takes part in, if any.

    Examples
    --------
    >>> group_of("E10000006").name
    'Cumberland + Westmorland and Furness'
    >>> group_of("E08000035") is None
    True
    """
    for change in BOUNDARY_CHANGES:
        if code in change.predecessors or code in change.successors:
            return change
    return None


def consistent_series(
    panel: pd.DataFrame, measure: str, breakdown: str = "all"
) -> pd.DataFrame:
    """LA series of one measure on fixed boundaries: each changed area summed into its group.

    Unchanged LAs are returned as they are. For a group, a year's value is the sum over the
    group's codes that have a figure that year; if any of them has a code but no figure (NaN),
    the year is NaN rather than understated. The group's ``unique_id`` is
    :attr:`BoundaryChange.group_id` (successor codes joined by ``+``).

    Examples
    --------
    >>> p = pd.DataFrame({"unique_id": ["E10000006", "E06000063", "E06000064"], "level": "la",
    ...                   "measure": "requests_received", "breakdown": "all",
    ...                   "ds": [2022, 2023, 2023], "y": [900.0, 500.0, 450.0]})
    >>> consistent_series(p, "requests_received")
                 unique_id    ds      y
    0  E06000063+E06000064  2022  900.0
    1  E06000063+E06000064  2023  950.0
    """
    frame = series(panel, measure, breakdown, level="la")
    group = {c: ch.group_id for ch in BOUNDARY_CHANGES for c in (*ch.predecessors, *ch.successors)}
    frame = frame.assign(unique_id=frame["unique_id"].map(lambda c: group.get(c, c)))
    grouped = frame.groupby(["unique_id", "ds"], sort=True)["y"]
    out = grouped.sum(min_count=1).to_frame()
    any_missing = frame.assign(_nan=frame["y"].isna()).groupby(["unique_id", "ds"])["_nan"].any()
    out.loc[any_missing.reindex(out.index).to_numpy(), "y"] = np.nan
    return out.reset_index()[["unique_id", "ds", "y"]]
