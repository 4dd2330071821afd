"""What a case-level extract tells a planner: monthly series, stage durations, today's backlog.

Every function takes a :class:`~forecasting.data.caselevel.CaseExtract` or its ``frame``.
``open_caseload`` is the capacity simulator's starting backlog.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.data.caselevel_load import CaseExtract
from forecasting.data.caselevel_read import as_day
from forecasting.data.caselevel_schema import ADVICE_TYPES, DATE_COLUMNS, WEEKS_20_DAYS
from forecasting.errors import EhcpError

__all__ = [
    "BACKLOG_BANDS",
    "OPEN_STAGES",
    "SERIES_IDS",
    "backlog_by_age",
    "default_as_of",
    "duration_summary",
    "monthly_series",
    "open_caseload",
    "stage_durations",
    "timeliness_by_year",
]

SERIES_IDS: tuple[str, ...] = (
    "requests", "decisions", "assessments", "refusals", "withdrawn", "plans_issued",
    "not_issued", "issued_within_20wk", "pct_within_20wk",
)
_ONE_YEAR_DAYS = 365
OPEN_STAGES: tuple[str, ...] = ("awaiting_decision", "awaiting_advice", "drafting", "finalising")
#: Bands of weeks past the 20-week deadline: (label, lower bound, upper bound) in weeks.
BACKLOG_BANDS: tuple[tuple[str, float, float], ...] = (
    ("not yet due", -np.inf, 0.0),
    ("0-4 weeks late", 0.0, 4.0),
    ("4-13 weeks late", 4.0, 13.0),
    ("13-26 weeks late", 13.0, 26.0),
    ("26-52 weeks late", 26.0, 52.0),
    ("52+ weeks late", 52.0, np.inf),
)


def _frame(extract: CaseExtract | pd.DataFrame) -> pd.DataFrame:
    return extract.frame if isinstance(extract, CaseExtract) else extract


def _example() -> pd.DataFrame:
    """A three-case frame for the doctests."""
    d = pd.to_datetime
    return pd.DataFrame({
        "case_id": ["A", "B", "C"],
        "request_date": d(["2024-01-03", "2024-01-10", "2024-02-05"]),
        "decision_date": d(["2024-02-10", "2024-02-01", "NaT"]),
        "decision": ["assess", "not_assess", None],
        "ep_advice_requested": d(["2024-02-12", "NaT", "NaT"]),
        "ep_advice_received": d(["2024-03-20", "NaT", "NaT"]),
        "health_advice_requested": pd.NaT, "health_advice_received": pd.NaT,
        "social_care_advice_requested": pd.NaT, "social_care_advice_received": pd.NaT,
        "draft_date": d(["2024-04-15", "NaT", "NaT"]),
        "final_date": d(["2024-05-10", "NaT", "NaT"]),
        "not_issued_date": pd.NaT,
        "primary_need": ["ASD", "SEMH", None], "age": [7, 12, 4],
        "setting": ["mainstream", "mainstream", "early_years"], "exception": False,
    })


def _month(col: pd.Series) -> pd.Series:
    return col.dt.to_period("M").dt.to_timestamp()


def monthly_series(extract: CaseExtract | pd.DataFrame) -> pd.DataFrame:
    """Monthly counts in the long ``unique_id, ds, y`` format (``ds`` = first of the month).

    Each event is counted in the month it happened: ``requests`` by request date;
    ``decisions`` (assess + not_assess), ``assessments``, ``refusals`` and ``withdrawn`` by
    decision date; ``plans_issued`` and ``issued_within_20wk`` (request to final <= 140 days,
    exceptions left out as in DfE's headline measure) by final date; ``not_issued`` by its
    date; ``pct_within_20wk`` is ``issued_within_20wk`` over plans issued without an
    exception (NaN in a month with none). Months with no events have 0.

    Examples
    --------
    >>> s = monthly_series(_example())
    >>> s[s["unique_id"] == "requests"]["y"].tolist()
    [2.0, 1.0, 0.0, 0.0, 0.0]
    >>> s[(s["unique_id"] == "pct_within_20wk") & (s["y"].notna())][["ds", "y"]].values.tolist()
    [[Timestamp('2024-05-01 00:00:00'), 100.0]]
    """
    df = _frame(extract)
    dated = df["final_date"].notna()
    within = dated & ~df["exception"].astype(bool) & (
        (df["final_date"] - df["request_date"]).dt.days <= WEEKS_20_DAYS)
    counted = dated & ~df["exception"].astype(bool)
    events = {
        "requests": df["request_date"],
        "decisions": df["decision_date"].where(df["decision"].isin(["assess", "not_assess"])),
        "assessments": df["decision_date"].where(df["decision"] == "assess"),
        "refusals": df["decision_date"].where(df["decision"] == "not_assess"),
        "withdrawn": df["decision_date"].where(df["decision"] == "withdrawn"),
        "plans_issued": df["final_date"],
        "not_issued": df["not_issued_date"],
        "issued_within_20wk": df["final_date"].where(within),
        "_issued_counted": df["final_date"].where(counted),
    }
    all_dates = pd.concat([s.dropna() for s in events.values()])
    if all_dates.empty:
        return pd.DataFrame({"unique_id": pd.Series([], dtype="str"),
                             "ds": pd.Series([], dtype="datetime64[ns]"),
                             "y": pd.Series([], dtype=float)})
    months = pd.date_range(_month(all_dates).min(), _month(all_dates).max(), freq="MS")
    counts = {
        name: _month(s.dropna()).value_counts().reindex(months, fill_value=0).astype(float)
        for name, s in events.items()
    }
    denom = counts.pop("_issued_counted")
    counts["pct_within_20wk"] = (100.0 * counts["issued_within_20wk"] / denom).where(denom > 0)
    parts = [pd.DataFrame({"unique_id": name, "ds": months, "y": counts[name].to_numpy()})
             for name in SERIES_IDS]
    out = pd.concat(parts, ignore_index=True)
    out["ds"] = out["ds"].astype("datetime64[ns]")
    out["unique_id"] = out["unique_id"].astype("str")
    return out


def timeliness_by_year(extract: CaseExtract | pd.DataFrame) -> pd.DataFrame:
    """Plans issued per calendar year of the final date: % within 20 weeks and % over a year.

    Exceptions are left out, as in DfE's headline measure. Comparable with SEN2's
    ``plans_issued_den``, ``pc_plans_issued_within_20_weeks`` and ``pc_plans_issued_gt_1_year``
    ("over a year" here: more than 365 days from request to final plan).

    Examples
    --------
    >>> timeliness_by_year(_example()).to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'year': 2024, 'plans_issued': 1, 'within_20wk': 1, 'over_1yr': 0,
      'pct_within_20wk': 100.0, 'pct_over_1yr': 0.0}]
    """
    df = _frame(extract)
    issued = df[df["final_date"].notna() & ~df["exception"].astype(bool)]
    days = (issued["final_date"] - issued["request_date"]).dt.days
    out = pd.DataFrame({"year": issued["final_date"].dt.year, "within": days <= WEEKS_20_DAYS,
                        "over": days > _ONE_YEAR_DAYS})
    res = out.groupby("year").agg(plans_issued=("within", "size"), within_20wk=("within", "sum"),
                                  over_1yr=("over", "sum"))
    res = res.reset_index().astype(
        {"year": int, "plans_issued": int, "within_20wk": int, "over_1yr": int})
    res["pct_within_20wk"] = (100.0 * res["within_20wk"] / res["plans_issued"]).round(1)
    res["pct_over_1yr"] = (100.0 * res["over_1yr"] / res["plans_issued"]).round(1)
    return res


def stage_durations(extract: CaseExtract | pd.DataFrame) -> pd.DataFrame:
    """Empirical stage durations in days, one row per case and completed stage.

    Stages: ``request_to_decision``, ``<type>_advice`` (requested to received, for ep,
    health and social_care), ``decision_to_draft``, ``draft_to_final``, ``request_to_final``
    and ``decision_to_not_issued``. A stage not completed yet is left out (so the figures are
    for completed stages; open cases are in :func:`open_caseload`).

    Returns
    -------
    DataFrame
        ``case_id, stage, start, end, days, exception``.

    Examples
    --------
    >>> d = stage_durations(_example())
    >>> d[d["case_id"] == "A"].set_index("stage")["days"].to_dict()["request_to_final"]
    128
    """
    df = _frame(extract)
    pairs = [("request_to_decision", "request_date", "decision_date")]
    pairs += [(f"{k}_advice", f"{k}_advice_requested", f"{k}_advice_received")
              for k in ADVICE_TYPES]
    pairs += [
        ("decision_to_draft", "decision_date", "draft_date"),
        ("draft_to_final", "draft_date", "final_date"),
        ("request_to_final", "request_date", "final_date"),
        ("decision_to_not_issued", "decision_date", "not_issued_date"),
    ]
    parts = []
    for stage, a, b in pairs:
        done = df[a].notna() & df[b].notna()
        if stage == "decision_to_draft":
            done &= df["decision"] == "assess"
        sub = df.loc[done]
        parts.append(pd.DataFrame({
            "case_id": sub["case_id"].astype("str"), "stage": stage,
            "start": sub[a], "end": sub[b],
            "days": (sub[b] - sub[a]).dt.days.astype("int64"),
            "exception": sub["exception"].astype(bool),
        }))
    out = pd.concat(parts, ignore_index=True)
    out["stage"] = out["stage"].astype("str")
    return out


def duration_summary(durations: pd.DataFrame) -> pd.DataFrame:
    """Cases, median, mean, 90th percentile and maximum days per stage.

    Examples
    --------
    >>> int(duration_summary(stage_durations(_example())).loc["request_to_decision", "n"])
    2
    """
    grouped = durations.groupby("stage", sort=False)["days"]
    out = pd.DataFrame({
        "n": grouped.size(), "median": grouped.median(), "mean": grouped.mean().round(1),
        "p90": grouped.quantile(0.9), "max": grouped.max(),
    })
    return out


def default_as_of(extract: CaseExtract | pd.DataFrame) -> pd.Timestamp:
    """The day an extract describes: its sidecar's ``end`` if any, else its latest event date.

    A case-management export is taken on a day after its last recorded event; the latest
    date is the best guess of that day when nothing says otherwise.

    Examples
    --------
    >>> default_as_of(_example())
    Timestamp('2024-05-10 00:00:00')
    """
    if isinstance(extract, CaseExtract) and extract.metadata.get("end"):
        return as_day(str(extract.metadata["end"]), "end")
    df = _frame(extract)
    dates = df[[c for c in DATE_COLUMNS if c in df.columns]]
    latest = dates.max().max() if len(df) else pd.NaT
    if pd.isna(latest):
        raise EhcpError("the extract has no dates to take 'as of' from", field="as_of",
                        fix="give the day to count the backlog on (YYYY-MM-DD)")
    return pd.Timestamp(latest).normalize()


def _as_of(extract: CaseExtract | pd.DataFrame, as_of: str | pd.Timestamp | None) -> pd.Timestamp:
    return as_day(as_of, "as_of") if as_of is not None else default_as_of(extract)


def open_caseload(
    extract: CaseExtract | pd.DataFrame, as_of: str | pd.Timestamp | None = None
) -> pd.DataFrame:
    """Cases open on ``as_of`` (requested, not yet closed), with their stage and lateness.

    Only events on or before ``as_of`` count, so a past date rebuilds the backlog as it was
    then. A case is closed by a refusal or withdrawal, a final plan or a decision not to
    issue. Stages: ``awaiting_decision`` (no decision yet), ``awaiting_advice`` (assessing:
    some advice not yet requested or received), ``drafting`` (advice in, no draft),
    ``finalising`` (draft sent, no final plan).

    Parameters
    ----------
    extract : CaseExtract or DataFrame
    as_of : date-like, optional
        Default: :func:`default_as_of` (the synthetic sidecar's end date, else the latest
        date in the extract).

    Returns
    -------
    DataFrame
        ``case_id, request_date, stage, age_days, due_date, weeks_past_deadline`` (negative
        while not yet due), ``primary_need, age, setting, exception``, oldest first.

    Examples
    --------
    >>> o = open_caseload(_example(), as_of="2024-03-01")
    >>> o[["case_id", "stage", "age_days"]].values.tolist()
    [['A', 'awaiting_advice', 58], ['C', 'awaiting_decision', 25]]
    """
    df = _frame(extract)
    day = _as_of(extract, as_of)

    def by(col: str) -> pd.Series:
        return df[col].notna() & (df[col] <= day)

    decided = by("decision_date") & df["decision"].notna()
    closed = (decided & df["decision"].isin(["not_assess", "withdrawn"])) | by("final_date") | by(
        "not_issued_date")
    open_ = (df["request_date"] <= day) & ~closed
    sub = df.loc[open_]
    dec = decided.loc[open_]
    advice_pending = pd.Series(False, index=sub.index)
    any_asked = pd.Series(False, index=sub.index)
    for kind in ADVICE_TYPES:
        asked = sub[f"{kind}_advice_requested"].notna() & (sub[f"{kind}_advice_requested"] <= day)
        got = sub[f"{kind}_advice_received"].notna() & (sub[f"{kind}_advice_received"] <= day)
        any_asked |= asked
        advice_pending |= asked & ~got
    drafted = sub["draft_date"].notna() & (sub["draft_date"] <= day)
    stage = np.select(
        [~dec, drafted, advice_pending | ~any_asked],
        ["awaiting_decision", "finalising", "awaiting_advice"],
        default="drafting",
    )
    age_days = (day - sub["request_date"]).dt.days.astype("int64")
    out = pd.DataFrame({
        "case_id": sub["case_id"].astype("str"),
        "request_date": sub["request_date"],
        "stage": pd.Series(stage, index=sub.index, dtype="str"),
        "age_days": age_days,
        "due_date": sub["request_date"] + pd.Timedelta(days=WEEKS_20_DAYS),
        "weeks_past_deadline": ((age_days - WEEKS_20_DAYS) / 7.0).round(1),
        "primary_need": sub["primary_need"],
        "age": sub["age"],
        "setting": sub["setting"],
        "exception": sub["exception"].astype(bool),
    })
    out = out.sort_values(["request_date", "case_id"], kind="stable").reset_index(drop=True)
    out.attrs["as_of"] = str(day.date())
    return out


def backlog_by_age(open_cases: pd.DataFrame) -> pd.DataFrame:
    """Open cases by how far past the 20-week deadline they are, split by stage.

    Bands (weeks late): not yet due, 0-4, 4-13, 13-26, 26-52, 52+. Every band and stage is
    present, with 0 where there are no cases.

    Returns
    -------
    DataFrame
        ``band`` then one column per stage in :data:`OPEN_STAGES`, then ``total``.

    Examples
    --------
    >>> b = backlog_by_age(open_caseload(_example(), as_of="2024-09-01"))
    >>> b[["band", "awaiting_advice", "awaiting_decision", "total"]].values.tolist()[:3]
    [['not yet due', 0, 0, 0], ['0-4 weeks late', 0, 0, 0], ['4-13 weeks late', 0, 1, 1]]
    """
    labels = [b[0] for b in BACKLOG_BANDS]
    edges = [b[1] for b in BACKLOG_BANDS] + [np.inf]
    # A case exactly at the deadline is not yet late: bands are (lower, upper].
    band = pd.cut(open_cases["weeks_past_deadline"], bins=edges, labels=labels, right=True)
    table = pd.crosstab(pd.Categorical(band, categories=labels),
                        pd.Categorical(open_cases["stage"], categories=list(OPEN_STAGES)),
                        dropna=False)
    table = table.reindex(index=labels, columns=list(OPEN_STAGES), fill_value=0).astype("int64")
    table["total"] = table.sum(axis=1)
    out = table.reset_index(names="band")
    out.columns.name = None
    out["band"] = out["band"].astype("str")
    return out
