"""An LA's published DfE SEN2 figures for one calendar year, as the calibration replays them.

:func:`published_year` reads them from the SEN2 panel (``forecasting.data.load_panel()``);
:class:`PublishedYear` derives the LA's own routing rates and the late backlog on 1 January
(see :mod:`forecasting.capacity.calibrate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from forecasting.errors import EhcpError

__all__ = ["PublishedYear", "published_year"]

_NAN = float("nan")


@dataclass(frozen=True)
class PublishedYear:
    """An LA's published figures for one calendar year (DfE SEN2); NaN where not published.

    ``*_before`` fields are the year before's; ``stock_at_start`` is the January stock.
    """

    year: int
    pct_within_20wk: float
    plans_within_20wk: float
    plans_issued: float
    requests: float
    requests_before: float
    stock_at_start: float
    new_plans: float = _NAN
    plans_issued_den: float = _NAN
    requests_refused: float = _NAN
    requests_withdrawn: float = _NAN
    requests_decided_to_assess: float = _NAN
    requests_decided_within_6wk: float = _NAN
    requests_decision_outstanding: float = _NAN
    assessments_completed: float = _NAN
    assessed_not_issued: float = _NAN
    reviews_expected: float = _NAN
    reviews_within_4wk: float = _NAN
    reviews_over_4wk: float = _NAN
    reviews_outstanding: float = _NAN
    plans_issued_before: float = _NAN
    plans_within_20wk_before: float = _NAN
    plans_over_1yr_before: float = _NAN
    reviews_outstanding_before: float = _NAN

    @property
    def requests_decided(self) -> float:
        """Decisions whether to assess in the year (to assess + refused)."""
        return self.requests_decided_to_assess + self.requests_refused

    @property
    def reviews_decided(self) -> float:
        """Annual review decisions made in the year (within + over 4 weeks)."""
        return self.reviews_within_4wk + self.reviews_over_4wk

    @property
    def plans_target(self) -> float:
        """New plans issued in the year (``new_plans``; else the timeliness denominator)."""
        return self.plans_issued if math.isnan(self.new_plans) else self.new_plans

    def routing(self) -> dict[str, float]:
        """The LA's own refusal, not-issued and exception rates (only those published).

        Examples
        --------
        >>> PublishedYear(2024, 9.3, 67, 717, 2313, 1497, 5508, requests_refused=356,
        ...     requests_withdrawn=11, requests_decided_to_assess=1672).routing()
        {'p_refused': 0.18}
        """
        out: dict[str, float] = {}
        left = self.requests_refused + _zero(self.requests_withdrawn)
        if left + self.requests_decided_to_assess > 0:
            out["p_refused"] = round(left / (left + self.requests_decided_to_assess), 4)
        if self.assessments_completed > 0 and not math.isnan(self.assessed_not_issued):
            out["p_not_issued"] = round(self.assessed_not_issued / self.assessments_completed, 4)
        if self.plans_issued_den > 0:
            out["p_exception"] = round(max(1.0 - self.plans_issued / self.plans_issued_den, 0.0), 4)
        return out

    def late_backlog(self) -> tuple[float, float] | None:
        """(late open cases, mean weeks late) on 1 January from the year before's plans.

        Little's law on the late part: late plans issued a year x mean weeks late / 52, the
        weeks past 20 taken as exponential with ``P(> 32 more weeks)`` = the late plans' share
        issued over a year after the request.

        Examples
        --------
        >>> p = PublishedYear(2024, 9.3, 67, 717, 2313, 1497, 5508, plans_issued_before=922,
        ...     plans_within_20wk_before=77, plans_over_1yr_before=324)
        >>> [round(v, 1) for v in p.late_backlog()]
        [542.5, 33.4]
        """
        late = self.plans_issued_before - self.plans_within_20wk_before
        if not late > 0 or not 0 < self.plans_over_1yr_before < late:
            return None
        weeks = 32.0 / math.log(late / self.plans_over_1yr_before)
        return late * weeks / 52.0, weeks


def _zero(v: float) -> float:
    return 0.0 if math.isnan(v) else v


_MEASURES = {
    "new_plans": "new_plans", "plans_issued_den": "plans_issued_den",
    "requests_refused": "requests_refused", "requests_withdrawn": "requests_withdrawn",
    "requests_decided_to_assess": "requests_decided_to_assess",
    "requests_decided_within_6wk": "requests_decided_within_6wk",
    "requests_decision_outstanding": "requests_decision_outstanding",
    "assessments_completed": "assessments_completed",
    "assessed_not_issued": "assessed_not_issued", "reviews_expected": "annual_reviews_expected",
    "reviews_within_4wk": "annual_reviews_decided_within_4wk",
    "reviews_over_4wk": "annual_reviews_decided_over_4wk",
    "reviews_outstanding": "annual_reviews_decision_outstanding",
}


def published_year(panel: pd.DataFrame, code: str, year: int | None = None) -> PublishedYear:
    """The LA's published figures for the year to replay (default: latest with timeliness).

    Examples
    --------
    >>> rows = [("X", m, y, v) for m, y, v in [("plans_within_20wk_ex", 2024, 67),
    ...     ("plans_issued_den_ex", 2024, 717), ("requests_received", 2024, 2313),
    ...     ("requests_received", 2023, 1497), ("stock_plans", 2024, 5508),
    ...     ("annual_reviews_decided_within_4wk", 2024, 208),
    ...     ("annual_reviews_decided_over_4wk", 2024, 1951)]]
    >>> panel = pd.DataFrame(rows, columns=["unique_id", "measure", "ds", "y"]).assign(
    ...     breakdown="all")
    >>> p = published_year(panel, "X")
    >>> p.year, round(p.pct_within_20wk, 1), p.stock_at_start, p.reviews_decided
    (2024, 9.3, 5508.0, 2159.0)
    """
    rows = panel.loc[panel["unique_id"] == code]
    if "breakdown" in rows.columns:
        rows = rows.loc[rows["breakdown"].isna() | (rows["breakdown"] == "all")]
    wide = rows.pivot_table(index="ds", columns="measure", values="y", aggfunc="first")

    def get(measure: str, y: int) -> float:
        if measure not in wide.columns or y not in wide.index:
            return _NAN
        return float(wide[measure].to_dict().get(y, _NAN))

    def pct(y: int) -> float:
        num, den = get("plans_within_20wk_ex", y), get("plans_issued_den_ex", y)
        return 100.0 * num / den if den > 0 else _NAN

    years = [int(y) for y in wide.index if not math.isnan(pct(int(y)))
             and not math.isnan(get("requests_received", int(y)))]
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
    # SEN2 counts the stock in January: ds = year is the replay's starting stock.
    stock = get("stock_plans", year)
    if math.isnan(stock):
        stock = _zero(get("stock_plans", year - 1))
    before = get("requests_received", year - 1)
    return PublishedYear(
        year=year, pct_within_20wk=pct(year), plans_within_20wk=get("plans_within_20wk_ex", year),
        plans_issued=get("plans_issued_den_ex", year), requests=get("requests_received", year),
        requests_before=get("requests_received", year) if math.isnan(before) else before,
        stock_at_start=stock,
        **{k: get(m, year) for k, m in _MEASURES.items()},
        plans_issued_before=get("plans_issued_den_ex", year - 1),
        plans_within_20wk_before=get("plans_within_20wk_ex", year - 1),
        plans_over_1yr_before=get("plans_over_1yr_ex", year - 1),
        reviews_outstanding_before=get("annual_reviews_decision_outstanding", year - 1))
