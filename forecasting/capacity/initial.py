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

from forecasting.capacity.config import CapacityConfig
from forecasting.capacity.demand import _INITIAL, CaseArrays, path_rng
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
    n_in = int(rng.poisson(n_in))
    age = rng.random(n_in) * final_days
    # The share still open at each age: refusals leave at the decision, not-issued at the draft.
    survive = np.where(age < m.decision * 7, 1.0, 1.0 - pipe.p_refused)
    survive = np.where(age < m.draft * 7, survive, survive * (1.0 - pipe.p_not_issued))
    keep = rng.random(n_in) < survive
    age = age[keep]
    advice_end = (m.decision + 6.0) * 7.0
    stage = np.select(
        [age < m.decision * 7, age < min(advice_end, m.draft * 7), age < m.draft * 7],
        [STAGES.index("decision"), STAGES.index("advice"), STAGES.index("draft")],
        STAGES.index("final")).astype(np.int64)
    in_time = _cases(age, stage, config, rng)

    plans = requests_per_year * (1.0 - pipe.p_refused) * (1.0 - pipe.p_not_issued)
    expected_late = (plans * init.share_late * init.mean_weeks_late / 52.0
                     if init.late_cases is None else init.late_cases)
    n_late = int(rng.poisson(expected_late))
    late_age = final_days + rng.exponential(max(init.mean_weeks_late, 1e-9) * 7.0, n_late)
    names = list(init.late_stage_mix)
    probs = np.array([init.late_stage_mix[k] for k in names])
    pick = rng.choice(len(names), size=n_late, p=probs / probs.sum())
    late_stage = np.array([STAGES.index(n) for n in names], dtype=np.int64)[pick]
    late = _cases(late_age, late_stage, config, rng)

    n_rev = int(rng.poisson(init.reviews_overdue)) if init.reviews_overdue else 0
    limit = pipe.reviews.decision_weeks * 7.0
    rt = -(limit + rng.random(n_rev) * 26 * 7.0)
    reviews = CaseArrays(
        time=rt, stage=np.full(n_rev, STAGES.index("review"), np.int64),
        case_class=np.full(n_rev, CLASS_REVIEW, np.int64), work_multiplier=np.ones(n_rev),
        deadline=rt + limit, complexity=np.full(n_rev, -1, np.int8),
        exception=np.zeros(n_rev, bool), origin=np.full(n_rev, 4, np.int8),
    )
    return CaseArrays.concat([in_time, late, reviews])


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
