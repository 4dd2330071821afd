"""What the loader reads from each DfE SEN2 CSV, and how it names what it reads.

Each known CSV (identified by its file name inside the "Download all data" zip) is described by
a :class:`FileSpec`: which rows to keep (``Block.where``), which columns become which
``measure``/``breakdown`` pair, and whether the figures are calendar-year flows or January
stocks. Adding next year's columns is a matter of editing these tables, not the parser.

Measure names are a contract with the forecasting and synthetic-data code: do not rename them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "AGE_BANDS",
    "BREAK_YEAR",
    "CODE_FLAGS",
    "FILE_SPECS",
    "ID_COLUMNS",
    "MEASURES",
    "STOCK_MEASURES",
    "Block",
    "FileSpec",
    "age_band",
    "spec_for",
]

#: Columns every DfE SEN2 data file carries (order differs between releases; read by name).
ID_COLUMNS: tuple[str, ...] = (
    "time_period",
    "geographic_level",
    "country_code",
    "country_name",
    "region_code",
    "region_name",
    "old_la_code",
    "new_la_code",
    "la_name",
)

#: DfE / GSS symbols that stand in for a number, and the reason recorded in ``flag``.
CODE_FLAGS: dict[str, str] = {
    "x": "x:not available",
    "z": "z:not applicable",
    "c": "c:suppressed",
    "low": "low:rounds to zero",
    "u": "u:low reliability",
    "~": "~:rounds to zero",
    ":": "::not available",
    "..": "..:not available",
    "": "blank:missing",
}

#: First year of the person-level SEN2 (flows by calendar year; stocks by January).
BREAK_YEAR: dict[str, int] = {"flow": 2022, "stock": 2023}

#: Measures counted at a point in time (January); every other measure is a calendar-year flow.
STOCK_MEASURES: frozenset[str] = frozenset({"stock_plans"})

#: Age bands as DfE labels them in the 2022 release; single ages of later releases are summed
#: into the same bands so the two releases line up.
AGE_BANDS: tuple[str, ...] = ("under 5", "5-10", "11-15", "16-19", "20-25", "unknown")

_BAND_EDGES = ((4, "under 5"), (10, "5-10"), (15, "11-15"), (19, "16-19"), (200, "20-25"))


def age_band(label: str) -> str | None:
    """Normalise a DfE age label to one of :data:`AGE_BANDS` (``None`` for a total row).

    Examples
    --------
    >>> [age_band(s) for s in ["Under 5", "Age 5 to 10", "age 2 and under", "Aged 17",
    ...                        "age 20 and over", "under 3", "Age unknown", "Total"]]
    ['under 5', '5-10', 'under 5', '16-19', '20-25', 'under 5', 'unknown', None]
    """
    text = label.strip().lower()
    if text in ("total", "all"):
        return None
    if "unknown" in text:
        return "unknown"
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    if not numbers:
        return "unknown"
    if len(numbers) == 2 and " to " in text:
        return f"{numbers[0]}-{numbers[1]}"
    age = numbers[0] - 1 if text.startswith("under") else numbers[0]
    return next(band for edge, band in _BAND_EDGES if age <= edge)


def _age(label: str) -> str | None:
    band = age_band(label)
    return None if band is None else f"age:{band}"


@dataclass(frozen=True)
class Block:
    """A set of rows in a file and the columns to read from them.

    ``where`` keeps rows whose column equals one of the values. ``columns`` maps a source
    column to ``(measure, breakdown)``; a breakdown of ``"{label}"`` is filled from
    ``label(row[label_col])`` (rows where that gives ``None`` are skipped on purpose, e.g.
    the "Total" age row whose headline value is read from another file). Several source
    rows or columns that end up with the same measure and breakdown are summed.
    """

    columns: tuple[tuple[str, str, str], ...]
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()
    label_col: str | None = None
    label: Callable[[str], str | None] | None = None


@dataclass(frozen=True)
class FileSpec:
    """How to read one DfE CSV (by its file name inside the zip)."""

    name: str
    kind: str  # "aggregate" (SEN2 before 2023) or "person" (person-level SEN2)
    timing: str  # "flow" (calendar year) or "stock" (January)
    key: tuple[str, ...]  # columns besides ID_COLUMNS that make a row unique
    blocks: tuple[Block, ...]
    optional: frozenset[str] = field(default_factory=frozenset)
    # Columns DfE derives by subtraction, where small negatives are DfE's own arithmetic (seen
    # in the 2025 release): kept as NaN flagged implausible instead of rejecting the file.
    derived: frozenset[str] = field(default_factory=frozenset)

    def required_columns(self) -> list[str]:
        cols = list(ID_COLUMNS) + list(self.key)
        for block in self.blocks:
            cols += [c for c, _ in block.where]
            cols += [c for c, _, _ in block.columns if c not in self.optional]
            if block.label_col:
                cols.append(block.label_col)
        return list(dict.fromkeys(cols))


_NEEDS = ("asd", "hi", "mld", "msi", "oth", "pd", "pmld", "semh", "slcn", "sld", "spld", "vi")
_NEED_COLS = tuple((f"number_{n}", f"need:{n.upper()}") for n in _NEEDS) + (
    ("number_need_unknown", "need:UNKNOWN"),
)

# Placement groups as published in the person-level release ("All" rows).
_PLACEMENT_COLS = (
    ("mainstream_total", "placement:mainstream"),
    ("special_total", "placement:special"),
    ("special_independent", "placement:independent special"),
    ("ap_pru_total", "placement:ap/pru"),
    ("fe_total", "placement:fe"),
    ("nm_early_years", "placement:early years"),
    ("ed_elsewhere", "placement:elsewhere"),
    ("placement_unknown", "placement:not recorded"),
)

# The aggregate release groups establishments differently; map its groups onto the same names.
_ESTAB_GROUPS = {
    "Mainstream school": "placement:mainstream",
    "Special school": "placement:special",
    "Alternative provision/Pupil referral unit": "placement:ap/pru",
    "Further education": "placement:fe",
    "Non-maintained early years": "placement:early years",
    "Educated elsewhere": "placement:elsewhere",
    "NEET": "placement:elsewhere",
    "Other": "placement:elsewhere",
}

_CEASED_REASONS = (
    ("max_age", "reason:maximum age"),
    ("needs_met", "reason:needs met without a plan"),
    ("he", "reason:higher education"),
    ("employ", "reason:employment"),
    ("transfer", "reason:transferred to another LA"),
    ("no_engage", "reason:no longer engaging"),
    ("moved_outside_eng", "reason:moved outside England"),
    ("deceased", "reason:deceased"),
    ("not_rec", "reason:other"),  # DfE guidance: "ceased for other reasons"
    ("other", "reason:not recorded"),  # DfE guidance: "reason is not recorded"
)

_ANNUAL_REVIEWS = (
    ("total_ehc_plans", "annual_reviews_plans"),
    ("review_expected", "annual_reviews_expected"),
    ("review_not_expected", "annual_reviews_not_expected"),
    ("total_review_meeting", "annual_reviews_meeting_held"),
    ("no_review_meeting", "annual_reviews_no_meeting"),
    ("review_decision_not_due", "annual_reviews_decision_not_due"),
    ("review_decision_outstanding", "annual_reviews_decision_outstanding"),
    ("outcome_amend", "annual_reviews_outcome_amend"),
    ("outcome_cease", "annual_reviews_outcome_cease"),
    ("outcome_maintan", "annual_reviews_outcome_maintain"),
    ("no_outcome", "annual_reviews_no_outcome"),
    ("number_decsion_4weeks", "annual_reviews_decided_within_4wk"),
    ("number_decision_gt_4weeks", "annual_reviews_decided_over_4wk"),
)


def _topic(*values: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return (("breakdown_topic", values),)


def _cols(pairs, breakdown: str = "all") -> tuple[tuple[str, str, str], ...]:
    return tuple((col, measure, breakdown) for col, measure in pairs)


_P_KEY = ("breakdown_topic", "breakdown")

FILE_SPECS: tuple[FileSpec, ...] = (
    # ---- aggregate SEN2 (2022 release and earlier) ----
    FileSpec(
        "sen2_mi.csv",
        "aggregate",
        "flow",
        (),
        (
            Block(
                _cols(
                    [
                        ("InreqEHC", "requests_received"),
                        ("AssRefusedEHC", "requests_refused"),
                        ("NewallEHC_AssnoneEHC_sum", "assessments_completed"),
                        ("NewallEHC", "assessments_issued"),
                        ("NewallEHC", "new_plans"),
                        ("AssnoneEHC", "assessed_not_issued"),
                        ("TotIncExcEHC", "plans_issued_den"),
                        ("IncExc20weekEHC", "plans_within_20wk"),
                        ("TotNoExcEHC", "plans_issued_den_ex"),
                        ("NoExc20weekEHC", "plans_within_20wk_ex"),
                        ("NewEHCMediation", "mediation_held"),
                        ("NewEHCTribunal", "tribunal_after_mediation"),
                    ]
                )
            ),
        ),
    ),
    FileSpec(
        "sen2_age_caseload.csv",
        "aggregate",
        "stock",
        ("characteristic_age",),
        (
            Block(
                (("Total_all", "stock_plans", "all"),),
                where=(("characteristic_age", ("Total",)),),
            ),
            Block(
                (("Total_all", "stock_plans", "{label}"),),
                label_col="characteristic_age",
                label=_age,
            ),
        ),
    ),
    FileSpec(
        "sen2_age_new_plans.csv",
        "aggregate",
        "flow",
        ("characteristic_age",),
        (
            Block(
                (("Total_new_ehc", "new_plans", "{label}"),),
                label_col="characteristic_age",
                label=_age,
            ),
        ),
    ),
    *(
        FileSpec(
            name,
            "aggregate",
            timing,
            ("establishment_type", "establishment_group"),
            (
                Block(
                    ((col, measure, "{label}"),),
                    where=(("establishment_type", ("Total",)),),
                    label_col="establishment_group",
                    label=_ESTAB_GROUPS.get,
                ),
                Block(
                    ((col, measure, "placement:independent special"),),
                    where=(("establishment_type", ("Special - Independent",)),),
                ),
            ),
        )
        for name, timing, col, measure in (
            ("sen2_estab_caseload.csv", "stock", "Total_all", "stock_plans"),
            ("sen2_estab_new_plans.csv", "flow", "Total_new_ehc", "new_plans"),
        )
    ),
    # ---- person-level SEN2 (2023 collection onwards; 2025 release back to 2019) ----
    FileSpec(
        "requests.csv",
        "person",
        "flow",
        _P_KEY,
        (
            Block(
                _cols(
                    [
                        ("requests_received_in_year", "requests_received"),
                        ("requests_decided_to_assess", "requests_decided_to_assess"),
                        ("requests_decided_not_to_assess", "requests_refused"),
                        ("requests_decision_not_made", "requests_decision_outstanding"),
                        ("requests_withdrawn", "requests_withdrawn"),
                        ("request_outcome_six_weeks", "requests_decided_within_6wk"),
                        ("mediation_related_request", "mediation_request_decision"),
                        ("tribunal_related_request", "tribunal_request_decision"),
                    ]
                ),
                where=_topic("All requests for EHC needs assessments"),
            ),
            Block(
                (("requests_received_in_year", "requests_received", "{label}"),),
                where=_topic("Child or young persons age"),
                label_col="breakdown",
                label=_age,
            ),
        ),
    ),
    FileSpec(
        "assessments.csv",
        "person",
        "flow",
        _P_KEY,
        (
            Block(
                _cols(
                    [
                        ("assess_in_year", "assessments_in_year"),
                        ("assess_issued", "assessments_completed"),
                        ("assess_not_issued", "assessments_completed"),
                        ("assess_issued", "assessments_issued"),
                        ("assess_not_issued", "assessed_not_issued"),
                        ("assess_not_made", "assessments_outstanding"),
                        ("number_assess_mediation", "mediation_assessment_decision"),
                        ("number_assess_tribunal", "tribunal_assessment_decision"),
                        ("number_other_mediation", "mediation_other"),
                        ("number_other_tribunal", "tribunal_other"),
                    ]
                ),
                where=_topic("All EHC needs assessments"),
            ),
        ),
    ),
    FileSpec(
        "timeliness_20_week.csv",
        "person",
        "flow",
        _P_KEY,
        (
            Block(
                _cols(
                    [
                        ("plans_issued_den", "plans_issued_den"),
                        ("plans_issued_within_20_weeks", "plans_within_20wk"),
                        ("plans_issued_den_ex", "plans_issued_den_ex"),
                        ("plans_issued_20_weeks_ex", "plans_within_20wk_ex"),
                        ("plans_issued_gt_1_year", "plans_over_1yr"),
                        ("plans_issued_gt_1_year_ex", "plans_over_1yr_ex"),
                    ]
                ),
                where=_topic("All EHC plans issued"),
            ),
        ),
    ),
    FileSpec(
        "newplans.csv",
        "person",
        "flow",
        _P_KEY,
        (
            Block(
                (("new_ehc_plans", "new_plans", "all"),)
                + tuple((c, "new_plans", b) for c, b in _PLACEMENT_COLS),
                where=_topic("New EHC plans"),
            ),
            Block(
                (("new_ehc_plans", "new_plans", "{label}"),),
                where=_topic("Age when plan started"),
                label_col="breakdown",
                label=_age,
            ),
        ),
    ),
    FileSpec(
        "caseload.csv",
        "person",
        "stock",
        _P_KEY,
        (
            Block(
                (("ehcplans", "stock_plans", "all"),)
                + tuple((c, "stock_plans", b) for c, b in _PLACEMENT_COLS),
                where=_topic("All EHC plans"),
            ),
            Block(
                (("ehcplans", "stock_plans", "{label}"),),
                where=_topic("Child or young persons age"),
                label_col="breakdown",
                label=_age,
            ),
        ),
    ),
    *(
        FileSpec(
            name,
            "person",
            timing,
            _P_KEY,
            (
                Block(
                    tuple((col, measure, need) for col, need in _NEED_COLS),
                    where=_topic("All EHC plans"),
                ),
            ),
        )
        for name, timing, measure in (
            ("sen_needs_all_plans.csv", "stock", "stock_plans"),
            ("sen_need_newplans.csv", "flow", "new_plans"),
        )
    ),
    FileSpec(
        "ceased_plans.csv",
        "person",
        "flow",
        _P_KEY,
        (
            Block(
                (("total_ceased", "ceased_plans", "all"),)
                + tuple((c, "ceased_plans", b) for c, b in _CEASED_REASONS),
                where=_topic("All ceased EHC plans"),
            ),
        ),
    ),
    FileSpec(
        "annual_reviews.csv",
        "person",
        "flow",
        _P_KEY,
        (Block(_cols(_ANNUAL_REVIEWS), where=_topic("All annual reviews")),),
        derived=frozenset({"review_decision_outstanding", "no_outcome"}),
    ),
)

#: Every measure the loader can produce.
MEASURES: tuple[str, ...] = tuple(
    dict.fromkeys(m for spec in FILE_SPECS for b in spec.blocks for _, m, _ in b.columns)
) + (  # from the tribunal appeal-rate table (forecasting.data.sen2_appeals)
    "tribunal_appeals_registered",
    "tribunal_appealable_decisions",
    "tribunal_appeal_rate",
    "tribunal_appealable_decisions_in_development",
    "tribunal_appeal_rate_in_development",
)

_BY_NAME = {spec.name: spec for spec in FILE_SPECS}


def spec_for(name: str) -> FileSpec | None:
    """The :class:`FileSpec` for a CSV's file name (any folder), or ``None`` if unknown.

    Examples
    --------
    >>> spec_for("data/requests.csv").timing
    'flow'
    >>> spec_for("notes.csv") is None
    True
    """
    return _BY_NAME.get(name.replace("\\", "/").rsplit("/", 1)[-1])
