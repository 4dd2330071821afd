"""Case-level extracts (one row per request for an EHC needs assessment): the public API.

- schema: :data:`CASE_SCHEMA` (and ``docs/case-level-schema.md``);
- loading and checks: :func:`load_extract`, :func:`validate_extract` (module ``caselevel_load``);
- what they tell a planner: :func:`monthly_series`, :func:`timeliness_by_year`,
  :func:`stage_durations`, :func:`duration_summary`, :func:`open_caseload` (the capacity
  simulator's starting backlog), :func:`backlog_by_age` (module ``caselevel_derived``);
- synthetic extracts: :mod:`forecasting.data.synthetic`.

Typical use: ``open_caseload(load_extract("cases.csv"), as_of="2025-01-01")``.
"""

from __future__ import annotations

from forecasting.data.caselevel_derived import (
    BACKLOG_BANDS,
    OPEN_STAGES,
    SERIES_IDS,
    backlog_by_age,
    default_as_of,
    duration_summary,
    monthly_series,
    open_caseload,
    stage_durations,
    timeliness_by_year,
)
from forecasting.data.caselevel_load import (
    REJECT_COLUMNS,
    CaseExtract,
    ValidationReport,
    empty_frame,
    load_extract,
    validate_extract,
)
from forecasting.data.caselevel_schema import (
    CASE_SCHEMA,
    DECISION_CODES,
    NEED_CODES,
    SETTING_CODES,
    CaseColumn,
    schema_table,
)

__all__ = [
    "BACKLOG_BANDS",
    "CASE_SCHEMA",
    "DECISION_CODES",
    "NEED_CODES",
    "OPEN_STAGES",
    "REJECT_COLUMNS",
    "SERIES_IDS",
    "SETTING_CODES",
    "CaseColumn",
    "CaseExtract",
    "ValidationReport",
    "backlog_by_age",
    "default_as_of",
    "duration_summary",
    "empty_frame",
    "load_extract",
    "monthly_series",
    "open_caseload",
    "schema_table",
    "stage_durations",
    "timeliness_by_year",
    "validate_extract",
]
