"""Validated, frozen configuration of the EHCP capacity simulator.

A config YAML has top-level sections. This module owns four of them: ``simulation``,
``pipeline``, ``staff`` and ``demand`` (:class:`CapacityConfig`). Other parts of the toolkit own
``costs``, ``targets``, ``scenarios`` and ``report``; :func:`capacity_config` ignores those and
rejects any other top-level key with the closest valid one suggested.

Units: work content in hours, delays in calendar days, milestones in weeks, rates per year.
Defaults are documented in ``configs/leeds.yaml`` with their sources.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from forecasting.config_io import STRICT, check_sections, load_yaml, validate
from forecasting.errors import EhcpError

__all__ = [
    "CAPACITY_SECTIONS",
    "MAX_PATHS",
    "MAX_REQUESTS_PER_YEAR",
    "OTHER_SECTIONS",
    "CapacityConfig",
    "ComplexityGroup",
    "DemandConfig",
    "DisputeHours",
    "DisputeRates",
    "Disputes",
    "Distribution",
    "FteChange",
    "InitialCaseload",
    "LocumChange",
    "PipelineConfig",
    "PlanDate",
    "PoolConfig",
    "QueueConfig",
    "ReviewRules",
    "SimulationConfig",
    "StaffConfig",
    "StockConfig",
    "TraineeCohort",
    "WorkHours",
    "capacity_config",
    "load_capacity_config",
]

#: Sections this module validates.
CAPACITY_SECTIONS = ("simulation", "pipeline", "staff", "demand")
#: Sections owned by the scenario / reporting layer; passed over here.
OTHER_SECTIONS = ("costs", "targets", "scenarios", "report", "calibration", "run", "forecast",
                  "data")

#: Largest accepted requests for assessment in a year (England receives about 150,000).
MAX_REQUESTS_PER_YEAR = 1_000_000.0
#: Most sample paths one simulation may draw (memory grows with paths x weeks).
MAX_PATHS = 100_000
#: Dates a plan can sensibly refer to; far-off years overflow the calendar arithmetic.
FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2100, 12, 31)


def _in_range(day: date) -> date:
    if not FIRST_DATE <= day <= LAST_DATE:
        raise ValueError(f"date must be between {FIRST_DATE} and {LAST_DATE}")
    return day


#: A calendar date within :data:`FIRST_DATE` .. :data:`LAST_DATE`.
PlanDate = Annotated[date, AfterValidator(_in_range)]


class _Model(BaseModel):
    # NaN and infinity pass pydantic's bounds checks but break the random draws downstream.
    model_config = ConfigDict(**STRICT, allow_inf_nan=False)


class SimulationConfig(_Model):
    """How long, how many sample paths, which seed.

    Examples
    --------
    >>> SimulationConfig(years=2).horizon_days
    730
    """

    start: PlanDate = date(2025, 4, 1)
    years: int = Field(default=5, ge=1, le=10)
    n_paths: int = Field(default=1000, ge=1, le=MAX_PATHS)
    seed: int = Field(default=2025, ge=0, le=2**63 - 1)
    time_step_days: Literal[1] = 1

    @property
    def horizon_days(self) -> int:
        return 365 * self.years


class Distribution(_Model):
    """A positive random quantity: work hours per case, or a delay in days.

    ``cv`` is the coefficient of variation (sd / mean); it is ignored for ``fixed`` and is 1 for
    ``exponential``.
    """

    kind: Literal["fixed", "exponential", "gamma", "lognormal"] = "gamma"
    mean: float = Field(gt=0.0, le=10_000.0)
    cv: float = Field(default=0.5, ge=0.0, le=10.0)


class WorkHours(_Model):
    """Hands-on work per case at each stage, in hours, for a case of multiplier 1."""

    decision: Distribution = Distribution(mean=2.0, cv=0.5)
    advice: Distribution = Distribution(mean=10.5, cv=0.4)
    draft: Distribution = Distribution(mean=6.0, cv=0.5)
    final: Distribution = Distribution(mean=2.5, cv=0.5)
    review: Distribution = Distribution(mean=3.0, cv=0.6)
    review_ep: Distribution = Distribution(mean=7.0, cv=0.5)


class AdviceDelays(_Model):
    """Health and social-care advice: pure delays (days) running alongside the EP advice."""

    health: Distribution = Distribution(kind="gamma", mean=35.0, cv=0.35)
    social_care: Distribution = Distribution(kind="gamma", mean=30.0, cv=0.4)


class Milestones(_Model):
    """Statutory limits in weeks from the request (SEND Regulations 2014)."""

    decision: float = Field(default=6.0, gt=0, le=104.0)
    draft: float = Field(default=16.0, gt=0, le=104.0)
    final: float = Field(default=20.0, gt=0, le=104.0)

    @model_validator(mode="after")
    def _ordered(self) -> Milestones:
        if not self.decision < self.draft <= self.final:
            raise ValueError("milestones must increase: decision < draft <= final")
        return self


class ComplexityGroup(_Model):
    """One part of the case mix (e.g. a primary need) and how much more work it takes."""

    name: str = Field(min_length=1)
    share: float = Field(ge=0.0, le=1.0)
    work_multiplier: float = Field(default=1.0, gt=0.0, le=10.0)


class ReviewRules(_Model):
    """Annual reviews of plans in the stock.

    ``ep_share`` of reviews also need EP time (``work_hours.review_ep``) after the caseworker's
    part, e.g. when needs have changed.
    """

    interval_months: float = Field(default=12.0, gt=0, le=24)
    under5_share: float = Field(default=0.05, ge=0.0, le=1.0)
    under5_interval_months: float = Field(default=6.0, gt=0, le=12)
    decision_weeks: float = Field(default=4.0, gt=0, le=52)
    ep_share: float = Field(default=0.0, ge=0.0, le=1.0)
    phase_transfer_share: float = Field(default=0.15, ge=0.0, le=1.0)
    phase_transfer_deadline: str = Field(default="02-15", pattern=r"^\d\d-\d\d$")
    phase_transfer_window_weeks: float = Field(default=20.0, gt=0, le=52)

    @field_validator("phase_transfer_deadline")
    @classmethod
    def _month_day(cls, text: str) -> str:
        month, day = (int(x) for x in text.split("-"))
        try:
            date(2001, month, day)  # not a leap year: the deadline must exist every year
        except ValueError:
            raise ValueError(
                f"'{text}' is not a day that occurs every year (MM-DD, e.g. 02-15)"
            ) from None
        return text


class QueueConfig(_Model):
    """Who is served next when staff free up."""

    policy: Literal["fifo", "oldest_first", "earliest_deadline"] = "fifo"
    priority: Literal["new_first", "reviews_first", "none"] = "new_first"


class DisputeRates(_Model):
    """Share of each kind of appealable decision that leads to a dispute.

    ``refusals``: refusals to assess and decisions not to issue a plan; ``plans``: new plans
    issued (content or placement); ``reviews``: annual review decisions.
    """

    refusals: float = Field(default=0.0, ge=0.0, le=1.0)
    plans: float = Field(default=0.0, ge=0.0, le=1.0)
    reviews: float = Field(default=0.0, ge=0.0, le=1.0)


class DisputeHours(_Model):
    """Staff hours one dispute takes from each pool (preparation, meetings, hearing)."""

    caseworker: float = Field(default=0.0, ge=0.0, le=1000.0)
    ep: float = Field(default=0.0, ge=0.0, le=1000.0)


class Disputes(_Model):
    """Mediation and SEND tribunal appeals: workload and cost, not a delay on the case's clock.

    ``mediation`` and ``tribunal`` are shares of decisions (a tribunal appeal is a share of the
    decisions, not of the mediations: Leeds registered 126 appeals in 2024 against 43 mediations,
    DfE SEN2). Their staff hours are set aside from each pool's capacity
    (:mod:`forecasting.capacity.disputes`); their legal and admin costs are in ``costs.disputes``.
    All rates default to 0 (no dispute workload).
    """

    mediation: DisputeRates = DisputeRates()
    tribunal: DisputeRates = DisputeRates()
    mediation_hours: DisputeHours = DisputeHours()
    tribunal_hours: DisputeHours = DisputeHours()

    @property
    def active(self) -> bool:
        """True when any dispute rate is above 0."""
        return any(v > 0 for r in (self.mediation, self.tribunal) for v in r.model_dump().values())


class PipelineConfig(_Model):
    """The statutory pipeline: routing probabilities, work, delays, milestones, reviews."""

    p_refused: float = Field(default=0.22, ge=0.0, le=1.0)
    p_not_issued: float = Field(default=0.06, ge=0.0, le=1.0)
    p_exception: float = Field(default=0.05, ge=0.0, le=1.0)
    work_hours: WorkHours = WorkHours()
    advice_delays: AdviceDelays = AdviceDelays()
    comment_period_days: float = Field(default=15.0, ge=0.0, le=90.0)
    milestones_weeks: Milestones = Milestones()
    complexity: tuple[ComplexityGroup, ...] = (ComplexityGroup(name="all", share=1.0),)
    reviews: ReviewRules = ReviewRules()
    queue: QueueConfig = QueueConfig()
    disputes: Disputes = Disputes()

    @field_validator("complexity")
    @classmethod
    def _mix_sums_to_one(cls, groups: tuple[ComplexityGroup, ...]) -> tuple[ComplexityGroup, ...]:
        if not groups:
            raise ValueError("complexity needs at least one group")
        total = sum(g.share for g in groups)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"complexity shares must sum to 1, they sum to {total:g}")
        names = [g.name for g in groups]
        if len(set(names)) != len(names):
            raise ValueError("complexity group names must be unique")
        return groups


class FteChange(_Model):
    """From ``date`` on, the funded establishment is ``fte``."""

    date: PlanDate
    fte: float = Field(ge=0.0, le=10_000.0)


class LocumChange(_Model):
    """From ``date`` on, locum / agency staff add ``hours_per_week`` of statutory work."""

    date: PlanDate
    hours_per_week: float = Field(ge=0.0, le=100_000.0)


class TraineeCohort(_Model):
    """Trainees who start on ``start`` and, if retained, qualify into posts after training."""

    start: PlanDate
    count: float = Field(ge=0.0, le=1000.0)


class PoolConfig(_Model):
    """One staff group (EPs or caseworkers)."""

    fte: tuple[FteChange, ...] = Field(min_length=1)
    hours_per_fte_week: float = Field(default=37.0, gt=0.0, le=60.0)
    statutory_share: float = Field(default=0.6, ge=0.0, le=1.0)
    absence_rate: float = Field(default=0.15, ge=0.0, lt=1.0)
    term_time_share: float = Field(default=0.0, ge=0.0, le=1.0)
    vacant_fte: float = Field(default=0.0, ge=0.0, le=10_000.0)
    recruitment_lag_weeks: float = Field(default=16.0, ge=0.0, le=260.0)
    recruitment_success_rate: float = Field(default=0.6, ge=0.0, le=1.0)
    attrition_per_year: float = Field(default=0.10, ge=0.0, le=1.0)
    ramp_up_weeks: float = Field(default=12.0, ge=0.0, le=104.0)
    trainees: tuple[TraineeCohort, ...] = ()
    training_years: float = Field(default=3.0, ge=0.0, le=10.0)
    trainee_retention: float = Field(default=0.8, ge=0.0, le=1.0)
    locum_hours: tuple[LocumChange, ...] = ()
    cost_per_fte_year: float = Field(default=0.0, ge=0.0, le=10_000_000.0)
    locum_cost_per_hour: float = Field(default=0.0, ge=0.0, le=100_000.0)
    #: Share of the in-house staff's laid-out hours that turn into pipeline work (calibrated:
    #: see :mod:`forecasting.capacity.calibrate`); 1 takes the config's hours at face value.
    #: Locum hours are not scaled: they are bought as delivered work (e.g. assessments a month).
    productivity: float = Field(default=1.0, gt=0.0, le=5.0)
    #: Hours a week taken by statutory work outside the pipeline (mediation and tribunals:
    #: :func:`forecasting.capacity.disputes.with_dispute_workload` fills this in).
    reserved_hours: tuple[LocumChange, ...] = ()

    @field_validator("fte", "locum_hours", "reserved_hours")
    @classmethod
    def _dates_ordered(cls, changes: tuple) -> tuple:
        days = [c.date for c in changes]
        if days != sorted(days) or len(set(days)) != len(days):
            raise ValueError("dates must be in increasing order without repeats")
        return changes

    def hours_per_fte_day(self) -> float:
        """Statutory hours one FTE delivers per calendar day (term time, after absence)."""
        return self.hours_per_fte_week / 7.0 * self.statutory_share * (1.0 - self.absence_rate)


class StaffConfig(_Model):
    """The two staff pools the pipeline uses."""

    ep: PoolConfig
    caseworker: PoolConfig


class StockConfig(_Model):
    """The stock of plans, which generates annual reviews."""

    plans_at_start: float = Field(default=6000.0, ge=0.0, le=2_000_000.0)
    cessation_rate_per_year: float = Field(default=0.08, ge=0.0, le=1.0)


class InitialCaseload(_Model):
    """The open caseload on the start date.

    Either a case-level extract (``extract``: a CSV in the case schema) or an estimate from SEN2
    figures: ``share_late`` of the plans in progress are already past 20 weeks, by
    ``mean_weeks_late`` on average (Leeds issued 9.3% within 20 weeks in 2024, DfE SEN2).
    ``late_cases``, when set, is the number of late open cases itself (e.g. from published
    counts) instead of the Little's-law estimate from ``share_late``.
    """

    extract: Path | None = None
    in_time_cases: float | None = Field(default=None, ge=0.0, le=MAX_REQUESTS_PER_YEAR)
    share_late: float = Field(default=0.0, ge=0.0, le=1.0)
    mean_weeks_late: float = Field(default=8.0, ge=0.0, le=260.0)
    late_cases: float | None = Field(default=None, ge=0.0, le=MAX_REQUESTS_PER_YEAR)
    late_stage_mix: dict[Literal["decision", "advice", "draft", "final"], float] = Field(
        default_factory=lambda: {"advice": 0.6, "draft": 0.3, "final": 0.1}  # type: ignore[arg-type,return-value]
    )
    reviews_overdue: float = Field(default=0.0, ge=0.0, le=2_000_000.0)

    @field_validator("late_stage_mix")
    @classmethod
    def _mix(cls, mix: dict) -> dict:
        total = sum(mix.values())
        if any(v < 0 for v in mix.values()) or abs(total - 1.0) > 1e-6:
            raise ValueError(f"shares must be >= 0 and sum to 1 (they sum to {total:g})")
        return mix


class DemandConfig(_Model):
    """Requests for assessment and the stock of plans.

    ``source: fixed`` uses ``requests_per_year`` (a number, or calendar year -> number) grown by
    ``growth_per_year`` beyond the years given; ``source: forecast`` uses sample paths of
    ``requests_received`` from the forecasting engine (``model``, default ``auto``) for the LA
    named in ``la``.
    """

    source: Literal["fixed", "forecast"] = "fixed"
    la: str | None = None
    model: str = Field(default="auto", min_length=1)
    requests_per_year: float | dict[int, float] = 3500.0
    growth_per_year: float = Field(default=0.0, ge=-0.5, le=1.0)
    seasonality: tuple[float, ...] = (1.1, 1.0, 1.1, 0.8, 1.1, 1.1, 0.9, 0.4, 0.9, 1.2, 1.2, 0.8)
    stock: StockConfig = StockConfig()
    initial: InitialCaseload = InitialCaseload()

    @field_validator("seasonality")
    @classmethod
    def _seasonality(cls, weights: tuple[float, ...]) -> tuple[float, ...]:
        if len(weights) != 12 or any(not 0 <= w <= 100 for w in weights):
            raise ValueError("seasonality needs 12 monthly weights from 0 to 100 (January first)")
        if sum(weights) <= 0:
            raise ValueError("seasonality weights must not all be 0")
        return weights

    @field_validator("requests_per_year")
    @classmethod
    def _volumes(cls, volumes: float | dict[int, float]) -> float | dict[int, float]:
        values = volumes.values() if isinstance(volumes, dict) else [volumes]
        if any(not 0 <= v <= MAX_REQUESTS_PER_YEAR for v in values):
            raise ValueError(f"requests_per_year must be from 0 to {MAX_REQUESTS_PER_YEAR:,.0f}")
        if isinstance(volumes, dict) and not volumes:
            raise ValueError("requests_per_year needs at least one year")
        if isinstance(volumes, dict) and any(
                not FIRST_DATE.year <= y <= LAST_DATE.year for y in volumes):
            raise ValueError(
                f"requests_per_year years must be from {FIRST_DATE.year} to {LAST_DATE.year}")
        return volumes

    @model_validator(mode="after")
    def _check(self) -> DemandConfig:
        if self.source == "forecast" and not self.la:
            raise ValueError("source 'forecast' needs 'la' (the local authority's name)")
        return self

    def requests_in(self, year: int) -> float:
        """Expected requests in a calendar year under ``source: fixed``.

        Examples
        --------
        >>> round(DemandConfig(requests_per_year={2025: 100.0}, growth_per_year=0.1).requests_in(2027), 6)
        121.0
        """
        volumes = self.requests_per_year
        if not isinstance(volumes, dict):
            return float(volumes)
        if year in volumes:
            return float(volumes[year])
        last = max(volumes) if year > max(volumes) else min(volumes)
        return float(volumes[last]) * (1.0 + self.growth_per_year) ** (year - last)


class CapacityConfig(_Model):
    """The four simulator sections of a config file."""

    simulation: SimulationConfig = SimulationConfig()
    pipeline: PipelineConfig = PipelineConfig()
    staff: StaffConfig
    demand: DemandConfig = DemandConfig()


def capacity_config(data: dict[str, Any], file: str | Path | None = None) -> CapacityConfig:
    """Validate the simulator sections of a parsed config mapping.

    Sections owned by other parts of the toolkit (:data:`OTHER_SECTIONS`) are passed over; any
    other unknown top-level key is an error that suggests the closest section name.

    Examples
    --------
    >>> pool = {"fte": [{"date": "2025-01-01", "fte": 10}]}
    >>> cfg = capacity_config({"staff": {"ep": pool, "caseworker": pool}, "costs": {}})
    >>> cfg.staff.ep.fte[0].fte
    10.0
    """
    if not isinstance(data, dict):
        raise EhcpError("the top level must be a mapping of sections", file=file)
    check_sections(data, CAPACITY_SECTIONS + OTHER_SECTIONS, file)
    ours = {k: v for k, v in data.items() if k in CAPACITY_SECTIONS}
    for key, value in ours.items():
        if value is not None and not isinstance(value, dict):
            raise EhcpError(
                f"expected a mapping of settings, got {value!r}", file=file, field=key
            )
    return validate(CapacityConfig, ours, file)


def load_capacity_config(path: str | Path) -> CapacityConfig:
    """Read and validate the simulator sections of a config YAML (see :func:`capacity_config`).

    Examples
    --------
    >>> from pathlib import Path
    >>> cfg = load_capacity_config(Path(__file__).parents[2] / "configs" / "leeds.yaml")
    >>> cfg.simulation.years
    5
    """
    return capacity_config(load_yaml(path), path)
