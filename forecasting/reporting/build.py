"""Assemble a :class:`ReportBundle` from one run's results (tables, charts, headline, sources).

The pipeline hands over a dict of results; this module turns them into the report's tables
(:mod:`.tables`), charts (:mod:`.charts`) and words. It computes no forecasts or simulations.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from forecasting.periods import financial_year
from forecasting.reporting import charts
from forecasting.reporting.bundle import Chart, ReportBundle, Table
from forecasting.reporting.tables import (
    BANDS,
    backlog_by_fy,
    cost_by_fy,
    fte_by_fy,
    fy_columns,
    percentile_bands,
    timeliness_by_fy,
)

__all__ = ["SOURCES", "build_bundle", "synthetic_inputs"]

SOURCES = [
    "Department for Education, 'Education, health and care plans' (SEN2 return), releases 2022 "
    "and 2025, explore-education-statistics.service.gov.uk. Contains public sector information "
    "licensed under the Open Government Licence v3.0.",
    "data/raw/reference_parameters_from_pages.csv: figures typed in from public web pages "
    "(secondary sources, used as defaults): EP cost £71,385 a year with on-costs, about £325 a "
    "day (Wokingham, 2023/24); caseworkers 1 per 170-250 plans (Schools Week; Surrey); Leeds "
    "agency EPs adding ~100 assessments a month from August 2024; Leeds high-needs funding "
    "£134.6m (2024/25); statutory timescales (SEND Regulations 2014).",
]


def synthetic_inputs(scenarios: Any) -> list[str]:
    """Names of synthetic input files the scenarios use (case extracts marked synthetic).

    A case extract counts as synthetic when its ``.meta.json`` sidecar says so or its name
    contains ``synthetic``.

    Examples
    --------
    >>> synthetic_inputs([])
    []
    """
    found = []
    for s in scenarios:
        extract = s.capacity.demand.initial.extract
        if extract is None:
            continue
        path = Path(extract)
        sidecar = path.with_name(path.stem + ".meta.json")
        flag = "synthetic" in path.name.lower()
        if sidecar.is_file():
            try:
                flag = flag or bool(json.loads(sidecar.read_text()).get("synthetic"))
            except (OSError, ValueError):
                flag = True
        if flag and str(path) not in found:
            found.append(str(path))
    return found


def _fmt_money(value: float) -> str:
    return f"£{value / 1e6:,.2f}m" if abs(value) >= 1e6 else f"£{value:,.0f}"


def _demand_table(ctx: dict[str, Any], la_name: str) -> pd.DataFrame:
    hist = ctx["history"].assign(kind="history").rename(columns={"y": "requests"})
    fc = ctx["forecast"].assign(kind="forecast")
    table = pd.concat([hist, fc], ignore_index=True)
    table["unique_id"] = la_name
    table.insert(1, "period_type", "calendar")
    table = table.rename(columns={"ds": "period"})
    table["period"] = table["period"].astype(int).astype(str)
    return table


def _fan_chart(ctx: dict[str, Any], notes: list[str], la_name: str, levels: tuple[int, ...]) -> Chart:
    hist, fcst = ctx["history"], ctx["forecast"]
    try:
        from forecasting.reporting.fanchart import plot_forecast

        fig = plot_forecast(hist, fcst)
    except ImportError:
        notes.append("The demand fan chart uses the report's own fallback drawing "
                     "(forecasting.reporting.fanchart is not available in this build).")
        fig = charts.plot_demand_fallback(hist, fcst, levels=levels)
    fig.suptitle(f"Requests for EHC needs assessment, {la_name}: calendar years (DfE SEN2) and forecast")
    return Chart("demand_fan", "Demand: requests for assessment by calendar year", fig,
                 caption="Black: DfE SEN2 requests received by calendar year. Blue: forecast median "
                 f"with {' and '.join(str(v) for v in levels)}% intervals.")


def build_bundle(ctx: dict[str, Any], notes: list[str]) -> ReportBundle:
    """The report for one run (see :func:`forecasting.pipeline.run_pipeline` for ``ctx``)."""
    scenarios = ctx["scenarios"]
    report = scenarios.report
    weekly: pd.DataFrame = ctx["weekly"]
    opt = ctx["optimisation"]
    la_name = report.la
    q = report.percentiles
    synth_files = synthetic_inputs(scenarios)
    synth = bool(synth_files)
    if synth:
        notes.append("SYNTHETIC: the open caseload comes from a synthetic case-level extract ("
                     + ", ".join(synth_files) + "); backlog, timeliness and staffing results "
                     "illustrate the method and are not a record of real cases.")
    goals = scenarios.targets.goals
    pct_target = next((g.at_least for g in goals if g.metric == "pct_within_20_weeks"), None)

    backlog = backlog_by_fy(weekly, q=q, stat=q[1])
    timely = timeliness_by_fy(weekly, q=q)
    fte = fte_by_fy(weekly, stat=q[1])
    cost = cost_by_fy(weekly, {s.name: s.costs for s in scenarios})
    band_cols = [*BANDS, "reviews_overdue"]
    bands = percentile_bands(weekly, band_cols + ["pct_within_20wk"], q=q)
    bands.insert(0, "period_type", "financial")
    bands.insert(1, "period", bands["ds"].map(financial_year))
    bands = bands.rename(columns={"ds": "week_ending"})

    phased = ctx.get("phased")
    cand = opt.candidates.copy()
    best_cost = opt.best_cost_gbp
    if phased is not None and len(phased.candidates):
        from forecasting.optimise import pareto_front

        cand = pd.concat([cand, phased.candidates], ignore_index=True)
        cand["evaluated"] = cand["evaluated"].astype(bool)
        cand["pareto"] = False
        cand.loc[cand["evaluated"], "pareto"] = pareto_front(cand.loc[cand["evaluated"]])
        if phased.plan is not None:
            best_cost = sum(phased.cost_by_year.values())
    tried = cand.copy()
    opt_message = opt.message + (f" {phased.message}" if phased is not None else "")
    sim = scenarios[scenarios.targets.search.scenario].capacity.simulation
    start_fy = financial_year(max(pd.Timestamp(scenarios.targets.search.start), pd.Timestamp(sim.start)))
    end_fy = financial_year(pd.Timestamp(sim.start) + pd.Timedelta(days=sim.horizon_days - 1))
    cand.insert(0, "period_type", "financial")
    cand.insert(1, "period", f"{start_fy} to {end_fy}")
    cand = cand.rename(columns={
        "ep_fte": "extra EP (FTE)", "caseworker_fte": "extra caseworker (FTE)",
        "locum_hours_per_week": "extra locum EP (hours/week)",
        "cost_gbp": "extra cost over the period (£)",
    })

    tables = [
        Table("demand_forecast", "Requests for assessment: history and forecast (calendar years)",
              _demand_table(ctx, la_name), note="Requests per calendar year (January-December), "
              "as DfE SEN2 counts them. Forecast columns: median and interval bounds."),
        Table("backlog_by_fy", "Open cases by weeks past the 20-week deadline, at each financial year end",
              backlog, note=f"Cases open in the last simulated week of each financial year; p{q[1]:g} "
              "across simulated paths.", synthetic=synth),
        Table("timeliness_by_fy", "% of new plans issued within 20 weeks by financial year",
              timely, note="Each path pools the year's plans (exceptions excluded, as DfE's headline "
              f"measure); rows give percentiles across paths. Target: {pct_target}%." if pct_target
              else "Percentiles across paths.", synthetic=synth),
        Table("fte_by_fy", "Staffing by financial year", fte,
              note="Average FTE in post over the year (and locum EP hours a week).", synthetic=synth),
        Table("cost_by_fy", "Staff cost by financial year (£)", cost,
              note="Salary + on-costs from the costs section (pay inflation applied by financial "
              "year); mean across paths.", synthetic=synth),
        Table("optimiser_candidates", "Optimiser: staffing plans tried (cost vs chance of meeting the targets)",
              cand, note=opt_message, synthetic=synth),
        Table("weekly_percentiles", "Weekly backlog bands and timeliness: percentiles across paths",
              bands, note="Week ending dates; period = the financial year of the week ending.",
              synthetic=synth),
    ]
    if phased is not None:
        tables.insert(tables.index(next(t for t in tables if t.name == "optimiser_candidates")) + 1,
                      Table("optimiser_plan_by_fy", "Optimiser: phased plan by financial year "
                            "(extra staff and extra cost per year)", phased.table(),
                            note=phased.message, synthetic=synth))
    cal = ctx.get("calibration")
    if cal is not None:
        tables.append(Table("calibration", "Calibration: the replayed calendar year against DfE "
                            "SEN2 (counts per year)", cal.comparison(), note=cal.describe()))
        trials = cal.trials.copy()
        trials.insert(0, "period_type", "calendar")
        trials.insert(1, "period", str(cal.year))
        tables.append(Table("calibration_trials", "Calibration: productivity factors tried "
                            "(replay figures are means per path)", trials, note=cal.describe()))
    if ctx.get("backtest") is not None:
        tables.insert(1, Table("backtest", "Forecast backtest (rolling origin, calendar years)",
                               ctx["backtest"], note="MASE: mean absolute error scaled by the "
                               "series' mean yearly change (below 1 beats a naive forecast)."))
    if ctx.get("mix") is not None:
        mix = ctx["mix"].assign(share=lambda d: (100 * d["share"]).round(2))
        mix = mix.rename(columns={"group": "primary need", "share": "share of plans (%)"})
        tables.insert(2, Table("complexity_mix", "Plans by primary need: shares (January stock)",
                               mix, note="SEN2 stock of plans in January of each calendar "
                               "year; forecast shares from the complexity projection."))

    chart_list = [_fan_chart(ctx, notes, la_name, tuple(report.levels))]
    if ctx.get("mix") is not None:
        chart_list.append(Chart("complexity_mix", "Complexity mix: plans by primary need",
                                charts.plot_complexity_mix(ctx["mix"]),
                                caption="Share of the January stock of plans by primary need (DfE SEN2), "
                                "history then projection."))
    band_long = percentile_bands(weekly, list(BANDS), q=q)
    chart_list += [
        Chart("backlog_bands", "Backlog and lateness bands per scenario",
              charts.plot_backlog_bands(band_long, synthetic=synth, stat=f"p{q[1]:g}"),
              caption="Open new assessments at each week end, stacked by weeks past the 20-week "
              f"deadline; p{q[1]:g} across paths of each band.", synthetic=synth),
        Chart("timeliness", "% within 20 weeks per scenario against the target",
              charts.plot_timeliness(timely, target=pct_target, synthetic=synth),
              caption="Financial years (April-March). Bars: median; whiskers: "
              f"p{q[0]:g}-p{q[2]:g} across paths.", synthetic=synth),
        Chart("cost_fte", "FTE and cost by financial year",
              charts.plot_cost_fte(cost, fte, synthetic=synth),
              caption="Staff cost (salary + on-costs, pay inflation by financial year) and average "
              "FTE in post.", synthetic=synth),
        Chart("tradeoff", "Optimiser: cost versus chance of meeting the targets",
              charts.plot_tradeoff(tried, probability=max(g.probability for g in goals),
                                   best_cost=best_cost),
              caption=opt_message, synthetic=synth),
    ]

    headline = _headline(ctx, timely, backlog, cost, la_name)
    assumptions = _assumptions(ctx)
    meta = {
        "Local authority": la_name,
        "Run": ctx["run_id"],
        "Scenarios": ", ".join(scenarios.names),
        "Paths per scenario": str(ctx["n_paths"]),
        "Config": str(scenarios.file),
        "Created (UTC)": pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M"),
    }
    return ReportBundle(
        title=f"{report.title}: {la_name}", run_id=ctx["run_id"], metadata=meta, headline=headline,
        tables=tables, charts=chart_list, sources=list(SOURCES), assumptions=assumptions,
        notes=notes, optimiser_message=opt_message,
    )


def _headline(ctx: dict[str, Any], timely: pd.DataFrame, backlog: pd.DataFrame,
              cost: pd.DataFrame, la_name: str) -> list[tuple[str, str]]:
    hist, fc = ctx["history"], ctx["forecast"]
    out = []
    last = hist.iloc[-1]
    out.append((f"Requests for assessment, CY {int(last['ds'])} (DfE SEN2)", f"{last['y']:,.0f}"))
    first = fc.iloc[0]
    levels = sorted(int(c[3:]) for c in fc.columns if c.startswith("lo_"))
    band = f" ({levels[0]}%: {first[f'lo_{levels[0]}']:,.0f}-{first[f'hi_{levels[0]}']:,.0f})" if levels else ""
    out.append((f"Forecast requests, CY {int(first['ds'])}: median and interval", f"{first['yhat']:,.0f}{band}"))
    stats = list(dict.fromkeys(timely["statistic"]))
    base = timely.loc[(timely["scenario"] == "baseline") & (timely["statistic"] == stats[len(stats) // 2])]
    years = fy_columns(timely)
    full = [y for y in years if "part year" not in y]
    # Show the year the timeliness target is set for, if there is one; else the last full year.
    goal_fy = next((f"FY {g.financial_year}" for g in ctx["scenarios"].targets.goals
                    if g.metric == "pct_within_20_weeks" and g.financial_year), None)
    pick = next((y for y in years if goal_fy and y.startswith(goal_fy + " ")), full[-1] if full else None)
    if len(base) and pick:
        out.append((f"Baseline: % of new plans within 20 weeks, {pick.split(' (')[0]} (median)",
                    f"{float(base[pick].iloc[0]):.1f}%"))
    byears = [y for y in fy_columns(backlog) if "part year" not in y]
    over = backlog.loc[(backlog["scenario"] == "baseline")
                       & backlog["band"].isin(["13-26 weeks late", "26-52 weeks late", "over 52 weeks late"])]
    if len(over) and byears:
        out.append((f"Baseline: open cases > 13 weeks late at end of {byears[-1].split(' (')[0]} (median per band, summed)",
                    f"{over[byears[-1]].sum():,.0f}"))
    cyears = fy_columns(cost)
    tot = cost.loc[(cost["scenario"] == "baseline") & (cost["line"] == "total")]
    if len(tot) and cyears:
        out.append((f"Baseline staff cost, {cyears[0].split(' (')[0]} (mean)", _fmt_money(float(tot[cyears[0]].iloc[0]))))
    opt = ctx["optimisation"]
    cal = ctx.get("calibration")
    if cal is not None:
        out.append((f"Calibration, CY {cal.year}: new plans, published vs replay",
                    f"{cal.published['plans_issued']:,.0f} vs {cal.replay['plans_issued']:,.0f} "
                    f"(productivity factors: EP {cal.factors['ep']:.2f}, caseworker "
                    f"{cal.factors['caseworker']:.2f})"))
        out.append((f"Calibration, CY {cal.year}: published vs replay % within 20 weeks",
                    f"{cal.published_pct:.1f}% vs {cal.simulated_pct:.1f}%"))
    phased = ctx.get("phased")
    if phased is not None and phased.plan is not None:
        out.append(("Phased plan meeting the targets: extra cost over the years",
                    _fmt_money(sum(phased.cost_by_year.values()))))
    if opt.best is not None:
        s = opt.best
        out.append(("Cheapest extra staffing meeting the targets",
                    f"+{s.ep_fte:g} EP, +{s.caseworker_fte:g} caseworker FTE, +{s.locum_hours_per_week:g} "
                    f"locum h/wk: {_fmt_money(opt.best_cost_gbp or 0.0)}"))
    else:
        out.append(("Cheapest extra staffing meeting the targets", "none within the search bounds"))
    return out


def _assumptions(ctx: dict[str, Any]) -> list[str]:
    scenarios = ctx["scenarios"]
    base = scenarios.baseline
    sim = base.capacity.simulation
    c = base.costs
    lines = [
        f"Simulation from {sim.start} for {sim.years} years, {ctx['n_paths']} sample paths per "
        f"scenario, seed {sim.seed}; every scenario uses the same seed (common random numbers).",
        f"Demand: {base.capacity.demand.source} ("
        + ("sample paths of the requests forecast" if base.capacity.demand.source == "forecast"
           else "the config's yearly request volumes") + ").",
        f"Costs at {c.price_base_fy} prices, pay inflation {100 * c.pay_inflation:g}% a year; EP "
        f"£{c.roles['ep'].annual_cost_gbp:,.0f} and caseworker £{c.roles['caseworker'].annual_cost_gbp:,.0f} "
        f"per FTE-year with on-costs; locum EP £{c.locum.ep_day_rate_gbp:,.0f} a day.",
        "Financial years run 1 April - 31 March (FY 2026-27); calendar years (CY) are DfE SEN2's "
        "flow years; SEN2 stock is counted in January.",
        "Percentiles are across simulated paths; the engine reports paths, the report computes "
        f"the p{scenarios.report.percentiles[0]:g}/p{scenarios.report.percentiles[1]:g}/"
        f"p{scenarios.report.percentiles[2]:g} figures.",
    ]
    cal = ctx.get("calibration")
    if cal is not None:
        lines.append(cal.describe())
    d = base.capacity.pipeline.disputes
    if d.active:
        lines.append(
            "Mediation and tribunal: shares of refusals / new plans / review decisions going to "
            f"mediation {d.mediation.refusals:g} / {d.mediation.plans:g} / {d.mediation.reviews:g} "
            f"and to the SEND tribunal {d.tribunal.refusals:g} / {d.tribunal.plans:g} / "
            f"{d.tribunal.reviews:g}; each mediation takes {d.mediation_hours.caseworker:g} "
            f"caseworker and {d.mediation_hours.ep:g} EP hours, each appeal "
            f"{d.tribunal_hours.caseworker:g} and {d.tribunal_hours.ep:g}, set aside from staff "
            f"time (workload, not a delay on the 20 weeks); costs £{c.disputes.mediation_gbp:,.0f} "
            f"per mediation and £{c.disputes.tribunal_gbp:,.0f} per appeal at base prices.")
    for g in scenarios.targets.goals:
        lines.append(f"Target '{g.name}': {g.describe()}.")
    s = scenarios.targets.search
    lines.append(
        f"Optimiser: extra staff from {s.start} added to scenario '{s.scenario}': EP FTE "
        f"{s.ep_fte[0]:g}-{s.ep_fte[1]:g}, caseworker FTE {s.caseworker_fte[0]:g}-{s.caseworker_fte[1]:g}, "
        f"locum EP hours/week {s.locum_hours_per_week[0]:g}-{s.locum_hours_per_week[1]:g}"
        + (f" (until {s.locum_until})" if s.locum_until else "") + "; "
        f"{s.n_paths} paths per candidate (or fewer if the run has fewer)."
    )
    for scen in scenarios:
        if scen.description:
            lines.append(f"Scenario '{scen.name}': {scen.description}")
    return lines
