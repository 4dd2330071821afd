"""The public forecasting functions: ``forecast``, ``cross_validation`` and ``simulate``.

All take and return long DataFrames (``unique_id, ds, y`` in). A series too short for the
requested model is forecast by the model's named fallback (e.g. ``drift`` -> ``naive``) and the
``model`` column of :func:`forecast` says which model produced each row.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from forecasting.errors import EhcpError
from forecasting.models import get_model
from forecasting.models.base import (
    Forecaster,
    interval_columns,
    latest_run,
    validate_h,
    validate_levels,
    validate_panel,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["MEASURE_ALIASES", "Report", "cross_validation", "fit_with_fallback", "forecast",
           "la_forecast", "la_history", "la_series_id", "output_folder", "resolve_measure", "write_outputs",
           "simulate"]

#: Short measure names accepted by the CLI, mapped to SEN2 panel measures.
MEASURE_ALIASES = {
    "requests": "requests_received",
    "new_plans": "new_plans",
    "plans": "new_plans",
    "stock": "stock_plans",
}

ModelSpec = str | Forecaster


def _make(model: ModelSpec) -> Forecaster:
    if isinstance(model, Forecaster):
        return model.clone()
    return get_model(model)


def _name(model: ModelSpec) -> str:
    return model if isinstance(model, str) else model.name


def fit_with_fallback(df: pd.DataFrame, model: ModelSpec) -> list[tuple[str, Forecaster]]:
    """Fit ``model`` to the series long enough for it, and its fallbacks to the rest.

    Returns ``(name, fitted model)`` pairs that between them cover every series once.

    Examples
    --------
    >>> df = pd.DataFrame({"unique_id": ["a", "a", "b"], "ds": [2023, 2024, 2024],
    ...                    "y": [10.0, 12.0, 5.0]})
    >>> [name for name, _ in fit_with_fallback(df, "drift")]
    ['drift', 'naive']
    """
    data = validate_panel(df)
    lengths = data.groupby("unique_id", sort=False)["ds"].size()
    fitted: list[tuple[str, Forecaster]] = []
    remaining = lengths
    current: ModelSpec | None = model
    while len(remaining) and current is not None:
        est = _make(current)
        ok = remaining[remaining >= est.min_length].index
        if len(ok):
            fitted.append((_name(current), est.fit(data[data["unique_id"].isin(ok)])))
        remaining = remaining[remaining < est.min_length]
        current = est.fallback
    if len(remaining):
        raise EhcpError(f"series '{remaining.index[0]}' is too short for every fallback",
                        field="y", fix="supply at least one observation per series")
    return fitted


def forecast(df: pd.DataFrame, h: int, level: Sequence[int] = (80, 95),
             model: ModelSpec = "auto") -> pd.DataFrame:
    """Forecast every series ``h`` periods ahead with prediction intervals.

    Parameters
    ----------
    df : DataFrame
        Long history ``unique_id, ds, y`` (``ds`` int years or monthly dates); one measure.
    h : int
        Periods ahead, at least 1.
    level : sequence of int
        Interval levels in percent.
    model : str or Forecaster
        A registry name (see ``forecasting.models.MODEL_NAMES``) or an unfitted model.
        ``"auto"`` is the backtest-weighted ensemble.

    Returns
    -------
    DataFrame
        ``unique_id, ds, yhat, lo_<l>, hi_<l>... , model``; counts are never negative and the
        ``model`` column names the model that produced the row (fallbacks are visible).

    Examples
    --------
    >>> df = pd.DataFrame({"unique_id": "Leeds", "ds": range(2016, 2025),
    ...                    "y": [636, 830, 1179, 953, 786, 803, 1284, 1497, 2313]})
    >>> fc = forecast(df, h=2, model="log_drift")
    >>> list(fc.columns)
    ['unique_id', 'ds', 'yhat', 'lo_80', 'hi_80', 'lo_95', 'hi_95', 'model']
    >>> fc["ds"].tolist(), bool((fc["hi_95"] > fc["hi_80"]).all())
    ([2025, 2026], True)
    """
    h, levels = validate_h(h), validate_levels(level)
    frames = []
    for name, est in fit_with_fallback(df, model):
        frames.append(est.predict(h, levels).assign(model=name))
    out = pd.concat(frames, ignore_index=True)
    order = validate_panel(df)["unique_id"].unique()
    out["_o"] = out["unique_id"].map({u: i for i, u in enumerate(order)})
    out = out.sort_values(["_o", "ds"], kind="stable").drop(columns="_o")
    return out.reset_index(drop=True)


def simulate(df: pd.DataFrame, h: int, n_paths: int = 1000, seed: int | None = 0,
             model: ModelSpec = "auto") -> pd.DataFrame:
    """Joint sample paths of future values: ``unique_id, ds, sample_id, y`` (never negative).

    Each ``sample_id`` is one coherent future across the ``h`` periods (the capacity
    simulator's demand input). The same ``seed`` gives identical paths.

    Examples
    --------
    >>> df = pd.DataFrame({"unique_id": "a", "ds": [2021, 2022, 2023, 2024],
    ...                    "y": [100.0, 110.0, 125.0, 130.0]})
    >>> paths = simulate(df, h=3, n_paths=50, seed=1, model="drift")
    >>> paths.shape, paths["sample_id"].nunique()
    ((150, 4), 50)
    """
    h = validate_h(h)
    rng = np.random.default_rng(seed)
    frames = []
    for _, est in fit_with_fallback(df, model):
        sub_seed = int(rng.integers(2**32))
        frames.append(est.simulate(h, n_paths, seed=sub_seed))
    return pd.concat(frames, ignore_index=True)


def _cpu() -> float:
    # This process plus finished children (Prophet's Stan optimiser runs as a child process).
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _cv_task(df: pd.DataFrame, model: ModelSpec, cutoff: Any, h: int,
             level: tuple[int, ...]) -> tuple[pd.DataFrame, float, float]:
    start, cpu = time.perf_counter(), _cpu()
    train = df[df["ds"] <= cutoff]
    name = _name(model)
    if train.empty:
        # A cutoff before any series starts forecasts nothing (not an error in a sweep).
        return pd.DataFrame(columns=["unique_id", "ds", "cutoff", name]), 0.0, 0.0
    frames = []
    for _, est in fit_with_fallback(train, model):
        frames.append(est.predict(h, level or (80,)))
    fc = pd.concat(frames, ignore_index=True)
    keep = {"yhat": name}
    for lv in level:
        keep[f"lo_{lv}"] = f"{name}-lo-{lv}"
        keep[f"hi_{lv}"] = f"{name}-hi-{lv}"
    fc = fc[["unique_id", "ds", *keep]].rename(columns=keep).assign(cutoff=cutoff)
    return fc, time.perf_counter() - start, _cpu() - cpu


def cross_validation(df: pd.DataFrame, h: int, n_windows: int = 3,
                     models: Sequence[ModelSpec] = ("naive", "drift", "log_drift"),
                     *, step: int = 1, cutoffs: Sequence[Any] | None = None,
                     level: Sequence[int] = (), n_jobs: int = 1) -> pd.DataFrame:
    """Rolling-origin backtest: refit each model at each cutoff and forecast ``h`` ahead.

    By default the ``n_windows`` cutoffs are the latest ones, ``step`` periods apart, whose
    ``h`` periods ahead are all observed. Pass ``cutoffs`` to choose them; a forecast whose
    target is not observed is then left out (so late cutoffs score fewer horizons).

    Returns
    -------
    DataFrame
        ``unique_id, ds, cutoff, y`` and one column per model (named as the model), plus
        ``<model>-lo-<l>`` / ``<model>-hi-<l>`` for each ``level``. Wall-clock seconds spent
        per model are in ``result.attrs["seconds"]``, CPU seconds (with child processes such
        as Prophet's Stan) in ``result.attrs["cpu_seconds"]``.

    Examples
    --------
    >>> df = pd.DataFrame({"unique_id": "a", "ds": range(2015, 2025),
    ...                    "y": [10.0, 12, 13, 15, 16, 18, 19, 21, 22, 24]})
    >>> cv = cross_validation(df, h=2, n_windows=2, models=["naive", "drift"])
    >>> cv[["ds", "cutoff"]].to_numpy().tolist()
    [[2022, 2021], [2023, 2021], [2023, 2022], [2024, 2022]]
    >>> cv["naive"].tolist()
    [19.0, 19.0, 21.0, 21.0]
    """
    h, levels = validate_h(h), validate_levels(level) if len(level) else ()
    data = validate_panel(df)
    if not models:
        raise EhcpError("no models to cross-validate", field="models", fix="e.g. models=['drift']")
    names = [_name(m) for m in models]
    if len(set(names)) != len(names):
        raise EhcpError("a model is listed twice", field="models", fix="list each model once")
    for m in models:
        if isinstance(m, str):
            get_model(m)  # fail fast on an unknown name, before any fitting
    periods = np.sort(data["ds"].unique())
    if cutoffs is None:
        if isinstance(n_windows, bool) or not isinstance(n_windows, int) or n_windows < 1:
            raise EhcpError(f"n_windows must be a whole number >= 1, got {n_windows!r}",
                            field="n_windows", fix="e.g. n_windows=3")
        last = len(periods) - 1 - h
        idx = [last - step * k for k in range(n_windows)][::-1]
        if idx[0] < 0:
            raise EhcpError(f"{n_windows} windows of {h} periods (step {step}) need more than "
                            f"{len(periods)} periods of history", field="n_windows",
                            fix="use fewer windows or a shorter horizon")
        cutoffs = [periods[i] for i in idx]
    tasks = [(m, c) for m in models for c in cutoffs]
    if n_jobs > 1:
        # The task function as registered in sys.modules: pytest's doctest import can load a
        # second copy of this module, whose functions would not pickle by reference.
        import importlib

        task = importlib.import_module("forecasting.forecast")._cv_task
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            futures = [pool.submit(task, data, m, c, h, levels) for m, c in tasks]
            results = [f.result() for f in futures]
    else:
        results = [_cv_task(data, m, c, h, levels) for m, c in tasks]
    seconds: dict[str, float] = dict.fromkeys(names, 0.0)
    cpu: dict[str, float] = dict.fromkeys(names, 0.0)
    merged: pd.DataFrame | None = None
    for name in names:
        mine = [r for (m, _), r in zip(tasks, results, strict=True) if _name(m) == name]
        parts = [fc for fc, _, _ in mine]
        seconds[name] += sum(s for _, s, _ in mine)
        cpu[name] += sum(c for _, _, c in mine)
        block = pd.concat(parts, ignore_index=True)
        merged = block if merged is None else merged.merge(block, on=["unique_id", "ds", "cutoff"],
                                                           how="outer")
    assert merged is not None
    out = merged.merge(data[["unique_id", "ds", "y"]], on=["unique_id", "ds"], how="inner")
    cols = ["unique_id", "ds", "cutoff", "y"]
    out = out[cols + [c for c in out.columns if c not in cols]]
    out = out.sort_values(["unique_id", "cutoff", "ds"], kind="stable").reset_index(drop=True)
    out.attrs["seconds"] = seconds
    out.attrs["cpu_seconds"] = cpu
    return out


def interval_names(model: str, level: Sequence[int]) -> list[str]:
    """Cross-validation interval column names for one model."""
    return [c.replace("lo_", f"{model}-lo-").replace("hi_", f"{model}-hi-")
            for c in interval_columns(level)]


def resolve_measure(name: str) -> str:
    """A short measure name (requests, new_plans, stock) or a panel measure name.

    Examples
    --------
    >>> resolve_measure("requests"), resolve_measure("stock_plans")
    ('requests_received', 'stock_plans')
    >>> resolve_measure("referrals")
    Traceback (most recent call last):
    ...
    forecasting.errors.EhcpError: field 'measure': unknown measure 'referrals'. Fix: use requests, new_plans or stock (or a panel measure such as requests_received).
    """
    key = name.strip().lower().replace("-", "_")
    if key in MEASURE_ALIASES:
        return MEASURE_ALIASES[key]
    if key in set(MEASURE_ALIASES.values()):
        return key
    raise EhcpError(f"unknown measure {name!r}", field="measure",
                    fix="use requests, new_plans or stock (or a panel measure such as "
                        "requests_received)")


def la_history(panel: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Every LA's series of one measure on fixed boundaries, ready for the models.

    LAs merged or split by boundary changes are summed into their group
    (:func:`forecasting.data.consistent_series`); missing years are dropped and a series with a
    gap is used from after its last gap (a model needs consecutive years), so nothing is
    interpolated. Returns ``unique_id, ds, y``.
    """
    from forecasting.data import consistent_series

    frame = consistent_series(panel, resolve_measure(measure))
    return latest_run(frame.dropna(subset=["y"]))


class Report(NamedTuple):
    """What a command shows: a table, its title and the files written."""

    table: pd.DataFrame
    title: str
    files: list[Path]


def la_series_id(history: pd.DataFrame, code: str) -> str:
    """The series id holding an LA's ONS code (a boundary-change group joins codes with +)."""
    for uid in history["unique_id"].unique():
        if code == uid or code in str(uid).split("+"):
            return str(uid)
    raise EhcpError(f"no figures for LA {code} in this measure", field="la",
                    fix="check the LA has published figures for the measure (ehcp data show)")


def output_folder(out: str | Path) -> Path:
    """Check that ``out`` can become an output folder, without creating it yet.

    Nothing is created here, so a run refused later (an unknown LA, a bad ``h``) leaves no
    empty folder behind; :func:`write_outputs` creates the folder when there is something to
    write.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     output_folder(Path(f.name) / "out")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    forecasting.errors.EhcpError: field '--out': cannot create the output folder ... Fix: choose a folder path whose parents are folders you can write to.
    """
    folder = Path(out)
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        reason = "a file is in the way" if probe.exists() else "no such folder"
        if probe.is_dir():
            reason = "the folder is not writable"
        raise EhcpError(f"cannot create the output folder {folder} ({reason}: {probe})",
                        field="--out",
                        fix="choose a folder path whose parents are folders you can write to")
    return folder


def write_outputs(folder: Path, table: pd.DataFrame, fig: Figure, stem: str) -> list[Path]:
    """Write ``<stem>.csv`` and ``<stem>.png`` into ``folder`` (created if needed), atomically.

    The CSV is neutralised against spreadsheet formulas; a full disk or a folder that cannot
    be created is an :class:`EhcpError` naming ``--out``, and no half-written file is left.
    """
    from forecasting.data.export import atomic_path, write_table

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise EhcpError(f"cannot create the output folder {folder} ({err.strerror or err})",
                        field="--out",
                        fix="choose a folder path whose parents are folders you can write to"
                        ) from None
    csv = write_table(table, folder / f"{stem}.csv")
    png = folder / f"{stem}.png"
    with atomic_path(png, field="--out") as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    return [csv, png]


def la_forecast(la: str, measure: str, h: int = 5, model: str = "auto",
                data_dir: str | Path | None = None, out: str | Path | None = None) -> Report:
    """Forecast one LA's measure, fitting every LA together; optionally write CSV and PNG.

    Every LA is passed to the model, so the global and auto models can borrow strength from
    the national trend; the returned table holds the chosen LA only.
    """
    from forecasting.data import find_la, load_panel

    measure_name = resolve_measure(measure)
    validate_h(h)
    get_model(model)  # an unknown model fails before the data load
    folder = output_folder(out) if out is not None else None
    panel = load_panel(data_dir)
    code = find_la(panel, la)
    name = str(panel.loc[panel["unique_id"] == code, "name"].iloc[-1])
    from forecasting.models.leading import add_drivers

    # With the measure's leading drivers, auto can use the requests-led models.
    history = add_drivers(la_history(panel, measure_name), panel, measure_name)
    uid = la_series_id(history, code)
    fc = forecast(history, h=h, model=model)
    mine = fc[fc["unique_id"] == uid].reset_index(drop=True)
    hist_la = history[history["unique_id"] == uid]
    title = (f"{name} ({uid}): {measure_name}, {h} years ahead, model {model} "
             f"(history {int(hist_la['ds'].min())}-{int(hist_la['ds'].max())})")
    files: list[Path] = []
    if folder is not None:
        import matplotlib.pyplot as plt

        from forecasting.reporting.fanchart import plot_forecast

        stem = f"forecast_{name.lower().replace(' ', '_')}_{measure_name}"
        fig = plot_forecast(hist_la, mine, title=f"{name}: {measure_name} ({model})",
                            ylabel=measure_name.replace("_", " "))
        try:
            files = write_outputs(folder, mine, fig, stem)
        finally:
            plt.close(fig)
    table = mine.drop(columns=["unique_id"]).round(1)
    return Report(table, title, files)
