"""Per-LA task functions for :func:`forecasting.batch.run_batch`, and a cheap synthetic one.

A task takes an :class:`~forecasting.batch.LaInput` and returns a
:class:`~forecasting.store.LaResult`. Tasks are module-level functions so they can be pickled
to worker processes and Dask workers. :func:`synthetic_task` does no real modelling: it makes
deterministic, seeded rows of the right shape, quickly, for tests, smoke runs and measuring the
batch machinery's own overhead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from forecasting.batch import LaInput, la_seed
from forecasting.store import LaResult

__all__ = ["synthetic_inputs", "synthetic_task"]


def synthetic_task(inp: LaInput) -> LaResult:
    """Seeded fake results for one LA, shaped like the real task's (for tests and smoke runs).

    ``inp.params`` may hold ``h`` (years ahead, default 3), ``measures`` (default
    ``["requests", "new_plans"]``), ``scenarios`` (default ``["baseline"]``), ``n_paths``
    (default 200), ``sleep`` (seconds to wait, to mimic work), ``fail`` (LA keys that raise),
    ``crash`` (LA keys whose worker process exits abruptly).

    Examples
    --------
    >>> from forecasting.batch import LaInput, la_seed
    >>> r = synthetic_task(LaInput("A", pd.DataFrame(), {"h": 2}, seed=3))
    >>> sorted(r.tables), r.tables["forecasts"].shape
    (['backtest_scores', 'forecasts', 'scenario_summaries'], (4, 9))
    >>> r.tables["forecasts"].equals(synthetic_task(LaInput("A", pd.DataFrame(), {"h": 2}, seed=3)).tables["forecasts"])
    True
    """
    p = inp.params
    if inp.la in p.get("fail", ()):
        raise ValueError(f"synthetic failure for {inp.la}")
    if inp.la in p.get("crash", ()):
        os._exit(13)  # mimic a worker killed by the OS (no exception, no cleanup)
    if p.get("sleep"):
        time.sleep(float(p["sleep"]))
    rng = np.random.default_rng(inp.seed)
    h = int(p.get("h", 3))
    measures = list(p.get("measures", ["requests", "new_plans"]))
    years = np.arange(2025, 2025 + h)
    fc = []
    for m in measures:
        level = rng.uniform(100, 2000)
        yhat = level * (1 + 0.05 * np.arange(1, h + 1)) + rng.normal(0, 10, h)
        sd = 0.1 * level * np.sqrt(np.arange(1, h + 1))
        fc.append(pd.DataFrame({
            "unique_id": f"{inp.la}/{m}", "measure": m, "ds": years, "yhat": yhat,
            "lo_80": yhat - 1.28 * sd, "hi_80": yhat + 1.28 * sd,
            "lo_95": yhat - 1.96 * sd, "hi_95": yhat + 1.96 * sd, "model": "synthetic",
        }))
    scores = pd.DataFrame([
        {"measure": m, "model": model, "metric": metric, "value": float(rng.gamma(2.0, 0.1))}
        for m in measures for model in ("naive", "drift") for metric in ("mase", "coverage_80")
    ])
    n_paths = int(p.get("n_paths", 200))
    scen = []
    for s in p.get("scenarios", ["baseline"]):
        backlog = rng.poisson(50, size=(n_paths, 2)).astype(float)
        scen += [
            {"scenario": s, "metric": "backlog_start", "value": float(backlog[:, 0].mean())},
            {"scenario": s, "metric": "backlog_growth",
             "value": float((backlog[:, 1] - backlog[:, 0]).mean())},
            {"scenario": s, "metric": "pct_within_20w", "value": float(rng.uniform(5, 95))},
        ]
    tables = {"forecasts": pd.concat(fc, ignore_index=True), "backtest_scores": scores}
    if inp.level == "la":
        tables["scenario_summaries"] = pd.DataFrame(scen)
    return LaResult(inp.la, tables, la_name=inp.la_name, level=inp.level)


def synthetic_inputs(
    las: Sequence[str], *, seed: int = 0, names: Sequence[str] | None = None, **params: Any
) -> tuple[list[LaInput], dict[str, Any]]:
    """Inputs for :func:`synthetic_task` over ``las``, and the config they share.

    Examples
    --------
    >>> inputs, config = synthetic_inputs(["A", "B"], seed=1, h=2)
    >>> [i.la for i in inputs], config
    (['A', 'B'], {'seed': 1, 'h': 2})
    """
    config: dict[str, Any] = {"seed": seed, **params}
    labels: list[str | None] = list(names) if names is not None else [None] * len(las)
    inputs = [LaInput(la, pd.DataFrame(), config, la_seed(seed, la), la_name=name)
              for la, name in zip(las, labels, strict=True)]
    return inputs, config
