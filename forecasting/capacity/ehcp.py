"""The statutory EHC needs assessment pipeline and annual reviews as an engine :class:`Network`.

Stages (pool in brackets)::

    decision (caseworker) --p_refused--> exit "refused"
        |
    advice (EP; health and social-care advice as parallel delays)
        |
    draft (caseworker) --p_not_issued--> exit "not_issued"
        |
    final (caseworker; the 15-day comment period as a parallel delay) --> exit "issued"

    review (caseworker) --reviews.ep_share--> review_ep (EP) --> exit "reviewed"
        |                                     (annual reviews of plans in the stock)
        +--> exit "reviewed"

Case classes: 0 = new request for assessment, 1 = annual review. The whole-case deadline is
20 weeks from the request (4 weeks from the review meeting, or 15 February for phase transfers).
"""

from __future__ import annotations

import numpy as np

from forecasting.capacity.config import Distribution, PipelineConfig
from forecasting.capacity.distributions import Dist
from forecasting.capacity.network import Network, Pool, Stage

__all__ = [
    "CLASS_NEW",
    "CLASS_REVIEW",
    "EXITS",
    "NEW_STAGES",
    "POOLS",
    "REVIEW_STAGES",
    "STAGES",
    "build_network",
    "mean_work_per_request",
    "work_per_review",
    "to_dist",
]

#: Stage names, in network order.
STAGES = ("decision", "advice", "draft", "final", "review", "review_ep")
#: The stages of a new request (the assessment backlog).
NEW_STAGES = ("decision", "advice", "draft", "final")
#: The stages of an annual review.
REVIEW_STAGES = ("review", "review_ep")
#: Exit names, in network order.
EXITS = ("refused", "not_issued", "issued", "reviewed")
#: Pool names, in network order (the keys of the ``staff`` config section).
POOLS = ("ep", "caseworker")
CLASS_NEW = 0
CLASS_REVIEW = 1

_POLICY = {"fifo": "fifo", "oldest_first": "oldest", "earliest_deadline": "edf"}
_PRIORITY = {"new_first": (CLASS_NEW, CLASS_REVIEW), "reviews_first": (CLASS_REVIEW, CLASS_NEW),
             "none": ()}


def to_dist(d: Distribution, name: str) -> Dist:
    """A config :class:`Distribution` as an engine :class:`Dist`.

    Examples
    --------
    >>> to_dist(Distribution(kind="gamma", mean=2.0, cv=0.5), "x").variance
    1.0
    """
    return Dist(d.kind, mean=d.mean, cv=1.0 if d.kind == "exponential" else d.cv, name=name)


def build_network(pipeline: PipelineConfig) -> Network:
    """The EHCP pipeline as an engine network.

    Parameters
    ----------
    pipeline : PipelineConfig
        Routing probabilities, work per stage, advice delays, comment period and queue policy.

    Returns
    -------
    Network

    Examples
    --------
    >>> net = build_network(PipelineConfig(p_refused=0.2, p_not_issued=0.1))
    >>> net.stage_names
    ('decision', 'advice', 'draft', 'final', 'review', 'review_ep')
    >>> net.visit_ratios([1, 0, 0, 0, 0, 0]).round(2).tolist()
    [1.0, 0.8, 0.8, 0.72, 0.0, 0.0]
    """
    w = pipeline.work_hours
    policy = _POLICY[pipeline.queue.policy]
    priority = _PRIORITY[pipeline.queue.priority]
    pools = tuple(Pool(p, policy=policy, class_priority=priority) for p in POOLS)
    comment = Dist("fixed", mean=pipeline.comment_period_days, name="pipeline.comment_period_days")
    stages = (
        Stage("decision", "caseworker", to_dist(w.decision, "pipeline.work_hours.decision")),
        Stage(
            "advice",
            "ep",
            to_dist(w.advice, "pipeline.work_hours.advice"),
            parallel=(
                to_dist(pipeline.advice_delays.health, "pipeline.advice_delays.health"),
                to_dist(pipeline.advice_delays.social_care, "pipeline.advice_delays.social_care"),
            ),
        ),
        Stage("draft", "caseworker", to_dist(w.draft, "pipeline.work_hours.draft")),
        Stage("final", "caseworker", to_dist(w.final, "pipeline.work_hours.final"),
              parallel=(comment,) if pipeline.comment_period_days > 0 else ()),
        Stage("review", "caseworker", to_dist(w.review, "pipeline.work_hours.review")),
        Stage("review_ep", "ep", to_dist(w.review_ep, "pipeline.work_hours.review_ep")),
    )
    n = len(STAGES)
    r = np.zeros((n, n + len(EXITS)))
    s, e = STAGES.index, (lambda name: n + EXITS.index(name))
    r[s("decision"), e("refused")] = pipeline.p_refused
    r[s("decision"), s("advice")] = 1.0 - pipeline.p_refused
    r[s("advice"), s("draft")] = 1.0
    r[s("draft"), e("not_issued")] = pipeline.p_not_issued
    r[s("draft"), s("final")] = 1.0 - pipeline.p_not_issued
    r[s("final"), e("issued")] = 1.0
    r[s("review"), s("review_ep")] = pipeline.reviews.ep_share
    r[s("review"), e("reviewed")] = 1.0 - pipeline.reviews.ep_share
    r[s("review_ep"), e("reviewed")] = 1.0
    return Network(stages=stages, pools=pools, exits=EXITS, routing=r)


def mean_work_per_request(pipeline: PipelineConfig) -> dict[str, float]:
    """Expected work hours per new request, by pool (for offered-load diagnostics).

    Examples
    --------
    >>> round(mean_work_per_request(PipelineConfig(p_refused=0.0, p_not_issued=0.0))["ep"], 2)
    10.5
    """
    net = build_network(pipeline)
    visits = net.visit_ratios([1.0 if name == "decision" else 0.0 for name in STAGES])
    mult = sum(g.share * g.work_multiplier for g in pipeline.complexity)
    out = dict.fromkeys(POOLS, 0.0)
    for i, stage in enumerate(net.stages):
        if stage.pool is not None and stage.name not in REVIEW_STAGES:
            out[stage.pool] += float(visits[i] * stage.work.mean_value * mult)
    return out


def work_per_review(pipeline: PipelineConfig) -> dict[str, float]:
    """Expected work hours per annual review, by pool.

    Examples
    --------
    >>> from forecasting.capacity.config import ReviewRules
    >>> work_per_review(PipelineConfig(reviews=ReviewRules(ep_share=0.5)))
    {'ep': 3.5, 'caseworker': 3.0}
    """
    w = pipeline.work_hours
    return {"ep": pipeline.reviews.ep_share * w.review_ep.mean, "caseworker": w.review.mean}
