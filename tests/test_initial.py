"""initial: the estimated caseload's compiled passes equal, bit for bit, the numpy steps they
replaced (kept here as the reference), with the same draws in the same order."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.capacity.config import CapacityConfig, capacity_config
from forecasting.capacity.demand import _INITIAL, CaseArrays, path_rng
from forecasting.capacity.ehcp import CLASS_NEW, CLASS_REVIEW, STAGES
from forecasting.capacity.initial import estimated_caseload

POOL = {"fte": [{"date": "2025-01-01", "fte": 2}]}


def numpy_cases(age: np.ndarray, stage: np.ndarray, config: CapacityConfig,
                rng: np.random.Generator) -> CaseArrays:
    pipe = config.pipeline
    n = age.shape[0]
    groups = pipe.complexity
    cum = np.cumsum([g.share for g in groups])
    cx = np.minimum(np.searchsorted(cum / cum[-1], rng.random(n), side="right"), len(groups) - 1)
    mult = np.array([g.work_multiplier for g in groups])
    t = -age.astype(float)
    return CaseArrays(
        time=t, stage=stage.astype(np.int64), case_class=np.full(n, CLASS_NEW, np.int64),
        work_multiplier=mult[cx], deadline=t + pipe.milestones_weeks.final * 7.0,
        complexity=cx.astype(np.int8), exception=np.asarray(rng.random(n) < pipe.p_exception),
        origin=np.ones(n, np.int8))


def numpy_estimated_caseload(config: CapacityConfig, path: int, seed: int,
                             requests_per_year: float) -> CaseArrays:
    pipe, init = config.pipeline, config.demand.initial
    rng = path_rng(seed, path, _INITIAL)
    m = pipe.milestones_weeks
    final_days = m.final * 7.0
    n_in = init.in_time_cases
    if n_in is None:
        n_in = requests_per_year * m.final / 52.0
    n_in = int(rng.poisson(n_in))
    age = rng.random(n_in) * final_days
    survive = np.where(age < m.decision * 7, 1.0, 1.0 - pipe.p_refused)
    survive = np.where(age < m.draft * 7, survive, survive * (1.0 - pipe.p_not_issued))
    keep = rng.random(n_in) < survive
    age = age[keep]
    advice_end = (m.decision + 6.0) * 7.0
    stage = np.select(
        [age < m.decision * 7, age < min(advice_end, m.draft * 7), age < m.draft * 7],
        [STAGES.index("decision"), STAGES.index("advice"), STAGES.index("draft")],
        STAGES.index("final")).astype(np.int64)
    in_time = numpy_cases(age, stage, config, rng)
    plans = requests_per_year * (1.0 - pipe.p_refused) * (1.0 - pipe.p_not_issued)
    expected_late = (plans * init.share_late * init.mean_weeks_late / 52.0
                     if init.late_cases is None else init.late_cases)
    n_late = int(rng.poisson(expected_late))
    late_age = final_days + rng.exponential(max(init.mean_weeks_late, 1e-9) * 7.0, n_late)
    names = list(init.late_stage_mix)
    probs = np.array([init.late_stage_mix[k] for k in names])
    pick = rng.choice(len(names), size=n_late, p=probs / probs.sum())
    late_stage = np.array([STAGES.index(n) for n in names], dtype=np.int64)[pick]
    late = numpy_cases(late_age, late_stage, config, rng)
    n_rev = int(rng.poisson(init.reviews_overdue)) if init.reviews_overdue else 0
    limit = pipe.reviews.decision_weeks * 7.0
    rt = -(limit + rng.random(n_rev) * 26 * 7.0)
    reviews = CaseArrays(
        time=rt, stage=np.full(n_rev, STAGES.index("review"), np.int64),
        case_class=np.full(n_rev, CLASS_REVIEW, np.int64), work_multiplier=np.ones(n_rev),
        deadline=rt + limit, complexity=np.full(n_rev, -1, np.int8),
        exception=np.zeros(n_rev, bool), origin=np.full(n_rev, 4, np.int8))
    return CaseArrays.concat([in_time, late, reviews])


@settings(max_examples=25, deadline=None)
@given(path=st.integers(0, 10**6), requests=st.sampled_from([0.0, 40.0, 3500.0]),
       share_late=st.sampled_from([0.0, 0.5, 0.95]), weeks_late=st.sampled_from([0.0, 12.0]),
       overdue=st.sampled_from([0, 30]), p_refused=st.sampled_from([0.0, 0.25]),
       shares=st.sampled_from([(1.0,), (0.3, 0.0, 0.7), (0.2, 0.5, 0.2, 0.1)]))
def test_estimated_caseload_equals_the_numpy_steps(path: int, requests: float,
                                                  share_late: float, weeks_late: float,
                                                  overdue: int, p_refused: float,
                                                  shares: tuple[float, ...]) -> None:
    groups = [{"name": f"g{i}", "share": s, "work_multiplier": 1 + i}
              for i, s in enumerate(shares)]
    cfg = capacity_config({
        "staff": {"ep": POOL, "caseworker": POOL},
        "pipeline": {"complexity": groups, "p_refused": p_refused},
        "demand": {"initial": {"share_late": share_late, "mean_weeks_late": weeks_late,
                               "reviews_overdue": overdue,
                               "late_stage_mix": {"advice": 0.6, "draft": 0.1, "final": 0.3}}}})
    got = estimated_caseload(cfg, path, 3, requests)
    want = numpy_estimated_caseload(cfg, path, 3, requests)
    for f in CaseArrays.__dataclass_fields__:
        g, w = getattr(got, f), getattr(want, f)
        assert g.dtype == w.dtype and g.tobytes() == w.tobytes(), f
