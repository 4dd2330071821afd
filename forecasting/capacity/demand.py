"""Demand -> cases: annual demand paths become dated requests and annual reviews per path.

Requests for assessment come from annual demand sample paths (``unique_id, ds, sample_id, y``,
the forecasting engine's ``simulate()`` output for ``requests_received``) or from the config's
fixed annual volumes. Within each calendar year they are spread over the days by the monthly
(term-time) seasonality: a Poisson process thinned by the day's weight for fixed volumes, or the
path's annual count scattered by the same weights for forecast paths. Each request draws a
complexity group (work multiplier) and whether it will be an exception (excluded from the
headline % within 20 weeks).

Annual reviews come from the stock of plans at the start (anniversaries spread over the year;
plans cease at the configured rate) and from new plans, which are reviewed a year after they
are due to be issued. Which requests become plans for this purpose is drawn here, independently
of the simulated routing, so the review workload does not depend on staffing (common random
numbers across scenarios); in expectation it matches the routing probabilities.

Every path's cases depend only on ``(seed, path)``, never on staffing or on the number of paths.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from forecasting.capacity.config import CapacityConfig
from forecasting.capacity.demand_buffers import (
    EMPTY_DTYPES,
    FIELDS,
    SLOT,
    Slot,
    make_room,
    room,
    scratch,
)
from forecasting.capacity.demand_kernels import (
    count_below,
    pick_days,
    request_cases,
    review_cases,
    review_times,
)
from forecasting.capacity.ehcp import CLASS_NEW, CLASS_REVIEW, STAGES
from forecasting.capacity.engine import Arrivals
from forecasting.errors import EhcpError, EhcpWarning

__all__ = [
    "ORIGINS",
    "CaseArrays",
    "DemandPaths",
    "day_weights",
    "demand_paths_from_frame",
    "path_rng",
    "block_cases",
    "path_cases",
]

#: Where a case comes from (the ``origin`` code of :class:`CaseArrays`).
ORIGINS = ("request", "open_at_start", "stock_review", "new_plan_review", "review_overdue_at_start")
DEMAND_COLUMNS = ("unique_id", "ds", "sample_id", "y")

# Stream purposes: each kind of random draw has its own stream per path.
_ARRIVALS, _STOCK, _INITIAL = 1, 2, 3


def path_rng(seed: int, path: int, purpose: int) -> np.random.Generator:
    """The random stream for one purpose of one path: a function of (seed, path, purpose) only.

    Examples
    --------
    >>> float(path_rng(1, 5, 1).random()) == float(path_rng(1, 5, 1).random())
    True
    """
    return np.random.default_rng([seed, path, purpose])


@dataclass(frozen=True)
class DemandPaths:
    """Annual demand per path: ``requests[path, k]`` for calendar year ``years[k]``."""

    years: tuple[int, ...]
    requests: np.ndarray
    stock_start: np.ndarray | None
    from_forecast: bool


@dataclass(frozen=True)
class CaseArrays:
    """The cases of one path (engine inputs plus what the outputs need)."""

    time: np.ndarray
    stage: np.ndarray
    case_class: np.ndarray
    work_multiplier: np.ndarray
    deadline: np.ndarray
    complexity: np.ndarray
    exception: np.ndarray
    origin: np.ndarray

    @property
    def n(self) -> int:
        return int(self.time.shape[0])

    @staticmethod
    def concat(parts: list[CaseArrays]) -> CaseArrays:
        return CaseArrays(*(np.concatenate([getattr(p, f) for p in parts])
                            for f in CaseArrays.__dataclass_fields__))

    def slice(self, lo: int, hi: int) -> CaseArrays:
        """Cases ``lo:hi`` (e.g. one path of a block)."""
        return CaseArrays(*(getattr(self, f)[lo:hi] for f in CaseArrays.__dataclass_fields__))

    def to_arrivals(self, offsets: np.ndarray) -> Arrivals:
        """The engine's CSR :class:`Arrivals` for these cases, path ``p`` at
        ``offsets[p]:offsets[p + 1]``."""
        return Arrivals(offsets=np.asarray(offsets, dtype=np.int64), time=self.time,
                        stage=self.stage, case_class=self.case_class,
                        work_multiplier=self.work_multiplier, deadline=self.deadline)


def block_cases(parts: Iterable[list[CaseArrays]], buffers: dict[str, np.ndarray] | None = None,
                n_paths: int | None = None) -> tuple[CaseArrays, np.ndarray]:
    """Join the cases of several paths (each a list of parts) into one block and its offsets.

    With ``buffers`` (a dict kept by the caller), each path goes into arrays reused from block
    to block as it comes, so ``parts`` may be a generator that makes the paths one at a time.
    A path that :func:`path_cases` makes while this pulls it from ``parts`` is written there
    in place (no copy, no fresh memory), so such a generator should yield each path as it is
    made (the first path made during a pull lives in the buffers, where the path yielded goes);
    any other path is copied in. The returned arrays are
    then views, valid until the next call with the same buffers. ``n_paths``, the number of
    paths ``parts`` yields, sizes buffers made for the first time (a guess from the first
    paths, so they are made once, not grown).

    Examples
    --------
    >>> one = CaseArrays(*(np.zeros(2, t) for t in (float, np.int64, np.int64, float, float,
    ...                                               np.int64, bool, np.int64)))
    >>> cases, offsets = block_cases([[one], [one, one]], {})
    >>> cases.n, offsets.tolist()
    (6, [0, 2, 6])
    """
    if buffers is None:
        parts = list(parts)
        flat = [c for path in parts for c in path]
        offsets = np.concatenate([[0], np.cumsum([sum(c.n for c in path) for path in parts])])
        return CaseArrays.concat(flat), offsets.astype(np.int64)
    sizes = [0]
    at = 0
    it = iter(parts)
    k = 0
    while True:
        # Offer this block's buffers to the next path_cases call on this thread (see there).
        slot = SLOT.target = Slot(buffers, at, k, n_paths)
        try:
            path = next(it, None)
        finally:
            SLOT.target = None
        if path is None:
            break
        m = sum(c.n for c in path)
        if path and not (slot.made is not None and len(path) == len(slot.made)
                         and all(a is b for a, b in zip(path, slot.made, strict=True))):
            make_room(buffers, at, at + m, k, n_paths,
                      {f: getattr(path[0], f).dtype for f in FIELDS})
            for c in path:
                for f in FIELDS:
                    np.copyto(buffers[f][at:at + c.n], getattr(c, f), casting="same_kind")
                at += c.n
        else:
            at += m
        sizes.append(at)
        k += 1
    if at == 0:
        for f in FIELDS:
            buffers.setdefault(f, np.empty(0, EMPTY_DTYPES[f]))
    return (CaseArrays(**{f: buffers[f][:at] for f in FIELDS}),
            np.asarray(sizes, dtype=np.int64))


def _years_of(start: date, n_days: int) -> list[int]:
    end = start + timedelta(days=n_days - 1)
    return list(range(start.year, end.year + 1))


def day_weights(start: date, n_days: int, seasonality: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Each simulated day's calendar year and its share of that whole year's requests.

    Returns ``(year_of_day, share)``; ``share`` sums to the fraction of each calendar year that
    falls inside the window (1 for a whole year).

    Examples
    --------
    >>> y, s = day_weights(date(2025, 1, 1), 365, (1.0,) * 12)
    >>> int(y[0]), round(float(s.sum()), 6)
    (2025, 1.0)
    """
    out_year = np.empty(n_days, dtype=np.int64)
    share = np.empty(n_days, dtype=np.float64)
    w = np.asarray(seasonality, dtype=np.float64)
    for year in _years_of(start, n_days):
        days = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
        weights = w[days.month.to_numpy() - 1]
        total = weights.sum()
        first = (date(year, 1, 1) - start).days
        lo, hi = max(first, 0), min(first + len(days), n_days)
        out_year[lo:hi] = year
        share[lo:hi] = weights[lo - first : hi - first] / total if total > 0 else 0.0
    return out_year, share


def demand_paths_from_frame(
    frame: pd.DataFrame | None, config: CapacityConfig, n_paths: int
) -> DemandPaths:
    """Check demand sample paths and lay them out per simulation path and calendar year.

    ``frame`` holds the forecasting engine's ``simulate()`` output (``unique_id, ds, sample_id,
    y``; ``ds`` an int year or a date) for ``requests_received``; an optional ``measure`` column
    may also carry ``stock_plans`` paths (January stock: the first simulated year's value sets
    the starting stock). ``None`` uses the config's fixed volumes. Years before the first
    forecast year take the first year's values; years after the last are an error.

    Examples
    --------
    >>> from forecasting.capacity.config import capacity_config
    >>> pool = {"fte": [{"date": "2025-01-01", "fte": 1}]}
    >>> cfg = capacity_config({"staff": {"ep": pool, "caseworker": pool},
    ...                        "simulation": {"start": "2025-01-01", "years": 1}})
    >>> df = pd.DataFrame({"unique_id": "E08000035", "ds": [2025, 2025], "sample_id": [0, 1],
    ...                    "y": [100.0, 120.0]})
    >>> demand_paths_from_frame(df, cfg, 2).requests[:, 0].tolist()
    [100.0, 120.0]
    """
    sim = config.simulation
    years = tuple(_years_of(sim.start, sim.horizon_days))
    if frame is None:
        req = np.array([[config.demand.requests_in(y) for y in years]] * n_paths, dtype=float)
        return DemandPaths(years, req.reshape(n_paths, len(years)), None, False)
    if not isinstance(frame, pd.DataFrame):
        raise EhcpError(f"demand paths must be a DataFrame, got {type(frame).__name__}",
                        field="demand_paths")
    missing = [c for c in DEMAND_COLUMNS if c not in frame.columns]
    if missing:
        raise EhcpError(f"demand paths lack column(s) {', '.join(missing)}",
                        field="demand_paths",
                        fix="pass forecasting.simulate() output: unique_id, ds, sample_id, y")
    df = frame
    stock: np.ndarray | None = None
    if "measure" in df.columns:
        measures = set(df["measure"].astype(str))
        unknown = measures - {"requests_received", "stock_plans"}
        if unknown:
            raise EhcpError(f"unknown measure(s) {sorted(unknown)} in demand paths",
                            field="demand_paths.measure",
                            fix="give requests_received (and optionally stock_plans) paths")
        if "stock_plans" in measures:
            stock = _pivot(df[df["measure"].astype(str) == "stock_plans"], years[:1], n_paths,
                           "stock_plans")[:, 0]
        df = df[df["measure"].astype(str) == "requests_received"]
        if df.empty:
            raise EhcpError("no requests_received rows in demand paths",
                            field="demand_paths.measure")
    if df["unique_id"].nunique() != 1:
        raise EhcpError(f"demand paths hold {df['unique_id'].nunique()} series; expected one LA",
                        field="demand_paths.unique_id", fix="filter to one unique_id")
    req = _pivot(df, years, n_paths, "requests_received")
    return DemandPaths(years, req, stock, True)


def _pivot(df: pd.DataFrame, years: tuple[int, ...], n_paths: int, measure: str) -> np.ndarray:
    y = pd.to_numeric(df["y"], errors="coerce")
    if y.isna().any() or (y < 0).any() or not np.isfinite(y.to_numpy(dtype=float)).all():
        raise EhcpError(f"{measure} paths have missing, negative or infinite values",
                        field="demand_paths.y", fix="paths must be counts >= 0")
    ds = df["ds"]
    if pd.api.types.is_datetime64_any_dtype(ds):
        year = ds.dt.year.astype(int)
    else:
        year = pd.to_numeric(ds, errors="coerce")
        if year.isna().any() or (year % 1 != 0).any():
            raise EhcpError("ds must be a whole calendar year or a date",
                            field="demand_paths.ds")
        year = year.astype(int)
    table = pd.DataFrame({"sample_id": df["sample_id"].to_numpy(), "year": year.to_numpy(),
                          "y": y.to_numpy(dtype=float)})
    if table.duplicated(["sample_id", "year"]).any():
        raise EhcpError(f"{measure} paths repeat a (sample_id, ds) pair",
                        field="demand_paths", fix="give one value per sample path and year")
    wide = table.pivot(index="sample_id", columns="year", values="y").sort_index()
    if wide.isna().any().any():
        raise EhcpError(f"{measure} paths do not all cover the same years",
                        field="demand_paths.ds")
    have = [int(c) for c in wide.columns]
    if max(years) > max(have):
        raise EhcpError(f"{measure} paths cover {min(have)}-{max(have)}; the simulation runs "
                        f"to {max(years)}", field="demand_paths.ds",
                        fix="forecast further ahead or shorten simulation.years")
    cols = [y if y in have else (min(have) if y < min(have) else y) for y in years]
    values = wide[cols].to_numpy(dtype=float)
    if values.shape[0] < n_paths:
        warnings.warn(f"{values.shape[0]} {measure} sample paths for {n_paths} simulation paths: "
                      "reusing them in turn", EhcpWarning, stacklevel=3)
    return values[np.arange(n_paths) % values.shape[0]]


@functools.lru_cache(maxsize=16)
def _phase_candidates(start: date, month_day: str) -> np.ndarray:
    """Days from ``start`` to each year's phase-transfer deadline, a year before to 12 after
    (the same for every path of a run, so kept; read-only)."""
    month, day = (int(x) for x in month_day.split("-"))
    out = np.array([(date(y, month, day) - start).days
                    for y in range(start.year - 1, start.year + 13)], dtype=float)
    out.flags.writeable = False
    return out


def _year_tables(year_of_day: np.ndarray, share: np.ndarray, years: tuple[int, ...]
                 ) -> list[tuple[int, np.ndarray, float, np.ndarray | None]]:
    """For each year ``k`` of ``years`` inside the window: its days, the share of the year's
    requests they take, and the cumulative distribution of a request over them (``None`` if
    no share)."""
    tables = []
    for k, year in enumerate(years):
        in_year = np.flatnonzero(year_of_day == year)
        if in_year.size == 0:
            continue
        w = share[in_year]
        frac = float(w.sum())
        tables.append((k, in_year, frac, np.cumsum(w) / frac if frac > 0 else None))
    return tables


def path_cases(
    config: CapacityConfig,
    demand: DemandPaths,
    path: int,
    seed: int,
    weights: tuple[np.ndarray, np.ndarray],
    initial: CaseArrays | None = None,
) -> list[CaseArrays]:
    """All cases of one path, in parts: requests, open cases at the start, annual reviews.

    Parameters
    ----------
    config : CapacityConfig
    demand : DemandPaths
        Annual demand per path (see :func:`demand_paths_from_frame`).
    path : int
        Global path index (selects the demand row and the random streams).
    seed : int
    weights : (year_of_day, share)
        From :func:`day_weights` (computed once for all paths).
    initial : CaseArrays, optional
        The open caseload at the start (see :mod:`forecasting.capacity.initial`).

    Examples
    --------
    >>> from forecasting.capacity.config import capacity_config
    >>> pool = {"fte": [{"date": "2025-01-01", "fte": 1}]}
    >>> cfg = capacity_config({"staff": {"ep": pool, "caseworker": pool},
    ...     "simulation": {"start": "2025-01-01", "years": 1},
    ...     "demand": {"requests_per_year": 50, "stock": {"plans_at_start": 10}}})
    >>> d = demand_paths_from_frame(None, cfg, 1)
    >>> c = CaseArrays.concat(path_cases(cfg, d, 0, 1,
    ...                                  day_weights(cfg.simulation.start, 365, cfg.demand.seasonality)))
    >>> bool((c.time < 365).all()), sorted(set(c.origin.tolist())) <= [0, 2, 3]
    (True, True)
    """
    sim, pipe, dem = config.simulation, config.pipeline, config.demand
    horizon = float(sim.horizon_days)
    year_of_day, share = weights
    rng = path_rng(seed, path, _ARRIVALS)
    row = path % demand.requests.shape[0]
    # Written into the block's buffers when block_cases is waiting for this path (no copy,
    # no fresh memory), else into arrays of this path's own.
    slot, SLOT.target = SLOT.target, None
    if slot is None:
        slot = Slot({}, 0, 0, None)
    n_init = initial.n if initial is not None else 0

    # Requests, year by year over the window: the draws first (numpy's generator, in the same
    # order as always), then one compiled pass picks each request's day.
    years = []
    for k, in_year, frac, cdf in _year_tables(year_of_day, share, demand.years):
        annual = float(demand.requests[row, k])
        if demand.from_forecast:
            n = rng.binomial(round(annual), min(frac, 1.0))
        else:
            n = rng.poisson(annual * frac)
        if n == 0 or frac <= 0:
            continue
        u_day = rng.random(n)
        years.append((cdf, in_year, u_day, rng.random(n)))
    n_req = sum(y[2].shape[0] for y in years)
    t = scratch("t", n_req)
    at = 0
    for cdf, in_year, u_day, u_time in years:
        pick_days(cdf, in_year, u_day, u_time, t, at)
        at += u_day.shape[0]
    groups = pipe.complexity
    cum = np.cumsum([g.share for g in groups])
    u_group = rng.random(out=scratch("u_group", n_req))
    u_exception = rng.random(out=scratch("u_exception", n_req))
    u_plan = rng.random(out=scratch("u_plan", n_req))
    lo = slot.at
    make_room(slot.buffers, lo, lo + n_req + n_init, slot.k, slot.n_paths, EMPTY_DTYPES)
    out = tuple(slot.buffers[f] for f in FIELDS)
    issue = scratch("issue", n_req)
    n_plans = request_cases(
        t, u_group, cum / cum[-1], np.array([g.work_multiplier for g in groups], np.float64),
        u_exception, pipe.p_exception, u_plan, (1.0 - pipe.p_refused) * (1.0 - pipe.p_not_issued),
        pipe.milestones_weeks.final * 7.0, STAGES.index("decision"), CLASS_NEW, out, lo, issue,
        room("order", n_req, np.int64), room("key", n_req, np.int64))
    issue = issue[:n_plans]
    if initial is not None:
        for f, buf in zip(FIELDS, out, strict=True):
            np.copyto(buf[lo + n_req:lo + n_req + n_init], getattr(initial, f),
                      casting="same_kind")

    # Reviews of the stock at the start and of new plans (the draws in their usual order,
    # then one compiled pass).
    rules = pipe.reviews
    srng = path_rng(seed, path, _STOCK)
    stock = demand.stock_start[row] if demand.stock_start is not None else dem.stock.plans_at_start
    n_stock = int(srng.poisson(stock)) if demand.stock_start is None else round(stock)
    hazard = -np.log1p(-min(dem.stock.cessation_rate_per_year, 1 - 1e-12)) / 365.25
    u5_stock = srng.random(out=scratch("u5_stock", n_stock))
    u_first = srng.random(out=scratch("u_first", n_stock))
    # standard_exponential = exponential(1.0): the same draws (scale 1 multiplies exactly).
    e_stock = srng.standard_exponential(out=scratch("e_stock", n_stock))
    u5_new = srng.random(out=scratch("u5_new", n_plans))
    e_new = srng.standard_exponential(out=scratch("e_new", n_plans))
    rt = room("rt", 0)
    n_plans_all = n_stock + n_plans
    args = (u5_stock, u_first, e_stock, u5_new, e_new, issue, rules.under5_share,
            float(rules.under5_interval_months), float(rules.interval_months),
            float(max(hazard, 1e-300)), horizon)
    work = (room("first", n_plans_all), room("step", n_plans_all),
            room("count", n_plans_all, np.int64))
    n_rt1, n_rt2 = review_times(*args, rt, *work)
    n_rt = n_rt1 + n_rt2
    if n_rt > rt.shape[0]:  # the first paths only: grow the scratch, do it again
        rt = room("rt", n_rt)
        review_times(*args, rt, *work)
    rt1, rt2 = rt[:n_rt1], rt[n_rt1:n_rt]
    u_phase = srng.random(out=scratch("u_phase", n_rt))
    n_phase = count_below(u_phase, rules.phase_transfer_share)
    lead = np.zeros(0)
    if n_phase:
        lead = srng.uniform(min(4.0, rules.phase_transfer_window_weeks),
                            rules.phase_transfer_window_weeks, n_phase) * 7.0
    mid = lo + n_req + n_init
    make_room(slot.buffers, mid, mid + n_rt, slot.k, slot.n_paths, EMPTY_DTYPES)
    n_rev = review_cases(
        rt1, rt2, rules.decision_weeks * 7.0, u_phase, rules.phase_transfer_share,
        _phase_candidates(sim.start, rules.phase_transfer_deadline), lead, horizon,
        STAGES.index("review"), CLASS_REVIEW, tuple(slot.buffers[f] for f in FIELDS), mid)
    bounds = [(lo, lo + n_req)] + ([(lo + n_req, mid)] if n_init else []) + [(mid, mid + n_rev)]
    parts = [CaseArrays(*(slot.buffers[f][a:b] for f in FIELDS)) for a, b in bounds]
    slot.made = tuple(parts)
    return parts
