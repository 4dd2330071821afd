"""Stacked weights for ``auto``: the convex combination with the lowest backtest MASE."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.backtest import evaluate
from forecasting.errors import EhcpError
from forecasting.forecast import cross_validation
from forecasting.models.ensemble import (
    AutoEnsemble,
    backtest_auto,
    choose_weights,
    default_weighting,
    select,
    stack_weights,
)


def _table(seed: int = 0, n: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A backtest table whose outcome is exactly 0.7 * low + 0.3 * high."""
    rng = np.random.default_rng(seed)
    hist = pd.DataFrame({"unique_id": np.repeat([f"s{i}" for i in range(n)], 3),
                         "ds": np.tile([2020, 2021, 2022], n),
                         "y": rng.uniform(50, 150, 3 * n)})
    low = rng.uniform(80, 120, n)
    high = low + rng.uniform(5, 40, n)
    cv = pd.DataFrame({"unique_id": [f"s{i}" for i in range(n)], "ds": 2023, "cutoff": 2022,
                       "low": low, "high": high, "far": low * 3})
    cv["y"] = 0.7 * low + 0.3 * high
    return cv, hist


def test_recovers_the_mixture_that_made_the_outcome() -> None:
    cv, hist = _table()
    w = stack_weights(cv, hist, ["low", "high", "far"])
    assert set(w) == {"low", "high"}
    assert w["low"] == pytest.approx(0.7, abs=1e-6) and w["high"] == pytest.approx(0.3, abs=1e-6)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_stacked_mase_is_never_worse_than_any_single_candidate(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cv, hist = _table(seed)
    cv = cv.assign(y=cv["y"] * rng.lognormal(0, 0.1, len(cv)))
    models = ["low", "high", "far"]
    w = stack_weights(cv, hist, models)
    assert sum(w.values()) == pytest.approx(1.0) and min(w.values()) >= 0.01
    combined = sum(cv[m] * v for m, v in w.items())
    scores = evaluate(cv.assign(stack=combined), hist, [*models, "stack"], level=())
    mase = scores.groupby("model")["ase"].mean()
    # Dropping weights under 1% may cost a hair; never more than that.
    assert mase["stack"] <= mase[models].min() * 1.01


def test_choose_weights_stacks_the_top_k_and_refuses_an_unknown_weighting() -> None:
    cv, hist = _table()
    w = choose_weights(cv, hist, ["far", "low", "high"], top_k=2, weighting="stack")
    assert set(w) == {"low", "high"}
    assert w["low"] == pytest.approx(0.7, abs=1e-6)
    assert stack_weights(cv, hist, ["low"]) == {"low": 1.0}
    with pytest.raises(EhcpError, match="weighting"):
        choose_weights(cv, hist, ["low"], weighting="median")


def test_stacked_backtest_equals_refitting_the_ensemble(growing_panel: pd.DataFrame) -> None:
    hist = growing_panel
    cands = ("naive", "drift", "log_drift")
    cv = cross_validation(hist, h=2, cutoffs=[2019, 2020, 2021, 2022], models=cands, level=(80,))
    fast = backtest_auto(cv, hist, [2022], cands, top_k=3, min_obs=3, level=(80,),
                         weighting="stack")
    model = AutoEnsemble(candidates=cands, top_k=3, horizon=2, min_obs=3, weighting="stack")
    slow = model.fit(hist[hist["ds"] <= 2022]).predict(2, level=(80,))
    np.testing.assert_allclose(fast.sort_values(["unique_id", "ds"])["auto"], slow["yhat"])
    assert model.weighting_ == "stack"
    # The weights are the linear programme's, not inverse MASE's (which gives each of the
    # three a share): the comparison above would hold for either.
    assert model.weights_ == {"drift": 1.0}


def test_stacking_never_uses_outcomes_after_the_origin(growing_panel: pd.DataFrame) -> None:
    hist = growing_panel
    cands = ("naive", "drift", "log_drift")
    cv = cross_validation(hist, h=2, cutoffs=[2019, 2020, 2021], models=cands)
    w1, _ = select(cv, hist, 2022, cands, min_obs=3, weighting="stack")
    wrecked = cv.assign(y=np.where(cv["ds"] > 2022, 0.0, cv["y"]))
    w2, _ = select(wrecked, hist, 2022, cands, min_obs=3, weighting="stack")
    assert w1 == w2


def test_new_plans_are_stacked_and_other_measures_are_not(growing_panel: pd.DataFrame) -> None:
    assert default_weighting(pd.DataFrame(columns=["unique_id", "ds", "y", "requests"])) == "stack"
    stock = pd.DataFrame(columns=["unique_id", "ds", "y", "new_plans_prev", "requests_prev"])
    assert default_weighting(stock) == "inverse_mase"
    model = AutoEnsemble(candidates=("naive", "drift")).fit(growing_panel)
    assert model.weighting_ == "inverse_mase"
