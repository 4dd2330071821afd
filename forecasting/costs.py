"""Staff costs: salary and on-costs by role and grade, locum premium and pay inflation.

The ``costs`` section of a scenario file is validated into :class:`CostsConfig`. Costs are in
pounds at the prices of ``price_base_fy`` and uplifted by ``pay_inflation`` once per financial
year after it, because councils set budgets by financial year (April-March).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from forecasting.errors import EhcpError
from forecasting.periods import financial_year, financial_year_bounds

__all__ = [
    "CostsConfig",
    "DisputeCost",
    "GradeCost",
    "LocumCost",
    "RoleCost",
    "annual_cost_per_fte",
    "cost_by_financial_year",
    "inflation_factor",
    "locum_hourly_rate",
    "weekly_staff_cost",
]

ROLES = ("ep", "caseworker")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GradeCost(_Frozen):
    """One pay grade of a role: salary, employer on-costs and its share of the role's FTE."""

    salary_gbp: float = Field(gt=0, le=500_000, description="gross salary per FTE-year")
    on_cost_rate: float = Field(
        default=0.0, ge=0, le=1, description="employer NI + pension as a share of salary"
    )
    share: float = Field(default=1.0, ge=0, le=1, description="share of the role's FTE")
    source: str = ""

    @property
    def annual_cost_gbp(self) -> float:
        """Salary plus on-costs per FTE-year."""
        return self.salary_gbp * (1 + self.on_cost_rate)


class RoleCost(_Frozen):
    """Grades of one role; the role's cost per FTE is the share-weighted grade cost."""

    grades: dict[str, GradeCost] = Field(min_length=1)

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> RoleCost:
        total = sum(g.share for g in self.grades.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"grade shares must sum to 1, got {total:g}")
        return self

    @property
    def annual_cost_gbp(self) -> float:
        """Share-weighted salary plus on-costs per FTE-year."""
        return sum(g.share * g.annual_cost_gbp for g in self.grades.values())


class LocumCost(_Frozen):
    """Locum / agency EP rates: a day rate at base prices (the premium is already in it)."""

    ep_day_rate_gbp: float = Field(gt=0, le=5_000)
    hours_per_day: float = Field(default=7.4, gt=0, le=24)
    source: str = ""


class DisputeCost(_Frozen):
    """Legal and admin cost per dispute at base prices (staff time is costed as FTE already)."""

    mediation_gbp: float = Field(default=0.0, ge=0, le=1_000_000,
                                 description="mediation service fee per mediation")
    tribunal_gbp: float = Field(default=0.0, ge=0, le=1_000_000,
                                description="legal and admin cost per tribunal appeal")


class CostsConfig(_Frozen):
    """The ``costs`` section of a scenario file.

    Examples
    --------
    >>> c = CostsConfig.model_validate({
    ...     "price_base_fy": "2023-24", "pay_inflation": 0.03,
    ...     "roles": {"ep": {"grades": {"all": {"salary_gbp": 71385}}},
    ...               "caseworker": {"grades": {"all": {"salary_gbp": 32000, "on_cost_rate": 0.3}}}},
    ...     "locum": {"ep_day_rate_gbp": 520}})
    >>> round(c.roles["caseworker"].annual_cost_gbp)
    41600
    """

    price_base_fy: str = Field(description="financial year whose prices the figures are in")
    pay_inflation: float = Field(default=0.0, ge=-0.1, le=0.2, description="per financial year")
    working_days_per_year: float = Field(default=220, gt=0, le=366)
    roles: dict[str, RoleCost]
    locum: LocumCost
    disputes: DisputeCost = DisputeCost()

    @field_validator("price_base_fy")
    @classmethod
    def _fy_label(cls, value: str) -> str:
        try:
            financial_year_bounds(value)
        except EhcpError as err:
            raise ValueError(err.message + "; write it as YYYY-YY, e.g. 2024-25") from None
        return value

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, value: dict[str, RoleCost]) -> dict[str, RoleCost]:
        missing = [r for r in ROLES if r not in value]
        unknown = [r for r in value if r not in ROLES]
        if missing or unknown:
            raise ValueError(
                f"roles must be exactly {', '.join(ROLES)}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(unknown)}" if unknown else "")
            )
        return value


def inflation_factor(costs: CostsConfig, fy: str) -> float:
    """Pay uplift from the price base year to financial year ``fy`` (compounded yearly).

    Examples
    --------
    >>> c = CostsConfig.model_validate({"price_base_fy": "2024-25", "pay_inflation": 0.1,
    ...     "roles": {"ep": {"grades": {"a": {"salary_gbp": 1}}},
    ...               "caseworker": {"grades": {"a": {"salary_gbp": 1}}}},
    ...     "locum": {"ep_day_rate_gbp": 1}})
    >>> round(inflation_factor(c, "2026-27"), 4), inflation_factor(c, "2024-25")
    (1.21, 1.0)
    """
    years = financial_year_bounds(fy)[0].year - financial_year_bounds(costs.price_base_fy)[0].year
    return float((1 + costs.pay_inflation) ** years)


def annual_cost_per_fte(costs: CostsConfig, role: str, fy: str) -> float:
    """Salary plus on-costs of one FTE of ``role`` for a whole financial year, in that year's pounds.

    Examples
    --------
    >>> c = CostsConfig.model_validate({"price_base_fy": "2023-24",
    ...     "roles": {"ep": {"grades": {"a": {"salary_gbp": 71385}}},
    ...               "caseworker": {"grades": {"a": {"salary_gbp": 30000}}}},
    ...     "locum": {"ep_day_rate_gbp": 500}})
    >>> annual_cost_per_fte(c, "ep", "2023-24")
    71385.0
    """
    if role not in costs.roles:
        raise EhcpError(f"no costs for role {role!r}", field="costs.roles", fix=f"use {ROLES}")
    return float(costs.roles[role].annual_cost_gbp * inflation_factor(costs, fy))


def locum_hourly_rate(costs: CostsConfig, fy: str) -> float:
    """Locum EP cost per hour in financial year ``fy``.

    Examples
    --------
    >>> c = CostsConfig.model_validate({"price_base_fy": "2023-24",
    ...     "roles": {"ep": {"grades": {"a": {"salary_gbp": 1}}},
    ...               "caseworker": {"grades": {"a": {"salary_gbp": 1}}}},
    ...     "locum": {"ep_day_rate_gbp": 740, "hours_per_day": 7.4}})
    >>> locum_hourly_rate(c, "2023-24")
    100.0
    """
    return float(costs.locum.ep_day_rate_gbp / costs.locum.hours_per_day * inflation_factor(costs, fy))


def weekly_staff_cost(
    costs: CostsConfig,
    ds: pd.Series | pd.DatetimeIndex,
    *,
    ep_fte: np.ndarray | pd.Series | float,
    caseworker_fte: np.ndarray | pd.Series | float,
    locum_hours: np.ndarray | pd.Series | float = 0.0,
) -> np.ndarray:
    """Cost in pounds of each week of staffing (FTE held for the week, locum hours bought).

    A week costs 7/365.25 of an FTE-year, at the pay rates of the financial year it starts in.

    Examples
    --------
    >>> c = CostsConfig.model_validate({"price_base_fy": "2026-27",
    ...     "roles": {"ep": {"grades": {"a": {"salary_gbp": 52179}}},
    ...               "caseworker": {"grades": {"a": {"salary_gbp": 36525}}}},
    ...     "locum": {"ep_day_rate_gbp": 740}})
    >>> weekly_staff_cost(c, pd.to_datetime(["2026-04-06"]), ep_fte=1, caseworker_fte=2,
    ...                   locum_hours=10).round(0).tolist()
    [3400.0]
    """
    dates = pd.DatetimeIndex(pd.to_datetime(ds))
    fys = [financial_year(d) for d in dates]
    uniq = {fy: inflation_factor(costs, fy) for fy in set(fys)}
    factor = np.array([uniq[fy] for fy in fys])
    week_share = 7 / 365.25
    ep_rate = costs.roles["ep"].annual_cost_gbp * week_share
    cw_rate = costs.roles["caseworker"].annual_cost_gbp * week_share
    hourly = costs.locum.ep_day_rate_gbp / costs.locum.hours_per_day
    total = (
        np.asarray(ep_fte, dtype=float) * ep_rate
        + np.asarray(caseworker_fte, dtype=float) * cw_rate
        + np.asarray(locum_hours, dtype=float) * hourly
    )
    return np.asarray(total * factor, dtype=float)


def cost_by_financial_year(
    weekly: pd.DataFrame,
    costs: CostsConfig,
    *,
    by: Sequence[str] = (),
    columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Sum weekly staffing into pounds by financial year and cost line.

    Parameters
    ----------
    weekly : DataFrame
        One row per week with ``ds`` and FTE / locum-hour columns.
    costs : CostsConfig
    by : sequence of str
        Extra key columns to keep as groups, e.g. ``["scenario", "sample_id"]``.
    columns : mapping, optional
        Column names for ``ep_fte``, ``caseworker_fte`` and ``locum_hours`` if they differ.

    Returns
    -------
    DataFrame
        The ``by`` keys, ``period_type`` (``financial``), ``period`` (``2026-27``), and
        ``ep_cost_gbp``, ``caseworker_cost_gbp``, ``locum_cost_gbp``, ``total_cost_gbp``; also
        ``dispute_cost_gbp`` (mediation fees and tribunal costs, ``costs.disputes``) when
        ``weekly`` has ``mediations`` and ``tribunals`` columns.

    Examples
    --------
    >>> c = CostsConfig.model_validate({"price_base_fy": "2026-27",
    ...     "roles": {"ep": {"grades": {"a": {"salary_gbp": 36525}}},
    ...               "caseworker": {"grades": {"a": {"salary_gbp": 36525}}}},
    ...     "locum": {"ep_day_rate_gbp": 740}})
    >>> w = pd.DataFrame({"ds": pd.date_range("2026-04-06", periods=2, freq="W-MON"),
    ...                   "ep_fte": 1.0, "caseworker_fte": 0.0, "locum_hours": 0.0})
    >>> cost_by_financial_year(w, c).round(2)[["period", "total_cost_gbp"]].values.tolist()
    [['2026-27', 1400.0]]
    """
    names = {"ep_fte": "ep_fte", "caseworker_fte": "caseworker_fte", "locum_hours": "locum_hours"}
    names.update(columns or {})
    missing = [c for c in ["ds", names["ep_fte"], names["caseworker_fte"]] if c not in weekly]
    if missing:
        raise EhcpError(f"weekly staffing table lacks columns {missing}", field=", ".join(missing))
    locum = weekly[names["locum_hours"]] if names["locum_hours"] in weekly else 0.0
    dates = pd.to_datetime(weekly["ds"])
    fys = dates.map(financial_year)
    factor = fys.map({fy: inflation_factor(costs, fy) for fy in fys.unique()}).to_numpy(float)
    week_share = 7 / 365.25
    keys = list(by)
    out = weekly[keys].copy()
    out["period"] = fys.astype(str)
    out["ep_cost_gbp"] = (
        weekly[names["ep_fte"]].to_numpy(float) * costs.roles["ep"].annual_cost_gbp * week_share * factor
    )
    out["caseworker_cost_gbp"] = (
        weekly[names["caseworker_fte"]].to_numpy(float)
        * costs.roles["caseworker"].annual_cost_gbp
        * week_share
        * factor
    )
    out["locum_cost_gbp"] = (
        np.asarray(locum, dtype=float) * costs.locum.ep_day_rate_gbp / costs.locum.hours_per_day * factor
    )
    lines = ["ep_cost_gbp", "caseworker_cost_gbp", "locum_cost_gbp"]
    if {"mediations", "tribunals"} <= set(weekly.columns):
        # Mediation fees and tribunal legal costs, priced by the year the decision fell in.
        out["dispute_cost_gbp"] = (
            weekly["mediations"].to_numpy(float) * costs.disputes.mediation_gbp
            + weekly["tribunals"].to_numpy(float) * costs.disputes.tribunal_gbp
        ) * factor
        lines.append("dispute_cost_gbp")
    grouped = out.groupby([*keys, "period"], sort=True, as_index=False)[lines].sum()
    grouped["total_cost_gbp"] = grouped[lines].sum(axis=1)
    grouped.insert(len(keys), "period_type", "financial")
    return grouped
