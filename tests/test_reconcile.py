"""Reconciliation: textbook cases, coherence at every level, non-negativity, method choice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.errors import EhcpError
from forecasting.reconcile import (
    METHODS,
    Hierarchy,
    _g_matrix,
    build_hierarchy,
    choose_reconciliation,
    la_regions,
    reconcile,
    reconcile_paths,
    reconciliation_scores,
    shrink_covariance,
)

MAPPING = {"A1": "R1", "A2": "R1", "A3": "R1", "B1": "R2", "B2": "R2", "C1": "R3", "C2": "R3"}


@pytest.fixture(scope="module")
def hier() -> Hierarchy:
    return Hierarchy.from_mapping(MAPPING, top="T")


def _sums_hold(out: pd.DataFrame, hier: Hierarchy, col: str = "yhat") -> None:
    s = hier.summing_matrix()
    for _, grp in out.groupby("ds"):
        v = grp.set_index("unique_id")[col]
        np.testing.assert_allclose(v.reindex(s.index).to_numpy(),
                                   s.to_numpy() @ v.reindex(s.columns).to_numpy(), rtol=1e-9,
                                   atol=1e-6)


def _base(hier: Hierarchy, rng: np.random.Generator, years: int = 2) -> pd.DataFrame:
    nodes = hier.nodes
    s = hier.summing_matrix().to_numpy()
    rows = []
    for k in range(years):
        truth = s @ rng.uniform(50, 500, len(hier.bottom))
        noisy = truth * rng.uniform(0.8, 1.2, len(nodes))
        rows.append(pd.DataFrame({"unique_id": nodes, "ds": 2026 + k, "yhat": noisy,
                                  "lo_80": noisy * 0.9, "hi_80": noisy * 1.1}))
    return pd.concat(rows, ignore_index=True)


def _history(hier: Hierarchy, rng: np.random.Generator) -> pd.DataFrame:
    s = hier.summing_matrix().to_numpy()
    bottom = np.cumsum(rng.uniform(10, 40, (8, len(hier.bottom))), axis=0) + 100
    values = bottom @ s.T
    return pd.DataFrame({"unique_id": np.tile(hier.nodes, 8),
                         "ds": np.repeat(np.arange(2017, 2025), len(hier.nodes)),
                         "y": values.ravel()})


def test_summing_matrix_shape_and_order(hier: Hierarchy) -> None:
    s = hier.summing_matrix()
    assert s.shape == (1 + 3 + 7, 7)
    assert s.index[:4].tolist() == ["T", "R1", "R2", "R3"]
    assert s.loc["R2"].tolist() == [0, 0, 0, 1, 1, 0, 0]
    assert (s.iloc[4:].to_numpy() == np.eye(7)).all()


def test_ols_on_the_two_series_textbook_hierarchy() -> None:
    # FPP3 ch. 11.3: "ytilde = S (S'S)^-1 S' yhat" (OLS, W = I). For Total = A + B, by hand:
    # S'S = [[2, 1], [1, 2]], so A~ = (T + 2A - B) / 3 = A + d/3 with d = T - A - B: the
    # incoherence is spread equally over the three series.
    t, a, b = 100.0, 55.0, 39.0
    d = t - a - b
    s = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    g = _g_matrix("ols", s, None, None)
    np.testing.assert_allclose(s @ g @ np.array([t, a, b]), [t - d / 3, a + d / 3, b + d / 3])
    # Through the public API the region R repeats the total (one region): by hand with
    # S'S = [[3, 2], [2, 3]], A~ = (2T + 3A - 2B) / 5 = A + 2d/5.
    two = Hierarchy.from_mapping({"A": "R", "B": "R"}, top="T")
    base = pd.DataFrame({"unique_id": ["T", "R", "A", "B"], "ds": 2025, "yhat": [t, t, a, b]})
    out = reconcile(base, two, "ols").set_index("unique_id")["yhat"]
    assert out["A"] == pytest.approx(a + 2 * d / 5)
    assert out["B"] == pytest.approx(b + 2 * d / 5)
    assert out["T"] == pytest.approx(t - d / 5)


def test_mint_with_diagonal_w_matches_hand_worked_formula() -> None:
    # FPP3 ch. 11.3, eq. (11.4)-(11.6): G = (S' W^-1 S)^-1 S' W^-1. For T = A + B with
    # W = diag(wT, wR, wA, wB) the incoherence d = T - A - B is shared in proportion to the
    # variances: A~ = A + wA d / sum(w) ... (here R repeats T with its own variance).
    two = Hierarchy.from_mapping({"A": "R", "B": "R"}, top="T")
    base = pd.DataFrame({"unique_id": ["T", "R", "A", "B"], "ds": 2025,
                         "yhat": [100.0, 100.0, 55.0, 39.0]})
    sd = {"T": 2.0, "R": 2.0, "A": 1.0, "B": 3.0}
    resid = pd.DataFrame({"unique_id": np.repeat(list(sd), 2), "ds": [2023, 2024] * 4,
                          "resid": np.ravel([[v, -v] for v in sd.values()])})
    out = reconcile(base, two, "wls_var", residuals=resid).set_index("unique_id")["yhat"]
    w = {k: v**2 for k, v in sd.items()}
    # Two constraints (T = A + B, R = A + B): solve the textbook formula in closed form.
    s = np.array([[1, 1], [1, 1], [1, 0], [0, 1]], dtype=float)
    winv = np.diag([1 / w[k] for k in ["T", "R", "A", "B"]])
    g = np.linalg.inv(s.T @ winv @ s) @ s.T @ winv
    want = s @ g @ base["yhat"].to_numpy()
    np.testing.assert_allclose(out.reindex(["T", "R", "A", "B"]).to_numpy(), want)
    # And the hand-worked special case: with one top row only the shares are wA/(wT+wA+wB).
    d = 100 - 55 - 39
    wt = 1 / (1 / w["T"] + 1 / w["R"])  # T and R act as one observation of the total
    assert out["A"] == pytest.approx(55 + w["A"] * d / (wt + w["A"] + w["B"]))
    assert out["B"] == pytest.approx(39 + w["B"] * d / (wt + w["A"] + w["B"]))


def test_shrink_covariance_matches_the_hts_reference() -> None:
    # hts::shrink.estim (R, Hyndman et al.), quoted:
    #   covm <- crossprod(x) / n; corm <- cov2cor(covm)
    #   xs <- scale(x, center = FALSE, scale = sqrt(diag(covm)))
    #   v <- (1/(n * (n - 1))) * (crossprod(xs^2) - 1/n * (crossprod(xs))^2); diag(v) <- 0
    #   d <- (corm - cov2cor(tar))^2; lambda <- max(min(sum(v)/sum(d), 1), 0)
    #   shrink.cov <- lambda * tar + (1 - lambda) * covm      (tar = diag(diag(covm)))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4)) @ np.array([[1, 0.5, 0, 0], [0, 1, 0.3, 0], [0, 0, 1, 0],
                                                 [0, 0, 0, 2.0]])
    n = x.shape[0]
    covm = x.T @ x / n
    sd = np.sqrt(np.diag(covm))
    corm = covm / np.outer(sd, sd)
    xs = x / sd
    v = (1 / (n * (n - 1))) * ((xs**2).T @ (xs**2) - (1 / n) * (xs.T @ xs) ** 2)
    np.fill_diagonal(v, 0)
    d = (corm - np.eye(4)) ** 2
    lam = max(min(v.sum() / d.sum(), 1), 0)
    want = lam * np.diag(np.diag(covm)) + (1 - lam) * covm
    got, got_lam = shrink_covariance(x)
    assert got_lam == pytest.approx(lam)
    np.testing.assert_allclose(got, want)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_adds_up_at_every_level(hier: Hierarchy, method: str) -> None:
    rng = np.random.default_rng(5)
    base = _base(hier, rng)
    out = reconcile(base, hier, method, history=_history(hier, rng))
    _sums_hold(out, hier)
    assert (out["yhat"] >= 0).all()
    assert set(out["level"]) == {"national", "regional", "la"}
    assert (out["lo_80"] <= out["hi_80"]).all()


@settings(max_examples=25, deadline=None)
@given(values=st.lists(st.floats(-50, 1000), min_size=11, max_size=11),
       method=st.sampled_from(["bu", "td", "ols", "wls_struct"]))
def test_coherent_and_nonnegative_for_any_base(values: list[float], method: str) -> None:
    hier = Hierarchy.from_mapping(MAPPING, top="T")
    base = pd.DataFrame({"unique_id": hier.nodes, "ds": 2026, "yhat": values})
    out = reconcile(base, hier, method)
    _sums_hold(out, hier)
    assert (out["yhat"] >= -1e-9).all()


def test_bottom_up_keeps_las_and_top_down_keeps_england(hier: Hierarchy) -> None:
    base = _base(hier, np.random.default_rng(2))
    bu = reconcile(base, hier, "bu")
    td = reconcile(base, hier, "td")
    las = base[base["unique_id"].isin(hier.bottom)].set_index(["unique_id", "ds"])["yhat"]
    np.testing.assert_allclose(bu.set_index(["unique_id", "ds"])["yhat"].reindex(las.index), las)
    top = base[base["unique_id"] == "T"]["yhat"].to_numpy()
    np.testing.assert_allclose(td[td["unique_id"] == "T"]["yhat"].to_numpy(), top)


def test_reconciled_paths_add_up(hier: Hierarchy) -> None:
    rng = np.random.default_rng(3)
    frames = []
    for sid in range(5):
        frames.append(_base(hier, rng).drop(columns=["lo_80", "hi_80"]).rename(
            columns={"yhat": "y"}).assign(sample_id=sid))
    out = reconcile_paths(pd.concat(frames), hier, "mint_shrink", history=_history(hier, rng))
    for _, grp in out.groupby("sample_id"):
        _sums_hold(grp, hier, "y")


def test_errors(hier: Hierarchy) -> None:
    base = _base(hier, np.random.default_rng(1))
    with pytest.raises(EhcpError, match="unknown reconciliation method"):
        reconcile(base, hier, "magic")
    with pytest.raises(EhcpError, match="lack"):
        reconcile(base[base["unique_id"] != "A1"], hier, "ols")
    with pytest.raises(EhcpError, match="residuals"):
        reconcile(base, hier, "mint_shrink")


def test_choose_by_backtest_and_boundary_changes(hier: Hierarchy) -> None:
    # LA "OLD" exists only in the early windows (merged away): restrict() drops it elsewhere.
    mapping = {**MAPPING, "OLD": "R3"}
    full = Hierarchy.from_mapping(mapping, bottom=list(MAPPING), top="T")
    rng = np.random.default_rng(11)
    rows = []
    for cutoff in (2020, 2021, 2022, 2023):
        sub = full.restrict([*MAPPING, "OLD"] if cutoff < 2022 else MAPPING)
        s = sub.summing_matrix().to_numpy()
        for ds in (cutoff + 1, cutoff + 2):
            truth = s @ (100 + 10 * (ds - 2020) + np.arange(len(sub.bottom)))
            # LAs biased low, aggregates right: a method that trusts the top should win.
            fc = truth * np.where(np.arange(len(sub.nodes)) >= len(sub.nodes) - len(sub.bottom),
                                  0.8, 1.0) * rng.uniform(0.99, 1.01, len(sub.nodes))
            rows.append(pd.DataFrame({"unique_id": sub.nodes, "ds": ds, "cutoff": cutoff,
                                      "y": truth, "auto": fc}))
    cv = pd.concat(rows, ignore_index=True)
    scores = reconciliation_scores(cv, full)
    assert set(scores["method"]) == {"base", *METHODS}
    best = choose_reconciliation(cv, full)
    assert best in METHODS and best != "bu"
    overall = scores[scores["level"] == "all"].set_index("method")["mase"]
    assert overall[best] == overall.drop("base").min()
    assert overall["td"] < overall["bu"]


def test_build_hierarchy_from_panel_uses_last_year_las() -> None:
    panel = pd.DataFrame({
        "unique_id": ["E92000001", "E12000001", "L1", "L2", "L3", "L1", "L2", "L4"],
        "level": ["national", "regional", "la", "la", "la", "la", "la", "la"],
        "measure": "stock_plans", "breakdown": "all",
        "ds": [2025, 2025, 2024, 2024, 2024, 2025, 2025, 2025],
        "y": [10.0, 10, 3, 3, 4, 4, 4, 2],
        "region_code": ["", "", "E12000001", "E12000001", "E12000002", "E12000001",
                        "E12000001", "E12000002"]})
    hier = build_hierarchy(panel)
    assert hier.bottom == ("L1", "L2", "L4")
    assert hier.regions == ["E12000001", "E12000002"]
    assert hier.restrict(["L1", "L3"]).bottom == ("L1", "L3")


def test_la_regions_from_the_embedded_zips(raw_dir) -> None:
    regions = la_regions(raw_dir)
    assert regions.nunique() == 9
    assert len(regions) >= 152
    assert regions["E08000035"] == "E12000003"  # Leeds: Yorkshire and the Humber


def test_mint_equals_the_constrained_form() -> None:
    # Wickramasuriya, Athanasopoulos & Hyndman (2019, JASA), the same projection written with
    # the constraint matrix U' = [I | -C] (U'y = 0 for coherent y) and J = [0 | I]:
    #   G = J - J W U (U' W U)^-1 U'
    # must equal FPP3's G = (S' W^-1 S)^-1 S' W^-1 for the shrunk W MinT uses.
    hier = Hierarchy.from_mapping(MAPPING, top="T")
    s = hier.summing_matrix().to_numpy(dtype=float)
    resid = _history(hier, np.random.default_rng(8)).pivot(index="ds", columns="unique_id",
                                                            values="y")[hier.nodes].diff()
    r = resid.dropna().to_numpy()
    w, _ = shrink_covariance(r)
    g = _g_matrix("mint_shrink", s, None, r)
    n, m = s.shape
    u = np.hstack([np.eye(n - m), -s[: n - m]]).T
    j = np.hstack([np.zeros((m, n - m)), np.eye(m)])
    w = w + 1e-9 * np.mean(np.diag(w)) * np.eye(n)  # the same tiny ridge reconcile adds
    np.testing.assert_allclose(g, j - j @ w @ u @ np.linalg.solve(u.T @ w @ u, u.T), atol=1e-6)


def test_shrunk_covariance_with_missing_years_is_positive_definite() -> None:
    rng = np.random.default_rng(4)
    r = rng.standard_normal((6, 5))
    r[:3, 0] = np.nan  # an LA created half-way through
    w, lam = shrink_covariance(r)
    assert 0 <= lam <= 1
    assert np.linalg.eigvalsh(w).min() > 0
    assert w[0, 0] == pytest.approx(np.mean(r[3:, 0] ** 2))


def test_real_hierarchy_from_the_panel(raw_dir) -> None:
    from forecasting.data import load_panel

    panel = load_panel(raw_dir)
    hier = build_hierarchy(panel, measure="stock_plans")
    assert len(hier.regions) == 9
    assert 150 <= len(hier.bottom) <= 155
    assert "E08000035" in hier.bottom  # Leeds
    stock = panel[(panel["measure"] == "stock_plans") & (panel["breakdown"] == "all")
                  & (panel["ds"] == 2025) & panel["unique_id"].isin(hier.nodes)]
    # Naive base forecasts for 2026: the January 2025 stock of every node.
    base = stock[["unique_id", "y"]].rename(columns={"y": "yhat"}).assign(ds=2026)
    out = reconcile(base, hier, "td")
    _sums_hold(out, hier)
    england = out.loc[out["unique_id"] == "E92000001", "yhat"].item()
    assert england == pytest.approx(638745)  # top-down keeps England's own forecast
