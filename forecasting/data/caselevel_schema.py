"""The case-level extract schema: one row per request for an EHC needs assessment.

The same table is written to ``docs/case-level-schema.md``; a test checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ADVICE_TYPES",
    "CASE_SCHEMA",
    "DATE_COLUMNS",
    "DECISION_CODES",
    "NEED_CODES",
    "SETTING_CODES",
    "WEEKS_20_DAYS",
    "CaseColumn",
    "normalise_header",
    "schema_table",
]

Kind = Literal["id", "date", "code", "int", "bool"]

#: DfE SEN2 primary-need codes.
NEED_CODES: tuple[str, ...] = (
    "ASD", "SEMH", "SLCN", "MLD", "SpLD", "SLD", "PMLD", "PD", "HI", "VI", "MSI", "OTH",
)
DECISION_CODES: tuple[str, ...] = ("assess", "not_assess", "withdrawn")
#: Setting at the time of the request, grouped as in SEN2 placement types.
SETTING_CODES: tuple[str, ...] = (
    "mainstream", "special", "independent_special", "ap_pru", "fe", "early_years",
    "home_education", "neet", "other",
)
ADVICE_TYPES: tuple[str, ...] = ("ep", "health", "social_care")
#: The statutory limit from request to final plan (SEND Regulations 2014, reg. 13).
WEEKS_20_DAYS = 140


@dataclass(frozen=True)
class CaseColumn:
    """One column of the case-level extract.

    Parameters
    ----------
    name : str
        Column name, lower case with underscores (headers are normalised on load).
    kind : {"id", "date", "code", "int", "bool"}
        What a value must look like.
    required : bool
        The column must be present in the header (a blank cell may still be allowed).
    nullable : bool
        A blank cell is allowed (e.g. a stage not reached yet).
    codes : tuple of str, optional
        The allowed values of a ``code`` column.
    description : str
        What the column means.
    """

    name: str
    kind: Kind
    required: bool
    nullable: bool
    codes: tuple[str, ...] | None
    description: str


def _advice(kind: str, label: str) -> tuple[CaseColumn, CaseColumn]:
    return (
        CaseColumn(f"{kind}_advice_requested", "date", False, True, None,
                   f"date {label} advice was requested (blank: not requested)"),
        CaseColumn(f"{kind}_advice_received", "date", False, True, None,
                   f"date {label} advice was received (blank: not yet received)"),
    )


CASE_SCHEMA: tuple[CaseColumn, ...] = (
    CaseColumn("case_id", "id", True, False, None,
               "unique reference of the request (text; one row per request)"),
    CaseColumn("request_date", "date", True, False, None,
               "date the request for an EHC needs assessment was received"),
    CaseColumn("decision_date", "date", True, True, None,
               "date of the decision whether to assess (blank: not decided yet)"),
    CaseColumn("decision", "code", True, True, DECISION_CODES,
               "outcome of the request (blank: not decided yet)"),
    *_advice("ep", "educational psychology (statutory psychological)"),
    *_advice("health", "health"),
    *_advice("social_care", "social care"),
    CaseColumn("draft_date", "date", True, True, None,
               "date the draft EHC plan was sent to the family"),
    CaseColumn("final_date", "date", True, True, None,
               "date the final EHC plan was issued"),
    CaseColumn("not_issued_date", "date", True, True, None,
               "date of the decision not to issue a plan after assessment"),
    CaseColumn("primary_need", "code", True, True, NEED_CODES,
               "DfE primary-need code (blank: not recorded yet)"),
    CaseColumn("age", "int", False, True, None,
               "age in whole years at the request date (0-25)"),
    CaseColumn("setting", "code", False, True, SETTING_CODES,
               "setting at the request date"),
    CaseColumn("exception", "bool", False, True, None,
               "an exception to the 20-week limit applies (blank: no)"),
    CaseColumn("synthetic", "bool", False, True, None,
               "the row was made by the synthetic generator, not taken from a real system"),
)

DATE_COLUMNS: tuple[str, ...] = tuple(c.name for c in CASE_SCHEMA if c.kind == "date")


def normalise_header(name: str) -> str:
    """Normalise a column header: trim, lower case, spaces and hyphens to underscores.

    Examples
    --------
    >>> normalise_header(" Request Date ")
    'request_date'
    >>> normalise_header("EP-advice requested")
    'ep_advice_requested'
    """
    text = str(name).strip().lstrip("\ufeff").strip().lower()
    for ch in (" ", "-", "/"):
        text = text.replace(ch, "_")
    while "__" in text:
        text = text.replace("__", "_")
    return text


def schema_table() -> str:
    """The schema as a Markdown table (the one in ``docs/case-level-schema.md``).

    Examples
    --------
    >>> schema_table().splitlines()[2].startswith("| `case_id` | id | yes | no |")
    True
    """
    lines = [
        "| column | type | required | blank allowed | allowed values | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for col in CASE_SCHEMA:
        codes = ", ".join(col.codes) if col.codes else ""
        lines.append(
            f"| `{col.name}` | {col.kind} | {'yes' if col.required else 'no'} | "
            f"{'yes' if col.nullable else 'no'} | {codes} | {col.description} |"
        )
    return "\n".join(lines)
