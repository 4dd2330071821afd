"""Calibrate the simulator's effective capacity to what DfE SEN2 publishes for the LA.

The config's staffing gives the hours staff *could* spend on statutory work. Real teams get less
through the pipeline than that (chasing advice, rework, panels, systems, work the model leaves
out), so a simulation taken at face value is too optimistic.

:func:`calibrate` replays one published calendar year (1 January to 31 December) with:

- that year's requests, the stock of plans of its January, and the LA's **own routing**:
  refusal rate ``(refused + withdrawn) / (refused + withdrawn + decided to assess)``,
  not-issued rate ``assessed_not_issued / assessments_completed`` and exception rate
  ``1 - plans_issued_den_ex / plans_issued_den`` (the config's rate where one is missing);
- the **open caseload on 1 January** from the year before's published flows: the requests of
  its last 20 weeks still in time, and a late backlog by Little's law, ``late plans issued x
  mean weeks late / 52``, where the mean weeks late follows from the share of late plans
  issued over a year after the request (``plans_over_1yr_ex``), taking the weeks past 20 as
  exponential; reviews overdue from the year before's ``annual_reviews_decision_outstanding``
  when published (else none: SEN2's review counts are of the year's own reviews);
- staffing as configured at the simulation start, held level, with ``replay_staff`` overrides
  (e.g. the locum hours the LA actually had that year).

It then finds one **productivity factor per pool** by a coordinate search (each step a 1-D
root find with the same seed, so only the factor changes between trials): the EP factor so
that the replay issues as many new plans as SEN2 published (``ep_target: plans_issued``; or
``pct_within_20wk``: the published % within 20 weeks), the caseworker factor so that it
decides as many annual reviews as published (``caseworker_target: reviews_decided``). Counts
are matched rather than % within a limit because a count rises smoothly with capacity, while a
% within a limit jumps near full load. A pool whose target is ``none`` or not published keeps
factor 1. The forward scenarios then use the factors (:meth:`Calibration.apply`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import pandas as pd
from pydantic import Field, model_validator

from forecasting.capacity.config import CapacityConfig, _Model
from forecasting.capacity.disputes import with_dispute_workload
from forecasting.capacity.published import _NAN, PublishedYear, published_year
from forecasting.capacity.staff import value_on
from forecasting.errors import EhcpError

__all__ = ["Calibration", "CalibrationConfig", "PublishedYear", "apply_productivity",
           "calibrate", "calibration_config", "published_year", "replay_metrics"]

_POOLS = ("ep", "caseworker")


class CalibrationConfig(_Model):
    """The ``calibration`` section: whether and how to calibrate the productivity factors."""

    enabled: bool = True
    year: int | None = Field(default=None, ge=2016, le=2100,
                             description="calendar year to match (default: latest published)")
    n_paths: int = Field(default=40, ge=1, le=1000)
    factor_bounds: tuple[float, float] = (0.1, 3.0)
    #: Stop a 1-D search within this share of a published count (0.02: 2%) ...
    tolerance_share: float = Field(default=0.02, gt=0, le=0.5)
    #: ... or within this many percentage points of a published %.
    tolerance_pct_points: float = Field(default=0.5, gt=0, le=20)
    max_evaluations: int = Field(default=10, ge=2, le=100, description="per 1-D search")
    rounds: int = Field(default=2, ge=1, le=5, description="coordinate-search passes")
    ep_target: Literal["plans_issued", "pct_within_20wk", "none"] = "plans_issued"
    caseworker_target: Literal["reviews_decided", "none"] = "reviews_decided"
    #: Overrides of the replay's ``staff`` section (e.g. the year's locum hours).
    replay_staff: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _bounds(self) -> CalibrationConfig:
        lo, hi = self.factor_bounds
        if not 0 < lo < 1 < hi <= 5:
            raise ValueError(f"factor_bounds must be [low, high] with 0 < low < 1 < high <= 5, "
                             f"got [{lo}, {hi}]")
        return self


def _level(changes: Any, key: str, when: date) -> float:
    calendar = [(c.date, getattr(c, key)) for c in changes]
    # An establishment calendar that starts later holds its first value before (as the
    # simulator lays it out); hours are 0 before theirs.
    return value_on(calendar, when, hold_first=key == "fte")


def calibration_config(config: CapacityConfig, published: PublishedYear,
                       replay_staff: dict[str, Any] | None = None) -> CapacityConfig:
    """The config replaying the published calendar year (see the module docstring).

    Examples
    --------
    >>> from forecasting.capacity.config import capacity_config
    >>> pool = {"fte": [{"date": "2025-04-01", "fte": 5}, {"date": "2026-04-01", "fte": 9}]}
    >>> cfg = capacity_config({"staff": {"ep": pool, "caseworker": pool}})
    >>> pub = PublishedYear(2024, 9.3, 67, 717, 2313, 1497, 5508, requests_refused=356,
    ...     requests_decided_to_assess=1672, plans_issued_before=922,
    ...     plans_within_20wk_before=77, plans_over_1yr_before=324)
    >>> c = calibration_config(cfg, pub)
    >>> str(c.simulation.start), c.simulation.years, c.demand.requests_per_year
    ('2024-01-01', 1, {2024: 2313.0})
    >>> [c.fte for c in c.staff.ep.fte], round(c.pipeline.p_refused, 3)
    ([5.0], 0.175)
    >>> round(c.demand.initial.late_cases), round(c.demand.initial.in_time_cases)
    (542, 576)
    """
    start = config.simulation.start
    replay = date(published.year, 1, 1)
    data = config.model_dump()
    data["simulation"].update(start=replay, years=1)
    data["pipeline"].update(published.routing())
    demand = data["demand"]
    demand.update(source="fixed", growth_per_year=0.0,
                  requests_per_year={published.year: published.requests})
    demand["stock"]["plans_at_start"] = published.stock_at_start
    initial = demand["initial"]
    # Requests of the year before's last 20 weeks are the cases still in time on 1 January.
    initial.update(extract=None, in_time_cases=published.requests_before * 20.0 / 52.0)
    backlog = published.late_backlog()
    if backlog is not None:
        initial.update(late_cases=backlog[0], mean_weeks_late=backlog[1], share_late=1.0)
    elif not math.isnan(published.pct_within_20wk):
        initial["share_late"] = min(max(1.0 - published.pct_within_20wk / 100.0, 0.0), 1.0)
    # SEN2 counts review decisions and those outstanding for the reviews held in the year, so
    # the replay starts with the year before's outstanding reviews when published, else none
    # (not the forward config's figure, which may be this very year's year-end count).
    rev = published.reviews_outstanding_before
    initial["reviews_overdue"] = 0.0 if math.isnan(rev) else rev
    for pool in _POOLS:
        cfg = getattr(config.staff, pool)
        data["staff"][pool].update(
            fte=[{"date": replay, "fte": _level(cfg.fte, "fte", start)}],
            locum_hours=[{"date": replay,
                          "hours_per_week": _level(cfg.locum_hours, "hours_per_week", start)}],
            reserved_hours=[{"date": replay, "hours_per_week":
                             _level(cfg.reserved_hours, "hours_per_week", start)}],
            trainees=[])
    if replay_staff:
        from forecasting.scenarios import deep_merge  # scenarios imports this module

        data["staff"] = deep_merge(data["staff"], replay_staff, path="calibration.replay_staff",
                                   what="the replay's staff section")
    try:
        return CapacityConfig.model_validate(data)
    except ValueError as err:
        raise EhcpError(f"the calibration replay's staffing is not valid: {err}",
                        field="calibration.replay_staff") from None


def apply_productivity(config: CapacityConfig, factor: float,
                       pools: tuple[str, ...] = _POOLS) -> CapacityConfig:
    """Scale the ``productivity`` of each pool in ``pools`` by ``factor``.

    Examples
    --------
    >>> from forecasting.capacity.config import capacity_config
    >>> pool = {"fte": [{"date": "2025-04-01", "fte": 5}]}
    >>> cfg = capacity_config({"staff": {"ep": pool, "caseworker": pool}})
    >>> apply_productivity(cfg, 0.5).staff.caseworker.productivity
    0.5
    """
    if factor == 1.0:
        return config
    data = config.model_dump()
    for pool in pools:
        data["staff"][pool]["productivity"] = getattr(config.staff, pool).productivity * factor
    return CapacityConfig.model_validate(data)


def replay_metrics(weekly: pd.DataFrame, year: int) -> dict[str, float]:
    """The replay's figures for the calendar year, per path (% pooled over paths).

    ``reviews_overdue_end`` and ``open_new_end`` are at the last week ending in the year.
    """
    ends = pd.to_datetime(weekly["week_end"])
    win = weekly.loc[ends.dt.year == year]
    n = max(int(weekly["path"].nunique()), 1)
    den = float(win["plans_issued_ex"].sum())
    last = win.loc[win["week"] == win["week"].max()]
    return {
        "plans_issued": float(win["plans_issued"].sum()) / n,
        "pct_within_20wk": 100.0 * float(win["plans_within_20wk_ex"].sum()) / den
        if den > 0 else _NAN,
        "requests_decided": float(win["completed_decision"].sum()) / n,
        "refused": float(win["refused"].sum()) / n,
        "reviews_decided": float(win["reviews_done"].sum()) / n,
        "reviews_overdue_end": float(last["reviews_overdue"].mean()),
        "open_new_end": float(last["open_new"].mean()),
    }


_POOL_WORDS = {"ep": "EPs", "caseworker": "caseworkers"}
_TARGET_WORDS = {"plans_issued": "new plans issued", "pct_within_20wk": "% of new plans within "
                 "20 weeks", "reviews_decided": "annual review decisions"}


@dataclass(frozen=True)
class Calibration:
    """The calibrated productivity factor of each pool and how well the replay matches SEN2.

    ``factors`` maps each pool to its factor (1.0 when not identified); ``replay`` and
    ``face_value`` are :func:`replay_metrics` at the factors and at 1; ``published`` holds the
    same figures as SEN2 published them.
    """

    year: int
    factors: dict[str, float]
    targets: dict[str, str]
    published: dict[str, float]
    replay: dict[str, float]
    face_value: dict[str, float]
    n_paths: int
    converged: bool
    trials: pd.DataFrame = field(repr=False)
    routing: dict[str, float] = field(default_factory=dict)
    initial: dict[str, float] = field(default_factory=dict)

    @property
    def published_pct(self) -> float:
        """SEN2's % of new plans issued within 20 weeks (exceptions excluded)."""
        return self.published["pct_within_20wk"]

    @property
    def simulated_pct(self) -> float:
        """The calibrated replay's % of new plans issued within 20 weeks."""
        return self.replay["pct_within_20wk"]

    def comparison(self) -> pd.DataFrame:
        """Published vs replayed figures of the calendar year, one row per measure."""
        labels = {"requests_decided": "requests decided (to assess or refused)",
                  "refused": "requests refused", "plans_issued": "new plans issued",
                  "pct_within_20wk": "% of new plans within 20 weeks (exc. exceptions)",
                  "reviews_decided": "annual review decisions",
                  "reviews_overdue_end": "annual reviews outstanding at year end"}
        return pd.DataFrame([{
            "period_type": "calendar", "period": str(self.year), "measure": labels[k],
            "published (DfE SEN2)": self.published.get(k, _NAN),
            "replay, calibrated (mean per path)": self.replay.get(k, _NAN),
            "replay, face value (mean per path)": self.face_value.get(k, _NAN)}
            for k in labels])

    def describe(self) -> str:
        """The calibration in plain words."""
        fit = "" if self.converged else " (the closest the search got within its bounds)"
        parts = []
        for pool in _POOLS:
            f = self.factors[pool]
            if self.targets.get(pool, "none") == "none":
                parts.append(f"{_POOL_WORDS[pool]} {f:.2f} (not identified by the published "
                             "figures: left at 1)")
            else:
                parts.append(f"{_POOL_WORDS[pool]} {f:.2f} (from {_TARGET_WORDS[self.targets[pool]]})")
        p, r = self.published, self.replay
        return (
            f"Calibrated to CY {self.year} (DfE SEN2), replaying the year with the LA's own "
            f"routing ({', '.join(f'{k} {v:.3f}' for k, v in self.routing.items()) or 'config'})"
            f" and a starting backlog from the year before's figures; productivity factors: "
            f"{'; '.join(parts)}{fit}. Replay vs published: new plans {r['plans_issued']:,.0f} vs "
            f"{p['plans_issued']:,.0f}; requests decided {r['requests_decided']:,.0f} vs "
            f"{p['requests_decided']:,.0f}; annual review decisions {r['reviews_decided']:,.0f} vs "
            f"{p['reviews_decided']:,.0f}; % of new plans within 20 weeks "
            f"{r['pct_within_20wk']:.1f}% vs {p['pct_within_20wk']:.1f}% "
            f"({self.face_value['pct_within_20wk']:.1f}% at face value). A factor of 0.5 means "
            "the pool gets half as much statutory EHC work done per hour in post as the config's "
            "hours assume (time lost to chasing, rework, panels and work the model leaves out); "
            "the forward scenarios use these factors."
        )

    def apply(self, config: CapacityConfig) -> CapacityConfig:
        """``config`` with each pool's productivity scaled by its factor."""
        for pool, f in self.factors.items():
            config = apply_productivity(config, f, (pool,))
        return config


def _published_metrics(p: PublishedYear) -> dict[str, float]:
    return {"plans_issued": p.plans_target, "pct_within_20wk": p.pct_within_20wk,
            "requests_decided": p.requests_decided, "refused": p.requests_refused,
            "reviews_decided": p.reviews_decided, "reviews_overdue_end": p.reviews_outstanding,
            "open_new_end": _NAN}


def _root(g: Any, lo_b: float, hi_b: float, start: float, tol: float,
          budget: int) -> tuple[float, float, bool]:
    """Root of an increasing ``g`` in ``[lo_b, hi_b]``: bracket from ``start`` by factors of
    1.5, then regula falsi (Illinois). Returns (x, g(x), converged) of the best trial."""
    seen: list[tuple[float, float]] = []

    def ev(x: float) -> float:
        v = g(x)
        seen.append((x, v))
        return v

    x0 = min(max(start, lo_b), hi_b)
    g0 = ev(x0)
    lo = hi = None
    glo = ghi = 0.0
    if abs(g0) <= tol:
        return x0, g0, True
    if g0 > 0:
        hi, ghi, x = x0, g0, x0
        while x > lo_b and len(seen) < budget:
            x = max(x / 1.5, lo_b)
            v = ev(x)
            if v <= 0:
                lo, glo = x, v
                break
            hi, ghi = x, v
    else:
        lo, glo, x = x0, g0, x0
        while x < hi_b and len(seen) < budget:
            x = min(x * 1.5, hi_b)
            v = ev(x)
            if v >= 0:
                hi, ghi = x, v
                break
            lo, glo = x, v
    best = min(seen, key=lambda t: abs(t[1]))
    side = 0
    while lo is not None and hi is not None and abs(best[1]) > tol and len(seen) < budget \
            and hi - lo > 1e-4:
        x = (lo * ghi - hi * glo) / (ghi - glo) if ghi != glo else (lo + hi) / 2
        if not lo < x < hi:
            x = (lo + hi) / 2
        v = ev(x)
        if v < 0:
            lo, glo = x, v
            if side == -1:
                ghi /= 2
            side = -1
        else:
            hi, ghi = x, v
            if side == 1:
                glo /= 2
            side = 1
        best = min(seen, key=lambda t: abs(t[1]))
    return best[0], best[1], abs(best[1]) <= tol


def calibrate(config: CapacityConfig, published: PublishedYear,
              settings: CalibrationConfig | None = None, *, seed: int | None = None) -> Calibration:
    """Find each pool's productivity factor at which the replayed year matches SEN2.

    A coordinate search: for ``rounds`` passes, the EP factor then the caseworker factor, each a
    1-D root find (bracketing, then Illinois regula falsi) of the replay's figure minus the
    published one, the other factor held; every trial uses one seed (common random numbers).
    A count is matched within ``tolerance_share`` of it, a % within ``tolerance_pct_points``.

    Returns
    -------
    Calibration
        ``converged`` is False when a target lies outside what the factor bounds can reach;
        that factor is then the one that came closest.
    """
    from forecasting.capacity.simulate import simulate_capacity

    settings = settings or CalibrationConfig()
    seed = config.simulation.seed if seed is None else seed
    # The dispute hours set aside follow the year's demand, not the factors: reserved once.
    base = with_dispute_workload(calibration_config(config, published, settings.replay_staff))
    pub = _published_metrics(published)
    targets: dict[str, str] = {"ep": settings.ep_target, "caseworker": settings.caseworker_target}
    for pool, t in targets.items():
        if t != "none" and not pub[t] > 0:
            targets[pool] = "none"  # not published for this LA and year: not identified
    factors = {"ep": 1.0, "caseworker": 1.0}
    rows: list[dict[str, Any]] = []
    cache: dict[tuple[float, float], dict[str, float]] = {}

    def run(fe: float, fc: float, step: str) -> dict[str, float]:
        key = (round(fe, 6), round(fc, 6))
        if key not in cache:
            cfg = apply_productivity(apply_productivity(base, fe, ("ep",)), fc, ("caseworker",))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                weekly = simulate_capacity(cfg, n_paths=settings.n_paths, seed=seed,
                                           scenario="calibration").weekly
            cache[key] = replay_metrics(weekly, published.year)
            rows.append({"step": step, "ep_factor": fe, "caseworker_factor": fc,
                         **{f"simulated_{k}": v for k, v in cache[key].items()}})
        return cache[key]

    face = run(1.0, 1.0, "face value")
    lo_b, hi_b = settings.factor_bounds
    converged = True
    ok = {pool: True for pool in _POOLS}
    for r in range(settings.rounds):
        for pool in _POOLS:
            target = targets[pool]
            if target == "none":
                continue
            want = pub[target]
            pct = target == "pct_within_20wk"
            tol = settings.tolerance_pct_points if pct else settings.tolerance_share

            def g(f: float, pool: str = pool, target: str = target, want: float = want,
                  pct: bool = pct, r: int = r) -> float:
                fs = {**factors, pool: f}
                got = run(fs["ep"], fs["caseworker"], f"round {r + 1}: {pool}")[target]
                if math.isnan(got):
                    return -1.0
                return got - want if pct else got / want - 1.0

            factors[pool], _, ok[pool] = _root(g, lo_b, hi_b, factors[pool], tol,
                                               settings.max_evaluations)
    converged = all(ok[p] for p in _POOLS if targets[p] != "none")
    final = run(factors["ep"], factors["caseworker"], "final")
    trials = pd.DataFrame(rows)
    for k, v in pub.items():
        if k != "open_new_end":
            trials[f"published_{k}"] = v
    init = base.demand.initial
    return Calibration(
        year=published.year, factors={p: float(f) for p, f in factors.items()}, targets=targets,
        published=pub, replay=final, face_value=face, n_paths=settings.n_paths,
        converged=bool(converged), trials=trials, routing=published.routing(),
        initial={"in_time_cases": float(init.in_time_cases or 0.0),
                 "late_cases": float(init.late_cases if init.late_cases is not None else _NAN),
                 "mean_weeks_late": float(init.mean_weeks_late),
                 "reviews_overdue": float(init.reviews_overdue)})
