"""The synthetic generator: reproducible, labelled, and faithful to its calibration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.cli import main
from forecasting.data.caselevel import load_extract
from forecasting.data.caselevel_derived import open_caseload, timeliness_by_year
from forecasting.data.synthetic import (
    Calibration,
    calibration_from_panel,
    generate_synthetic,
    write_synthetic,
)
from forecasting.errors import EhcpError

ROOT = Path(__file__).resolve().parents[1]
LEEDS = ROOT / "data" / "synthetic" / "leeds_case_extract_synthetic.csv"

STEADY = Calibration("Steadyshire", {2020: 1500.0}, refusal_rate=0.2, not_issued_rate=0.03,
                     pct_within_20wk=40.0, pct_over_1yr=15.0, withdrawn_rate=0.02,
                     exception_rate=0.05)


@pytest.fixture(scope="module")
def steady() -> pd.DataFrame:
    """Four years at a flat 1,500 requests a year, so every issue year is in steady state."""
    return generate_synthetic(STEADY, start="2021-01-01", end="2024-12-31", seed=11)


def test_same_seed_same_frame_other_seed_other_frame() -> None:
    a = generate_synthetic(STEADY, start="2024-01-01", end="2024-06-30", seed=5)
    b = generate_synthetic(STEADY, start="2024-01-01", end="2024-06-30", seed=5)
    c = generate_synthetic(STEADY, start="2024-01-01", end="2024-06-30", seed=6)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_write_then_load_gives_the_same_frame(tmp_path: Path) -> None:
    df = generate_synthetic(STEADY, start="2024-01-01", end="2024-12-31", seed=3)
    path = write_synthetic(df, tmp_path, "Steadyshire", calibration=STEADY, seed=3)
    assert path.name == "steadyshire_case_extract_synthetic.csv"
    ext = load_extract(path, today="2024-12-31")
    pd.testing.assert_frame_equal(ext.frame, df)
    assert ext.rejects.empty
    assert ext.synthetic and ext.frame.attrs["synthetic"]
    meta = json.loads(path.with_name(path.stem + ".meta.json").read_text())
    assert meta["synthetic"] is True and meta["seed"] == 3
    assert meta["calibration"]["pct_within_20wk"] == 40.0
    assert meta["start"] == "2024-01-01" and meta["end"] == "2024-12-31"
    assert "generated_at" in meta and meta["calibration_source"] == "typed in by hand"


def test_yearly_volumes_match(steady: pd.DataFrame) -> None:
    inside = steady[steady["request_date"] >= "2021-01-01"]
    per_year = inside.groupby(inside["request_date"].dt.year).size()
    assert per_year.to_dict() == {2021: 1500, 2022: 1500, 2023: 1500, 2024: 1500}


def test_outcome_rates_match(steady: pd.DataFrame) -> None:
    # Requests from 2021-2023 have all been decided by the end of 2024.
    early = steady[steady["request_date"].between("2021-01-01", "2023-12-31")]
    assert early["decision"].notna().mean() > 0.99
    assert (early["decision"] == "not_assess").mean() == pytest.approx(0.2, abs=0.015)
    assert (early["decision"] == "withdrawn").mean() == pytest.approx(0.02, abs=0.006)
    done = early[early["final_date"].notna() | early["not_issued_date"].notna()]
    assert done["not_issued_date"].notna().mean() == pytest.approx(0.03, abs=0.01)
    assessed = early[early["decision"] == "assess"]
    assert assessed["exception"].mean() == pytest.approx(0.05, abs=0.012)


def test_timeliness_matches_calibration(steady: pd.DataFrame) -> None:
    by_year = timeliness_by_year(steady).set_index("year")
    for year in (2022, 2023, 2024):
        assert by_year.loc[year, "pct_within_20wk"] == pytest.approx(40.0, abs=4.0)
    issued = steady[steady["final_date"].dt.year.between(2022, 2024) & ~steady["exception"]]
    over = ((issued["final_date"] - issued["request_date"]).dt.days > 365).mean()
    assert 100 * over == pytest.approx(15.0, abs=4.0)


def test_term_time_seasonality(steady: pd.DataFrame) -> None:
    inside = steady[steady["request_date"] >= "2021-01-01"]
    monthly = inside.groupby(inside["request_date"].dt.month).size()
    assert monthly.idxmin() == 8
    assert monthly[10] > 2 * monthly[8]
    december = inside[inside["request_date"].dt.month == 12]
    per_day_early = (december["request_date"].dt.day <= 20).sum() / 20
    per_day_late = (december["request_date"].dt.day > 20).sum() / 11
    assert per_day_late < 0.5 * per_day_early


def test_open_cases_at_the_end_and_nothing_after_it(steady: pd.DataFrame) -> None:
    dates = steady.select_dtypes("datetime64[ns]")
    assert (dates.max() <= pd.Timestamp("2024-12-31")).all()
    open_ = open_caseload(steady, as_of="2024-12-31")
    assert len(open_) > 300
    assert set(open_["stage"]) == {"awaiting_decision", "awaiting_advice", "drafting",
                                   "finalising"}
    # Warm-up cases: requested before the start, still open on it.
    before = steady[steady["request_date"] < "2021-01-01"]
    assert len(before) > 0
    closed = pd.concat([
        before["decision_date"].where(before["decision"].isin(["not_assess", "withdrawn"])),
        before["final_date"], before["not_issued_date"]], axis=1).min(axis=1)
    assert (closed.isna() | (closed >= "2021-01-01")).all()


def test_mixes_cover_the_codes(steady: pd.DataFrame) -> None:
    assert steady["primary_need"].value_counts(normalize=True).idxmax() in {"ASD", "SLCN"}
    assert steady["age"].between(0, 25).all()
    under5 = steady[steady["age"] < 5]
    assert (under5["setting"] == "early_years").mean() > 0.7


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"refusal_rate": 1.2}, "refusal_rate"), ({"pct_within_20wk": 140.0}, "pct_within_20wk"),
     ({"requests_per_year": {}}, "requests_per_year"),
     ({"need_mix": {"ADHD": 1.0}}, "need_mix")],
)
def test_bad_calibration_is_a_user_error(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"la": "X", "requests_per_year": {2024: 10.0}, "refusal_rate": 0.2,
                               "not_issued_rate": 0.02, "pct_within_20wk": 50.0}
    args.update(kwargs)
    with pytest.raises(EhcpError) as err:
        Calibration(**args)  # type: ignore[arg-type]
    assert err.value.field == field


def _panel(rows: dict[tuple[str, int], tuple[float, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [("Testshire", "la", m, "all", yr, y, flag) for (m, yr), (y, flag) in rows.items()],
        columns=["name", "level", "measure", "breakdown", "ds", "y", "flag"],
    )


def test_calibration_from_panel_skips_implausible_and_pools_after_the_break() -> None:
    rows: dict[tuple[str, int], tuple[float, str]] = {}
    for yr, (req, ref, den, within) in {2021: (800, 100, 500, 450), 2022: (1000, 200, 400, 40),
                                        2023: (1200, 240, 600, 60)}.items():
        flag = "break_in_series" if yr == 2022 else ""
        rows |= {("requests_received", yr): (req, flag), ("requests_refused", yr): (ref, flag),
                 ("plans_issued_den", yr): (den, flag), ("plans_within_20wk", yr): (within, flag)}
    rows[("assessed_not_issued", 2023)] = (6000.0, "implausible;corrected:6000->6")
    cal = calibration_from_panel(_panel(rows), "TESTSHIRE", n_years=3)
    # 2021 is before the break, so the rates pool 2022-2023 only.
    assert cal.pct_within_20wk == pytest.approx(100 * 100 / 1000)
    assert cal.refusal_rate == pytest.approx(440 / 2200)
    assert cal.not_issued_rate == 0.03  # the only figure is implausible: default used
    assert cal.requests_per_year == {2021: 800.0, 2022: 1000.0, 2023: 1200.0}
    with pytest.raises(EhcpError, match="no local authority called 'Testshir'"):
        calibration_from_panel(_panel(rows), "Testshir")


def test_calibration_from_the_real_leeds_figures() -> None:
    data = pytest.importorskip("forecasting.data")
    if not hasattr(data, "load_panel"):
        pytest.skip("the SEN2 panel loader is not available")
    cal = calibration_from_panel(data.load_panel(), "Leeds")
    # DfE SEN2 2025 release, Leeds, calendar 2022-2024: requests.csv and
    # timeliness_20_week.csv (plans_issued_den 358/922/717, within 20 weeks 44/77/67,
    # over a year 324/410 for 2023/2024, refused 328/274/356, requests 1284/1497/2313).
    assert cal.requests_per_year[2024] == 2313
    assert cal.pct_within_20wk == pytest.approx(100 * (44 + 77 + 67) / (358 + 922 + 717))
    assert cal.refusal_rate == pytest.approx((328 + 274 + 356) / (1284 + 1497 + 2313))
    assert cal.pct_over_1yr == pytest.approx(100 * (324 + 410) / (922 + 717))


def test_committed_leeds_extract_is_labelled_and_reproducible() -> None:
    meta = json.loads(LEEDS.with_name(LEEDS.stem + ".meta.json").read_text())
    assert meta["synthetic"] is True and "synthetic" in LEEDS.name
    ext = load_extract(LEEDS, today=meta["end"])
    assert ext.synthetic and ext.rejects.empty and bool(ext.frame["synthetic"].all())
    cal_args = dict(meta["calibration"])
    cal_args["requests_per_year"] = {int(k): v for k, v in cal_args["requests_per_year"].items()}
    again = generate_synthetic(Calibration(**cal_args), start=meta["start"], end=meta["end"],
                               seed=meta["seed"], warmup_years=meta["warmup_years"])
    pd.testing.assert_frame_equal(ext.frame, again)
    # four calendar years (2021-2024) so notebook 04 has enough months for a seasonal forecast
    assert LEEDS.stat().st_size < 1_000_000


def test_cli_synth_writes_labelled_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    data = pytest.importorskip("forecasting.data")
    if not hasattr(data, "load_panel"):
        pytest.skip("the SEN2 panel loader is not available")
    out = tmp_path / "out"
    status = main(["cases", "synth", "--la", "Leeds", "--out", str(out), "--seed", "1",
                   "--start", "2024-10-01", "--end", "2024-12-31"])
    assert status == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [
        "leeds_case_extract_synthetic.csv", "leeds_case_extract_synthetic.meta.json"]
    assert "SYNTHETIC" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "words"),
    [(["--la", "Leedz"], "'Leedz'"),
     (["--la", "Leeds", "--start", "2024-13-01"], "'2024-13-01' is not a date")],
)
def test_cli_synth_bad_input_writes_nothing(
    args: list[str], words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["cases", "synth", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not out.exists()


def test_empty_period_gives_an_empty_labelled_frame() -> None:
    cal = Calibration("Tiny", {2024: 0.0}, refusal_rate=0.2, not_issued_rate=0.0,
                      pct_within_20wk=50.0)
    df = generate_synthetic(cal, start="2024-01-01", end="2024-01-31", seed=0)
    assert df.empty and df.attrs["synthetic"] and np.dtype(df["synthetic"].dtype) == bool
