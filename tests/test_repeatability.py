"""Repeatability: the same inputs and seed give byte-identical CSV outputs, run after run, with
or without the panel cache, whatever PYTHONHASHSEED is, and with 1 or 2 batch workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from forecasting.cli import main

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
GOOD = FIXTURES / "sen2" / "good"


def csv_bytes(folder: Path) -> dict[str, bytes]:
    """Every CSV under ``folder`` by relative path (run ids in folder names replaced)."""
    out = {}
    for path in sorted(folder.rglob("*.csv")):
        parts = path.relative_to(folder).parts
        out["/".join("<run>" if p.startswith("20") and "T" in p else p for p in parts)] = (
            path.read_bytes())
    return out


def test_data_export_identical_with_and_without_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EHCP_CACHE_DIR", str(tmp_path / "cache"))
    outs = [tmp_path / f"panel{i}.csv" for i in range(3)]
    assert main(["data", "export", "--out", str(outs[0]), "--data-dir", str(GOOD)]) == 0
    assert list((tmp_path / "cache").glob("*.parquet"))  # the second run reads the cache
    assert main(["data", "export", "--out", str(outs[1]), "--data-dir", str(GOOD)]) == 0
    for cached in (tmp_path / "cache").glob("*.parquet"):
        cached.unlink()
    assert main(["data", "export", "--out", str(outs[2]), "--data-dir", str(GOOD)]) == 0
    first = outs[0].read_bytes()
    assert len(first) > 1000
    assert outs[1].read_bytes() == first and outs[2].read_bytes() == first


def _synth(out: Path, seed: int) -> tuple[bytes, dict[str, object]]:
    assert main(["cases", "synth", "--la", "Leeds", "--out", str(out), "--seed", str(seed),
                 "--data-dir", str(GOOD), "--start", "2022-01-01", "--end", "2022-12-31"]) == 0
    meta = json.loads((out / "leeds_case_extract_synthetic.meta.json").read_text())
    meta.pop("generated_at")  # meant to differ, as is the command line (it names --out)
    meta.pop("command")
    return (out / "leeds_case_extract_synthetic.csv").read_bytes(), meta


def test_cases_synth_same_seed_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EHCP_CACHE_DIR", str(tmp_path / "cache"))
    a = _synth(tmp_path / "a", 11)
    b = _synth(tmp_path / "b", 11)
    c = _synth(tmp_path / "c", 12)
    assert a == b
    assert a[0] != c[0]
    printed = capsys.readouterr().out
    assert printed.count("SYNTHETIC") == 3


def test_simulate_same_seed_same_bytes(tmp_path: Path, close_figures: None,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    config = str(FIXTURES / "capacity" / "tiny.yaml")
    runs = []
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        out = tmp_path / name
        assert main(["simulate", "--config", config, "--paths", "2", "--seed", seed,
                     "--out", str(out), "--record-path", "1"]) == 0
        runs.append(csv_bytes(out))
    assert set(runs[0]) == {"weekly.csv", "diagnostics.csv", "summary_by_year.csv", "cases.csv"}
    assert runs[0] == runs[1]
    assert runs[0]["weekly.csv"] != runs[2]["weekly.csv"]


_CHILD = """
import sys
from forecasting.cli import main
out = sys.argv[1]
assert main(["data", "export", "--out", out + "/panel.csv", "--data-dir", sys.argv[2]]) == 0
assert main(["cases", "synth", "--la", "Leeds", "--out", out, "--seed", "3", "--data-dir",
             sys.argv[2], "--start", "2022-01-01", "--end", "2022-06-30"]) == 0
"""


@pytest.mark.slow
def test_outputs_do_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    # The Makefile pins PYTHONHASHSEED=0, which would hide set-order dependence from make test.
    results = []
    for hash_seed in ("1", "2"):
        out = tmp_path / hash_seed
        out.mkdir()
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "EHCP_CACHE_DIR": str(out / "cache"),
               "PYTHONPATH": str(HERE.parent)}
        subprocess.run([sys.executable, "-c", _CHILD, str(out), str(GOOD)], check=True,
                       env=env, capture_output=True, timeout=300)
        results.append({k: v for k, v in csv_bytes(out).items()})
    assert results[0] == results[1]
    assert set(results[0]) == {"panel.csv", "leeds_case_extract_synthetic.csv"}


@pytest.mark.slow
def test_batch_one_or_two_workers_same_csvs(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EHCP_CACHE_DIR", str(tmp_path / "cache"))
    cfg = tmp_path / "batch.yaml"
    cfg.write_text(
        "quarter: 2026Q1\ninclude_national: false\nseed: 5\n"
        "forecast:\n  horizon: 2\n  model: drift\n  save_models: false\n"
        "backtest:\n  h: 1\n  n_windows: 1\n  models: [naive, drift]\n"
        "scenarios:\n  file: null\n"
    )
    outputs = []
    for workers in ("1", "2"):
        work = tmp_path / f"w{workers}"
        work.mkdir()
        monkeypatch.chdir(work)
        code = main(["batch", "--config", str(cfg), "--la", "Leeds", "--la", "Bradford",
                     "--workers", workers, "--store", str(work / "runs.duckdb"),
                     "--data-dir", str(GOOD), "--no-progress"])
        assert code == 0
        outputs.append(csv_bytes(work / "reports" / "batch"))
    assert len(outputs[0]) >= 2
    assert outputs[0] == outputs[1]
