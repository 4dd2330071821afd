"""Report tables, charts and writers: percentiles, FY tables, neutralising, atomic folders."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from forecasting.costs import CostsConfig
from forecasting.errors import EhcpError
from forecasting.reporting import charts
from forecasting.reporting.bundle import Chart, ReportBundle, Table, write_report
from forecasting.reporting.html import render_html
from forecasting.reporting.outputs import atomic_output_dir, neutralise
from forecasting.reporting.tables import (
    BANDS,
    backlog_by_fy,
    cost_by_fy,
    fte_by_fy,
    percentile_bands,
    timeliness_by_fy,
)

COSTS = CostsConfig.model_validate({
    "price_base_fy": "2025-26",
    "roles": {"ep": {"grades": {"a": {"salary_gbp": 70000}}},
              "caseworker": {"grades": {"a": {"salary_gbp": 40000}}}},
    "locum": {"ep_day_rate_gbp": 481},
})


def fake_weekly(scenarios=("baseline", "=cmd()"), n_paths=5, weeks=70, seed=0) -> pd.DataFrame:
    """Simulator-shaped weekly rows (report column names) with known structure."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2025-04-06", periods=weeks, freq="7D")
    rows = []
    for k, scen in enumerate(scenarios):
        for p in range(n_paths):
            issued = rng.integers(5, 15, size=weeks)
            frame = pd.DataFrame({"scenario": scen, "sample_id": p, "ds": ds,
                                  "plans_issued_ex": issued,
                                  "plans_within_20wk_ex": (issued * (0.3 + 0.1 * k)).round(),
                                  "reviews_overdue": rng.integers(0, 9, size=weeks).astype(float),
                                  "ep_fte": 10.0 + k, "caseworker_fte": 30.0, "locum_hours": 20.0})
            for i, b in enumerate(BANDS):
                frame[b] = rng.poisson(10 + i + p, size=weeks).astype(float)
            rows.append(frame)
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def weekly() -> pd.DataFrame:
    return fake_weekly()


def test_percentiles_are_computed_across_paths(weekly: pd.DataFrame) -> None:
    bands = percentile_bands(weekly, ["late_0_4"], q=(10, 50, 90))
    first = weekly.loc[(weekly["scenario"] == "baseline") & (weekly["ds"] == weekly["ds"].min()), "late_0_4"]
    row = bands.iloc[0]
    assert row["p50"] == pytest.approx(np.percentile(first, 50))
    assert row["p10"] <= row["p50"] <= row["p90"]
    assert len(bands) == weekly.groupby(["scenario", "ds"]).ngroups


def test_fy_tables_have_typed_period_headers_and_config_order(weekly: pd.DataFrame) -> None:
    backlog = backlog_by_fy(weekly)
    assert backlog.columns.tolist() == [
        "scenario", "band", "FY 2025-26 (cases at year end, p50)",
        "FY 2026-27 (cases at year end, p50, part year)"]
    assert backlog["scenario"].iloc[0] == "baseline"  # config order, not alphabetical
    assert backlog["band"].tolist()[:7] == [
        "not yet due", "0-4 weeks late", "4-13 weeks late", "13-26 weeks late",
        "26-52 weeks late", "over 52 weeks late", "annual reviews overdue"]
    # Year-end value = median across paths in the FY's last week (2026-03-29).
    last = weekly.loc[(weekly["ds"] == "2026-03-29") & (weekly["scenario"] == "baseline")]
    assert backlog.iloc[1, 2] == pytest.approx(last["late_0_4"].median())

    timely = timeliness_by_fy(weekly, q=(10, 50, 90))
    assert timely["statistic"].tolist()[:3] == ["p10", "p50", "p90"]
    fy = weekly.loc[(weekly["ds"] < "2026-04-01") & (weekly["scenario"] == "baseline")]
    per_path = fy.groupby("sample_id")[["plans_within_20wk_ex", "plans_issued_ex"]].sum()
    pct = 100 * per_path["plans_within_20wk_ex"] / per_path["plans_issued_ex"]
    assert timely.iloc[1]["FY 2025-26 (% within 20 weeks)"] == pytest.approx(pct.median())

    fte = fte_by_fy(weekly)
    assert fte.iloc[0]["FY 2025-26 (average, p50)"] == 10.0
    cost = cost_by_fy(weekly, {"baseline": COSTS, "=cmd()": COSTS})
    total = cost.loc[(cost["scenario"] == "baseline") & (cost["line"] == "total")]
    weeks = (weekly.loc[weekly["scenario"] == "baseline", "ds"] < "2026-04-01").sum() / 5
    expected = weeks * 7 / 365.25 * (10 * 70000 + 30 * 40000) + weeks * 20 * 481 / 7.4
    assert total["FY 2025-26 (£, mean across paths)"].iloc[0] == pytest.approx(expected)


def test_cost_needs_each_scenarios_costs(weekly: pd.DataFrame) -> None:
    with pytest.raises(EhcpError, match="no costs for scenario"):
        cost_by_fy(weekly, {"baseline": COSTS})


def _bundle(weekly: pd.DataFrame) -> ReportBundle:
    timely = timeliness_by_fy(weekly)
    backlog = backlog_by_fy(weekly)
    bands = percentile_bands(weekly, list(BANDS))
    return ReportBundle(
        title="Test report <script>alert(1)</script>", run_id="r1",
        metadata={"LA": "@Leeds"},
        headline=[("Requests", "2,313")],
        tables=[Table("timeliness_by_fy", "Timeliness", timely),
                Table("backlog_by_fy", "Backlog", backlog, synthetic=True)],
        charts=[Chart("timeliness", "Timeliness", charts.plot_timeliness(timely, target=60)),
                Chart("backlog_bands", "Backlog", charts.plot_backlog_bands(bands, synthetic=True),
                      synthetic=True)],
        sources=["DfE SEN2 (OGL v3.0)"], assumptions=["-10% demand from 2026"],
    )


def test_report_files_neutralise_formula_text(weekly: pd.DataFrame, tmp_path: Path, close_figures: None) -> None:
    out = write_report(_bundle(weekly), tmp_path / "run")
    csv = (out / "tables" / "backlog_by_fy.csv").read_text()
    assert "'=cmd()" in csv and "\n=cmd()" not in csv
    parquet = pd.read_parquet(out / "tables" / "backlog_by_fy.parquet")
    assert "'=cmd()" in set(parquet["scenario"])
    wb = load_workbook(out / "report.xlsx")
    assert wb.sheetnames == ["About", "timeliness_by_fy", "backlog_by_fy"]
    texts = [c.value for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert not [t for t in texts if t.startswith(("=", "+", "-", "@"))]
    assert "'@Leeds" in texts and "'-10% demand from 2026" in texts
    assert not any(c.data_type == "f" for ws in wb for row in ws.iter_rows() for c in row)


def test_workbook_numbers_equal_the_csv(weekly: pd.DataFrame, tmp_path: Path, close_figures: None) -> None:
    out = write_report(_bundle(weekly), tmp_path / "run")
    wb = load_workbook(out / "report.xlsx")
    for name in ("timeliness_by_fy", "backlog_by_fy"):
        csv = pd.read_csv(out / "tables" / f"{name}.csv")
        ws = wb[name]
        rows = list(ws.iter_rows(min_row=3, values_only=True))
        assert list(rows[0]) == csv.columns.tolist()
        sheet = pd.DataFrame(rows[1:], columns=rows[0])
        for col in csv.columns:
            if pd.api.types.is_numeric_dtype(csv[col]):
                np.testing.assert_allclose(sheet[col].astype(float), csv[col], rtol=1e-12)
            else:
                assert sheet[col].tolist() == csv[col].tolist()


def test_html_is_self_contained_and_escaped(weekly: pd.DataFrame, close_figures: None) -> None:
    html = render_html(_bundle(weekly))
    assert "<script" not in html.lower()
    assert "&lt;script&gt;" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "@import" not in html and "url(" not in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 2
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert html.count("SYNTHETIC") >= 3  # banner, chart badge, table badge


def test_atomic_folder_never_half_written(tmp_path: Path) -> None:
    target = tmp_path / "run"
    with pytest.raises(RuntimeError), atomic_output_dir(target) as tmp:
        (tmp / "half.csv").write_text("a")
        raise RuntimeError("disk full")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # the temporary folder was removed too


def test_existing_folder_needs_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.txt").write_text("keep")
    with pytest.raises(EhcpError, match="already exists") as err, atomic_output_dir(target):
        pass
    assert "--overwrite" in str(err.value)
    assert (target / "old.txt").read_text() == "keep"
    with atomic_output_dir(target, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize("text", ["=1+1", "+44 113", "-2", "@SUM(A1)", "\t=x"])
def test_neutralise_prefixes_formula_starts(text: str) -> None:
    assert neutralise(text) == "'" + text
    assert neutralise("Leeds") == "Leeds" and neutralise(-2.0) == -2.0


def _scenario_with_extract(path: Path | None):
    from types import SimpleNamespace

    initial = SimpleNamespace(extract=path)
    return SimpleNamespace(capacity=SimpleNamespace(demand=SimpleNamespace(initial=initial)))


def test_synthetic_extracts_are_detected_and_labelled(weekly: pd.DataFrame, tmp_path: Path,
                                                     close_figures: None) -> None:
    from forecasting.reporting.build import synthetic_inputs

    real = tmp_path / "leeds_extract.csv"
    real.write_text("case_id\n")
    fake = tmp_path / "cases.csv"
    fake.write_text("case_id\n")
    (tmp_path / "cases.meta.json").write_text('{"synthetic": true}')
    assert synthetic_inputs([_scenario_with_extract(None), _scenario_with_extract(real)]) == []
    assert synthetic_inputs([_scenario_with_extract(fake)] * 2) == [str(fake)]

    out = write_report(_bundle(weekly), tmp_path / "run")
    wb = load_workbook(out / "report.xlsx")
    assert wb["backlog_by_fy"]["A1"].value.endswith("(SYNTHETIC)")
    assert not wb["timeliness_by_fy"]["A1"].value.endswith("(SYNTHETIC)")
    assert "SYNTHETIC" in [c.value for c in wb["About"]["A"]]


def test_failed_swap_puts_the_old_report_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    target = tmp_path / "run"
    target.mkdir()
    (target / "old.txt").write_text("keep")
    real = os.replace

    def fail_into_target(src, dst):
        if Path(dst) == target and ".old-" not in str(src):
            raise OSError("rename failed")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", fail_into_target)
    with pytest.raises(OSError, match="rename failed"), atomic_output_dir(target, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert (target / "old.txt").read_text() == "keep"


def test_full_disk_is_a_user_error_naming_the_folder(tmp_path: Path) -> None:
    import errno
    import os

    target = tmp_path / "run"
    with pytest.raises(EhcpError, match="No space left") as err, atomic_output_dir(target):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert err.value.file == str(target)
    assert list(tmp_path.iterdir()) == []
