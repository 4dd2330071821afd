"""Injection: names from data files and configs that reach CSV, xlsx or HTML are neutralised,
config files never construct Python objects, and names cannot steer where files are written.

A cell starting with ``=``, ``+``, ``-`` or ``@`` is run as a formula by spreadsheet programs
(OWASP "CSV injection"); LA names come from files a council downloads or edits by hand and
scenario names are typed by planners, so both are treated as hostile here.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest

from forecasting.cli import main
from forecasting.errors import EhcpError

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOOD = FIXTURES / "sen2" / "good"
FORMULA_START = ("=", "+", "-", "@")
#: Leeds and Bradford renamed in the SEN2 files (CSV-quoted where the name has quotes; no
#: '/', which the loader refuses in names).
EVIL_LEEDS = '=HYPERLINK("evil.example","Leeds")'
EVIL_BRADFORD = "@SUM(1+1)*cmd|' -C calc'!A0"


def _csv_quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@pytest.fixture(scope="module")
def evil_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The good SEN2 fixture with formula LA names in every file."""
    folder = tmp_path_factory.mktemp("evil_sen2")
    for src in GOOD.glob("*.zip"):
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(folder / src.name, "w") as zout:
            for info in zin.infolist():
                data = zin.read(info)
                if info.filename.endswith(".csv"):
                    text = data.decode("utf-8-sig")
                    text = text.replace(",Leeds,", f",{_csv_quote(EVIL_LEEDS)},")
                    text = text.replace(",Bradford,", f",{_csv_quote(EVIL_BRADFORD)},")
                    data = text.encode()
                zout.writestr(info, data)
    return folder


def formula_cells(path: Path) -> list[str]:
    """Cells of a CSV file that a spreadsheet would run as formulas."""
    rows = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")))
    return [cell for row in rows for cell in row
            if cell.startswith(FORMULA_START) and not _is_number(cell)]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EHCP_CACHE_DIR", str(tmp_path / "cache"))


def test_evil_names_reach_the_panel(evil_data: Path, cache: None) -> None:
    from forecasting.data import load_panel

    names = set(load_panel(evil_data)["name"])
    assert {EVIL_LEEDS, EVIL_BRADFORD} <= names  # the test is not vacuous


def test_data_export_csv_neutralises_la_names(evil_data: Path, tmp_path: Path,
                                              cache: None) -> None:
    out = tmp_path / "panel.csv"
    assert main(["data", "export", "--out", str(out), "--data-dir", str(evil_data)]) == 0
    text = out.read_text()
    assert "'" + EVIL_LEEDS.replace('"', '""') in text and "'" + EVIL_BRADFORD in text
    assert formula_cells(out) == []


def test_data_export_parquet_keeps_names_exact(evil_data: Path, tmp_path: Path,
                                               cache: None) -> None:
    import pandas as pd

    out = tmp_path / "panel.parquet"
    assert main(["data", "export", "--out", str(out), "--data-dir", str(evil_data)]) == 0
    assert EVIL_LEEDS in set(pd.read_parquet(out)["name"])  # typed columns: nothing to run


def test_path_like_la_names_are_refused_by_the_loader(tmp_path: Path, cache: None,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "sen2"
    folder.mkdir()
    for z in GOOD.glob("*.zip"):  # Leeds renamed to a path that climbs out of --out
        with zipfile.ZipFile(z) as zin, zipfile.ZipFile(folder / z.name, "w") as zout:
            for info in zin.infolist():
                zout.writestr(info, zin.read(info).replace(b",Leeds,", b",../../../escaped,"))
    out = tmp_path / "deep" / "out"
    assert main(["forecast", "--la", "E08000035", "--out", str(out), "--data-dir",
                 str(folder)]) == 2
    err = capsys.readouterr().err
    assert "field 'la_name'" in err and "../../../escaped" in err
    assert not list(tmp_path.rglob("*escaped*"))


def test_synthetic_file_name_stays_inside_the_output_folder(tmp_path: Path) -> None:
    from forecasting.data.synthetic import Calibration, generate_synthetic, write_synthetic

    cal = Calibration("x", {2024: 20}, refusal_rate=0.2, not_issued_rate=0.02,
                      pct_within_20wk=50.0)
    df = generate_synthetic(cal, start="2024-01-01", end="2024-03-31", seed=1)
    out = tmp_path / "deep" / "out"
    path = write_synthetic(df, out, "../../../escaped\\..\\x", calibration=cal, seed=1)
    assert path.parent == out
    assert sorted(p.name for p in out.iterdir()) == [
        "escaped_x_case_extract_synthetic.csv", "escaped_x_case_extract_synthetic.meta.json"]
    assert {p.parent for p in tmp_path.rglob("*escaped*")} == {out}


@pytest.mark.parametrize("loader", ["capacity", "scenarios", "batch"])
@pytest.mark.parametrize("tag", [
    "!!python/object/apply:os.system ['touch pwned']",
    "!!python/object/new:subprocess.Popen [['touch', 'pwned']]",
    "!!python/name:os.system",
])
def test_config_loaders_construct_no_objects(loader: str, tag: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "c.yaml"
    section = {"capacity": "simulation", "scenarios": "report", "batch": "forecast"}[loader]
    path.write_text(f"{section}: {tag}\n")
    with pytest.raises(EhcpError) as info:
        _load(loader, path)
    assert info.value.file == str(path) and "tag" in str(info.value)
    assert not (tmp_path / "pwned").exists()


def _load(loader: str, path: Path) -> object:
    if loader == "capacity":
        from forecasting.capacity.config import load_capacity_config

        return load_capacity_config(path)
    if loader == "scenarios":
        from forecasting.scenarios import load_scenarios

        return load_scenarios(path)
    from forecasting.batch_config import load_batch_config

    return load_batch_config(path)


def test_simulate_scenario_label_is_neutralised(tmp_path: Path, close_figures: None) -> None:
    out = tmp_path / "sim"
    assert main(["simulate", "--config", str(FIXTURES / "capacity" / "tiny.yaml"), "--paths",
                 "1", "--out", str(out), "--scenario", "=1+1"]) == 0
    bad = {p.name: formula_cells(p) for p in out.glob("*.csv")}
    assert not any(bad.values()), bad


def test_batch_csvs_neutralise_la_names(evil_data: Path, tmp_path: Path, cache: None,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "batch.yaml"
    cfg.write_text("scenarios:\n  file: null\nbacktest:\n  n_windows: 1\n"
                   "out_dir: reports/batch\nmodels_dir: models\n")
    code = main(["batch", "--config", str(cfg), "--la", "E08000035", "--la", "E08000032",
                 "--store", str(tmp_path / "s.duckdb"), "--data-dir", str(evil_data),
                 "--workers", "1", "--no-progress"])
    assert code == 0
    files = sorted((tmp_path / "reports").rglob("*.csv"))
    assert files
    names = "".join(p.read_text() for p in files)
    assert "HYPERLINK" in names or "SUM(1+1)" in names  # the names did reach the outputs
    bad = {str(p.relative_to(tmp_path)): formula_cells(p) for p in files}
    assert not any(bad.values()), {k: v for k, v in bad.items() if v}


# --- the full report: CSV, xlsx and HTML ------------------------------------------------------

EVIL_SCENARIO = '=HYPERLINK("http://evil.example","click")'
SCRIPT_SCENARIO = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def evil_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("evil_report")
    text = (FIXTURES / "scenarios" / "small.yaml").read_text()
    text = text.replace("  extra_2_eps:", f"  {_yaml_quote(EVIL_SCENARIO)}:")
    text = text.replace("  early_help_minus_10pct:", f"  {_yaml_quote(SCRIPT_SCENARIO)}:")
    config = base / "evil.yaml"
    config.write_text(text)
    out = base / "report"
    mp = pytest.MonkeyPatch()
    mp.setenv("EHCP_CACHE_DIR", str(base / "cache"))
    try:
        code = main(["run", "--config", str(config), "--out", str(out), "--paths", "2",
                     "--data-dir", str(GOOD), "--no-progress"])
    finally:
        mp.undo()
    assert code == 0
    return out


def _yaml_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@pytest.mark.slow
def test_report_csv_tables_neutralise_scenario_names(evil_report: Path,
                                                     close_figures: None) -> None:
    tables = sorted((evil_report / "tables").glob("*.csv"))
    assert any("HYPERLINK" in p.read_text() for p in tables)
    bad = {p.name: formula_cells(p) for p in tables}
    assert not any(bad.values()), bad


@pytest.mark.slow
def test_report_workbook_has_no_formula_cells(evil_report: Path) -> None:
    import openpyxl

    book = openpyxl.load_workbook(evil_report / "report.xlsx")
    seen = False
    for sheet in book:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    seen |= "HYPERLINK" in cell.value
                    assert not cell.value.startswith(FORMULA_START), (sheet.title, cell.value)
    assert seen


@pytest.mark.slow
def test_report_html_escapes_scenario_names(evil_report: Path) -> None:
    html = (evil_report / "report.html").read_text()
    assert SCRIPT_SCENARIO not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
