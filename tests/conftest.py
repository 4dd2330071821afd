"""Shared fixtures: a headless matplotlib and paths to the embedded data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def close_figures() -> Iterator[None]:
    """Close every matplotlib figure a test opened."""
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def raw_dir() -> Path:
    """The embedded DfE SEN2 downloads (never edited)."""
    return ROOT / "data" / "raw"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES
