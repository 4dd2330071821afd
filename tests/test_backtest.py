"""Backtest scoring, the auto ensemble's backtest, and the frozen accuracy-regression check."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from forecasting.backtest import evaluate, leaderboard
from forecasting.errors import EhcpError
from forecasting.forecast import cross_validation, forecast
from forecasting.models.ensemble import AutoEnsemble, backtest_auto, select


def test_evaluate_scales_by_the_history_up_to_each_cutoff(growing_panel: pd.DataFrame) -> None:
    hist = growing_panel
    cv = cross_validation(hist, h=2, n_windows=2, models=["naive"], level=(80,))
    err = evaluate(cv, hist, level=(80,))
    row = err[(err["unique_id"] == "a") & (err["cutoff"] == 2021) & (err["horizon"] == 1)].iloc[0]
    a = hist.loc[hist["unique_id"] == "a", "y"].to_numpy()
    scale = np.mean(np.abs(np.diff(a[:6])))
    assert row["ase"] == pytest.approx(abs(175 - 160) / scale)
    assert set(err["horizon"]) == {1, 2}
    assert {"in_80", "spl", "sape", "sse"} <= set(err.columns)


def test_leaderboard_by_model_and_horizon(growing_panel: pd.DataFrame) -> None:
    hist = growing_panel
    cv = cross_validation(hist, h=2, n_windows=3, models=["naive", "drift"], level=(80, 95))
    board = leaderboard(evaluate(cv, hist), by=["model", "horizon"])
    assert list(board.columns[:2]) == ["model", "horizon"]
    assert {"mase", "rmsse", "smape", "coverage_80", "coverage_95", "crps", "n"} <= set(board.columns)
    # On steadily growing series, drift beats naive at every horizon.
    pivot = board.pivot(index="horizon", columns="model", values="mase")
    assert (pivot["drift"] < pivot["naive"]).all()


def test_evaluate_names_a_missing_column(growing_panel: pd.DataFrame) -> None:
    with pytest.raises(EhcpError, match="lacks column"):
        evaluate(pd.DataFrame({"unique_id": ["a"], "ds": [2020]}), growing_panel)


def test_backtest_auto_equals_refitting_the_ensemble(growing_panel: pd.DataFrame) -> None:
    hist = growing_panel
    cands = ("naive", "drift", "log_drift")
    cv = cross_validation(hist, h=2, cutoffs=[2019, 2020, 2021, 2022], models=cands, level=(80,))
    fast = backtest_auto(cv, hist, [2022], cands, top_k=2, min_obs=3, level=(80,))
    model = AutoEnsemble(candidates=cands, top_k=2, horizon=2, min_obs=3)
    slow = model.fit(hist[hist["ds"] <= 2022]).predict(2, level=(80,))
    np.testing.assert_allclose(fast.sort_values(["unique_id", "ds"])["auto"], slow["yhat"])
    np.testing.assert_allclose(fast.sort_values(["unique_id", "ds"])["auto-hi-80"], slow["hi_80"])


def test_select_never_uses_outcomes_after_the_origin(growing_panel: pd.DataFrame) -> None:
    hist = growing_panel
    cands = ("naive", "drift")
    cv = cross_validation(hist, h=2, cutoffs=[2019, 2020, 2021], models=cands)
    w1, _ = select(cv, hist, 2022, cands, min_obs=3)
    wrecked = cv.assign(y=np.where(cv["ds"] > 2022, 0.0, cv["y"]))
    w2, _ = select(wrecked, hist, 2022, cands, min_obs=3)
    assert w1 == w2


def test_short_history_uses_the_documented_prior(growing_panel: pd.DataFrame) -> None:
    hist = growing_panel
    hist = hist[hist["ds"] >= 2021]  # four years: no informative window
    model = AutoEnsemble(candidates=("naive", "drift", "global", "global_last")).fit(hist)
    assert model.weights_ == {"global": 0.5, "global_last": 0.5}
    fc = forecast(hist, h=2, model="auto")
    assert (fc["model"] == "auto").all()


@pytest.mark.slow
def test_accuracy_has_not_regressed(fixtures_dir) -> None:  # type: ignore[no-untyped-def]
    """A frozen 15-LA subset (made by tests/fixtures/forecast/make_fixture.py) must score no
    worse than the committed golden MASE (2% tolerance) and keep 80% coverage within 10 points."""
    import importlib.util

    folder = fixtures_dir / "forecast"
    spec = importlib.util.spec_from_file_location("make_fixture", folder / "make_fixture.py")
    assert spec is not None and spec.loader is not None
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    fixture = pd.read_csv(folder / "sen2_15las.csv")
    golden = json.loads((folder / "golden_scores.json").read_text())
    now = maker.scores(fixture)
    for measure, models in golden.items():
        for model, want in models.items():
            got = now[measure][model]
            assert got["mase"] <= want["mase"] * 1.02 + 1e-6, (measure, model, got, want)
            assert abs(got["coverage_80"] - want["coverage_80"]) <= 10, (measure, model, got)
