"""Writing a simulation folder (forecasting.capacity.ehcp_summary.write_simulation): the swap
keeps the previous folder on failure, CSV cells cannot run as formulas, and --out mistakes are
user errors rather than tracebacks or lost folders."""

from __future__ import annotations

import csv
import errno
import os
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from forecasting.capacity.config import load_capacity_config
from forecasting.capacity.ehcp_summary import OUTPUT_NAMES, write_simulation
from forecasting.capacity.simulate import SimulationResult, simulate_capacity
from forecasting.errors import EhcpError, EhcpWarning

FIX = Path(__file__).resolve().parent / "fixtures" / "capacity"
LABEL = "=1+1"


@pytest.fixture(scope="module")
def result() -> SimulationResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EhcpWarning)
        return simulate_capacity(load_capacity_config(FIX / "tiny.yaml"), n_paths=1, seed=3,
                                 scenario=LABEL, record_path=0)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_failed_swap_restores_the_previous_folder(
    result: SimulationResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    close_figures: None,
) -> None:
    out = tmp_path / "sim"
    write_simulation(result, out)
    before = tree(tmp_path)
    real = os.replace

    def failing(src: Any, dst: Any) -> None:
        # Only the rename of the new (temporary, hidden) folder onto --out fails.
        if Path(dst) == out and Path(src).name.startswith("."):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises((OSError, EhcpError)):
        write_simulation(result, out)
    assert tree(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim"]


def test_disk_full_is_an_error_naming_out_and_keeps_the_folder(
    result: SimulationResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    close_figures: None,
) -> None:
    out = tmp_path / "sim"
    write_simulation(result, out)
    before = tree(tmp_path)

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    with pytest.raises(EhcpError) as info:
        write_simulation(result, out)
    assert info.value.field == "--out" and "No space left" in str(info.value)
    assert tree(tmp_path) == before


def test_csv_cells_are_neutralised_parquet_keeps_the_label(
    result: SimulationResult, tmp_path: Path, close_figures: None
) -> None:
    out = tmp_path / "sim"
    write_simulation(result, out)
    csvs = sorted(p.name for p in out.glob("*.csv"))
    assert csvs == ["cases.csv", "diagnostics.csv", "summary_by_year.csv", "weekly.csv"]
    for name in csvs:
        with (out / name).open(newline="") as fh:
            cells = [c for row in csv.reader(fh) for c in row]
        assert f"'{LABEL}" in cells, name
        assert not [c for c in cells if c.startswith(("=", "+", "@"))], name
    assert pd.read_parquet(out / "weekly.parquet")["scenario"].astype(str).unique().tolist() \
        == [LABEL]
    # Negative numbers are numbers, not formulas: they are left alone.
    weekly = pd.read_csv(out / "weekly.csv")
    assert len(weekly) == len(result.weekly)
    assert weekly["cost_gbp"].dtype.kind == "f"


def test_out_below_a_file_is_an_error_naming_out(
    result: SimulationResult, tmp_path: Path, close_figures: None
) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(EhcpError) as info:
        write_simulation(result, tmp_path / "afile" / "sim")
    assert info.value.field == "--out" and "afile" in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_folder_with_other_files_is_not_replaced(
    result: SimulationResult, tmp_path: Path
) -> None:
    out = tmp_path / "work"
    out.mkdir()
    (out / "budget.xlsx").write_text("keep me")
    (out / "weekly.csv").write_text("old")
    with pytest.raises(EhcpError, match="budget.xlsx") as info:
        write_simulation(result, out)
    assert info.value.field == "--out"
    assert tree(out) == {"budget.xlsx": b"keep me", "weekly.csv": b"old"}


@pytest.mark.parametrize("where", [".", ".."])
def test_working_folder_and_its_parents_are_refused(
    where: str, result: SimulationResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An empty working folder passes the other-files check, so this guard is what keeps it.
    cwd = tmp_path / "here"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    with pytest.raises(EhcpError, match="current folder") as info:
        write_simulation(result, where)
    assert info.value.field == "--out"
    assert cwd.is_dir() and not any(cwd.iterdir())


def test_earlier_simulation_folder_is_replaced(
    result: SimulationResult, tmp_path: Path, close_figures: None
) -> None:
    out = tmp_path / "sim"
    out.mkdir()
    (out / "weekly.csv").write_text("from an earlier run")
    (out / ".DS_Store").write_text("")
    files = write_simulation(result, out)
    assert {p.name for p in files} == OUTPUT_NAMES
    assert (out / "weekly.csv").read_text() != "from an earlier run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim"]
