"""The complexity mix: projected shares of plans by primary need, age band and placement type.

Effort and cost per case depend on the mix (an ASD plan in an independent special school is not
the same work as an SpLD plan in mainstream), so the capacity simulator needs the mix as well as
the total. The mix is projected as a *composition*: shares are non-negative and sum to one.

Method (Aitchison's log-ratio approach): each year's counts become centred log-ratios
(``clr = log share - mean log share``); each category's clr gets a damped linear trend (slope by
least squares, with a level shift at the 2021/2022 break in series so the change of return is
not read as a trend); the forecast starts from the last observed clr and adds the damped drift;
the softmax takes it back to shares. Sample paths add Gaussian shocks whose covariance across
categories is the empirical covariance of the year-on-year clr changes (so categories that move
together stay together), plus the uncertainty of the slope. Counts are ``share x total``, so
categories add up to the total forecast for the point forecast and for every sample path.

Backtest (every LA; stock and new plans by age band and placement; origins the last three
years before the latest, horizons 1-3; 200 paths): mean absolute error in share points relative
to "last year's shares" was 0.98-1.04 with ``damping=0, window=10`` (80% intervals covered 78%,
82%, 85% at horizons 1-3), but 1.04-1.29 with ``damping=0.3`` and 1.06-3.25 with
``damping=0.8`` over 7-10 years: SEN2 mix trends have not persisted, so the default holds the
mix and lets the trend in only when asked. Primary need is published for one year only
(January 2025 stock, 2024 new plans), so its projection is flat and its volatility is borrowed
from the age-band mix of all LAs (``var = a + b / count`` per category; a warning says so).

Zeros get a pseudo-count (0.5) before logs; suppressed values (``c``) are small counts and are
filled with ``suppressed_count``; other missing values are imputed from the category's share in
the nearest years; a category never observed is left out with a warning (never silently).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from forecasting.errors import EhcpError, EhcpWarning

__all__ = ["effort_multiplier", "mix_history", "mix_shares", "project_mix", "simulate_mix"]

TOPICS = ("need", "age", "placement")
# DfE's "c" (suppressed) as the loader flags it ("c:suppressed"), not e.g. "corrected:...".
_SUPPRESSED = r"(?:^|;)c(?::|;|$)|suppress"


# Variance of a category's year-on-year change in centred log-ratio, a + b / count, read off
# the medians (robust to LAs' data errors) of squared changes by count band, across every
# LA-year of the SEN2 age-band mix 2016-2025 (changes across the 2021/22 break left out). Used
# when a mix has too few years to estimate its own (primary need: one year).
_FALLBACK_VAR = {"stock": (0.008, 3.5), "flow": (0.05, 2.5)}


def mix_history(panel: pd.DataFrame, la: str, measure: str = "stock_plans",
                topic: str = "need") -> pd.DataFrame:
    """Counts by category for one area from the SEN2 panel.

    Parameters
    ----------
    panel : DataFrame
        The long panel of :func:`forecasting.data.load_panel` (``unique_id, name, measure,
        breakdown, ds, y, flag``).
    la : str
        The area: its ``unique_id`` (ONS code) or its name (case-insensitive).
    measure : str
        ``stock_plans`` (January stock) or ``new_plans``.
    topic : str
        ``need``, ``age`` or ``placement``: the breakdown prefix (``need:ASD`` -> ``ASD``).

    Returns
    -------
    DataFrame
        ``unique_id, ds, category, y, flag`` (y is NaN where DfE suppressed or did not publish).

    Examples
    --------
    >>> panel = pd.DataFrame({"unique_id": "E1", "name": "Leeds", "measure": "stock_plans",
    ...     "breakdown": ["all", "need:ASD", "need:SEMH"], "ds": 2025, "y": [10.0, 6.0, 4.0],
    ...     "flag": ""})
    >>> mix_history(panel, "leeds")[["category", "y"]].to_dict("list")
    {'category': ['ASD', 'SEMH'], 'y': [6.0, 4.0]}
    """
    missing = [c for c in ("unique_id", "measure", "breakdown", "ds", "y") if c not in panel]
    if missing:
        raise EhcpError(f"the panel lacks column(s) {', '.join(missing)}", field=missing[0],
                        fix="pass the table from forecasting.data.load_panel()")
    uid = _resolve_area(panel, la)
    rows = panel[(panel["unique_id"].astype(str) == uid) & (panel["measure"] == measure)]
    if rows.empty:
        raise EhcpError(f"no '{measure}' rows for '{la}' in the panel", field="measure",
                        fix="use stock_plans or new_plans")
    prefix = f"{topic}:"
    rows = rows[rows["breakdown"].astype(str).str.startswith(prefix)]
    if rows.empty:
        raise EhcpError(f"no '{topic}' breakdown of '{measure}' for '{la}'", field="topic",
                        fix=f"use one of {', '.join(TOPICS)}")
    out = pd.DataFrame({
        "unique_id": uid,
        "ds": rows["ds"].astype("int64").to_numpy(),
        "category": rows["breakdown"].astype(str).str.slice(len(prefix)).to_numpy(),
        "y": pd.to_numeric(rows["y"], errors="coerce").astype(float).to_numpy(),
        "flag": (rows["flag"].fillna("").astype(str).to_numpy() if "flag" in rows
                 else ""),
    })
    _check_history(out)
    return out.sort_values(["ds", "category"], kind="stable").reset_index(drop=True)


def _resolve_area(panel: pd.DataFrame, la: str) -> str:
    ids = panel["unique_id"].astype(str)
    if str(la) in set(ids):
        return str(la)
    if "name" in panel:
        names = panel["name"].astype(str)
        hit = ids[names.str.lower() == str(la).strip().lower()].unique()
        if len(hit):
            return str(hit[0])
        import difflib

        close = difflib.get_close_matches(str(la), sorted(names.unique()), n=3)
        hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else \
            "use the ONS code or the DfE name"
    else:
        hint = "use the area's unique_id"
    raise EhcpError(f"unknown area '{la}'", field="la", fix=hint)


def mix_shares(history: pd.DataFrame) -> pd.DataFrame:
    """Observed shares of each category in each year (missing counts stay missing).

    Examples
    --------
    >>> h = pd.DataFrame({"unique_id": "E1", "ds": 2024, "category": ["a", "b"], "y": [3.0, 1.0]})
    >>> mix_shares(h)["share"].tolist()
    [0.75, 0.25]
    """
    _check_history(history)
    total = history.groupby(["unique_id", "ds"])["y"].transform("sum")
    return history.assign(share=history["y"] / total)


def _check_history(history: pd.DataFrame) -> None:
    missing = [c for c in ("unique_id", "ds", "category", "y") if c not in history]
    if missing:
        raise EhcpError(f"the mix history lacks column(s) {', '.join(missing)}",
                        field=missing[0],
                        fix="pass unique_id, ds, category, y (see mix_history)")
    if (history["y"] < 0).any():
        bad = history[history["y"] < 0].iloc[0]
        raise EhcpError(f"negative count for '{bad['category']}' in {bad['ds']}", field="y",
                        fix="counts cannot be negative; correct the row")
    if history.duplicated(["unique_id", "ds", "category"]).any():
        bad = history[history.duplicated(["unique_id", "ds", "category"])].iloc[0]
        raise EhcpError(f"'{bad['category']}' appears twice in {bad['ds']} for "
                        f"'{bad['unique_id']}'", field="category",
                        fix="keep one row per area, year and category")


@dataclass(frozen=True)
class _Composition:
    """The fitted clr model of one area's mix."""

    categories: list[str]
    last_ds: int
    last_clr: np.ndarray  # (C,)
    slope: np.ndarray  # (C,)
    resid: np.ndarray  # (n_r, C) drift-removed year-on-year clr changes
    slope_scale: float  # 1 / sqrt(sum (t - tbar)^2): slope standard error per unit shock sd


def _counts_matrix(grp: pd.DataFrame, suppressed_count: float, window: int | None
                   ) -> tuple[np.ndarray, list[int], list[str]]:
    wide = grp.pivot(index="ds", columns="category", values="y").sort_index()
    flags = (grp.pivot(index="ds", columns="category", values="flag")
             .reindex_like(wide).fillna("").astype(str)
             if "flag" in grp else pd.DataFrame("", index=wide.index, columns=wide.columns))
    uid = grp["unique_id"].iloc[0]
    if window is not None:
        recent = wide.index > wide.index.max() - window
        wide, flags = wide[recent], flags[recent]
    never = [str(c) for c in wide.columns if wide[c].isna().all()
             and not flags[c].str.contains(_SUPPRESSED, regex=True).any()]
    if never:
        warnings.warn(f"{uid}: categories never published are left out of the mix: "
                      f"{', '.join(never)}", EhcpWarning, stacklevel=3)
        wide, flags = wide.drop(columns=never), flags.drop(columns=never)
    suppressed = flags.apply(lambda col: col.str.contains(_SUPPRESSED, regex=True)) & wide.isna()
    wide = wide.mask(suppressed, suppressed_count)
    empty = wide.isna().all(axis=1)
    totals = wide.sum(axis=1)
    # 2014-2015 new plans excluded statements still being transferred: a handful of plans
    # would otherwise stand for the whole mix.
    tiny = ~empty & (totals < 0.1 * totals[~empty].median())
    if tiny.any():
        warnings.warn(f"{uid}: years with under a tenth of the usual total are left out of the "
                      f"fit: {', '.join(str(d) for d in wide.index[tiny])}", EhcpWarning,
                      stacklevel=3)
        wide = wide[~tiny]
        empty = empty[~tiny]
    if empty.any():
        warnings.warn(f"{uid}: years with no published category are left out of the fit: "
                      f"{', '.join(str(d) for d in wide.index[empty])}", EhcpWarning, stacklevel=3)
        wide = wide[~empty]
    if wide.isna().any().any():
        # A share is smoother over time than a count: carry the category's share from its
        # nearest years and scale it to the year's published categories.
        share = wide.div(wide.sum(axis=1), axis=0)
        filled = share.interpolate(limit_direction="both")
        miss = wide.isna()
        known_total = wide.sum(axis=1)
        imputed_share = filled.where(miss, 0.0).sum(axis=1).clip(upper=0.9)
        wide = wide.fillna(filled.mul(known_total / (1 - imputed_share), axis=0))
    return wide.to_numpy(dtype=float), [int(d) for d in wide.index], [str(c) for c in wide.columns]


def _fit_composition(counts: np.ndarray, years: list[int], categories: list[str],
                     break_year: int | None, pseudo_count: float,
                     fallback_var: tuple[float, float] | None = None) -> _Composition:
    logs = np.log(counts + pseudo_count)
    clr = logs - logs.mean(axis=1, keepdims=True)
    t = np.asarray(years, dtype=float)
    n = len(t)
    shift = None if break_year is None else (t >= break_year).astype(float)
    use_shift = shift is not None and 2 <= shift.sum() and (n - shift.sum()) >= 2 and n >= 4
    cols = [np.ones(n)] if n < 2 else [np.ones(n), t - t.mean()]
    if use_shift and shift is not None:
        cols.append(shift)
    x = np.column_stack(cols)
    coef = np.linalg.lstsq(x, clr, rcond=None)[0]
    slope = coef[1] if n >= 2 else np.zeros(len(categories))
    steps = np.diff(t)
    diffs = np.diff(clr, axis=0)
    keep = steps == 1
    if use_shift and break_year is not None:
        keep &= t[1:] != break_year  # the step across the break is a change of return, not noise
    resid = diffs[keep] - slope
    if resid.shape[0] < 2 and fallback_var is not None:
        # Too few year-on-year changes to estimate the volatility: borrow it. Independent
        # shocks with variance a + b / count (z @ R / sqrt(C) with R = diag(sqrt(C * var))).
        a, b = fallback_var
        var = a + b / (counts[-1] + pseudo_count)
        resid = np.diag(np.sqrt(len(categories) * var))
    stt = float(((t - t.mean()) ** 2).sum())
    return _Composition(categories, int(t[-1]), clr[-1], slope, resid,
                        0.0 if stt == 0 else 1.0 / np.sqrt(stt))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _point(comp: _Composition, h: int, damping: float) -> np.ndarray:
    drift = np.cumsum(damping ** np.arange(1, h + 1))[:, None] * comp.slope
    return _softmax(comp.last_clr + drift)


def _paths(comp: _Composition, h: int, damping: float, n_paths: int,
           rng: np.random.Generator) -> np.ndarray:
    n_r = comp.resid.shape[0]
    weights = np.cumsum(damping ** np.arange(1, h + 1))
    if n_r == 0:
        return np.broadcast_to(_point(comp, h, damping), (n_paths, h, len(comp.categories))).copy()
    # z @ R / sqrt(n_r) is Gaussian with the empirical covariance of the clr changes, always
    # positive semi-definite however few years there are.
    scale = 1.0 / np.sqrt(n_r)
    shocks = rng.standard_normal((n_paths, h, n_r)) @ comp.resid * scale
    slope_err = rng.standard_normal((n_paths, n_r)) @ comp.resid * scale * comp.slope_scale
    clr = (comp.last_clr + weights[None, :, None] * (comp.slope + slope_err)[:, None, :]
           + np.cumsum(shocks, axis=1))
    return _softmax(clr)


def _resolve_break(history: pd.DataFrame, measure: str | None,
                   break_year: int | None | Literal["auto"]) -> int | None:
    if break_year != "auto":
        return break_year
    if "flag" in history:
        flagged = history.loc[history["flag"].fillna("").astype(str).str.contains("break"), "ds"]
        if len(flagged):
            return int(flagged.min())
    # Person-level SEN2 starts with calendar 2022 flows and the January 2023 stock.
    return 2023 if (measure or "").startswith("stock") else 2022


def _as_history(data: pd.DataFrame, la: str | None, measure: str, topic: str) -> pd.DataFrame:
    if {"measure", "breakdown"} <= set(data.columns):
        if la is None:
            raise EhcpError("a panel needs an area to take the mix of", field="la",
                            fix="pass la='Leeds' (name or ONS code)")
        return mix_history(data, la, measure, topic)
    _check_history(data)
    return data


def _total_paths(total: pd.DataFrame | None, uid: str, ds: list[int], n_paths: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    """(point (h,), paths (n_paths, h)) of the total for one area, or None."""
    if total is None:
        return None
    rows = total[total["unique_id"].astype(str) == uid]
    if "sample_id" in rows:
        wide = rows.pivot(index="sample_id", columns="ds", values="y")
        if not set(ds) <= set(wide.columns):
            raise _total_error(uid, ds)
        paths = wide[ds].to_numpy(dtype=float)
        pick = np.arange(n_paths) % paths.shape[0]
        return paths.mean(axis=0), paths[pick]
    if "yhat" not in rows:
        raise EhcpError("total_forecast needs yhat (a forecast) or sample_id and y (paths)",
                        field="total_forecast", fix="pass the output of forecast() or simulate()")
    point = rows.set_index("ds")["yhat"].reindex(ds)
    if point.isna().any():
        raise _total_error(uid, ds)
    mean = point.to_numpy(dtype=float)
    if {"lo_80", "hi_80"} <= set(rows.columns):
        # Rebuild paths from the 80% bounds: log-normal by year, comonotone across years (a
        # high path stays high), which is how forecast errors of a growing count behave.
        lo = rows.set_index("ds")["lo_80"].reindex(ds).to_numpy(dtype=float)
        hi = rows.set_index("ds")["hi_80"].reindex(ds).to_numpy(dtype=float)
        sd = np.log(np.maximum(hi, 1e-9) / np.maximum(lo, 1e-9)) / (2 * 1.2815515655446004)
        z = rng.standard_normal((n_paths, 1))
        return mean, mean * np.exp(z * sd - sd**2 / 2)
    return mean, np.broadcast_to(mean, (n_paths, len(ds))).copy()


def _total_error(uid: str, ds: list[int]) -> EhcpError:
    return EhcpError(f"total_forecast has no rows for '{uid}' in every year {ds[0]}-{ds[-1]}",
                     field="total_forecast",
                     fix="forecast the total for the same area and horizon")


def _run(data: pd.DataFrame, la: str | None, measure: str, topic: str, h: int,
         total_forecast: pd.DataFrame | None, n_paths: int, seed: int | None, damping: float,
         break_year: int | None | Literal["auto"], pseudo_count: float,
         suppressed_count: float, window: int | None):
    if isinstance(h, bool) or not isinstance(h, int | np.integer) or h < 1:
        raise EhcpError(f"h must be a whole number of years >= 1, got {h!r}", field="h",
                        fix="e.g. h=5")
    if not 0 <= damping <= 1:
        raise EhcpError(f"damping must be in [0, 1], got {damping}", field="damping",
                        fix="use e.g. 0.8 (1 = undamped)")
    history = _as_history(data, la, measure, topic)
    brk = _resolve_break(history, measure, break_year)
    rng = np.random.default_rng(seed)
    for uid, grp in history.groupby("unique_id", sort=True):
        counts, years, cats = _counts_matrix(grp, suppressed_count, window)
        if not years:
            raise EhcpError(f"no published counts for '{uid}'", field="y",
                            fix="check the area and breakdown")
        if len(years) < 3:
            warnings.warn(f"{uid}: only {len(years)} year(s) of the mix: its trend cannot be "
                          "estimated and its volatility is borrowed from the age-band mix of "
                          "all LAs", EhcpWarning, stacklevel=3)
        fallback = _FALLBACK_VAR["stock" if (measure or "").startswith("stock") else "flow"]
        comp = _fit_composition(counts, years, cats, brk, pseudo_count, fallback)
        ds = [comp.last_ds + k for k in range(1, h + 1)]
        shares = _paths(comp, h, damping, n_paths, rng)
        total = _total_paths(total_forecast, str(uid), ds, n_paths, rng)
        yield str(uid), ds, cats, _point(comp, h, damping), shares, total


def project_mix(data: pd.DataFrame, la: str | None = None, measure: str = "stock_plans",
                topic: str = "need", h: int = 5, total_forecast: pd.DataFrame | None = None, *,
                level: Sequence[int] = (80,), n_paths: int = 1000, seed: int | None = 0,
                damping: float = 0.0, break_year: int | None | Literal["auto"] = "auto",
                pseudo_count: float = 0.5, suppressed_count: float = 2.0,
                window: int | None = 10) -> pd.DataFrame:
    """Project the mix by category as shares and, given a total forecast, as coherent counts.

    Parameters
    ----------
    data : DataFrame
        Either the SEN2 panel (then give ``la``, ``measure`` and ``topic``) or a long history
        ``unique_id, ds, category, y[, flag]`` (one or more areas).
    la, measure, topic : str
        The area, ``stock_plans``/``new_plans`` and ``need``/``age``/``placement`` (panel only).
    h : int
        Years ahead.
    total_forecast : DataFrame, optional
        The total for the same area(s): a forecast (``unique_id, ds, yhat[, lo_80, hi_80]``) or
        sample paths (``unique_id, ds, sample_id, y``). Without it only shares are returned.
    level : sequence of int
        Interval levels (percent) for shares and counts, from ``n_paths`` simulated paths.
    seed : int, optional
        Seed of ``numpy.random.default_rng``; the same seed gives the same intervals.
    damping : float
        The trend damping ``phi`` in [0, 1]: the drift added ``k`` years ahead is
        ``slope * (phi + ... + phi**k)``. The default 0 holds the last observed mix (a random
        walk in log-ratios): on a rolling-origin backtest over every LA (see the module notes)
        every trend tried lost to that.
    break_year : int, None or "auto"
        First year after the 2021/2022 change of return; a level shift there is not trend.
        ``"auto"`` uses the panel's ``break`` flags, else 2023 for stock and 2022 for flows.
    pseudo_count, suppressed_count : float
        Added to every count before logs; used for a suppressed (``c``) count.
    window : int, optional
        Fit to the last ``window`` years only (recent trends in the mix matter more than
        those of 2010); ``None`` uses every year.

    Returns
    -------
    DataFrame
        ``unique_id, ds, category, share, share_lo_<l>, share_hi_<l>`` and, with a total,
        ``yhat, lo_<l>, hi_<l>`` where ``yhat = share x total`` (so the categories' ``yhat`` add
        up to the total's ``yhat``). ``share`` is the softmax of the point clr forecast.

    Examples
    --------
    >>> hist = pd.DataFrame({"unique_id": "E1", "ds": [2022, 2022, 2023, 2023, 2024, 2024],
    ...     "category": ["ASD", "SEMH"] * 3, "y": [50.0, 50, 60, 50, 70, 50]})
    >>> total = pd.DataFrame({"unique_id": "E1", "ds": [2025, 2026], "yhat": [130.0, 140.0]})
    >>> out = project_mix(hist, h=2, total_forecast=total, break_year=None, n_paths=200)
    >>> out.groupby("ds")["yhat"].sum().round(6).tolist()
    [130.0, 140.0]
    >>> bool((out["share"].between(0, 1)).all())
    True
    """
    levels = [int(lv) for lv in level]
    frames = []
    for uid, ds, cats, point, shares, total in _run(
            data, la, measure, topic, h, total_forecast, n_paths, seed, damping, break_year,
            pseudo_count, suppressed_count, window):
        cols: dict[str, object] = {
            "unique_id": uid, "ds": np.repeat(ds, len(cats)), "category": np.tile(cats, h),
            "share": point.ravel()}
        for lv in levels:
            lo, hi = np.quantile(shares, [0.5 - lv / 200, 0.5 + lv / 200], axis=0)
            cols[f"share_lo_{lv}"], cols[f"share_hi_{lv}"] = lo.ravel(), hi.ravel()
        if total is not None:
            t_point, t_paths = total
            cols["yhat"] = (point * t_point[:, None]).ravel()
            counts = shares * t_paths[:, :, None]
            for lv in levels:
                lo, hi = np.quantile(counts, [0.5 - lv / 200, 0.5 + lv / 200], axis=0)
                cols[f"lo_{lv}"], cols[f"hi_{lv}"] = lo.ravel(), hi.ravel()
        frames.append(pd.DataFrame(cols))
    out = pd.concat(frames, ignore_index=True)
    out["ds"] = out["ds"].astype("int64")
    return out


def simulate_mix(data: pd.DataFrame, la: str | None = None, measure: str = "stock_plans",
                 topic: str = "need", h: int = 5, total_forecast: pd.DataFrame | None = None, *,
                 n_paths: int = 1000, seed: int | None = 0, damping: float = 0.0,
                 break_year: int | None | Literal["auto"] = "auto", pseudo_count: float = 0.5,
                 suppressed_count: float = 2.0, window: int | None = 10) -> pd.DataFrame:
    """Joint sample paths of the mix: ``unique_id, ds, sample_id, category, share[, y]``.

    Same arguments as :func:`project_mix`. With a total given as sample paths, path ``i`` of the
    mix is paired with path ``i`` of the total (recycled if there are fewer), and ``y = share x
    total``, so each path's categories add up exactly to that path's total.

    Examples
    --------
    >>> hist = pd.DataFrame({"unique_id": "E1", "ds": [2022, 2022, 2023, 2023, 2024, 2024],
    ...     "category": ["a", "b"] * 3, "y": [5.0, 4, 5, 5, 6, 4]})
    >>> tot = pd.DataFrame({"unique_id": "E1", "ds": 2025, "sample_id": [0, 1], "y": [10.0, 20]})
    >>> sims = simulate_mix(hist, h=1, total_forecast=tot, n_paths=2, break_year=None)
    >>> sims.groupby("sample_id")["y"].sum().round(9).tolist()
    [10.0, 20.0]
    """
    frames = []
    for uid, ds, cats, _point_shares, shares, total in _run(
            data, la, measure, topic, h, total_forecast, n_paths, seed, damping, break_year,
            pseudo_count, suppressed_count, window):
        c = len(cats)
        cols: dict[str, object] = {
            "unique_id": uid,
            "ds": np.tile(np.repeat(ds, c), n_paths),
            "sample_id": np.repeat(np.arange(n_paths), h * c),
            "category": np.tile(cats, n_paths * h),
            "share": shares.ravel()}
        if total is not None:
            cols["y"] = (shares * total[1][:, :, None]).ravel()
        frames.append(pd.DataFrame(cols))
    out = pd.concat(frames, ignore_index=True)
    out["ds"] = out["ds"].astype("int64")
    return out


def effort_multiplier(mix: pd.DataFrame, weights: Mapping[str, float], *,
                      default: float | None = None, base_year: int | None = None) -> pd.Series:
    """The average relative effort per case implied by a mix, per year.

    ``sum over categories of share x weight`` where ``weights`` are relative hours per case
    (e.g. ``{"ASD": 1.2, "SpLD": 0.8}``). With ``base_year`` the result is divided by that
    year's value, so it reads as "effort per case relative to <base_year>".

    Parameters
    ----------
    mix : DataFrame
        ``ds, category`` and ``share`` (or ``y`` counts, turned into shares), optionally
        ``unique_id`` and ``sample_id`` (e.g. from :func:`project_mix`, :func:`simulate_mix` or
        :func:`mix_shares`).
    weights : mapping
        Relative hours per case by category.
    default : float, optional
        The weight of a category not in ``weights``; without it such a category is an error.
    base_year : int, optional
        Normalise to this year (per area and path).

    Returns
    -------
    Series
        Named ``effort_multiplier``, indexed by whichever of ``unique_id, sample_id, ds`` the mix
        has.

    Examples
    --------
    >>> mix = pd.DataFrame({"ds": [2025, 2025, 2026, 2026], "category": ["ASD", "SpLD"] * 2,
    ...                     "share": [0.5, 0.5, 0.75, 0.25]})
    >>> effort_multiplier(mix, {"ASD": 1.2, "SpLD": 0.8}).round(3).tolist()
    [1.0, 1.1]
    >>> effort_multiplier(mix, {"ASD": 1.2, "SpLD": 0.8}, base_year=2026).round(4).tolist()
    [0.9091, 1.0]
    """
    if "category" not in mix or "ds" not in mix or not ({"share", "y"} & set(mix.columns)):
        raise EhcpError("the mix needs columns ds, category and share (or y)", field="share",
                        fix="pass the output of project_mix or mix_shares")
    keys = [c for c in ("unique_id", "sample_id", "ds") if c in mix.columns]
    if "share" in mix:
        share = mix["share"].astype(float)
    else:
        share = mix["y"].astype(float) / mix.groupby(keys)["y"].transform("sum")
    cats = mix["category"].astype(str)
    unknown = sorted(set(cats) - set(weights))
    if unknown and default is None:
        raise EhcpError(f"no effort weight for categor{'y' if len(unknown) == 1 else 'ies'} "
                        f"{', '.join(unknown)}", field="weights",
                        fix="add a weight for each category or pass default=1.0")
    w = cats.map(lambda c: float(weights.get(c, default if default is not None else np.nan)))
    out = (share * w).groupby([mix[k] for k in keys]).sum().rename("effort_multiplier")
    if base_year is not None:
        base_keys = [k for k in keys if k != "ds"]
        frame = out.reset_index()
        base = frame[frame["ds"] == base_year]
        if base.empty:
            raise EhcpError(f"base_year {base_year} is not in the mix", field="base_year",
                            fix=f"use a year between {frame['ds'].min()} and {frame['ds'].max()}")
        if base_keys:
            ref = frame.merge(base[[*base_keys, "effort_multiplier"]], on=base_keys,
                              how="left", suffixes=("", "_base"))["effort_multiplier_base"]
        else:
            ref = pd.Series(float(base["effort_multiplier"].iloc[0]), index=frame.index)
        out = pd.Series(frame["effort_multiplier"].to_numpy() / ref.to_numpy(), index=out.index,
                        name="effort_multiplier")
    return out
