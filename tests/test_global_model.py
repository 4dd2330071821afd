"""The global model's forecast path: a steady yearly rate (pooled), not a zig-zag by horizon."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.models.global_model import GlobalGrowth


def _panel(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(25):
        level, rate = 100.0 * (1 + i % 5), 0.05 + 0.01 * (i % 7)
        for year in range(2014, 2025):
            level *= np.exp(rate + rng.normal(0, 0.05))
            rows.append((f"la{i}", year, level))
    return pd.DataFrame(rows, columns=["unique_id", "ds", "y"])


def _steps(model: GlobalGrowth, df: pd.DataFrame, h: int = 5) -> np.ndarray:
    fc = model.fit(df).predict(h, level=(80,))
    logs = np.log1p(fc.pivot(index="unique_id", columns="ds", values="yhat").to_numpy())
    return np.diff(logs, axis=1)


def test_pooled_path_grows_at_one_rate_after_the_first_year() -> None:
    steps = _steps(GlobalGrowth(), _panel())
    # Year 1 also moves from the last value to the smoothed level; every later year is
    # national trend + the LA's deviation rate, the same within and beyond `horizons`.
    np.testing.assert_allclose(steps, np.repeat(steps[:, :1], steps.shape[1], axis=1),
                               atol=1e-9)


def test_direct_strategy_is_still_available_and_differs() -> None:
    df = _panel()
    direct = _steps(GlobalGrowth(pooled=False), df)
    assert direct.shape == (25, 4)
    assert np.abs(np.diff(direct[:, :2], axis=1)).max() > 1e-6  # horizon-specific rates
