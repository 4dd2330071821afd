"""The bad-input corpus (tests/bad_inputs/cases.yaml) run through the ``ehcp`` command line.

Each case must fail the way a planner can act on: a non-zero exit code, a message naming the
file and the field, no traceback, nothing left in the working folder (no half-written output,
no temporary files) and, when a run store is involved, the store's bytes unchanged.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from forecasting.cli import main

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "bad_inputs"
FIXTURES = HERE / "fixtures"
GOOD = FIXTURES / "sen2" / "good"
CASES: list[dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))


def _params(cases: list[dict[str, Any]]) -> list[Any]:
    return [
        pytest.param(case, id=case["id"], marks=[
            pytest.mark.xfail(strict=True, reason=case["xfail"])] if "xfail" in case else [])
        for case in cases
    ]


def _fill(text: str, tmp: Path) -> str:
    return text.format(bad=CORPUS, fix=FIXTURES, good=GOOD, tmp=tmp, store=tmp / "store.duckdb")


def _prepare(case: dict[str, Any], tmp: Path) -> dict[str, bytes]:
    """Create what the case needs before it runs; return the files that must stay unchanged."""
    keep: dict[str, bytes] = {}
    if case.get("store"):
        from forecasting.store import RunStore

        with RunStore(tmp / "store.duckdb"):
            pass
    for name in case.get("files", []):  # e.g. a plain file where a folder should be
        Path(_fill(name, tmp)).write_text("not a folder")
    if any("{tmp}/existing" in a for a in case["args"]):
        (tmp / "existing").mkdir()
        (tmp / "existing" / "keep.txt").write_text("an earlier report")
    for path in sorted(tmp.rglob("*")):
        if path.is_file():
            keep[str(path.relative_to(tmp))] = path.read_bytes()
    return keep


def _check(case: dict[str, Any], tmp: Path, code: int, out: str, err: str,
           keep: dict[str, bytes]) -> None:
    assert code == case.get("code", 2), f"exit {code}; stderr: {err[-500:]}"
    assert "Traceback" not in out + err
    missing = [w for w in case["expect"] if _fill(w, tmp).lower() not in err.lower()]
    assert not missing, f"stderr lacks {missing}: {err[-800:]}"
    # Nothing new in the working folder (no output, no temp files, no `touch ehcp_pwned`)
    # and whatever was there before (a run store, an earlier report) is byte-identical.
    after = {str(p.relative_to(tmp)): p.read_bytes() for p in tmp.rglob("*") if p.is_file()}
    leftover = sorted({str(p.relative_to(tmp)) for p in tmp.rglob("*")}
                      - {*keep, *(str(Path(k).parent) for k in keep)} - {"."})
    assert not leftover, f"left behind: {leftover}"
    assert after == keep
    for path in case.get("absent", []):
        assert not Path(_fill(path, tmp)).exists()


@pytest.fixture
def workdir(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
            monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder, the small SEN2 fixture as default data, a shared panel cache."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("EHCP_DATA_DIR", str(GOOD))
    monkeypatch.setenv("EHCP_CACHE_DIR", str(_cache_dir(tmp_path_factory)))
    return work


def _cache_dir(factory: pytest.TempPathFactory) -> Path:
    base = factory.getbasetemp() / "bad_inputs_cache"
    base.mkdir(exist_ok=True)
    return base


def test_corpus_is_large_and_covers_every_input_kind() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)) >= 40
    kinds = {c["category"] for c in CASES}
    assert kinds == {"sen2", "sen2-zip", "cases", "config", "cli"}
    for case in CASES:
        for arg in case["args"]:
            if arg.startswith("{bad}"):
                assert Path(_fill(arg, Path("/nowhere"))).exists(), f"{case['id']}: {arg}"


def test_committed_corpus_is_what_make_corpus_writes() -> None:
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.corpus()
    committed = {str(p.relative_to(CORPUS)): p.read_bytes()
                 for sub in module.FOLDERS for p in sorted((CORPUS / sub).rglob("*"))
                 if p.is_file()}
    assert sorted(committed) == sorted(expected)
    changed = [name for name, data in expected.items() if committed[name] != data]
    assert not changed, f"re-run tests/bad_inputs/make_corpus.py: {changed}"


@pytest.mark.parametrize("case", _params(CASES))
def test_bad_input_fails_cleanly(case: dict[str, Any], workdir: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    keep = _prepare(case, workdir)
    args = [_fill(a, workdir) for a in case["args"]]
    code = main(args)
    out, err = capsys.readouterr()
    _check(case, workdir, code, out, err, keep)


@pytest.mark.slow
@pytest.mark.parametrize("case", _params([c for c in CASES if c.get("subprocess")]))
def test_bad_input_fails_cleanly_in_a_real_process(case: dict[str, Any], workdir: Path) -> None:
    keep = _prepare(case, workdir)
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    proc = subprocess.run(
        [sys.executable, "-m", "forecasting.cli", *[_fill(a, workdir) for a in case["args"]]],
        capture_output=True, text=True, check=False, cwd=workdir, env=env, timeout=120,
    )
    _check(case, workdir, proc.returncode, proc.stdout, proc.stderr, keep)
