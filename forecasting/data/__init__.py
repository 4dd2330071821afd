"""Data: the DfE SEN2 panel (from the "Download all data" zips) and reference parameters.

See ``data/README.md`` for the files, the measures and how known data issues are treated.
"""

from __future__ import annotations

from forecasting.data.reference import load_reference_parameters
from forecasting.data.sen2_boundaries import BOUNDARY_CHANGES, consistent_series
from forecasting.data.sen2_panel import PANEL_COLUMNS, default_data_dir, load_panel
from forecasting.data.sen2_query import find_la, headline_table, la_names, series
from forecasting.data.sen2_schema import MEASURES

__all__ = [
    "BOUNDARY_CHANGES",
    "MEASURES",
    "PANEL_COLUMNS",
    "consistent_series",
    "default_data_dir",
    "find_la",
    "headline_table",
    "la_names",
    "load_panel",
    "load_reference_parameters",
    "series",
]
