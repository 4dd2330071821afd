"""The open caseload on the start date: from a case-level extract, or estimated from SEN2 figures.

An extract gives each open request's stage and age (``forecasting.data.caselevel.open_caseload``
or any frame with ``stage`` and ``age_days`` columns). Without one, the caseload is estimated:

- cases still within 20 weeks: the requests of the last 20 weeks (``in_time_cases``, default
  ``requests per year x 20 / 52``), ages spread evenly over 0-20 weeks and the stage following
  the statutory milestones (decision by week 6, advice by week 12, draft by week 16);
- cases already late (the backlog): by Little's law, ``plans a year x share_late x
  mean_weeks_late / 52`` (or ``late_cases`` when given), each ``20 weeks + Exponential(mean_weeks_late)`` old, in stages by
  ``late_stage_mix`` (e.g. ``share_late = 0.907`` for Leeds 2024: 9.3% issued within 20 weeks);
- ``reviews_overdue`` annual reviews already past their 4-week limit, by up to 26 weeks.

Open cases arrive at negative times (their request date) in the stage they are in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numba import njit

from forecasting.capacity.config import CapacityConfig
from forecasting.capacity.demand import _INITIAL, CaseArrays, path_rng
from forecasting.capacity.demand_kernels import group_of
from forecasting.capacity.ehcp import CLASS_NEW, CLASS_REVIEW, STAGES
from forecasting.errors import EhcpError

__all__ = ["EXTRACT_STAGES", "estimated_caseload", "from_open_caseload", "initial_cases"]

#: Stage names of a case-level extract's open caseload -> pipeline stages.
EXTRACT_STAGES = {
    "awaiting_decision": "decision",
    "awaiting_advice": "advice",
    "drafting": "draft",
    "finalising": "final",
    "decision": "decision",
    "advice": "advice",
    "draft": "draft",
    "final": "final",
}


def _cases(age: np.ndarray, stage: np.ndarray, config: CapacityConfig, rng: np.random.Generator,
           cx: np.ndarray | None = None) -> CaseArrays:
    pipe = config.pipeline
    n = age.shape[0]
    groups = pipe.complexity
    if cx is None:
        cum = np.cumsum([g.share for g in groups])
        cx = np.minimum(np.searchsorted(cum / cum[-1], rng.random(n), side="right"),
                        len(groups) - 1)
    mult = np.array([g.work_multiplier for g in groups])
    t = -age.astype(float)
    return CaseArrays(
        time=t, stage=stage.astype(np.int64), case_class=np.full(n, CLASS_NEW, np.int64),
        work_multiplier=mult[cx], deadline=t + pipe.milestones_weeks.final * 7.0,
        complexity=cx.astype(np.int8), exception=np.asarray(rng.random(n) < pipe.p_exception),
        origin=np.ones(n, np.int8),
    )


def estimated_caseload(config: CapacityConfig, path: int, seed: int,
                       requests_per_year: float) -> CaseArrays:
    """The open caseload estimated from SEN2-style figures (see the module docstring).

    Examples
    --------
    >>> from forecasting.capacity.config import capacity_config
    >>> pool = {"fte": [{"date": "2025-01-01", "fte": 1}]}
    >>> cfg = capacity_config({"staff": {"ep": pool, "caseworker": pool}, "demand": {
    ...     "initial": {"share_late": 0.5, "mean_weeks_late": 10, "reviews_overdue": 5}}})
    >>> c = estimated_caseload(cfg, 0, 1, requests_per_year=520)
    >>> bool((c.time <= 0).all()), int((c.origin == 4).sum())
    (True, 5)
    """
    pipe, init = config.pipeline, config.demand.initial
    rng = path_rng(seed, path, _INITIAL)
    m = pipe.milestones_weeks
    final_days = m.final * 7.0
    n_in = init.in_time_cases
    if n_in is None:
        n_in = requests_per_year * m.final / 52.0
    # The draws in their usual order; the cases are made from them in compiled passes.
    n_in = int(rng.poisson(n_in))
    u_age = rng.random(n_in)
    u_keep = rng.random(n_in)
    # The share still open at each age: refusals leave at the decision, not-issued at the draft.
    bounds = np.array([m.decision * 7, min((m.decision + 6.0) * 7.0, m.draft * 7), m.draft * 7],
                      np.float64)
    n_kept = _count_kept(u_age, u_keep, final_days, bounds, pipe.p_refused, pipe.p_not_issued)
    u_cx_in = rng.random(n_kept)
    u_exc_in = rng.random(n_kept)

    plans = requests_per_year * (1.0 - pipe.p_refused) * (1.0 - pipe.p_not_issued)
    expected_late = (plans * init.share_late * init.mean_weeks_late / 52.0
                     if init.late_cases is None else init.late_cases)
    n_late = int(rng.poisson(expected_late))
    late_age = final_days + rng.exponential(max(init.mean_weeks_late, 1e-9) * 7.0, n_late)
    names = list(init.late_stage_mix)
    probs = np.array([init.late_stage_mix[k] for k in names])
    pick = rng.choice(len(names), size=n_late, p=probs / probs.sum())
    late_stage = np.array([STAGES.index(n) for n in names], dtype=np.int64)
    u_cx_late = rng.random(n_late)
    u_exc_late = rng.random(n_late)

    n_rev = int(rng.poisson(init.reviews_overdue)) if init.reviews_overdue else 0
    u_rev = rng.random(n_rev)
    groups = pipe.complexity
    cum = np.cumsum([g.share for g in groups])
    n = n_kept + n_late + n_rev
    out = (np.empty(n), np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n), np.empty(n),
           np.empty(n, np.int8), np.empty(n, np.bool_), np.empty(n, np.int8))
    _estimated_cases(
        u_age, u_keep, u_cx_in, u_exc_in, late_age, pick, u_cx_late, u_exc_late, u_rev,
        final_days, bounds, pipe.p_refused, pipe.p_not_issued,
        np.array([STAGES.index(s) for s in ("decision", "advice", "draft", "final")], np.int64),
        late_stage, cum / cum[-1], np.array([g.work_multiplier for g in groups], np.float64),
        pipe.p_exception, pipe.reviews.decision_weeks * 7.0, STAGES.index("review"), CLASS_NEW,
        CLASS_REVIEW, out)
    return CaseArrays(*out)


@njit(cache=True, nogil=True)
def _survives(age, u_keep, bounds, p_refused, p_not_issued):
    s = 1.0 if age < bounds[0] else 1.0 - p_refused
    if not age < bounds[2]:
        s = s * (1.0 - p_not_issued)
    return u_keep < s


@njit(cache=True, nogil=True)
def _count_kept(u_age, u_keep, final_days, bounds, p_refused, p_not_issued):
    """How many of the in-time cases are still open (see :func:`_estimated_cases`)."""
    n = 0
    for i in range(u_age.shape[0]):
        if _survives(u_age[i] * final_days, u_keep[i], bounds, p_refused, p_not_issued):
            n += 1
    return n


@njit(cache=True, nogil=True)
def _estimated_cases(u_age, u_keep, u_cx_in, u_exc_in, late_age, pick, u_cx_late, u_exc_late,
                     u_rev, final_days, bounds, p_refused, p_not_issued, stage_codes,
                     late_stage, group_cum, group_mult, p_exception, limit, review_stage,
                     class_new, class_review, out):
    """The estimated open caseload's fields from its draws, into ``out``: the in-time cases
    still open (age ``u * final_days``; the stage by the milestone ``bounds``), the late ones
    (``late_age``, stage ``late_stage[pick]``) and the overdue reviews, with the same values as
    the numpy steps this replaced (complexity group = ``searchsorted(group_cum, u, "right")``,
    at most the last group)."""
    time, stage, case_class, mult, deadline, group, exception, origin = out
    last = group_cum.shape[0] - 1
    j = 0
    n_late = late_age.shape[0]
    for i in range(u_age.shape[0] + n_late):
        if i < u_age.shape[0]:
            age = u_age[i] * final_days
            if not _survives(age, u_keep[i], bounds, p_refused, p_not_issued):
                continue
            k = 0
            while k < 3 and not age < bounds[k]:
                k += 1
            stage[j] = stage_codes[k]
            u_cx, u_exc = u_cx_in[j], u_exc_in[j]
        else:
            age = late_age[i - u_age.shape[0]]
            stage[j] = late_stage[pick[i - u_age.shape[0]]]
            u_cx, u_exc = u_cx_late[i - u_age.shape[0]], u_exc_late[i - u_age.shape[0]]
        g = group_of(group_cum, last, u_cx)
        time[j] = -age
        case_class[j] = class_new
        mult[j] = group_mult[g]
        deadline[j] = -age + final_days
        group[j] = g
        exception[j] = u_exc < p_exception
        origin[j] = 1
        j += 1
    for i in range(u_rev.shape[0]):
        rt = -(limit + u_rev[i] * 26 * 7.0)
        time[j] = rt
        stage[j] = review_stage
        case_class[j] = class_review
        mult[j] = 1.0
        deadline[j] = rt + limit
        group[j] = -1
        exception[j] = False
        origin[j] = 4
        j += 1


def from_open_caseload(open_cases: pd.DataFrame, config: CapacityConfig, path: int,
                       seed: int, file: str | None = None) -> CaseArrays:
    """Open cases from an extract's open caseload (columns ``stage``, ``age_days``).

    The optional ``primary_need`` column picks the complexity group of the same name (others
    draw from the mix); the optional ``exception`` column marks exceptions. A case awaiting
    advice is given the whole EP advice work (the extract does not say whether the EP part is
    already done).

    Examples
    --------
    >>> from forecasting.capacity.config import capacity_config
    >>> pool = {"fte": [{"date": "2025-01-01", "fte": 1}]}
    >>> cfg = capacity_config({"staff": {"ep": pool, "caseworker": pool}})
    >>> df = pd.DataFrame({"stage": ["awaiting_advice", "drafting"], "age_days": [50, 200]})
    >>> from_open_caseload(df, cfg, 0, 1).time.tolist()
    [-50.0, -200.0]
    """
    for col in ("stage", "age_days"):
        if col not in open_cases.columns:
            raise EhcpError(f"the open caseload has no '{col}' column", file=file, field=col)
    stage_names = open_cases["stage"].astype(str).str.strip().str.lower()
    bad = sorted(set(stage_names) - set(EXTRACT_STAGES))
    if bad:
        raise EhcpError(f"unknown stage(s) {bad} in the open caseload", file=file, field="stage",
                        fix=f"use one of {', '.join(sorted(EXTRACT_STAGES))}")
    age = pd.to_numeric(open_cases["age_days"], errors="coerce")
    if age.isna().any() or (age < 0).any():
        row = int(np.flatnonzero(age.isna() | (age < 0))[0]) + 2
        raise EhcpError("age_days must be a number of days >= 0", file=file, row=row,
                        field="age_days")
    codes = {k: STAGES.index(v) for k, v in EXTRACT_STAGES.items()}
    stage = stage_names.map(codes).to_numpy(dtype=np.int64)
    rng = path_rng(seed, path, _INITIAL)
    cx = None
    if "primary_need" in open_cases.columns:
        names = [g.name for g in config.pipeline.complexity]
        cum = np.cumsum([g.share for g in config.pipeline.complexity])
        drawn = np.minimum(np.searchsorted(cum / cum[-1], rng.random(len(open_cases)),
                                           side="right"), len(names) - 1)
        need = open_cases["primary_need"].astype(str).to_numpy()
        cx = np.array([names.index(v) if v in names else d for v, d in zip(need, drawn, strict=True)])
    cases = _cases(age.to_numpy(dtype=float), stage, config, rng, cx)
    if "exception" in open_cases.columns:
        # The extract knows which cases are exceptions; use that rather than a draw.
        flag = open_cases["exception"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        cases = CaseArrays(**{**cases.__dict__, "exception": flag})
    return cases


def initial_cases(config: CapacityConfig, path: int, seed: int, requests_per_year: float,
                  open_cases: pd.DataFrame | None = None) -> CaseArrays:
    """The open caseload of one path: from ``open_cases`` when given, else estimated.

    Examples
    --------
    >>> from forecasting.capacity.config import capacity_config
    >>> pool = {"fte": [{"date": "2025-01-01", "fte": 1}]}
    >>> cfg = capacity_config({"staff": {"ep": pool, "caseworker": pool}})
    >>> initial_cases(cfg, 0, 1, 0.0).n
    0
    """
    if open_cases is not None:
        return from_open_caseload(open_cases, config, path, seed,
                                  None if config.demand.initial.extract is None
                                  else str(config.demand.initial.extract))
    return estimated_caseload(config, path, seed, requests_per_year)


def load_open_caseload(config: CapacityConfig) -> pd.DataFrame | None:
    """Read the extract named in ``demand.initial.extract`` and return its open caseload."""
    path = config.demand.initial.extract
    if path is None:
        return None
    try:
        from forecasting.data import caselevel
    except ImportError as err:  # pragma: no cover - depends on another module landing
        raise EhcpError(f"cannot read case-level extracts here ({err})",
                        field="demand.initial.extract") from None
    open_fn = getattr(caselevel, "open_caseload", None)
    if open_fn is None:
        raise EhcpError("this version cannot derive the open caseload from an extract yet",
                        field="demand.initial.extract", fix="remove it to estimate the caseload")
    extract = caselevel.load_extract(path)
    return open_fn(extract, as_of=pd.Timestamp(config.simulation.start))
