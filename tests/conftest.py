"""Shared fixtures: a headless matplotlib, paths to the embedded data, hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import matplotlib
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
