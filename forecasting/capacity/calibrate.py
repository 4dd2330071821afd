"""Calibrate the simulator's effective capacity to the LA's published timeliness.

The config's staffing gives the hours staff *could* spend on statutory work. Real teams get less
through the pipeline than that (chasing advice, rework, panels, systems, work the model leaves
out), so a simulation taken at face value is too optimistic: for Leeds it issues ~20% of new
plans within 20 weeks where DfE SEN2 published 9.3% for 2024.

:func:`calibrate` replays a past year: demand and the stock of plans as SEN2 published them, the
backlog at its start from the year before's published timeliness, staffing as configured at the
simulation start held level, and one extra warm-up year before it. It then finds the
**productivity factor** ``f`` (a 1-D root find; every trial uses the same seed, so only ``f``
changes between trials) at which the simulated % of new plans issued within 20 weeks matches
the published figure. ``f`` multiplies every pool's hours: ``f = 0.6`` means the team gets 60%
as much statutory work done per hour in post as the config assumes. The forward scenarios then
use it (:func:`apply_productivity`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from forecasting.capacity.config import CapacityConfig, _Model
from forecasting.capacity.disputes import with_dispute_workload
from forecasting.errors import EhcpError

__all__ = ["Calibration", "CalibrationConfig", "PublishedYear", "apply_productivity",
           "calibrate", "calibration_config", "published_year"]


class CalibrationConfig(_Model):
    """The ``calibration`` section: whether and how to calibrate the productivity factor."""

    enabled: bool = True
    year: int | None = Field(default=None, ge=2016, le=2100,
                             description="calendar year to match (default: latest published)")
    n_paths: int = Field(default=20, ge=1, le=1000)
    factor_bounds: tuple[float, float] = (0.1, 3.0)
    tolerance_pct_points: float = Field(default=0.5, gt=0, le=20)
    max_evaluations: int = Field(default=12, ge=2, le=100)
    #: The staff pools the factor applies to (one factor for all of them).
    pools: tuple[Literal["ep", "caseworker"], ...] = Field(default=("ep", "caseworker"),
                                                           min_length=1)

    @model_validator(mode="after")
    def _bounds(self) -> CalibrationConfig:
        lo, hi = self.factor_bounds
        if not 0 < lo < 1 < hi <= 5:
            raise ValueError(f"factor_bounds must be [low, high] with 0 < low < 1 < high <= 5, "
                             f"got [{lo}, {hi}]")
        return self


@dataclass(frozen=True)
class PublishedYear:
    """An LA's published figures for one calendar year (DfE SEN2)."""

    year: int
    pct_within_20wk: float
    plans_within_20wk: float
    plans_issued: float
    requests: float
    requests_before: float
    stock_at_start: float
    pct_year_before: float | None


def published_year(panel: pd.DataFrame, code: str, year: int | None = None) -> PublishedYear:
    """The LA's published % within 20 weeks (exceptions excluded) and the demand behind it.

    Examples
    --------
    >>> rows = [("X", m, y, v) for m, y, v in [("plans_within_20wk_ex", 2024, 67),
    ...     ("plans_issued_den_ex", 2024, 717), ("requests_received", 2024, 2313),
    ...     ("requests_received", 2023, 1497), ("stock_plans", 2023, 5137),
    ...     ("plans_within_20wk_ex", 2022, 44), ("plans_issued_den_ex", 2022, 358)]]
    >>> panel = pd.DataFrame(rows, columns=["unique_id", "measure", "ds", "y"]).assign(
    ...     breakdown="all")
    >>> p = published_year(panel, "X")
    >>> p.year, round(p.pct_within_20wk, 1), p.stock_at_start, round(p.pct_year_before or 0, 1)
    (2024, 9.3, 5137.0, 12.3)
    """
    rows = panel.loc[panel["unique_id"] == code]
    if "breakdown" in rows.columns:
        rows = rows.loc[rows["breakdown"].isna() | (rows["breakdown"] == "all")]
    wide = rows.pivot_table(index="ds", columns="measure", values="y", aggfunc="first")

    def get(measure: str, y: int) -> float | None:
        if measure not in wide.columns or y not in wide.index:
            return None
        v = float(wide[measure].to_dict().get(y, float("nan")))
        return None if np.isnan(v) else v

    def pct(y: int) -> float | None:
        num, den = get("plans_within_20wk_ex", y), get("plans_issued_den_ex", y)
        return None if num is None or not den else 100.0 * num / den

    years = [int(y) for y in wide.index if pct(int(y)) is not None
             and get("requests_received", int(y)) is not None]
    if year is None:
        if not years:
            raise EhcpError(f"no published timeliness and requests for {code}",
                            field="calibration.year",
                            fix="set calibration.enabled: false, or choose another LA")
        year = max(years)
    if year not in years:
        raise EhcpError(f"no published % within 20 weeks and requests for {code} in {year}",
                        field="calibration.year",
                        fix=f"choose one of {', '.join(map(str, sorted(years))) or '(none)'}")
    stock = get("stock_plans", year - 1)
    if stock is None:
        stock = get("stock_plans", year) or 0.0
    return PublishedYear(
        year=year, pct_within_20wk=float(pct(year) or 0.0),
        plans_within_20wk=float(get("plans_within_20wk_ex", year) or 0.0),
        plans_issued=float(get("plans_issued_den_ex", year) or 0.0),
        requests=float(get("requests_received", year) or 0.0),
        requests_before=float(get("requests_received", year - 1)
                              or get("requests_received", year) or 0.0),
        stock_at_start=float(stock), pct_year_before=pct(year - 2))


def _level(changes: Any, key: str, when: date) -> float:
    before = [getattr(c, key) for c in changes if c.date <= when]
    if before:
        return float(before[-1])
    return float(getattr(changes[0], key)) if key == "fte" and changes else 0.0


def calibration_config(config: CapacityConfig, published: PublishedYear) -> CapacityConfig:
    """The config replaying the published year, with a warm-up year before it.

    Two calendar years from 1 January of the year before; SEN2 requests in each; the stock of
    plans of the January the replay starts; the open caseload estimated with ``share_late``
    from the published timeliness two years before (the config's ``share_late`` if none);
    staffing (FTE, locum and reserved hours) held at its level on the config's start date.

    Examples
    --------
    >>> from forecasting.capacity.config import capacity_config
    >>> pool = {"fte": [{"date": "2025-04-01", "fte": 5}, {"date": "2026-04-01", "fte": 9}]}
    >>> cfg = capacity_config({"staff": {"ep": pool, "caseworker": pool}})
    >>> pub = PublishedYear(2024, 9.3, 67, 717, 2313, 1497, 5137, 12.3)
    >>> c = calibration_config(cfg, pub)
    >>> str(c.simulation.start), c.simulation.years, c.demand.requests_per_year
    ('2023-01-01', 2, {2023: 1497.0, 2024: 2313.0})
    >>> [c.fte for c in c.staff.ep.fte], round(c.demand.initial.share_late, 3)
    ([5.0], 0.877)
    """
    start = config.simulation.start
    replay = date(published.year - 1, 1, 1)
    data = config.model_dump()
    data["simulation"].update(start=replay, years=2)
    demand = data["demand"]
    demand.update(source="fixed", growth_per_year=0.0,
                  requests_per_year={published.year - 1: published.requests_before,
                                     published.year: published.requests})
    demand["stock"]["plans_at_start"] = published.stock_at_start
    initial = demand["initial"]
    initial.update(extract=None, in_time_cases=None)
    if published.pct_year_before is not None:
        initial["share_late"] = min(max(1.0 - published.pct_year_before / 100.0, 0.0), 1.0)
    for pool in ("ep", "caseworker"):
        cfg = getattr(config.staff, pool)
        data["staff"][pool].update(
            fte=[{"date": replay, "fte": _level(cfg.fte, "fte", start)}],
            locum_hours=[{"date": replay,
                          "hours_per_week": _level(cfg.locum_hours, "hours_per_week", start)}],
            reserved_hours=[{"date": replay, "hours_per_week":
                             _level(cfg.reserved_hours, "hours_per_week", start)}],
            trainees=[])
    return CapacityConfig.model_validate(data)


def apply_productivity(config: CapacityConfig, factor: float,
                       pools: tuple[str, ...] = ("ep", "caseworker")) -> CapacityConfig:
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


@dataclass(frozen=True)
class Calibration:
    """The calibrated productivity factor and how well it matches the published figure."""

    year: int
    published_pct: float
    simulated_pct: float
    uncalibrated_pct: float
    factor: float
    n_paths: int
    converged: bool
    trials: pd.DataFrame = field(repr=False)
    published_plans: float = float("nan")
    simulated_plans: float = float("nan")
    pools: tuple[str, ...] = ("ep", "caseworker")

    def describe(self) -> str:
        """The calibration in plain words."""
        pct = 100 * self.factor
        fit = ("" if self.converged else " (the closest the search got within its bounds)")
        return (
            f"Calibrated to CY {self.year}: DfE SEN2 published {self.published_pct:.1f}% of new "
            f"plans issued within 20 weeks (exceptions excluded); the simulator replaying that "
            f"year gave {self.uncalibrated_pct:.1f}% at face value and {self.simulated_pct:.1f}% "
            f"with a productivity factor of {self.factor:.2f}{fit}, issuing "
            f"{self.simulated_plans:,.0f} plans in the year (SEN2: {self.published_plans:,.0f}). "
            f"In plain words: the {' and '.join(_POOL_WORDS[p] for p in self.pools)} get about "
            f"{pct:.0f}% as much statutory EHC work done per hour in post as the config's hours "
            "assume (time lost to chasing, rework, panels and work the model leaves out); the "
            "forward scenarios use this factor."
        )


_POOL_WORDS = {"ep": "EPs", "caseworker": "caseworkers"}


def _pooled(weekly: pd.DataFrame, year: int) -> tuple[float, float]:
    """% within 20 weeks pooled over paths, and plans issued (exceptions excluded) per path."""
    ends = pd.to_datetime(weekly["week_end"])
    win = weekly.loc[ends.dt.year == year]
    den = float(win["plans_issued_ex"].sum())
    pct = 100.0 * float(win["plans_within_20wk_ex"].sum()) / den if den > 0 else float("nan")
    return pct, den / max(weekly["path"].nunique(), 1)


def calibrate(config: CapacityConfig, published: PublishedYear,
              settings: CalibrationConfig | None = None, *, seed: int | None = None) -> Calibration:
    """Find the productivity factor at which the replayed year matches the published timeliness.

    The simulated figure pools all paths' plans issued in the published calendar year. It rises
    with the factor, so the search brackets the target and closes in by regula falsi (Illinois);
    every trial uses one seed (common random numbers). It stops within
    ``tolerance_pct_points`` or after ``max_evaluations``.

    Returns
    -------
    Calibration
        ``converged`` is False when the target lies outside what the factor bounds can reach;
        the factor is then the bound that came closest.
    """
    from forecasting.capacity.simulate import simulate_capacity

    settings = settings or CalibrationConfig()
    seed = config.simulation.seed if seed is None else seed
    base = calibration_config(config, published)
    target = published.pct_within_20wk
    trials: list[tuple[float, float]] = []
    plans: dict[float, float] = {}

    def sim(f: float) -> float:
        cfg = with_dispute_workload(apply_productivity(base, f, settings.pools))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            weekly = simulate_capacity(cfg, n_paths=settings.n_paths, seed=seed,
                                       scenario="calibration").weekly
        value, plans[f] = _pooled(weekly, published.year)
        trials.append((f, value))
        return value - target

    lo_b, hi_b = settings.factor_bounds
    g1 = sim(1.0)
    uncal = g1 + target
    lo, hi, glo, ghi = (None, None, None, None)
    if g1 > 0:
        hi, ghi = 1.0, g1
        f = 1.0
        while f > lo_b and len(trials) < settings.max_evaluations:
            f = max(f / 2, lo_b)
            g = sim(f)
            if g <= 0:
                lo, glo = f, g
                break
            hi, ghi = f, g
    else:
        lo, glo = 1.0, g1
        f = 1.0
        while f < hi_b and len(trials) < settings.max_evaluations:
            f = min(f * 1.6, hi_b)
            g = sim(f)
            if g >= 0:
                hi, ghi = f, g
                break
            lo, glo = f, g
    best = min(trials, key=lambda t: abs(t[1] - target))
    if lo is not None and hi is not None and glo is not None and ghi is not None:
        side = 0
        while abs(best[1] - target) > settings.tolerance_pct_points \
                and len(trials) < settings.max_evaluations:
            f = (lo * ghi - hi * glo) / (ghi - glo) if ghi != glo else (lo + hi) / 2
            if not lo < f < hi:
                f = (lo + hi) / 2
            g = sim(f)
            if g < 0:
                lo, glo = f, g
                if side == -1:
                    ghi /= 2
                side = -1
            else:
                hi, ghi = f, g
                if side == 1:
                    glo /= 2
                side = 1
            best = min(trials, key=lambda t: abs(t[1] - target))
            if hi - lo < 1e-4:
                break
    converged = abs(best[1] - target) <= settings.tolerance_pct_points
    table = pd.DataFrame(trials, columns=["factor", "simulated_pct"])
    table["published_pct"] = target
    table["simulated_plans"] = [plans[f] for f, _ in trials]
    table["published_plans"] = published.plans_issued
    return Calibration(year=published.year, published_pct=target, simulated_pct=float(best[1]),
                       uncalibrated_pct=float(uncal), factor=float(best[0]),
                       n_paths=settings.n_paths, converged=bool(converged),
                       trials=table.astype({"factor": float, "simulated_pct": float}),
                       published_plans=published.plans_issued,
                       simulated_plans=float(plans[best[0]]), pools=tuple(settings.pools))
