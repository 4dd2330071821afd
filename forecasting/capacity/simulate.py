"""``simulate_capacity``: config + demand paths -> weekly flat rows, case records, diagnostics.

Common random numbers: a path's cases (arrival times, complexity, exceptions, reviews, the
starting caseload) are drawn from streams keyed by ``(seed, path)`` only, and the engine draws
each case's work, delays and route from streams keyed by the case, so two scenarios run with
the same seed and number of paths differ only where their staffing or policies differ.
"""

from __future__ import annotations

import unicodedata
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from forecasting.capacity.config import MAX_PATHS, CapacityConfig
from forecasting.capacity.demand import (
    CaseArrays,
    block_cases,
    day_weights,
    demand_paths_from_frame,
    path_cases,
)
from forecasting.capacity.diagnostics import run_diagnostics, sojourn_sums
from forecasting.capacity.ehcp import CLASS_NEW, POOLS, build_network
from forecasting.capacity.engine import (
    Arrivals,
    Capacity,
    PreparedRun,
    SimResult,
    default_threads,
    prepare_run,
)
from forecasting.capacity.initial import initial_cases, load_open_caseload
from forecasting.capacity.outputs import case_records, weekly_frame
from forecasting.capacity.staff import (
    PoolStaffing,
    PoolWeeks,
    simulate_pool_weeks,
    to_servers_speed,
)
from forecasting.errors import EhcpError, EhcpWarning

__all__ = ["SimulationResult", "simulate_capacity"]

_STAFF_STREAM = 7


@dataclass(frozen=True)
class SimulationResult:
    """What :func:`simulate_capacity` returns.

    Attributes
    ----------
    weekly : DataFrame
        One row per scenario, path and week (see :mod:`forecasting.capacity.outputs`).
    cases : DataFrame or None
        One row per case-stage visit of ``record_path``, if one was asked for.
    diagnostics : DataFrame
        Long rows ``scenario, scope, period, metric, value, unit``
        (see :mod:`forecasting.capacity.diagnostics`).
    events : int
        Case-stage visits simulated (for throughput figures).
    """

    weekly: pd.DataFrame
    cases: pd.DataFrame | None
    diagnostics: pd.DataFrame
    events: int = 0


@dataclass
class _Block:
    """Paths ``lo:hi`` (part of block ``block``, the last part if ``last``), made on the helper
    thread, ready to run on the engine's threads."""

    lo: int
    hi: int
    block: int
    last: bool
    cases: CaseArrays
    arrivals: Arrivals
    staff: dict[str, PoolStaffing]
    want: int | bool
    prepared: PreparedRun


def _join_ahead(done: list[Future], blocks: list[tuple[int, int]]
                ) -> tuple[pd.DataFrame, int] | None:
    """The weekly rows of every block but the last, joined with room for the last block's.

    ``pd.concat`` of all the blocks' rows after the last block (~100 MB for 1,000 paths, mostly
    page faults on fresh memory) is time when the engine has nothing left to run; so all but
    the last block are joined while it runs, with a stand-in for its rows (copies of the block
    before's first rows) that :func:`_join_last` overwrites.
    """
    frames = [f.result()[0] for f in done]
    per_path, rest = divmod(len(frames[0]), blocks[0][1] - blocks[0][0])
    last_rows = per_path * (blocks[-1][1] - blocks[-1][0])
    if rest or len(frames[-1]) < last_rows:
        return None
    return pd.concat([*frames, frames[-1].iloc[:last_rows]], ignore_index=True), last_rows


def _join_last(ahead: tuple[pd.DataFrame, int] | None, last: pd.DataFrame
               ) -> pd.DataFrame | None:
    """:func:`_join_ahead`'s rows with the stand-in rows replaced by ``last``'s (``None`` if
    they differ in number, columns or types: then all the blocks are joined again)."""
    if ahead is None or len(last) != ahead[1] or not last.dtypes.equals(ahead[0].dtypes):
        return None
    joined = ahead[0]
    start = len(joined) - len(last)
    for j in range(last.shape[1]):
        joined.iloc[start:, j] = last.iloc[:, j].array
    return joined


def simulate_capacity(
    config: CapacityConfig,
    demand_paths: pd.DataFrame | None = None,
    *,
    n_paths: int | None = None,
    seed: int | None = None,
    scenario: str = "baseline",
    record_path: int | None = None,
    open_cases: pd.DataFrame | None = None,
    block_size: int = 50,
    clear_by: date | None = None,
) -> SimulationResult:
    """Simulate EP and caseworker capacity against demand on many sample paths.

    Parameters
    ----------
    config : CapacityConfig
        The validated ``simulation``, ``pipeline``, ``staff`` and ``demand`` sections.
    demand_paths : DataFrame, optional
        Annual sample paths ``unique_id, ds, sample_id, y`` of ``requests_received`` (the
        forecasting engine's ``simulate()``); optionally a ``measure`` column with
        ``stock_plans`` rows too. ``None`` uses the config's fixed volumes.
    n_paths, seed : int, optional
        Default to ``config.simulation``.
    scenario : str
        Label written on every row.
    record_path : int, optional
        Keep per-case records of this path.
    open_cases : DataFrame, optional
        The open caseload at the start (``stage``, ``age_days``); by default read from
        ``demand.initial.extract`` if set, else estimated.
    block_size : int
        Paths simulated together (bounds memory). The weekly rows and case records do not
        depend on it; the diagnostics' sums are added block by block, so they agree only to
        rounding (last bits).
    clear_by : date, optional
        Date by which the diagnostics' relief capacity clears the starting backlog down to the
        target list size (default: one year after the start).

    Returns
    -------
    SimulationResult

    Warns
    -----
    EhcpWarning
        When a pool's offered load is far above 1, saying when its queue explodes.

    Examples
    --------
    >>> from forecasting.capacity.config import capacity_config
    >>> pool = {"fte": [{"date": "2025-01-01", "fte": 3}], "attrition_per_year": 0}
    >>> cfg = capacity_config({"staff": {"ep": pool, "caseworker": pool},
    ...     "simulation": {"start": "2025-01-01", "years": 1},
    ...     "demand": {"requests_per_year": 100, "stock": {"plans_at_start": 50}}})
    >>> res = simulate_capacity(cfg, n_paths=2, seed=1)
    >>> res.weekly.shape[0], sorted(res.weekly["path"].unique().tolist())
    (104, [0, 1])
    """
    sim = config.simulation
    n_paths = sim.n_paths if n_paths is None else int(n_paths)
    seed = sim.seed if seed is None else int(seed)
    if not 1 <= n_paths <= MAX_PATHS:
        raise EhcpError(f"need from 1 to {MAX_PATHS:,} paths, got {n_paths:,}", field="n_paths")
    if seed < 0:
        raise EhcpError(f"the seed must be a whole number >= 0, got {seed}", field="seed")
    if not scenario or any(unicodedata.category(ch).startswith("C") for ch in scenario):
        # Control characters (NUL, escapes) do not survive CSV, Parquet or a spreadsheet intact.
        raise EhcpError(f"the scenario name {scenario!r} is empty or holds control characters",
                        field="scenario", fix="use letters, digits, spaces and punctuation")
    if record_path is not None and not 0 <= record_path < n_paths:
        raise EhcpError(f"cannot record path {record_path} of {n_paths}", field="record_path",
                        fix=f"choose a path from 0 to {n_paths - 1}")
    horizon = sim.horizon_days
    network = build_network(config.pipeline)
    if demand_paths is None and config.demand.source == "forecast":
        warnings.warn("demand.source is 'forecast' but no demand paths were given: using the "
                      "fixed demand.requests_per_year (pass demand_from_sen2(...) paths to use "
                      "the forecast)", EhcpWarning, stacklevel=2)
    demand = demand_paths_from_frame(demand_paths, config, n_paths)
    if open_cases is None:
        open_cases = load_open_caseload(config)
    weights = day_weights(sim.start, horizon, config.demand.seasonality)

    first_year = demand.years.index(sim.start.year) if sim.start.year in demand.years else 0

    def make_cases(lo: int, hi: int, buffers: dict[str, np.ndarray]
                   ) -> tuple[CaseArrays, np.ndarray]:
        def paths() -> Iterator[list[CaseArrays]]:
            # One path at a time, yielded as soon as it is made: path_cases then writes it
            # straight into block_cases's buffers (see block_cases), with no fresh memory.
            for p in range(lo, hi):
                initial = initial_cases(config, p, seed, float(demand.requests[p, first_year]),
                                        open_cases)
                yield path_cases(config, demand, p, seed, weights, initial)
        return block_cases(paths(), buffers, n_paths=hi - lo)

    def make_part(j: int) -> _Block:
        lo, hi, block, last, k = parts[j]
        cases, offsets = make_cases(lo, hi, buffer_sets[k])
        arrivals = cases.to_arrivals(offsets)
        staff = {p: w.by_day(lo, hi) for p, w in staff_weeks.result().items()}
        caps = [to_servers_speed(staff[p].hours, getattr(config.staff, p).hours_per_fte_day())
                for p in POOLS]
        capacity = Capacity(np.stack([c[0] for c in caps], axis=1),
                            np.stack([c[1] for c in caps], axis=1))
        want = record_path - lo if record_path is not None and lo <= record_path < hi \
            else False
        prepared = prepare_run(network, arrivals, capacity, float(horizon), seed, first_path=lo,
                               record_cases=want, buffers=output_sets[k])
        return _Block(lo, hi, block, last, cases, arrivals, staff, want, prepared)

    def finish_block(done: list[tuple[_Block, SimResult]]
                     ) -> tuple[pd.DataFrame, dict[str, float], pd.DataFrame | None]:
        frames = [weekly_frame(r, b.cases, b.staff, config, scenario) for b, r in done]
        frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

        def joined(get: Callable[[_Block, SimResult], np.ndarray]) -> np.ndarray:
            # The sums are added over the whole block in one go (rounding), whatever its parts.
            return get(*done[0]) if len(done) == 1 else np.concatenate([get(*d) for d in done])
        block_sums = sojourn_sums(joined(lambda b, r: b.arrivals.time),
                                  joined(lambda b, r: r.exit_time),
                                  joined(lambda b, r: r.exit_code),
                                  joined(lambda b, r: b.arrivals.case_class == CLASS_NEW),
                                  float(horizon))
        block_records = None
        for b, result in done:
            if b.want is not False and result.records is not None:
                k = int(b.want)
                lo, hi = int(b.arrivals.offsets[k]), int(b.arrivals.offsets[k + 1])
                block_records = case_records(result.records, b.cases.slice(lo, hi),
                                             result.exit_time[lo:hi], result.exit_code[lo:hi],
                                             config, scenario)
                block_records["path"] = record_path
        if len(done) > 1:
            buffer_sets[2].clear()  # the first block's second part's: not used again
            output_sets[2].clear()
        return frame, block_sums, block_records

    # The engine's threads should never wait for Python. One helper thread makes block k + 1
    # (its cases, capacity and checked engine inputs) and turns block k - 1 into weekly rows
    # while the engine simulates block k; block k + 1 is queued on the engine's threads before
    # block k ends. The first block's cases are made while the staffing is drawn, in two parts
    # so that the engine starts on its first 2/5 while the rest are made. Helper tasks run in
    # submission order, and block k + 2 is submitted after block k's weekly rows, so two
    # alternating sets of buffers suffice, for the cases and for the engine's outputs (and a
    # third for the first block's second part). Results are combined in block order, and each
    # block's rows and sums are made from the whole block, so they do not depend on the overlap.
    blocks = [(lo, min(lo + block_size, n_paths)) for lo in range(0, n_paths, block_size)]
    parts: list[tuple[int, int, int, bool, int]] = []  # lo, hi, block, last part, buffer set
    for b, (lo, hi) in enumerate(blocks):
        if b == 0 and hi - lo >= 10:
            mid = lo + (hi - lo) * 2 // 5
            parts += [(lo, mid, b, False, 0), (mid, hi, b, True, 2)]
        else:
            parts.append((lo, hi, b, True, b % 2))
    buffer_sets: list[dict[str, np.ndarray]] = [{}, {}, {}]
    output_sets: list[dict[str, np.ndarray]] = [{}, {}, {}]
    staff_weeks: Future[dict[str, PoolWeeks]] = Future()
    finished = []
    ahead: Future[tuple[pd.DataFrame, int] | None] | None = None
    events = 0
    n_threads = default_threads()
    with ThreadPoolExecutor(1) as helper, ThreadPoolExecutor(n_threads) as engine_threads:
        next_part = helper.submit(make_part, 0)
        try:
            # Staffing is drawn for all paths at once from its own stream (never touching the
            # cases), by week; each block lays its paths out by day.
            staff_rng = np.random.default_rng([seed, _STAFF_STREAM])
            staff_weeks.set_result({
                p: simulate_pool_weeks(getattr(config.staff, p), sim.start, horizon, n_paths,
                                       staff_rng) for p in POOLS})
        except BaseException as exc:
            staff_weeks.set_exception(exc)  # else the helper would wait for it for ever
            raise
        running: _Block | None = None
        done: list[tuple[_Block, SimResult]] = []
        for j in range(len(parts) + 1):
            part = next_part.result() if j < len(parts) else None
            if part is not None:
                # Small tasks only where nothing is queued behind them: the last block.
                part.prepared.start(engine_threads, n_threads,
                                    16 * n_threads if j == len(parts) - 1 else 2 * n_threads)
            if running is not None:
                result = running.prepared.result()
                events += int(result.events.sum())
                done.append((running, result))
                del result
                if running.last:
                    finished.append(helper.submit(finish_block, done))
                    done = []
                    if running.block == len(blocks) - 2:
                        # Every block's weekly rows but the last's are joined while it runs.
                        ahead = helper.submit(_join_ahead, list(finished), blocks)
            if j + 1 < len(parts):
                next_part = helper.submit(make_part, j + 1)
            running = part
        outputs = [f.result() for f in finished]
    frames = [o[0] for o in outputs]
    sums = {"area": 0.0, "completed": 0.0, "completed_days": 0.0, "arrivals": 0.0}
    for _, block_sums, _ in outputs:
        for name in sums:
            sums[name] += block_sums[name]
    records = next((o[2] for o in outputs if o[2] is not None), None)
    del outputs
    weekly = _join_last(ahead.result(), frames[-1]) if ahead is not None else None
    if weekly is None:
        weekly = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    sums_all = {**sums, "paths": float(n_paths), "horizon_days": float(horizon)}
    clear_weeks = 52.0
    if clear_by is not None:
        clear_weeks = (clear_by - sim.start).days / 7.0
        if clear_weeks <= 0:
            raise EhcpError(f"clear_by {clear_by} is not after the start {sim.start}",
                            field="clear_by", fix="give a later date")
    diagnostics, messages = run_diagnostics(weekly, config, sums_all, scenario,
                                            clear_weeks=clear_weeks)
    for message in messages:
        warnings.warn(message, EhcpWarning, stacklevel=2)
    return SimulationResult(weekly=weekly, cases=records, diagnostics=diagnostics, events=events)


def demand_from_sen2(config: CapacityConfig, n_paths: int, seed: int,
                     data_dir: str | None = None) -> pd.DataFrame:
    """Demand sample paths for the config's LA from the DfE SEN2 panel and the forecasting engine.

    ``requests_received`` is forecast (``forecasting.forecast.simulate``, ``demand.model``) far
    enough ahead to cover the simulation; the starting stock is the LA's latest published
    January stock (``stock_plans``) up to the start year, passed as ``measure = stock_plans``.

    Returns
    -------
    DataFrame
        ``unique_id, ds, sample_id, y, measure``.
    """
    from forecasting.data import find_la, load_panel, series
    from forecasting.forecast import simulate as forecast_paths

    la = config.demand.la
    if not la:
        raise EhcpError("no local authority named", field="demand.la",
                        fix="set demand.la (e.g. Leeds) or use demand.source: fixed")
    panel = load_panel(data_dir)
    uid = find_la(panel, la)
    history = series(panel, "requests_received", level="la", dropna=True)
    history = history[history["unique_id"] == uid]
    if history.empty:
        raise EhcpError(f"no requests_received figures for {la}", field="demand.la")
    sim = config.simulation
    last_sim_year = (sim.start.year * 365 + sim.start.timetuple().tm_yday + sim.horizon_days) // 365
    h = max(int(last_sim_year) - int(history["ds"].max()), 1)
    paths = forecast_paths(history, h=h, n_paths=n_paths, seed=seed, model=config.demand.model)
    paths = paths[["unique_id", "ds", "sample_id", "y"]].assign(measure="requests_received")
    stock = series(panel, "stock_plans", level="la", dropna=True)
    stock = stock[(stock["unique_id"] == uid) & (stock["ds"] <= sim.start.year)]
    if not stock.empty:
        value = float(stock.sort_values("ds")["y"].iloc[-1])
        ids = np.sort(paths["sample_id"].unique())
        paths = pd.concat([paths, pd.DataFrame({
            "unique_id": uid, "ds": sim.start.year, "sample_id": ids, "y": value,
            "measure": "stock_plans"})], ignore_index=True)
    return paths
