"""The public functions forecast / cross_validation / simulate, fallbacks and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting import cross_validation, forecast, simulate
from forecasting.errors import EhcpError
from forecasting.forecast import resolve_measure


def _df(values: list[float], uid: str = "a", start: int = 2016) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": uid, "ds": range(start, start + len(values)), "y": values})


LEEDS = [636.0, 830, 1179, 953, 786, 803, 1284, 1497, 2313]


def test_forecast_columns_and_model_column() -> None:
    fc = forecast(_df(LEEDS), h=3, level=(80, 95), model="drift")
    assert list(fc.columns) == ["unique_id", "ds", "yhat", "lo_80", "hi_80", "lo_95", "hi_95",
                                "model"]
    assert fc["model"].unique().tolist() == ["drift"]
    assert fc["yhat"].iloc[0] == pytest.approx(2313 + (2313 - 636) / 8)


def test_level_argument_controls_the_columns() -> None:
    fc = forecast(_df(LEEDS), h=1, level=(50,), model="naive")
    assert [c for c in fc.columns if c.startswith(("lo_", "hi_"))] == ["lo_50", "hi_50"]


def test_too_short_series_fall_back_to_a_named_model() -> None:
    df = pd.concat([_df(LEEDS, "long"), _df([40.0, 44.0], "two", 2023), _df([7.0], "one", 2024)])
    fc = forecast(df, h=2, model="ets")
    used = fc.groupby("unique_id")["model"].first().to_dict()
    assert used == {"long": "ets", "two": "log_drift", "one": "naive"}
    assert fc["unique_id"].unique().tolist() == ["long", "one", "two"]  # sorted by series


def test_drop_to_zero_is_never_forecast_negative() -> None:
    fc = forecast(_df([50.0, 30.0, 10.0, 2.0]), h=5, model="drift")
    assert (fc[["yhat", "lo_80", "lo_95"]] >= 0).all().all()
    assert fc["yhat"].iloc[-1] == 0.0


@pytest.mark.parametrize(
    ("df", "match"),
    [
        (_df(LEEDS).drop(columns="y"), "lacks column.*y"),
        (_df([np.nan, np.nan]), "series 'a' has no values"),
        (_df([1.0, np.nan, 3.0]), "missing value at ds=2017"),
        (pd.concat([_df([1.0, 2.0]), _df([5.0], start=2017)]), "ds=2017 more than once"),
        (_df([1.0, 2.0, 3.0]).iloc[[0, 2]], "gap after ds=2016"),
        (_df([1.0, -2.0, 3.0]), "negative value at ds=2017"),
        (_df([]), "no rows"),
    ],
    ids=["no-y", "all-missing", "missing", "duplicate", "gap", "negative", "empty"],
)
def test_bad_history_is_a_clear_error(df: pd.DataFrame, match: str) -> None:
    with pytest.raises(EhcpError, match=match) as err:
        forecast(df, h=2, model="naive")
    assert err.value.field in ("y", "ds") and err.value.fix


@pytest.mark.parametrize("h", [0, -1, 1.5, True])
def test_bad_horizon(h: object) -> None:
    with pytest.raises(EhcpError, match="horizon h must be a whole number") as err:
        forecast(_df(LEEDS), h=h, model="naive")  # type: ignore[arg-type]
    assert err.value.field == "h"


def test_unknown_model_and_level() -> None:
    with pytest.raises(EhcpError, match="unknown model 'prohpet'"):
        forecast(_df(LEEDS), h=1, model="prohpet")
    with pytest.raises(EhcpError, match="interval level 100"):
        forecast(_df(LEEDS), h=1, level=(80, 100), model="naive")
    with pytest.raises(EhcpError, match="unknown model"):
        cross_validation(_df(LEEDS), h=1, models=["drift", "nope"])


def test_unknown_measure_name() -> None:
    assert resolve_measure("Requests") == "requests_received"
    with pytest.raises(EhcpError, match="unknown measure 'referals'"):
        resolve_measure("referals")


def test_cross_validation_layout_and_no_peeking() -> None:
    df = pd.concat([_df(LEEDS, "a"), _df([float(v) for v in range(10, 19)], "b")])
    cv = cross_validation(df, h=2, n_windows=3, models=["naive", "drift"], level=(80,))
    assert list(cv.columns[:4]) == ["unique_id", "ds", "cutoff", "y"]
    assert {"naive", "drift", "drift-lo-80", "drift-hi-80"} <= set(cv.columns)
    assert sorted(cv["cutoff"].unique().tolist()) == [2020, 2021, 2022]
    assert len(cv) == 2 * 3 * 2
    # Changing what happens after a cutoff cannot change that cutoff's forecasts.
    changed = df.assign(y=np.where(df["ds"] > 2020, df["y"] * 3, df["y"]))
    cv2 = cross_validation(changed, h=2, n_windows=3, models=["naive", "drift"])
    first = cv["cutoff"] == 2020
    np.testing.assert_allclose(cv.loc[first, "drift"], cv2.loc[cv2["cutoff"] == 2020, "drift"])


def test_cross_validation_with_explicit_cutoffs_scores_what_is_observed() -> None:
    cv = cross_validation(_df(LEEDS), h=3, cutoffs=[2022, 2023], models=["naive"])
    assert cv[["cutoff", "ds"]].to_numpy().tolist() == [[2022, 2023], [2022, 2024], [2023, 2024]]


def test_cross_validation_runs_in_two_processes_identically() -> None:
    df = pd.concat([_df(LEEDS, "a"), _df([float(v) for v in range(10, 19)], "b")])
    one = cross_validation(df, h=2, n_windows=2, models=["drift", "log_drift"])
    two = cross_validation(df, h=2, n_windows=2, models=["drift", "log_drift"], n_jobs=2)
    pd.testing.assert_frame_equal(one, two)


def test_too_many_windows_is_explained() -> None:
    with pytest.raises(EhcpError, match="need more than 9 periods"):
        cross_validation(_df(LEEDS), h=3, n_windows=8, models=["naive"])


def test_simulate_paths_are_reproducible_and_match_the_forecast() -> None:
    df = _df(LEEDS)
    a = simulate(df, h=3, n_paths=2000, seed=3, model="log_drift")
    b = simulate(df, h=3, n_paths=2000, seed=3, model="log_drift")
    pd.testing.assert_frame_equal(a, b)
    fc = forecast(df, h=3, level=(80,), model="log_drift")
    q = a.groupby("ds")["y"].quantile([0.1, 0.5, 0.9]).unstack()
    np.testing.assert_allclose(q[0.5], fc["yhat"], rtol=0.05)
    np.testing.assert_allclose(q[0.1], fc["lo_80"], rtol=0.08)
    np.testing.assert_allclose(q[0.9], fc["hi_80"], rtol=0.08)


def test_simulate_rejects_bad_path_counts() -> None:
    with pytest.raises(EhcpError, match="n_paths"):
        simulate(_df(LEEDS), h=2, n_paths=0, model="naive")


@settings(max_examples=25, deadline=None)
@given(values=st.lists(st.floats(0, 1e5), min_size=1, max_size=12),
       model=st.sampled_from(["naive", "drift", "damped_drift", "log_drift", "log_drift3"]))
def test_baselines_never_negative_and_widen(values: list[float], model: str) -> None:
    fc = forecast(_df(values), h=4, model=model)
    cols = ["yhat", "lo_80", "hi_80", "lo_95", "hi_95"]
    assert np.isfinite(fc[cols].to_numpy()).all() and (fc[cols] >= 0).all().all()
    # Wider with the horizon: in counts for the raw-scale models, in proportion (log scale) for
    # the log models, whose band may shrink in counts as a falling level falls.
    counts = np.diff(fc["hi_95"] - fc["lo_95"]) >= -1e-6
    ratio = np.diff(np.log1p(fc["hi_95"]) - np.log1p(fc["lo_95"])) >= -1e-9
    assert counts.all() or ratio.all() or fc["lo_95"].eq(0).any()


@pytest.mark.slow
def test_cli_forecast_and_backtest(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from forecasting.cli import main

    code = main(["forecast", "--la", "leeds", "--measure", "requests", "--h", "2",
                 "--model", "drift", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Leeds (E08000035): requests_received" in out and "2026" in out
    assert (tmp_path / "forecast_leeds_requests_received.png").stat().st_size > 10_000
    table = pd.read_csv(tmp_path / "forecast_leeds_requests_received.csv")
    assert table["ds"].tolist() == [2025, 2026] and (table["model"] == "drift").all()

    code = main(["backtest", "--measure", "stock", "--la", "Leeds", "--models", "naive,drift",
                 "--windows", "1", "--h", "1"])
    out = capsys.readouterr().out
    assert code == 0 and "stock_plans: backtest of 2 models over Leeds" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["forecast", "--la", "Leeds", "--measure", "referrals"], "unknown measure 'referrals'"),
        (["forecast", "--la", "Leeds", "--model", "lstm"], "unknown model 'lstm'"),
        (["forecast", "--la", "Leeds", "--h", "0"], "horizon h must be a whole number"),
    ],
)
def test_cli_bad_arguments_exit_2(args: list[str], message: str, capsys) -> None:  # type: ignore[no-untyped-def]
    from forecasting.cli import main

    assert main(args) == 2
    assert message in capsys.readouterr().err
