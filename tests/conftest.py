"""Shared fixtures: a headless matplotlib, paths to the embedded data, hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from hypothesis import settings

matplotlib.use("agg")

# CI (CI=true) replays the same hypothesis examples on every run, so a submission's result does
# not depend on the draw; a developer's run keeps exploring new examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def close_figures() -> Iterator[None]:
    """Close every matplotlib figure a test opened."""
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


@pytest.fixture(scope="session")
def raw_dir() -> Path:
    """The embedded DfE SEN2 downloads (never edited)."""
    return ROOT / "data" / "raw"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def growing_panel() -> pd.DataFrame:
    """Three short annual series that grow at different rates (2016-2024; read, never modify).

    Shared by the backtest and ensemble tests; ``a`` is 100, 110, 125, 130, 150, 160, 175, 190,
    200.
    """
    growing = {"a": [100.0, 110, 125, 130, 150, 160, 175, 190, 200],
               "b": [50.0, 52, 57, 60, 64, 70, 71, 77, 80],
               "c": [300.0, 290, 320, 350, 340, 380, 400, 410, 450]}
    return pd.concat([pd.DataFrame({"unique_id": k, "ds": range(2016, 2025), "y": v})
                      for k, v in growing.items()], ignore_index=True)
