"""Scenario files -> validated, frozen scenario objects.

A scenario file (e.g. ``configs/leeds.yaml``) holds a **baseline** - the simulator sections
``simulation``, ``pipeline``, ``staff``, ``demand`` (:mod:`forecasting.capacity.config`) and the
``costs`` section (:mod:`forecasting.costs`) - plus ``targets``, ``report`` and ``scenarios``.
Each named scenario overrides parts of the baseline::

    scenarios:
      extra_2_eps:
        description: Two more EPs from April 2026
        overrides:
          staff:
            ep:
              fte: [{date: 2025-04-01, fte: 12}, {date: 2026-04-01, fte: 14}]
      early_help_minus_10pct:
        description: Early help cuts requests by 10% from September 2026
        request_changes: [{from_date: 2026-09-01, percent: -10}]

The override is deep-merged onto the baseline (mappings merge key by key; lists and values
replace) and the result validated again, so a scenario is held to the same rules as the baseline.
Overriding a key the baseline does not have is an error that names the closest key it does have.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from forecasting.capacity.calibrate import CalibrationConfig
from forecasting.capacity.config import CAPACITY_SECTIONS, CapacityConfig
from forecasting.config_io import check_sections, closest_key, load_yaml, validate
from forecasting.costs import CostsConfig
from forecasting.errors import EhcpError
from forecasting.periods import financial_year_bounds

__all__ = [
    "BASELINE",
    "LATE_OVER_13",
    "ReportConfig",
    "RequestChange",
    "Scenario",
    "ScenarioSet",
    "ScenarioSpec",
    "SearchBounds",
    "Target",
    "TargetsConfig",
    "apply_request_changes",
    "deep_merge",
    "load_scenarios",
    "scenario_set",
]

BASELINE = "baseline"
#: Backlog bands (weeks past the 20-week deadline) that count as "more than 13 weeks late".
LATE_OVER_13 = ("late_13_26", "late_26_52", "late_52_plus")
#: Sections a scenario may override.
OVERRIDABLE = (*CAPACITY_SECTIONS, "costs")
_TOP_LEVEL = (*OVERRIDABLE, "targets", "scenarios", "report", "calibration")

Metric = Literal["pct_within_20_weeks", "cases_late_over_13_weeks", "open_late", "reviews_overdue"]
METRIC_TEXT = {
    "pct_within_20_weeks": "% of new plans issued within 20 weeks",
    "cases_late_over_13_weeks": "cases more than 13 weeks late",
    "open_late": "open cases past the 20-week deadline",
    "reviews_overdue": "annual reviews overdue",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_fy(value: str | None) -> str | None:
    if value is not None:
        try:
            financial_year_bounds(value)
        except EhcpError as err:
            raise ValueError(err.message + "; write it as YYYY-YY, e.g. 2027-28") from None
    return value


class Target(_Frozen):
    """One service target and the probability it must be met with.

    Exactly one of ``at_least`` / ``at_most`` and one of ``financial_year`` / ``from_date``.
    ``at_least`` targets compare the window's average (for % within 20 weeks: issued within 20
    weeks / issued, pooled over the window); ``at_most`` targets compare the window's worst week.
    """

    name: str = Field(min_length=1, max_length=80)
    metric: Metric
    at_least: float | None = Field(default=None, ge=0)
    at_most: float | None = Field(default=None, ge=0)
    financial_year: str | None = None
    from_date: date | None = None
    probability: float = Field(default=0.8, gt=0, le=1)

    @field_validator("financial_year")
    @classmethod
    def _fy(cls, value: str | None) -> str | None:
        return _check_fy(value)

    @model_validator(mode="after")
    def _one_of_each(self) -> Target:
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("give exactly one of at_least or at_most")
        if (self.financial_year is None) == (self.from_date is None):
            raise ValueError("give exactly one of financial_year or from_date")
        if self.metric == "pct_within_20_weeks" and (self.at_least or self.at_most or 0) > 100:
            raise ValueError("a percentage must be between 0 and 100")
        return self

    @property
    def window(self) -> tuple[pd.Timestamp, pd.Timestamp | None]:
        """First and last (inclusive) day judged; a last day of None means the horizon's end."""
        if self.financial_year is not None:
            return financial_year_bounds(self.financial_year)
        assert self.from_date is not None  # the validator guarantees one of the two
        return pd.Timestamp(self.from_date), None

    def describe(self) -> str:
        """The target in plain words.

        Examples
        --------
        >>> Target(name="t", metric="pct_within_20_weeks", at_least=60,
        ...        financial_year="2027-28", probability=0.8).describe()
        'P(% of new plans issued within 20 weeks in FY 2027-28 >= 60) >= 0.8'
        """
        when = (
            f"in FY {self.financial_year}"
            if self.financial_year is not None
            else f"in every week from {self.from_date}"
        )
        op = f">= {self.at_least:g}" if self.at_least is not None else f"<= {self.at_most:g}"
        return f"P({METRIC_TEXT[self.metric]} {when} {op}) >= {self.probability:g}"


class SearchBounds(_Frozen):
    """The optimiser's search: extra FTE and locum hours added to one scenario from a date."""

    scenario: str = BASELINE
    start: date
    locum_until: date | None = Field(
        default=None, description="extra locum hours stop on this date (None: to the end)"
    )
    ep_fte: tuple[float, float] = (0.0, 10.0)
    caseworker_fte: tuple[float, float] = (0.0, 10.0)
    locum_hours_per_week: tuple[float, float] = (0.0, 0.0)
    grid_points: int = Field(default=4, ge=2, le=20)
    refine_steps: int = Field(default=2, ge=0, le=10)
    max_evaluations: int = Field(default=40, ge=1, le=2000)
    n_paths: int = Field(default=100, ge=1, le=10_000)
    phase_evaluations: int = Field(
        default=0, ge=0, le=2000,
        description="simulations for phasing the plan by financial year (0: a flat plan only)")

    @model_validator(mode="after")
    def _ordered(self) -> SearchBounds:
        if self.locum_until is not None and self.locum_until <= self.start:
            raise ValueError(f"locum_until ({self.locum_until}) must come after start ({self.start})")
        for name in ("ep_fte", "caseworker_fte", "locum_hours_per_week"):
            lo, hi = getattr(self, name)
            if lo < 0 or hi < lo:
                raise ValueError(f"{name} must be [low, high] with 0 <= low <= high, got [{lo}, {hi}]")
        return self


class TargetsConfig(_Frozen):
    """The ``targets`` section: the goals and the optimiser's search bounds."""

    goals: tuple[Target, ...] = Field(min_length=1)
    search: SearchBounds

    @model_validator(mode="after")
    def _unique_names(self) -> TargetsConfig:
        names = [g.name for g in self.goals]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"target names must be unique; repeated: {', '.join(dupes)}")
        return self


class ReportConfig(_Frozen):
    """The ``report`` section: what the main job forecasts and how it reports."""

    title: str = "EHC needs assessment demand and capacity"
    la: str = Field(min_length=1, description="local authority name as in DfE SEN2")
    measure: Literal["requests_received"] = "requests_received"
    forecast_model: str = "auto"
    history_from: int = Field(default=2016, ge=2010, le=2100)
    forecast_years: int = Field(default=5, ge=1, le=10)
    levels: tuple[int, ...] = (80, 95)
    percentiles: tuple[float, float, float] = (10.0, 50.0, 90.0)
    backtest_folds: int = Field(default=3, ge=0, le=10)
    n_paths: int = Field(default=200, ge=1, le=100_000)
    seed: int = Field(default=2025, ge=0)

    @model_validator(mode="after")
    def _pcts(self) -> ReportConfig:
        lo, mid, hi = self.percentiles
        if not 0 < lo < mid < hi < 100:
            raise ValueError("percentiles must be three increasing numbers between 0 and 100")
        if any(not 0 < lv < 100 for lv in self.levels):
            raise ValueError("levels must be between 0 and 100")
        return self


class RequestChange(_Frozen):
    """From ``from_date`` on, requests for assessment change by ``percent`` (e.g. -10)."""

    from_date: date
    percent: float = Field(ge=-100, le=500)


class ScenarioSpec(_Frozen):
    """One entry of the ``scenarios`` section, before merging."""

    description: str = ""
    overrides: dict[str, Any] = Field(default_factory=dict)
    request_changes: tuple[RequestChange, ...] = ()

    @field_validator("overrides")
    @classmethod
    def _sections(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, sub in value.items():
            if key not in OVERRIDABLE:
                guess = closest_key(key, OVERRIDABLE)
                raise ValueError(
                    f"cannot override section '{key}'"
                    + (f" (did you mean '{guess}'?)" if guess else "")
                    + f"; sections a scenario may override: {', '.join(OVERRIDABLE)}"
                )
            if not isinstance(sub, dict):
                raise ValueError(f"override of '{key}' must be a mapping of settings")
        return value


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any], *, path: str = "",
               what: str = "the baseline") -> dict:
    """Merge ``override`` onto ``base``: mappings key by key, anything else replaced.

    Every key of ``override`` must exist in ``base`` (a scenario changes the baseline, it does
    not add to it); an unknown key raises :class:`EhcpError` naming the dotted path and the
    closest existing key (``what`` names ``base`` in the message).

    Examples
    --------
    >>> deep_merge({"staff": {"ep": {"fte": 10, "absence": 0.1}}}, {"staff": {"ep": {"fte": 12}}})
    {'staff': {'ep': {'fte': 12, 'absence': 0.1}}}
    >>> deep_merge({"staff": {"ep": {"fte": 10}}}, {"staff": {"ep": {"fet": 12}}})
    Traceback (most recent call last):
    ...
    forecasting.errors.EhcpError: field 'staff.ep.fet': the baseline has no such key. Fix: did you mean 'fte'? Keys here: fte.
    """
    out = dict(_thaw(base))
    for key, value in override.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in out:
            guess = closest_key(str(key), [str(k) for k in out])
            raise EhcpError(
                f"{what} has no such key",
                field=where,
                fix=(f"did you mean '{guess}'? " if guess else "")
                + f"Keys here: {', '.join(map(str, out)) or '(none)'}",
            )
        if isinstance(value, Mapping) and isinstance(out[key], Mapping):
            out[key] = deep_merge(out[key], value, path=where, what=what)
        else:
            out[key] = _thaw(value)
    return out


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: the simulator config, the costs and the demand changes."""

    name: str
    description: str
    capacity: CapacityConfig
    costs: CostsConfig
    request_changes: tuple[RequestChange, ...]
    overrides: Mapping[str, Any]


@dataclass(frozen=True)
class ScenarioSet:
    """Everything a scenario file says, validated; ``scenarios[0]`` is the baseline."""

    file: str
    scenarios: tuple[Scenario, ...]
    targets: TargetsConfig
    report: ReportConfig
    config_hash: str
    raw: Mapping[str, Any]
    #: The ``calibration`` section; None when the file has none (no calibration).
    calibration: CalibrationConfig | None = None

    @property
    def baseline(self) -> Scenario:
        return self.scenarios[0]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.scenarios)

    def __getitem__(self, name: str) -> Scenario:
        for s in self.scenarios:
            if s.name == name:
                return s
        guess = closest_key(name, self.names)
        raise EhcpError(
            f"no scenario named '{name}'",
            file=self.file,
            field="scenarios",
            fix=(f"did you mean '{guess}'? " if guess else "") + f"Scenarios: {', '.join(self.names)}",
        )

    def __iter__(self) -> Iterator[Scenario]:
        return iter(self.scenarios)

    def __len__(self) -> int:
        return len(self.scenarios)


def _section(data: Mapping[str, Any], key: str, file: str) -> Any:
    if key not in data or data[key] is None:
        raise EhcpError(f"section '{key}' is missing", file=file, field=key, fix=f"add a '{key}:' section")
    return data[key]


def _hash(data: Mapping[str, Any]) -> str:
    text = json.dumps(_thaw(data), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _build(
    name: str, spec: ScenarioSpec, base: Mapping[str, Any], file: str
) -> Scenario:
    try:
        merged = deep_merge(base, spec.overrides, path="")
    except EhcpError as err:
        raise EhcpError(
            err.message, file=file, field=f"scenarios.{name}.overrides.{err.field}", fix=err.fix
        ) from None
    try:
        capacity = validate(CapacityConfig, {k: merged[k] for k in CAPACITY_SECTIONS}, file)
        costs = validate(CostsConfig, merged["costs"], file, prefix="costs")
    except EhcpError as err:
        if name == BASELINE:
            raise
        raise EhcpError(
            f"{err.message} (after applying scenario '{name}')",
            file=file,
            field=f"scenarios.{name}.overrides.{err.field}",
            fix=err.fix,
        ) from None
    return Scenario(
        name=name,
        description=spec.description,
        capacity=capacity,
        costs=costs,
        request_changes=spec.request_changes,
        overrides=_freeze(spec.overrides),
    )


def scenario_set(data: Mapping[str, Any], file: str | Path = "<config>") -> ScenarioSet:
    """Validate a parsed scenario file (see :func:`load_scenarios`)."""
    name = str(file)
    check_sections(data, _TOP_LEVEL, name)
    # Validate the baseline first, then merge overrides onto its full form (defaults filled in)
    # so a scenario may change a setting the file leaves at its default.
    capacity = validate(
        CapacityConfig, {k: data[k] for k in CAPACITY_SECTIONS if k in data}, name
    )
    costs = validate(CostsConfig, _section(data, "costs", name), name, prefix="costs")
    targets = validate(TargetsConfig, _section(data, "targets", name), name, prefix="targets")
    report = validate(ReportConfig, _section(data, "report", name), name, prefix="report")
    calibration = None
    if data.get("calibration") is not None:
        calibration = validate(CalibrationConfig, data["calibration"], name, prefix="calibration")
    base = {**capacity.model_dump(mode="python"), "costs": costs.model_dump(mode="python")}
    raw_specs = data.get("scenarios") or {}
    if not isinstance(raw_specs, Mapping):
        raise EhcpError("expected a mapping of scenario names", file=name, field="scenarios")
    specs = {str(k): validate(ScenarioSpec, v, name, prefix=f"scenarios.{k}") for k, v in raw_specs.items()}
    if BASELINE in specs and (specs[BASELINE].overrides or specs[BASELINE].request_changes):
        raise EhcpError(
            "the baseline cannot override itself",
            file=name,
            field=f"scenarios.{BASELINE}",
            fix="change the top-level sections instead, or give the variant another name",
        )
    base_spec = specs.pop(BASELINE, ScenarioSpec(description="the configuration as written"))
    built = [_build(BASELINE, base_spec, base, name)]
    built += [_build(k, spec, base, name) for k, spec in specs.items()]
    if targets.search.scenario not in {s.name for s in built}:
        guess = closest_key(targets.search.scenario, [s.name for s in built])
        raise EhcpError(
            f"no scenario named '{targets.search.scenario}'",
            file=name,
            field="targets.search.scenario",
            fix=(f"did you mean '{guess}'? " if guess else "") + "name a scenario of this file",
        )
    return ScenarioSet(
        file=name,
        scenarios=tuple(built),
        targets=targets,
        report=report,
        config_hash=_hash(data),
        raw=_freeze(data),
        calibration=calibration,
    )


def load_scenarios(path: str | Path) -> ScenarioSet:
    """Read a scenario file: the baseline, each named scenario merged onto it, targets, report.

    Parameters
    ----------
    path : str or Path
        The YAML file (e.g. ``configs/leeds.yaml``).

    Returns
    -------
    ScenarioSet
        Frozen; ``scenarios[0]`` is the baseline.

    Raises
    ------
    EhcpError
        For an unknown key (closest valid key suggested), a value out of range (field path
        named), or a scenario that overrides a key the baseline lacks.

    Examples
    --------
    >>> from pathlib import Path
    >>> root = Path(__file__).parents[1]
    >>> s = load_scenarios(root / "tests" / "fixtures" / "scenarios" / "small.yaml")
    >>> s.names
    ('baseline', 'extra_2_eps', 'early_help_minus_10pct')
    """
    return scenario_set(load_yaml(path), path)


def apply_request_changes(
    paths: pd.DataFrame, changes: tuple[RequestChange, ...] | list[RequestChange]
) -> pd.DataFrame:
    """Scale demand paths (``unique_id, ds, sample_id, y``) by the scenario's request changes.

    A change applies to the share of each period that falls on or after its date, so a -10%
    change from 1 October scales a calendar year's requests by 1 - 0.10 * 92/365.

    Examples
    --------
    >>> p = pd.DataFrame({"unique_id": "Leeds", "ds": pd.to_datetime(["2026-01-01", "2027-01-01"]),
    ...                   "sample_id": 0, "y": [1000.0, 1000.0]})
    >>> apply_request_changes(p, [RequestChange(from_date="2027-01-01", percent=-10)])["y"].tolist()
    [1000.0, 900.0]
    >>> p["ds"] = [2026, 2027]
    >>> apply_request_changes(p, [RequestChange(from_date="2026-07-02", percent=-10)])["y"].round(1).tolist()
    [949.9, 900.0]
    """
    out = paths.copy()
    if not changes or out.empty:
        return out
    if pd.api.types.is_integer_dtype(out["ds"]):
        # Whole-number ds are calendar years (the SEN2 flows and the forecast paths).
        starts = pd.to_datetime(out["ds"].astype(str) + "-01-01")
        ends = pd.to_datetime((out["ds"] + 1).astype(str) + "-01-01")
    else:
        starts = pd.to_datetime(out["ds"])
        step = starts.drop_duplicates().sort_values().diff().median()
        ends = starts + (pd.Timedelta(days=365) if pd.isna(step) else step)
    factor = np.ones(len(out))
    for change in changes:
        when = pd.Timestamp(change.from_date)
        begin = starts.where(starts > when, when)
        covered = ((ends - begin) / (ends - starts)).clip(0, 1).to_numpy(float)
        factor *= 1 + change.percent / 100 * covered
    out["y"] = out["y"].to_numpy(float) * factor
    return out
