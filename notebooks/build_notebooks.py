"""Write the planners' notebooks (``notebooks/NN-*.ipynb``) from the cell texts below.

The notebooks are generated, not edited by hand, so they stay small, reviewable and free of
outputs: edit the text here and run ``.venv/bin/python notebooks/build_notebooks.py``.
``tests/test_notebooks.py`` checks that the committed notebooks are what this script writes.
Each notebook has one cell tagged ``parameters`` (papermill) so a batch can run it for any LA.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
import warnings

import pandas as pd
from IPython.display import Markdown, display

pd.set_option("display.max_columns", 30)
pd.set_option("display.width", 160)
warnings.filterwarnings("ignore", category=FutureWarning)"""

# Notebooks 02 and 03 calibrate the scenarios as `ehcp run` does, so their figures match its report.
CALIBRATION_MD = """\
### Calibration to the published year
As in `ehcp run`: when the file says `calibration: {enabled: true}`, the simulator replays the
latest published calendar year and scales EP and caseworker productivity so that it issues as many
plans and decides as many annual reviews as DfE's SEN2 figures say; every scenario gets the same
factors (what a factor means is printed below). With calibration off, the file's staff figures are
taken at face value."""

CALIBRATION_CODE = """\
scenarios, calibration = calibrate_to_sen2(scenarios)
if calibration is None:
    display(Markdown("Calibration is off in this file: staff figures are taken at face value."))
else:
    display(Markdown(calibration.describe()), calibration.comparison())"""


def md(text: str) -> tuple[str, str]:
    return ("markdown", text)


def code(text: str) -> tuple[str, str]:
    return ("code", text)


def params(text: str) -> tuple[str, str]:
    return ("parameters", text)


DEMAND = [
    md("""\
# Demand for EHC needs assessments: history, backtest and forecast

For one local authority (LA), this notebook shows:

1. its **history** of requests for an EHC needs assessment next to its region's and England's;
2. a **backtest leaderboard**: how well each forecasting model would have done had it been used
   in past years;
3. the **forecast** with its uncertainty (a fan chart) and the sample paths the capacity
   simulator uses;
4. the **complexity mix**: plans by primary need, age and placement, and where the mix is heading.

**Data**: DfE, *Education, health and care plans* (SEN2 return), England, regions and LAs.
Contains public sector information licensed under the Open Government Licence v3.0.

**Years**: requests, assessments and new plans are counted by **calendar year** (January to
December). The stock of plans is counted **in January**: "2025" means the plans in place in
January 2025. Budgets (financial years, April to March) are in notebook 03."""),
    md("## Parameters\nChange these (or pass them with papermill) to run the notebook for another LA."),
    params("""\
la = "Leeds"                  # LA name as DfE spells it, or its ONS (E08000035) / DfE (383) code
measure = "requests_received"  # or "new_plans", "stock_plans", ...
first_year = 2016             # SEN2 requests start in calendar 2016
horizon = 5                   # years ahead
levels = [80, 95]             # prediction interval levels (%)
models = ["naive", "drift", "damped_drift", "log_drift", "log_drift3", "global", "auto"]  # to backtest
model = "best"                # best: the backtest winner; or a name in forecasting.models.MODEL_NAMES
backtest_h = 2                # years ahead scored in the backtest
backtest_windows = 3          # forecast origins in the backtest
n_paths = 1000                # sample paths
seed = 2025"""),
    code(SETUP + """
from forecasting.backtest import evaluate, leaderboard
from forecasting.complexity import mix_history, mix_shares, project_mix
from forecasting.data import find_la, headline_table, load_panel
from forecasting.forecast import cross_validation, forecast, la_history, la_series_id, simulate
from forecasting.models.leading import add_drivers
from forecasting.notebooks import area_comparison
from forecasting.reporting.charts import plot_complexity_mix
from forecasting.reporting.fanchart import plot_forecast, plot_leaderboard
# Last: importing the report charts selects the headless "agg" backend.
%matplotlib inline"""),
    md("## 1. The LA's headline figures\n"
       "One row per SEN2 measure, one column per **calendar year** (stock: January of that "
       "year). `pct_within_20wk_ex` is DfE's headline timeliness measure: the % of new plans "
       "issued within 20 weeks, excluding exceptions."),
    code("""\
panel = load_panel()
code = find_la(panel, la)
la_name = panel.loc[panel["unique_id"] == code, "name"].iloc[-1]
display(Markdown(f"**{la_name}** (ONS code {code})"))
headline_table(panel, code, first_year=first_year)"""),
    md("## 2. History against the region and England\n"
       "Each line is indexed to 100 in the first year, so an LA of 2,000 requests a year and "
       "England's 150,000 fit on one chart: a line at 250 means two and a half times the first "
       "year's figure. Calendar years."),
    code("""\
compare = area_comparison(panel, code, measure, first_year=first_year)
ax = compare.pivot(index="ds", columns="area", values="index")[compare["area"].unique()].plot(
    marker="o", figsize=(8, 4), title=f"{measure}, indexed (first year = 100), calendar years")
ax.set_xlabel("calendar year"); ax.set_ylabel("index (first year = 100)");"""),
    code("""\
compare.pivot(index="ds", columns="area", values="y")[compare["area"].unique()]"""),
    md("""\
## 3. Backtest leaderboard
Every model is fitted to **every LA at once** (the `global` and `auto` models borrow strength
from the national and regional trend) and scored on this LA. For an LA created by a boundary
change (Dorset/BCP 2019; Cumbria, North Yorkshire, Somerset 2023), the history, backtest and
forecast are for its group of areas on fixed boundaries (the cell says so).

Each model is refitted at several past years ("cutoffs") using only the data known then, and its
forecasts for the following years are compared with what happened. Lower is better for:

- **mase**: mean absolute error, scaled by the series' typical year-to-year change (1.0 = as
  wrong as "next year = this year" was in the past);
- **rmsse**: the same with squared errors (punishes big misses);
- **smape**: symmetric % error;
- **crps**: a score for the whole forecast distribution.

**coverage_80** is the % of outcomes inside the 80% interval (ideally about 80). `n` is the number
of forecasts scored. Calendar years."""),
    code("""\
# all LAs, fixed boundaries, consecutive years; with the measure's drivers (requests for new
# plans; new plans and requests for the stock) as `ehcp forecast` uses them
every_la = add_drivers(la_history(panel, measure), panel, measure)
every_la = every_la[every_la["ds"] >= first_year].reset_index(drop=True)
series_id = la_series_id(every_la, code)
history = every_la[every_la["unique_id"] == series_id].reset_index(drop=True)
if series_id != code:
    display(Markdown(f"Boundary change: the history is that of **{series_id}** on fixed boundaries."))
cv = cross_validation(every_la, h=backtest_h, n_windows=backtest_windows, models=models, level=(80,))
errors = evaluate(cv[cv["unique_id"] == series_id], history, level=(80,))
board = leaderboard(errors)
board"""),
    code("""plot_leaderboard(board, title=f"{la_name}: backtest MASE by model (lower is better)");"""),
    md("The same scores by how far ahead the forecast was (`horizon` in years):"),
    code("""leaderboard(errors, by=("horizon", "model"))"""),
    md("""\
## 4. Forecast and fan chart
The chosen model (the backtest winner unless `model` names one) is fitted to the whole history.
Black: what happened (DfE SEN2). The shaded bands are the 80% and 95% prediction intervals: the
outcome should fall in the darker band about 8 years in 10. The `model` column says which model
produced each row (a series too short for a model falls back to a simpler, named one)."""),
    code("""\
chosen = board.loc[0, "model"] if model == "best" else model
display(Markdown(f"Model used: **{chosen}**"))
fcst = forecast(every_la, h=horizon, level=levels, model=chosen)
fcst = fcst[fcst["unique_id"] == series_id].reset_index(drop=True)
fcst"""),
    code("""\
plot_forecast(history, fcst, title=f"{la_name}: {measure}, calendar years (DfE SEN2) and forecast ({chosen})",
              ylabel=measure.replace("_", " "));"""),
    md("""\
### Sample paths for the capacity simulator
The simulator (notebooks 02-04) needs whole futures, not just intervals: each `sample_id` is one
possible run of years. Their spread, year by year (percentiles across paths, calendar years):"""),
    code("""\
paths = simulate(every_la, h=horizon, n_paths=n_paths, seed=seed, model=chosen)
paths = paths[paths["unique_id"] == series_id]
paths.groupby("ds")["y"].describe(percentiles=[0.1, 0.5, 0.9])[["10%", "50%", "90%"]].round(0)"""),
    md("""\
## 5. Complexity mix
Effort and cost per case depend on the mix of needs, ages and placements. Shares of the January
stock of plans by **primary need**: history (SEN2) then projection. The projection holds the
latest mix with widening uncertainty; on a backtest over every LA, trends in the mix did not
persist. Years are the January of each calendar year."""),
    code("""\
need_hist = mix_shares(mix_history(panel, code, measure="stock_plans", topic="need"))
need_proj = project_mix(panel, la=code, measure="stock_plans", topic="need", h=horizon,
                        n_paths=n_paths, seed=seed)
mix = pd.concat([need_hist.assign(kind="history"), need_proj.assign(kind="forecast")])
mix = mix.assign(period=mix["ds"].astype(str), group=mix["category"])[["period", "group", "share", "kind"]]
plot_complexity_mix(mix.dropna(subset=["share"]))"""),
    md("Projected plans by primary need: the stock forecast (the same model, every LA fitted "
       "together) split by the projected shares. January of each year. An LA reorganised by a "
       "boundary change has no stock forecast of its own here."),
    code("""\
stock_all = add_drivers(la_history(panel, "stock_plans"), panel, "stock_plans")
stock_fc = forecast(stock_all, h=horizon, level=(80,), model=chosen)
stock_fc = stock_fc[stock_fc["unique_id"] == code]
if len(stock_fc):
    counts = project_mix(panel, la=code, measure="stock_plans", topic="need", h=horizon,
                         total_forecast=stock_fc, n_paths=n_paths, seed=seed)
    display(counts.pivot(index="category", columns="ds", values="yhat").round(0))"""),
    md("Shares by **age band** and by **placement type** (latest January and the projection for "
       "the last forecast year):"),
    code("""\
tables = {}
for topic in ("age", "placement"):
    hist = mix_shares(mix_history(panel, code, measure="stock_plans", topic=topic))
    proj = project_mix(panel, la=code, measure="stock_plans", topic=topic, h=horizon,
                       n_paths=n_paths, seed=seed)
    last = hist[hist["ds"] == hist["ds"].max()]
    end = proj[proj["ds"] == proj["ds"].max()]
    tables[topic] = pd.DataFrame({
        f"Jan {int(last['ds'].iloc[0])} (actual)": last.set_index("category")["share"],
        f"Jan {int(end['ds'].iloc[0])} (projected)": end.set_index("category")["share"],
    }).mul(100).round(1)
    display(Markdown(f"**{topic}** (% of plans)"), tables[topic])"""),
]

SCENARIOS = [
    md("""\
# Capacity scenarios: backlog, lateness and timeliness

The capacity simulator runs EHC needs assessments through their statutory stages (decision,
EP and other advice, draft, final plan) and annual reviews, week by week, with the EP and
caseworker hours a scenario provides. Each scenario is run on many **sample paths** (possible
futures of demand, sickness, recruitment...). This notebook:

1. loads a **scenario file** (baseline + named scenarios) and simulates every scenario;
2. compares them on the **backlog** (open cases by how many weeks past the 20-week deadline),
   **lateness bands** and the **% of new plans issued within 20 weeks**;
3. lets you change **EP and caseworker FTE** and see the effect (with widgets, and the same
   result with a plain function call).

**Years**: weekly results; tables are by **financial year** (April to March, e.g. FY 2026-27),
the year budgets are set in. Numbers in the file marked ASSUMPTION have no public source: check
them with your own figures."""),
    md("## Parameters"),
    params("""\
config = "configs/leeds.yaml"   # scenario file (relative to the repository folder)
n_paths = 200                   # sample paths per scenario
seed = None                     # None: the file's simulation.seed
years = None                    # None: the file's simulation.years
what_if_paths = 50              # paths for the staffing what-if below
target_pct = 60                 # a % within 20 weeks to draw on the timeliness chart"""),
    code(SETUP + """
import ipywidgets as widgets

from forecasting.notebooks import calibrate_to_sen2, load_scenario_file, simulate_scenarios, staffing_what_if
from forecasting.reporting.charts import plot_backlog_bands, plot_timeliness
from forecasting.reporting.tables import BANDS, backlog_by_fy, percentile_bands, timeliness_by_fy
# Last: importing the report charts selects the headless "agg" backend.
%matplotlib inline"""),
    md("## 1. The scenarios in the file"),
    code("""\
scenarios = load_scenario_file(config, years=years)
sim = scenarios.baseline.capacity.simulation
display(Markdown(f"Simulating from **{sim.start}** for **{sim.years} years**, {n_paths} paths per scenario."))
pd.DataFrame([{"scenario": s.name, "description": s.description} for s in scenarios])"""),
    md(CALIBRATION_MD),
    code(CALIBRATION_CODE),
    md("## 2. Simulate every scenario\n"
       "Every scenario uses the same random numbers (seed), so the differences between them come "
       "from the scenario, not from chance."),
    code("""\
weekly = simulate_scenarios(scenarios, n_paths=n_paths, seed=seed)
weekly.groupby("scenario", sort=False).size().rename("rows (paths x weeks)").to_frame()"""),
    md("""\
## 3. Timeliness: % of new plans issued within 20 weeks
DfE's headline measure (exceptions excluded), per **financial year**. Each path gives one figure
per year; the table shows the 10th, 50th (median) and 90th percentiles across paths. A year
marked "part year" is not simulated in full."""),
    code("""\
timely = timeliness_by_fy(weekly)
timely.round(1)"""),
    code("""plot_timeliness(timely, target=target_pct)"""),
    md("""\
## 4. Backlog by lateness band
Open new-assessment cases at the **last week of each financial year**, by how far past the
20-week deadline they are (median across paths), and annual reviews overdue."""),
    code("""backlog_by_fy(weekly).round(0)"""),
    md("The same bands week by week (median across paths), one panel per scenario. The "
       "dates are the simulated weeks (week ending)."),
    code("""plot_backlog_bands(percentile_bands(weekly, list(BANDS), by=("scenario", "ds")))"""),
    md("""\
## 5. What if we had more staff?
Move the sliders and press **Run** to simulate the baseline with extra EP and caseworker FTE
(from the start of the simulation) next to the baseline itself, on `what_if_paths` paths. The
widgets need a live Jupyter kernel; the cell after them gives the same result as a plain call."""),
    code("""\
def what_if(extra_ep_fte=0.0, extra_caseworker_fte=0.0, locum_hours_per_week=0.0):
    result = staffing_what_if(scenarios.baseline, extra_ep_fte, extra_caseworker_fte,
                              locum_hours_per_week, n_paths=what_if_paths, seed=seed)
    display(Markdown("**% within 20 weeks by financial year**"), timeliness_by_fy(result, q=(50,)).round(1))
    display(Markdown("**Open cases by lateness band at financial year end (median)**"),
            backlog_by_fy(result).round(0))
    return result

widgets.interact_manual(
    what_if,
    extra_ep_fte=widgets.FloatSlider(value=2, min=0, max=12, step=0.5, description="+ EP FTE"),
    extra_caseworker_fte=widgets.FloatSlider(value=0, min=0, max=12, step=0.5, description="+ caseworker FTE"),
    locum_hours_per_week=widgets.FloatSlider(value=0, min=0, max=200, step=10, description="+ locum h/week"),
);"""),
    md("Without widgets (e.g. in the quarterly batch): two more EP FTE from the start."),
    code("""_ = what_if(extra_ep_fte=2)"""),
]

BUDGET = [
    md("""\
# Budget paper: targets in, cheapest staffing out, cost by financial year

The scenario file sets **targets** (e.g. 60% of new plans within 20 weeks in FY 2027-28, with
80% probability). The optimiser searches extra EP FTE, caseworker FTE and locum EP hours for the
**cheapest plan that meets every target** with the required probability, using the capacity
simulator on common random numbers. The notebook then costs the baseline and the recommended
plan **by financial year** (April to March; councils budget by financial year) and exports the
tables and charts for a committee paper.

Costs are in pounds at each year's prices (pay inflation from the file), from the staff cost
assumptions in the file's `costs` section."""),
    md("## Parameters"),
    params("""\
config = "configs/leeds.yaml"   # scenario file with `targets` and `costs`
n_paths = 200                   # paths for the final comparison
search_paths = None             # None: targets.search.n_paths (paths per candidate plan)
max_evaluations = None          # None: targets.search.max_evaluations
out_dir = "reports/budget-paper"  # where the tables and charts for the paper are written"""),
    code(SETUP + """
from pathlib import Path

from forecasting.notebooks import (calibrate_to_sen2, load_scenario_file, optimise_scenarios,
                                   simulate_scenarios, with_staffing)
from forecasting.reporting.bundle import Chart, ReportBundle, Table, write_report
from forecasting.reporting.charts import plot_cost_fte, plot_timeliness, plot_tradeoff
from forecasting.reporting.tables import backlog_by_fy, cost_by_fy, fte_by_fy, timeliness_by_fy
# Last: importing the report charts selects the headless "agg" backend.
%matplotlib inline"""),
    md("## 1. The targets"),
    code("""\
scenarios = load_scenario_file(config)
targets = scenarios.targets
pd.DataFrame([{"target": g.name, "means": g.describe(), "required probability": g.probability}
              for g in targets.goals])"""),
    md(CALIBRATION_MD),
    code(CALIBRATION_CODE),
    md("The search space: extra staff the optimiser may add to the baseline, from the date shown."),
    code("""\
search = targets.search
pd.Series({"from": search.start, "extra EP FTE": search.ep_fte, "extra caseworker FTE": search.caseworker_fte,
           "extra locum EP hours/week": search.locum_hours_per_week,
           "paths per candidate": search_paths or search.n_paths,
           "evaluations at most": max_evaluations or search.max_evaluations}).to_frame("value")"""),
    md("## 2. Run the optimiser\n"
       "Each candidate plan is simulated; `p_<target>` is the share of paths meeting that "
       "target, `p_all` the share meeting all of them on the same path. `cost_gbp` is the "
       "extra staff cost over the simulated horizon. Rows with `evaluated` False were inferred "
       "(more staff never does worse)."),
    code("""\
result = optimise_scenarios(scenarios, n_paths=search_paths, max_evaluations=max_evaluations)
display(Markdown(result.message))
result.candidates.round(3)"""),
    md("Cost against the chance of meeting every target. The Pareto front joins the plans "
       "no other plan beats on both cost and probability."),
    code("""\
min_probability = max(g.probability for g in targets.goals)
plot_tradeoff(result.candidates, probability=min_probability, best_cost=result.best_cost_gbp)"""),
    md("""\
## 3. Baseline against the recommended plan
If no plan within the bounds meets the targets, the largest plan searched is shown instead,
so the paper can say how far the bounds fall short."""),
    code("""\
base = scenarios[search.scenario]
dims = ("ep_fte", "caseworker_fte", "locum_hours_per_week")
if result.best is not None:
    label, extra = "recommended", {k: float(getattr(result.best, k)) for k in dims}
else:
    top = result.candidates.sort_values("cost_gbp").iloc[-1]
    label, extra = "largest plan searched (misses a target)", {k: float(top[k]) for k in dims}
recommended = with_staffing(base, extra["ep_fte"], extra["caseworker_fte"], extra["locum_hours_per_week"],
                            start=search.start, name=label)
weekly = simulate_scenarios([base, recommended], n_paths=n_paths)
display(Markdown(f"**{label}**: {with_staffing(base, *extra.values()).name} from {search.start}"))"""),
    md("**Staff cost by financial year** (mean across paths, £, at each year's prices):"),
    code("""\
costs = {s.name: s.costs for s in (base, recommended)}
cost = cost_by_fy(weekly, costs)
cost.round(0)"""),
    md("**Average staffing by financial year** (median across paths) and **timeliness** (% of "
       "new plans within 20 weeks, percentiles across paths):"),
    code("""\
fte = fte_by_fy(weekly)
timely = timeliness_by_fy(weekly)
display(fte.round(1), timely.round(1))"""),
    code("""plot_cost_fte(cost, fte)"""),
    code("""\
pct_goal = next((g.at_least for g in targets.goals if g.metric == "pct_within_20_weeks"), None)
plot_timeliness(timely, target=pct_goal)"""),
    md("""\
## 4. Export for the paper
Writes a folder with the tables (CSV and Parquet, text cells made safe for spreadsheets), the
charts (PNG), an Excel workbook and a one-page HTML report: paste from these into the paper."""),
    code("""\
bundle = ReportBundle(
    title="Staffing to meet the EHC needs assessment targets",
    run_id=Path(out_dir).name,
    metadata={"scenario file": str(config), "paths": str(n_paths), "years": "financial (April-March)"},
    tables=[Table("cost_by_fy", "Staff cost by financial year (£)", cost),
            Table("fte_by_fy", "Average FTE by financial year", fte),
            Table("timeliness_by_fy", "% of new plans within 20 weeks by financial year", timely),
            Table("backlog_by_fy", "Open cases by lateness band at financial year end", backlog_by_fy(weekly)),
            Table("optimiser_candidates", "Staffing plans considered", result.candidates)],
    charts=[Chart("cost_fte", "Cost and FTE by financial year", plot_cost_fte(cost, fte)),
            Chart("timeliness", "% within 20 weeks by financial year", plot_timeliness(timely, target=pct_goal)),
            Chart("tradeoff", "Cost versus chance of meeting the targets",
                  plot_tradeoff(result.candidates, probability=min_probability, best_cost=result.best_cost_gbp))],
    optimiser_message=result.message,
)
written = write_report(bundle, out_dir, overwrite=True)
sorted(str(p.relative_to(written)) for p in written.rglob("*") if p.is_file())"""),
]

CASES = [
    md("""\
# Case-level data: monthly series, today's backlog, forecast and simulation

> **SYNTHETIC DATA.** By default this notebook reads
> `data/synthetic/leeds_case_extract_synthetic.csv`, a **synthetic** extract made by the
> toolkit's generator and calibrated only to Leeds' published DfE SEN2 totals. **No row is a
> real child or a real case**; the figures below illustrate the method. Point `extract` at your
> own case-management export (see `docs/case-level-schema.md`) to get real figures.

A case-level extract has one row per request for an EHC needs assessment (request date,
decision, advice requested and received, draft and final dates, primary need, age, setting).
From it this notebook derives:

1. **monthly series** (requests, decisions, plans issued, % within 20 weeks), by calendar month;
2. **stage durations** and timeliness by **calendar year** (comparable with SEN2);
3. **today's backlog**: open cases by stage and by how many weeks past the 20-week deadline;
4. a **monthly forecast** of requests with **term-time seasonality** (fewer requests in August);
5. the **capacity simulator started from that backlog** (tables by **financial year**)."""),
    md("## Parameters"),
    params("""\
extract = "data/synthetic/leeds_case_extract_synthetic.csv"  # SYNTHETIC by default
as_of = None                    # backlog day (YYYY-MM-DD); None: the extract's end date
horizon_months = 24             # monthly forecast horizon
monthly_model = "prophet"       # a model with monthly (term-time) seasonality
levels = [80, 95]
config = "configs/leeds.yaml"   # staffing and pipeline for the simulation
sim_years = 2                   # years simulated from the backlog day
n_paths = 200
seed = 2025"""),
    code(SETUP + """
from forecasting.data.caselevel import (backlog_by_age, default_as_of, duration_summary, load_extract,
                                        monthly_series, open_caseload, stage_durations, timeliness_by_year)
from forecasting.forecast import forecast
from forecasting.notebooks import load_scenario_file, simulate_scenarios
from forecasting.reporting.charts import plot_backlog_bands
from forecasting.reporting.fanchart import plot_forecast
from forecasting.reporting.tables import BANDS, backlog_by_fy, percentile_bands, timeliness_by_fy
# Last: importing the report charts selects the headless "agg" backend.
%matplotlib inline"""),
    md("## 1. Load and check the extract\nRows that fail a check are listed, not dropped silently."),
    code("""\
cases = load_extract(extract, strict=False)
day = pd.Timestamp(as_of) if as_of else default_as_of(cases)
if cases.synthetic:
    display(Markdown("**SYNTHETIC DATA: not real cases.** " + cases.metadata.get("description", "")))
display(Markdown(f"{cases.n_input_rows} rows: {len(cases.frame)} loaded, {len(cases.rejects)} rejected; "
                 f"backlog counted on **{day.date()}**."))
cases.rejects.head(10)"""),
    md("""\
## 2. Monthly series
Counts by **calendar month** (each event in the month it happened): requests by request date,
decisions by decision date, plans issued by final date. `pct_within_20wk` is the % of plans issued
in the month that took 20 weeks or less (exceptions excluded).

An extract whose sidecar file gives a `start` date (the synthetic one does) also holds earlier
requests that were still open on that date, but not the earlier ones already closed: months
before `start` are incomplete and are left out. Only complete months (up to the backlog day)
are kept."""),
    code("""\
monthly = monthly_series(cases)
start = pd.Timestamp(cases.metadata["start"]) if cases.metadata.get("start") else monthly["ds"].min()
complete = (monthly["ds"] >= start) & (monthly["ds"] + pd.offsets.MonthEnd(0) <= day)
monthly = monthly[complete].reset_index(drop=True)
wide = monthly.pivot(index="ds", columns="unique_id", values="y")
display(Markdown(f"Complete months: **{wide.index.min():%B %Y}** to **{wide.index.max():%B %Y}**. Last 12:"))
wide.tail(12).round(1)"""),
    code("""\
ax = wide[["requests", "assessments", "plans_issued"]].plot(
    figsize=(9, 4), title=("SYNTHETIC - " if cases.synthetic else "") + "events per calendar month")
ax.set_xlabel("month"); ax.set_ylabel("cases");"""),
    md("**Timeliness by calendar year** of the final plan (as SEN2 counts it) and **stage "
       "durations** in days (completed stages only; open cases are in section 3):"),
    code("""\
display(timeliness_by_year(cases), duration_summary(stage_durations(cases)))"""),
    md("""\
## 3. Today's backlog by age
Open cases on the backlog day, by stage and by how far past the 20-week deadline they are
(the figures the Scrutiny Board asked for). "Not yet due" cases are within their 20 weeks."""),
    code("""\
open_cases = open_caseload(cases, as_of=day)
backlog = backlog_by_age(open_cases)
backlog"""),
    code("""\
ax = backlog.set_index("band").drop(columns="total").plot.bar(
    stacked=True, figsize=(10, 4), rot=0, fontsize=8,
    title=("SYNTHETIC - " if cases.synthetic else "") + f"open cases on {day.date()} by weeks past the deadline")
ax.set_xlabel(""); ax.set_ylabel("open cases");"""),
    md("""\
## 4. Monthly forecast of requests, with term-time seasonality
Requests follow the school year: fewer in August, more in the autumn and spring terms. The
table compares each calendar month's average in the extract with the average month (1.0) and
with the seasonal weights the simulator uses from the scenario file.

**Read the forecast with care.** The committed synthetic extract covers four calendar years
(2021-2024) of requests, rising steeply as Leeds's did; months before 2021 hold only the earlier
requests still open in January 2021 and are left out below. Four years is the least that
separates the term-time pattern from the trend: a real extract with more years gives a steadier
monthly forecast, and for annual planning the SEN2 forecast in notebook 01 rests on nine years."""),
    code("""\
# the extract's own period (its sidecar says where it starts); earlier months are only carry-over
first_month = pd.Timestamp((cases.metadata or {}).get("start", monthly["ds"].min()))
requests = monthly[(monthly["unique_id"] == "requests") & (monthly["ds"] >= first_month)].reset_index(drop=True)
profile = requests.groupby(requests["ds"].dt.month)["y"].mean()
scenarios = load_scenario_file(config, years=sim_years, start=day + pd.Timedelta(days=1))
pd.DataFrame({"extract": (profile / profile.mean()).round(2),
              "scenario file": pd.Series(scenarios.baseline.capacity.demand.seasonality, index=range(1, 13))}
             ).rename_axis("calendar month")"""),
    code("""\
monthly_fc = forecast(requests, h=horizon_months, level=levels, model=monthly_model)
plot_forecast(requests, monthly_fc, ylabel="requests per month",
              title=("SYNTHETIC - " if cases.synthetic else "") + "requests per calendar month: history and forecast");"""),
    md("""\
## 5. The simulator started from this backlog
The open cases above are the simulator's starting caseload (each in its stage, with its age),
instead of the estimate the scenario file makes from SEN2. Staffing, pipeline and demand come from
the scenario file; the simulation starts the day after the backlog day. Tables are by **financial
year** (April to March); a year marked "part year" is not simulated in full."""),
    code("""\
weekly = simulate_scenarios([scenarios.baseline], n_paths=n_paths, seed=seed, open_cases=open_cases)
display(Markdown(("**SYNTHETIC starting caseload.** " if cases.synthetic else "")
                 + "% of new plans within 20 weeks (percentiles across paths):"))
timeliness_by_fy(weekly).round(1)"""),
    code("""backlog_by_fy(weekly).round(0)"""),
    code("""\
fig = plot_backlog_bands(percentile_bands(weekly, list(BANDS), by=("scenario", "ds")), synthetic=cases.synthetic)
fig"""),
]

NOTEBOOKS = {
    "01-demand-forecast": DEMAND,
    "02-capacity-scenarios": SCENARIOS,
    "03-budget-paper": BUDGET,
    "04-case-level-data": CASES,
}


def build(stem: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """One notebook, with stable cell ids (so rebuilding changes nothing) and no outputs."""
    nb_cells = []
    for i, (kind, text) in enumerate(cells):
        cell_id = f"{stem[:2]}-{i:02d}"
        if kind == "markdown":
            nb_cells.append(new_markdown_cell(text, id=cell_id))
        else:
            cell = new_code_cell(text, id=cell_id)
            if kind == "parameters":
                cell.metadata["tags"] = ["parameters"]
            nb_cells.append(cell)
    nb = new_notebook(cells=nb_cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                 "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def main(folder: Path = HERE) -> list[Path]:
    """Write every notebook into ``folder``."""
    written = []
    for stem, cells in NOTEBOOKS.items():
        nb = build(stem, cells)
        nbformat.validate(nb)
        path = folder / f"{stem}.ipynb"
        nbformat.write(nb, str(path))
        written.append(path)
    return written


if __name__ == "__main__":
    for p in main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(p)
