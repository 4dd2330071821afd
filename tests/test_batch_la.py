"""The real per-LA task on a small cut of the SEN2 panel: forecasts, backtests, saved models,
capacity scenarios, the national summary and the history of vintages."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from forecasting.batch import run_batch
from forecasting.batch_config import BatchConfig, result_settings
from forecasting.batch_la import SCENARIO_METRICS, la_task, make_inputs, scale_capacity
from forecasting.batch_main import headline_actuals
from forecasting.batch_summary import national_summary
from forecasting.errors import EhcpError
from forecasting.persist import load_model
from forecasting.store import RunStore, ds_from_store
from forecasting.store_history import forecast_history, history_summary

FIXTURES = Path(__file__).parent / "fixtures"
LEEDS, YORK, RUTLAND = "E08000035", "E06000014", "E06000017"
CHEAP = {"forecast": {"measures": ["requests_received", "stock_plans"], "horizon": 3,
                      "model": "drift"},
         "backtest": {"h": 1, "n_windows": 2, "models": ["naive", "drift"]}}


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """Leeds, York, Rutland, Yorkshire and The Humber, England: 2016-2024 headline rows."""
    return pd.read_csv(FIXTURES / "batch" / "panel_small.csv")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, panel: pd.DataFrame) -> Path:
    """Two vintages in one store: data to 2022 (backfilled) and to 2024, three LAs + upper."""
    root = tmp_path_factory.mktemp("batch")
    with RunStore(root / "runs.duckdb") as store:
        for quarter, end in (("2022Q4", 2022), ("2024Q4", None)):
            cfg = BatchConfig(quarter=quarter, history_end=end, include_national=end is None,
                              **CHEAP)
            # The backfilled vintage only needs York (the history test); the latest all three.
            inputs = make_inputs(panel, cfg, [LEEDS, YORK, RUTLAND] if end is None else [YORK])
            run_batch(inputs, la_task, store, quarter=quarter, data_checksum="fixture",
                      config=result_settings(cfg), run_id=quarter, out_dir=root / "reports",
                      models_dir=root / "models")
    return root


def test_inputs_hold_only_each_las_rows(panel: pd.DataFrame) -> None:
    inputs = make_inputs(panel, BatchConfig(), [YORK])
    assert [(i.la, i.level) for i in inputs] == [
        ("E12000003", "regional"), ("E92000001", "national"), (YORK, "la")]
    assert set(inputs[-1].data["unique_id"]) == {YORK}
    assert inputs[-1].la_name == "York"
    with pytest.raises(EhcpError, match="no SEN2 data for LA code"):
        make_inputs(panel, BatchConfig(), ["E00000000"])


def test_backfilled_vintage_uses_data_to_its_end(panel: pd.DataFrame) -> None:
    (inp,) = make_inputs(panel, BatchConfig(history_end=2020, include_national=False), [YORK])
    assert inp.data["ds"].max() == 2020


def test_task_forecasts_backtests_and_saves_models(run_dir: Path) -> None:
    with RunStore(run_dir / "runs.duckdb", read_only=True) as store:
        tasks = store.table("tasks", run_id="2024Q4")
        assert (tasks["status"] == "done").all() and len(tasks) == 5  # 3 LAs, region, England
        assert {"forecast", "backtest"} <= set(json.loads(tasks["timings"].iloc[0]))
        fc = store.table("forecasts", run_id="2024Q4", la=YORK)
        scores = store.table("backtest_scores", run_id="2024Q4", la=YORK)
    assert sorted(fc["measure"].unique()) == ["requests_received", "stock_plans"]
    assert ds_from_store(fc["ds"], "year").unique().tolist() == [2025, 2026, 2027]
    assert (fc["lo_95"] <= fc["lo_80"]).all() and (fc["hi_80"] <= fc["hi_95"]).all()
    assert {"mase", "coverage_80"} <= set(scores["metric"])
    # The saved model forecasts again, without refitting, exactly what the store holds.
    model = load_model(run_dir / "models" / "2024Q4" / YORK / "requests_received.json")
    again = model.predict(3, level=(80, 95))
    stored = fc[fc["measure"] == "requests_received"]
    assert again["yhat"].tolist() == pytest.approx(stored["yhat"].tolist(), rel=1e-12)
    assert again["hi_95"].tolist() == pytest.approx(stored["hi_95"].tolist(), rel=1e-12)
    written = pd.read_csv(run_dir / "reports" / "2024Q4" / YORK / "forecasts.csv")
    assert len(written) == len(fc)


def test_history_joins_vintage_with_later_actuals(run_dir: Path, panel: pd.DataFrame) -> None:
    with RunStore(run_dir / "runs.duckdb", read_only=True) as store:
        hist = forecast_history(store, headline_actuals(panel), la=YORK,
                                measure="requests_received")
    # Only the 2022 vintage has forecasts whose actuals (2023, 2024) have arrived.
    assert hist["quarter"].unique().tolist() == ["2022Q4"]
    assert hist["ds"].tolist() == [2023, 2024]
    actual = panel[(panel["unique_id"] == YORK) & (panel["measure"] == "requests_received")
                   & panel["ds"].isin([2023, 2024])]["y"].tolist()
    assert hist["actual"].tolist() == actual
    assert hist["error"].tolist() == pytest.approx((hist["actual"] - hist["yhat"]).tolist())
    inside = (hist["actual"] >= hist["lo_80"]) & (hist["actual"] <= hist["hi_80"])
    assert hist["inside_80"].tolist() == inside.tolist()
    summ = history_summary(hist)
    assert summ["n"].tolist() == [2]


def test_national_summary_ranks_las_without_scenarios(run_dir: Path, panel) -> None:
    with RunStore(run_dir / "runs.duckdb", read_only=True) as store:
        out = national_summary(store, "2024Q4", headline_actuals(panel))
    upper = out["england_regions"]
    assert set(upper["level"]) == {"national", "regional"}
    rank = out["la_ranking"]
    assert sorted(rank["la"]) == sorted([LEEDS, YORK, RUTLAND])
    assert rank["ranked_by"].iloc[0].startswith("projected requests growth")
    # Rank 1 is the LA with the biggest projected growth of requests.
    top = rank.loc[rank["rank_backlog_growth"] == 1, "requests_growth_pct"].iloc[0]
    assert top == rank["requests_growth_pct"].max()
    assert out["failed"].empty


def test_capacity_template_is_scaled_by_plans() -> None:
    from forecasting.scenarios import load_scenarios

    base = load_scenarios(FIXTURES / "scenarios" / "small.yaml").baseline.capacity
    half = scale_capacity(base, plans=base.demand.stock.plans_at_start / 2, late_share=0.9)
    assert half.staff.ep.fte[0].fte == pytest.approx(base.staff.ep.fte[0].fte / 2)
    assert half.staff.caseworker.fte[0].fte == pytest.approx(base.staff.caseworker.fte[0].fte / 2)
    assert half.demand.initial.share_late == 0.9


@pytest.mark.slow
def test_scenarios_are_simulated_for_las_only(panel: pd.DataFrame) -> None:
    text = (FIXTURES / "scenarios" / "small.yaml").read_text()
    cfg = BatchConfig(scenarios={"n_paths": 4, "names": ["baseline", "extra_2_eps"]}, **CHEAP)
    inputs = make_inputs(panel, cfg, [RUTLAND], scenario_yaml=text)
    results = {i.la: la_task(i) for i in inputs}
    assert "scenario_summaries" not in results["E92000001"].tables
    scen = results[RUTLAND].tables["scenario_summaries"]
    assert sorted(scen["scenario"].unique()) == ["baseline", "extra_2_eps"]
    assert set(scen["metric"]) == set(SCENARIO_METRICS)
    wide = scen.pivot(index="scenario", columns="metric", values="value")
    assert (wide["n_paths"] == 4).all()
    # Same seed, same demand: extra EPs cannot make the end backlog worse on average here.
    assert wide.loc["extra_2_eps", "backlog_end"] <= wide.loc["baseline", "backlog_end"] + 1e-9


@pytest.mark.slow
def test_scenarios_set_aside_dispute_hours_as_ehcp_run(panel: pd.DataFrame) -> None:
    import yaml

    text = (FIXTURES / "scenarios" / "small.yaml").read_text()
    data = yaml.safe_load(text)
    data.setdefault("pipeline", {})["disputes"] = {
        "tribunal": {"refusals": 0.5, "plans": 0.5, "reviews": 0.5},
        "tribunal_hours": {"caseworker": 40, "ep": 20}}
    cfg = BatchConfig(scenarios={"n_paths": 3, "names": ["baseline"]}, **CHEAP)

    def backlog(scenario_yaml: str) -> float:
        inp = next(i for i in make_inputs(panel, cfg, [RUTLAND], scenario_yaml=scenario_yaml)
                   if i.la == RUTLAND)
        scen = la_task(inp).tables["scenario_summaries"]
        return float(scen.loc[scen["metric"] == "backlog_end", "value"].iloc[0])

    # Same seed and demand: the hours set aside for appeals leave less for assessments.
    assert backlog(yaml.safe_dump(data)) > backlog(text)


def test_missing_year_uses_latest_unbroken_run_and_says_so(panel: pd.DataFrame) -> None:
    cfg = BatchConfig(include_national=False, **CHEAP)
    (inp,) = make_inputs(panel, cfg, [YORK])
    gap = inp.data[~((inp.data["measure"] == "requests_received") & (inp.data["ds"] == 2020))]
    result = la_task(type(inp)(inp.la, gap, inp.params, inp.seed, inp.la_name))
    assert result.extras["notes"] == [
        "requests_received: no figure for 2020-2020; used 2021-2024 only"]
    fc = result.tables["forecasts"]
    assert (fc["measure"] == "requests_received").sum() == 3


def test_unknown_model_or_measure_is_refused_when_the_config_is_read() -> None:
    from forecasting.batch_config import load_batch_config

    with pytest.raises(EhcpError, match=r"field 'forecast.model'.*crystal_ball"):
        load_batch_config(None, forecast={"model": "crystal_ball"})
    with pytest.raises(EhcpError, match=r"field 'backtest.models'.*crystal_ball"):
        load_batch_config(None, backtest={"models": ["naive", "crystal_ball"]})
    with pytest.raises(EhcpError, match=r"field 'forecast.measures'.*happiness"):
        load_batch_config(None, forecast={"measures": ["happiness"]})


def test_summary_csvs_neutralise_formula_names(tmp_path: Path) -> None:
    from forecasting.batch_summary import write_national_summary

    evil = pd.DataFrame({"la": ["E1"], "la_name": ['=HYPERLINK("http://x","y")'],
                         "backlog_growth": [-3.0]})
    out = write_national_summary({"la_ranking": evil}, tmp_path)
    back = pd.read_csv(out / "la_ranking.csv")
    assert back["la_name"].iloc[0].startswith("'=") and back["backlog_growth"].iloc[0] == -3.0


def test_cost_grows_with_plans_paths_and_scenarios(panel: pd.DataFrame) -> None:
    text = (FIXTURES / "scenarios" / "small.yaml").read_text()
    las = [RUTLAND, YORK, LEEDS]
    one = BatchConfig(scenarios={"n_paths": 100, "names": ["baseline"]}, **CHEAP)
    two = BatchConfig(scenarios={"n_paths": 200, "names": ["baseline", "extra_2_eps"]}, **CHEAP)
    cost1 = {i.la: i.cost for i in make_inputs(panel, one, las, scenario_yaml=text)}
    cost2 = {i.la: i.cost for i in make_inputs(panel, two, las, scenario_yaml=text)}
    plans = panel[(panel["measure"] == "stock_plans") & (panel["breakdown"] == "all")]
    latest = plans.sort_values("ds").groupby("unique_id")["y"].last()
    assert latest[RUTLAND] < latest[YORK] < latest[LEEDS]
    assert cost1[RUTLAND] < cost1[YORK] < cost1[LEEDS]
    fixed = 2 * 0.15  # two measures forecast and backtested, no scenario work
    for la in las:
        # Twice the paths and twice the scenarios: four times the scenario work.
        assert cost2[la] - fixed == pytest.approx(4 * (cost1[la] - fixed))
    # England and the regions run no scenarios: only their forecasts count.
    assert cost1["E92000001"] == pytest.approx(fixed)
    without = make_inputs(panel, one, las)
    assert [i.cost for i in without] == pytest.approx([fixed] * len(without))
