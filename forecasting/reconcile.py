"""Coherent forecasts for England, its 9 regions and its local authorities.

Forecasting each series on its own gives LA forecasts that do not add up to their region's, nor
regions to England's. Reconciliation maps the base forecasts ``yhat`` (all levels) to coherent
ones ``S G yhat``, where ``S`` is the summing matrix (each node = a sum of LAs) and ``G`` picks
the bottom level (Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, 3rd ed.,
ch. 11):

- ``bu`` bottom-up: the LA forecasts, summed.
- ``td`` top-down by forecast proportions: England's forecast split down the tree in the
  proportions of the base forecasts of each node's children.
- ``ols``: ``G = (S'S)^-1 S'``; ``wls_struct``: ``W = diag(S 1)`` (variance grows with the
  number of LAs in a node); ``wls_var``: ``W = diag`` of residual variances;
- ``mint_shrink``: ``G = (S' W^-1 S)^-1 S' W^-1`` with ``W`` the residual covariance shrunk
  towards its diagonal (Schäfer & Strimmer 2005, as in Wickramasuriya, Athanasopoulos & Hyndman
  2019).

Which one is best is an empirical question: :func:`choose_reconciliation` scores them by MASE on
rolling-origin windows. Negative bottom-level values are set to zero and summed up again, so the
output stays coherent and non-negative.

On the embedded SEN2 data (153 LAs, 9 regions, England; cutoffs 2019 to the year before the
last, horizons 1-3; MASE averaged over the three levels; ``history`` given):

- January stock, 3-year log-drift base: ``td`` 0.997 won among coherent methods (base,
  incoherent, 0.933; ``wls_var`` 1.179; ``bu`` 1.240; ``wls_struct`` 1.251; ``ols`` 1.401;
  ``mint_shrink`` 2.063). With earlier-window errors instead of a history (fewer windows, other
  scale) ``mint_shrink`` 0.4263 edged ``td`` 0.4266 (base 0.396).
- Requests, drift base: ``td`` 1.953 won and beat the base (1.966), at LA level too (2.282 v
  2.322); ``mint_shrink`` was last (2.254). ``td`` also won with earlier-window errors.

So ``td`` is the sensible default; MinT needs residuals that resemble the base model's errors,
which a dozen years of annual data rarely give. DfE's regional totals are the sums of their
LAs for the stock; for requests, two regions' 2023 totals are up to 3% above the sum of the LAs
that reported (missing LA values), and in the backtest an LA with a gap in its series was only
forecast from the gap on: both cost every coherent method a little at the upper levels.
"""

from __future__ import annotations

import functools
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.errors import EhcpError

__all__ = [
    "METHODS",
    "Hierarchy",
    "build_hierarchy",
    "la_regions",
    "choose_reconciliation",
    "reconcile",
    "reconcile_paths",
    "reconciliation_scores",
    "shrink_covariance",
]

METHODS = ("bu", "td", "ols", "wls_struct", "wls_var", "mint_shrink")
ENGLAND = "E92000001"
_NEEDS_RESIDUALS = ("wls_var", "mint_shrink")


@dataclass(frozen=True)
class Hierarchy:
    """England > regions > LAs.

    Attributes
    ----------
    mapping : Series
        Region code of every known LA (index: LA ``unique_id``), including LAs that have since
        been merged or split, so a backtest on earlier years can use them.
    bottom : tuple of str
        The LAs forming the bottom level (by default those present in the last year).
    top : str
        The national ``unique_id``.
    """

    mapping: pd.Series
    bottom: tuple[str, ...]
    top: str = ENGLAND

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str] | pd.Series, bottom: Iterable[str] | None = None,
                     top: str = ENGLAND) -> Hierarchy:
        """A hierarchy from an ``{la: region}`` mapping (all LAs are bottom unless given).

        Examples
        --------
        >>> hier = Hierarchy.from_mapping({"A": "R1", "B": "R1", "C": "R2"}, top="T")
        >>> hier.summing_matrix().to_numpy().tolist()
        [[1, 1, 1], [1, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
        """
        series = pd.Series(dict(mapping), dtype=object) if not isinstance(mapping, pd.Series) \
            else mapping.astype(object)
        series.index = series.index.astype(str)
        chosen = tuple(sorted(str(b) for b in (series.index if bottom is None else bottom)))
        unknown = [b for b in chosen if b not in series.index]
        if unknown:
            raise EhcpError(f"no region known for {', '.join(unknown[:5])}", field="unique_id",
                            fix="add the LA to the region mapping")
        return cls(series.astype(str), chosen, top)

    def restrict(self, ids: Iterable[str]) -> Hierarchy:
        """The same hierarchy with only the given LAs (those known to the mapping) at the bottom."""
        keep = sorted(set(map(str, ids)) & set(self.mapping.index))
        return Hierarchy(self.mapping, tuple(keep), self.top)

    @property
    def regions(self) -> list[str]:
        return sorted(set(self.mapping.reindex(list(self.bottom))))

    @property
    def nodes(self) -> list[str]:
        """Every node, top first, then regions, then LAs (the row order of ``S``)."""
        return [self.top, *self.regions, *self.bottom]

    def levels(self) -> pd.Series:
        """``national`` / ``regional`` / ``la`` for each node."""
        return pd.Series(["national"] + ["regional"] * len(self.regions) + ["la"] * len(self.bottom),
                         index=self.nodes, name="level")

    def summing_matrix(self) -> pd.DataFrame:
        """``S``: one row per node, one column per LA, 1 where the LA is part of the node."""
        regions = self.mapping.reindex(list(self.bottom)).to_numpy()
        rows = [np.ones(len(self.bottom), dtype=int)]
        rows += [(regions == r).astype(int) for r in self.regions]
        s = np.vstack([*rows, np.eye(len(self.bottom), dtype=int)])
        return pd.DataFrame(s, index=self.nodes, columns=list(self.bottom))


def build_hierarchy(panel: pd.DataFrame | None = None, *, measure: str = "stock_plans",
                    year: int | None = None, data_dir: str | Path | None = None) -> Hierarchy:
    """The England > region > LA hierarchy of the SEN2 panel.

    The bottom level is the set of LAs with a value of ``measure`` in ``year`` (default: the
    last year of that measure), because boundary changes (Dorset 2019; Cumbria, North Yorkshire,
    Somerset 2023) mean some LAs exist only for some years. The region of each LA comes from the
    panel's ``region_code`` column if it has one, else from the DfE zips in ``data_dir`` (default
    the repository's ``data/raw``, or ``$EHCP_DATA_DIR``).
    """
    mapping = _regions_from_panel(panel) if panel is not None else None
    if mapping is None:
        mapping = la_regions(data_dir)
    if panel is None:
        return Hierarchy.from_mapping(mapping)
    rows = panel[(panel["level"] == "la") & (panel["measure"] == measure)]
    if "breakdown" in rows:
        rows = rows[rows["breakdown"] == "all"]
    rows = rows[rows["y"].notna()]
    if rows.empty:
        raise EhcpError(f"the panel has no LA values of '{measure}'", field="measure",
                        fix="use a measure published by LA, e.g. stock_plans")
    year = int(rows["ds"].max()) if year is None else year
    present = rows.loc[rows["ds"] == year, "unique_id"].astype(str).unique()
    unknown = sorted(set(present) - set(mapping.index))
    if unknown:
        raise EhcpError(f"no region code for LA(s) {', '.join(unknown[:5])}", field="region_code",
                        fix="check the DfE zips in data/raw are complete")
    return Hierarchy.from_mapping(mapping, present)


def _regions_from_panel(panel: pd.DataFrame) -> pd.Series | None:
    if "region_code" not in panel:
        return None
    las = panel[(panel["level"] == "la") & panel["region_code"].notna()]
    las = las[las["region_code"].astype(str) != ""]
    if las.empty:
        return None
    return las.drop_duplicates("unique_id").set_index(
        las.drop_duplicates("unique_id")["unique_id"].astype(str))["region_code"].astype(str)


def la_regions(data_dir: str | Path | None = None) -> pd.Series:
    """Region code of every LA that appears in the DfE "Download all data" zips.

    Examples
    --------
    >>> regions = la_regions()
    >>> regions["E08000035"]  # Leeds, Yorkshire and the Humber
    'E12000003'
    """
    # Cached: it reads a few MB from the zips and the hierarchy is asked for often.
    if data_dir is None:
        from forecasting.data import default_data_dir  # $EHCP_DATA_DIR, as load_panel uses

        data_dir = default_data_dir()
    folder = Path(data_dir)
    return _la_regions(str(folder.resolve())).copy()


@functools.lru_cache(maxsize=4)
def _la_regions(data_dir: str) -> pd.Series:
    folder = Path(data_dir)
    zips = sorted(folder.glob("*.zip"))
    if not zips:
        raise EhcpError("no DfE zips found", file=folder, fix="put the SEN2 'Download all data' "
                        "zips in data/raw or pass data_dir")
    found: dict[str, str] = {}
    for path in zips:
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if not name.startswith("data/") or not name.endswith(".csv"):
                    continue
                with zf.open(name) as fh:
                    head = fh.readline().decode("utf-8-sig")
                if "region_code" not in head or "new_la_code" not in head:
                    continue
                with zf.open(name) as fh:
                    df = pd.read_csv(fh, usecols=["geographic_level", "region_code",
                                                  "new_la_code"], dtype=str,
                                     encoding="utf-8-sig")
                df = df[df["geographic_level"] == "Local authority"].dropna()
                found.update(zip(df["new_la_code"], df["region_code"], strict=True))
                break  # one file per zip carries the full list of codes
    return pd.Series(found, name="region_code").sort_index()


def shrink_covariance(resid: np.ndarray) -> tuple[np.ndarray, float]:
    """Residual covariance shrunk towards its diagonal, and the shrinkage intensity lambda.

    The Schäfer-Strimmer estimator used by MinT: residuals are taken as mean zero,
    ``lambda = sum var(r_ij) / sum r_ij^2`` over off-diagonal sample correlations, clipped to
    ``[0, 1]``. Missing residuals (NaN) count as zero, and each series' variance is averaged over
    the years it is present.

    Examples
    --------
    >>> r = np.array([[1.0, 0.9], [-1.0, -1.1], [0.5, 0.4], [-0.5, -0.2]])
    >>> w, lam = shrink_covariance(r)
    >>> round(lam, 3), np.allclose(w, w.T)
    (0.188, True)
    """
    present = (~np.isnan(resid)).astype(float)
    x = np.nan_to_num(resid)
    # D X'X D with D = diag(1 / sqrt(years present)): each variance uses its own years, and
    # unlike pairwise-complete estimates the result stays positive semi-definite.
    d = 1.0 / np.sqrt(np.maximum(present.sum(axis=0), 1.0))
    cov = (x.T @ x) * np.outer(d, d)
    n = x.shape[0]
    sd = np.sqrt(np.maximum(np.diag(cov), 1e-12))
    if n < 2:
        return np.diag(np.diag(cov)), 1.0
    xs = x / sd
    cor = xs.T @ xs / n
    v = ((xs**2).T @ (xs**2) - n * cor**2) / (n * (n - 1))
    np.fill_diagonal(v, 0.0)
    off = cor - np.eye(len(sd))
    denom = float((off**2).sum())
    lam = 1.0 if denom == 0 else float(np.clip(v.sum() / denom, 0.0, 1.0))
    shrunk = lam * np.diag(np.diag(cov)) + (1 - lam) * cov
    return shrunk, lam


def _residual_matrix(residuals: pd.DataFrame | None, history: pd.DataFrame | None,
                     nodes: list[str]) -> np.ndarray:
    """Years x nodes residuals: given ones, else drift-model one-step errors."""
    if residuals is not None:
        frame = residuals.copy()
        if "resid" not in frame:
            if not {"y", "yhat"} <= set(frame.columns):
                raise EhcpError("residuals need a resid column or y and yhat", field="resid",
                                fix="pass in-sample or backtest errors: unique_id, ds, resid")
            frame["resid"] = frame["y"] - frame["yhat"]
    elif history is not None:
        frame = history.sort_values(["unique_id", "ds"]).copy()
        # One-step errors of a drift model: year-on-year changes less each series' mean change
        # (raw changes of growing series are all positive, which reads as perfect correlation).
        change = frame.groupby("unique_id")["y"].diff()
        frame["resid"] = change - change.groupby(frame["unique_id"]).transform("mean")
    else:
        raise EhcpError("this method needs residuals (or a history to take drift-model errors from)",
                        field="residuals", fix="pass residuals=... or history=..., or use "
                        "method='wls_struct' which needs neither")
    frame["unique_id"] = frame["unique_id"].astype(str)
    wide = frame.pivot_table(index="ds", columns="unique_id", values="resid", aggfunc="mean")
    missing = [n for n in nodes if n not in wide.columns or wide[n].notna().sum() == 0]
    if missing:
        raise EhcpError(f"no residuals for {len(missing)} node(s), e.g. {', '.join(missing[:3])}",
                        field="residuals", fix="give residuals for every LA, region and England")
    return wide[nodes].to_numpy(dtype=float)


def _g_matrix(method: str, s: np.ndarray, yhat: np.ndarray | None,
              resid: np.ndarray | None) -> np.ndarray:
    """``G`` (bottoms x nodes) so that the reconciled bottom level is ``G @ yhat``."""
    n_nodes, n_bottom = s.shape
    if method == "bu":
        return np.hstack([np.zeros((n_bottom, n_nodes - n_bottom)), np.eye(n_bottom)])
    if method == "ols":
        w_inv = np.eye(n_nodes)
    elif method == "wls_struct":
        w_inv = np.diag(1.0 / s.sum(axis=1))
    elif method in _NEEDS_RESIDUALS:
        assert resid is not None
        w, _ = shrink_covariance(resid)
        if method == "wls_var":
            w = np.diag(np.diag(w))
        floor = 1e-9 * max(float(np.mean(np.diag(w))), 1e-12)
        w = w + floor * np.eye(n_nodes)
        w_inv = np.linalg.inv(w)
    else:
        raise EhcpError(f"unknown reconciliation method '{method}'", field="method",
                        fix=f"use one of {', '.join(METHODS)}")
    st_w = s.T @ w_inv
    return np.linalg.solve(st_w @ s, st_w)


def _top_down(s: np.ndarray, yhat: np.ndarray, n_top_rows: int) -> np.ndarray:
    """Bottom level by forecast proportions: each node's reconciled value is split among its
    children in proportion to their base forecasts (Athanasopoulos, Ahmed & Hyndman 2009)."""
    n_bottom = s.shape[1]
    top = max(float(yhat[0]), 0.0)
    regions = s[1:n_top_rows]
    reg_base = np.clip(yhat[1:n_top_rows], 0, None)
    bottom_base = np.clip(yhat[n_top_rows:], 0, None)
    reg_share = reg_base / reg_base.sum() if reg_base.sum() > 0 else \
        np.full(len(reg_base), 1.0 / len(reg_base))
    out = np.zeros(n_bottom)
    for r, members in enumerate(regions.astype(bool)):
        within = bottom_base[members]
        split = within / within.sum() if within.sum() > 0 else np.full(len(within),
                                                                       1.0 / len(within))
        out[members] = top * reg_share[r] * split
    return out


def _base_matrix(base: pd.DataFrame, nodes: list[str], column: str) -> pd.DataFrame:
    frame = base.assign(unique_id=base["unique_id"].astype(str))
    wide = frame.pivot_table(index="ds", columns="unique_id", values=column, aggfunc="first")
    missing = [n for n in nodes if n not in wide.columns]
    if missing:
        raise EhcpError(f"base forecasts lack {len(missing)} node(s) of the hierarchy, e.g. "
                        f"{', '.join(missing[:3])}", field="unique_id",
                        fix="forecast every LA, region and England, or restrict the hierarchy "
                            "with Hierarchy.restrict")
    wide = wide[nodes]
    if wide.isna().any().any():
        ds = wide.index[wide.isna().any(axis=1)][0]
        raise EhcpError(f"base forecasts have a gap at ds={ds}", field=column,
                        fix="give a forecast for every node in every year")
    return wide


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise EhcpError(f"unknown reconciliation method '{method}'", field="method",
                        fix=f"use one of {', '.join(METHODS)}")


def _projection(method: str, hierarchy: Hierarchy, residuals: pd.DataFrame | None,
                history: pd.DataFrame | None) -> np.ndarray | None:
    _check_method(method)
    if method == "td":
        return None
    s = hierarchy.summing_matrix().to_numpy(dtype=float)
    resid = (_residual_matrix(residuals, history, hierarchy.nodes)
             if method in _NEEDS_RESIDUALS else None)
    return _g_matrix(method, s, None, resid)


def _apply(g: np.ndarray | None, s: np.ndarray, yhat: np.ndarray, n_upper: int,
           nonnegative: bool) -> np.ndarray:
    """Reconcile the columns of ``yhat`` (nodes x k)."""
    if g is None:
        bottom = np.column_stack([_top_down(s, yhat[:, j], n_upper) for j in range(yhat.shape[1])])
    else:
        bottom = g @ yhat
    if nonnegative:
        bottom = np.clip(bottom, 0.0, None)
    return s @ bottom


def reconcile(base_forecasts: pd.DataFrame, hierarchy: Hierarchy, method: str = "td",
              *, residuals: pd.DataFrame | None = None, history: pd.DataFrame | None = None,
              nonnegative: bool = True) -> pd.DataFrame:
    """Make base forecasts add up across England, regions and LAs.

    Parameters
    ----------
    base_forecasts : DataFrame
        ``unique_id, ds, yhat`` and optional ``lo_<l>, hi_<l>`` for every node of the hierarchy.
    hierarchy : Hierarchy
        From :func:`build_hierarchy` or :meth:`Hierarchy.from_mapping`.
    method : str
        One of ``bu, td, ols, wls_struct, wls_var, mint_shrink``; pick it with
        :func:`choose_reconciliation`.
    residuals : DataFrame, optional
        ``unique_id, ds, resid`` (or ``y, yhat``) one-step errors for ``wls_var``/``mint_shrink``.
    history : DataFrame, optional
        ``unique_id, ds, y``: without ``residuals``, the one-step errors of a drift model
        (year-on-year changes less their mean) stand in for them.
    nonnegative : bool
        Set negative LA forecasts to zero before summing up (keeps coherence).

    Returns
    -------
    DataFrame
        ``unique_id, ds, level, yhat`` plus the interval columns of the input, shifted with the
        point forecast (the base interval widths are kept; for coherent intervals reconcile
        sample paths with :func:`reconcile_paths`), and ``method``.

    Examples
    --------
    >>> hier = Hierarchy.from_mapping({"A": "R", "B": "R"}, top="T")
    >>> base = pd.DataFrame({"unique_id": ["T", "R", "A", "B"], "ds": 2025,
    ...                      "yhat": [30.0, 27.0, 10.0, 14.0]})
    >>> out = reconcile(base, hier, "ols")
    >>> out.set_index("unique_id")["yhat"].round(3).to_dict()
    {'T': 27.6, 'R': 27.6, 'A': 11.8, 'B': 15.8}
    """
    nodes = hierarchy.nodes
    s = hierarchy.summing_matrix().to_numpy(dtype=float)
    n_upper = len(nodes) - len(hierarchy.bottom)
    g = _projection(method, hierarchy, residuals, history)
    wide = _base_matrix(base_forecasts, nodes, "yhat")
    coherent = _apply(g, s, wide.to_numpy(dtype=float).T, n_upper, nonnegative).T
    out = pd.DataFrame({"unique_id": np.tile(np.asarray(nodes, dtype=object), len(wide)),
                        "ds": np.repeat(wide.index.to_numpy(), len(nodes)),
                        "yhat": coherent.ravel()})
    shift = coherent.ravel() - wide.to_numpy(dtype=float).ravel()
    bounds = [c for c in base_forecasts.columns if c.startswith(("lo_", "hi_"))]
    for col in bounds:
        b = _base_matrix(base_forecasts, nodes, col).reindex(wide.index).to_numpy(dtype=float)
        out[col] = np.clip(b.ravel() + shift, 0.0, None) if nonnegative else b.ravel() + shift
    out["level"] = hierarchy.levels().reindex(out["unique_id"]).to_numpy()
    out["method"] = method
    return out[["unique_id", "ds", "level", "yhat", *bounds, "method"]].reset_index(drop=True)


def reconcile_paths(paths: pd.DataFrame, hierarchy: Hierarchy, method: str = "td", *,
                    residuals: pd.DataFrame | None = None, history: pd.DataFrame | None = None,
                    nonnegative: bool = True) -> pd.DataFrame:
    """Reconcile joint sample paths ``unique_id, ds, sample_id, y`` path by path.

    Applying the same projection to every path gives a coherent predictive distribution
    (Panagiotelis et al. 2023): each path adds up, so intervals taken from the paths are
    coherent too. Paths of different nodes are paired by ``sample_id``.

    Examples
    --------
    >>> hier = Hierarchy.from_mapping({"A": "R", "B": "R"}, top="T")
    >>> paths = pd.DataFrame({"unique_id": ["T", "R", "A", "B"] * 2, "ds": 2025,
    ...     "sample_id": [0] * 4 + [1] * 4, "y": [30.0, 27, 10, 14, 20, 21, 9, 9]})
    >>> out = reconcile_paths(paths, hier, "bu")
    >>> out[out["unique_id"] == "T"]["y"].tolist()
    [24.0, 18.0]
    """
    nodes = hierarchy.nodes
    s = hierarchy.summing_matrix().to_numpy(dtype=float)
    n_upper = len(nodes) - len(hierarchy.bottom)
    g = _projection(method, hierarchy, residuals, history)
    frame = paths.assign(unique_id=paths["unique_id"].astype(str))
    wide = frame.pivot_table(index=["ds", "sample_id"], columns="unique_id", values="y",
                             aggfunc="first")
    missing = [n for n in nodes if n not in wide.columns]
    if missing or wide[nodes].isna().any().any():
        raise EhcpError(f"sample paths lack node(s) {', '.join(missing[:3]) or '(some years)'}",
                        field="unique_id", fix="simulate every node with the same sample_ids")
    coherent = _apply(g, s, wide[nodes].to_numpy(dtype=float).T, n_upper, nonnegative).T
    keys = wide.index.to_frame(index=False)
    out = pd.DataFrame({"unique_id": np.tile(np.asarray(nodes, dtype=object), len(wide)),
                        "ds": np.repeat(keys["ds"].to_numpy(), len(nodes)),
                        "sample_id": np.repeat(keys["sample_id"].to_numpy(), len(nodes)),
                        "y": coherent.ravel()})
    return out[["unique_id", "ds", "sample_id", "y"]].sort_values(
        ["unique_id", "ds", "sample_id"]).reset_index(drop=True)


def _model_column(cv: pd.DataFrame, model: str | None) -> str:
    if model is not None:
        if model not in cv:
            raise EhcpError(f"the cross-validation frame has no column '{model}'", field="model",
                            fix="name one of its model columns")
        return model
    keys = {"unique_id", "ds", "cutoff", "y", "level", "method"}
    cands = [c for c in cv.columns if c not in keys and not c.startswith(("lo_", "hi_"))
             and pd.api.types.is_numeric_dtype(cv[c])]
    if len(cands) != 1:
        raise EhcpError(f"cannot tell which column holds the base forecasts ({cands})",
                        field="model", fix="pass model=<column name>")
    return cands[0]


def _mase_scale(y: pd.DataFrame, cutoff: object | None) -> pd.Series:
    hist = y if cutoff is None else y[y["ds"] <= cutoff]
    hist = hist.sort_values(["unique_id", "ds"])
    scale = hist.groupby("unique_id")["y"].apply(lambda v: float(np.nanmean(np.abs(np.diff(
        v.to_numpy(dtype=float))))) if len(v) > 1 else np.nan)
    return scale


def reconciliation_scores(cv_frame: pd.DataFrame, hierarchy: Hierarchy, *,
                          model: str | None = None, history: pd.DataFrame | None = None,
                          methods: Sequence[str] = METHODS) -> pd.DataFrame:
    """MASE of each reconciliation method on rolling-origin windows, by level.

    Parameters
    ----------
    cv_frame : DataFrame
        ``unique_id, ds, cutoff, y`` and a base-forecast column (e.g. the output of
        ``forecasting.cross_validation`` for every LA, region and England).
    hierarchy : Hierarchy
        Restricted in each window to the LAs that have forecasts there (boundary changes).
    model : str, optional
        The base-forecast column (needed when there are several).
    history : DataFrame, optional
        ``unique_id, ds, y``: scales MASE by each series' mean absolute year-on-year change up
        to the cutoff and gives ``wls_var``/``mint_shrink`` their (drift-model) residuals up to the
        cutoff. Without it the scale comes from the actuals in ``cv_frame`` and those methods
        use the errors of earlier windows whose years are known by the cutoff (windows with
        none are skipped for every method).

    Returns
    -------
    DataFrame
        ``method, level, mase, n`` with ``level`` one of ``national, regional, la, all``; ``all``
        is the mean of the three levels (so 150 LAs do not drown England). ``base`` is the
        unreconciled forecast, for reference.
    """
    col = _model_column(cv_frame, model)
    for m in methods:
        _check_method(m)
    cv = cv_frame.assign(unique_id=cv_frame["unique_id"].astype(str))
    actuals = (history if history is not None else cv[["unique_id", "ds", "y"]]
               .drop_duplicates(["unique_id", "ds"]))
    actuals = actuals.assign(unique_id=actuals["unique_id"].astype(str))
    rows = []
    for cutoff, win in cv.groupby("cutoff", sort=True):
        # An LA created or abolished mid-window (boundary changes) lacks some target years:
        # score the window on the LAs forecast for all of them.
        n_ds = win.groupby("unique_id")["ds"].nunique()
        win = win[win["unique_id"].isin(n_ds[n_ds == win["ds"].nunique()].index)]
        sub = hierarchy.restrict(set(win["unique_id"]))
        if not sub.bottom:
            continue
        residuals = None
        if history is None:
            earlier = cv[(cv["cutoff"] < cutoff) & (cv["ds"] <= cutoff)]
            # One error per node and year: the shortest-horizon one.
            earlier = earlier.sort_values("cutoff").drop_duplicates(["unique_id", "ds"],
                                                                    keep="last")
            if earlier.empty and any(m in _NEEDS_RESIDUALS for m in methods):
                continue
            residuals = earlier.assign(resid=earlier["y"] - earlier[col])[
                ["unique_id", "ds", "resid"]]
            hist_cut = None
        else:
            hist_cut = actuals[actuals["ds"] <= cutoff]
        if any(m in _NEEDS_RESIDUALS for m in methods):
            # An LA created just before the cutoff has no errors yet to weight it by: leave it
            # out of this window for every method, so they are scored on the same LAs.
            known = residuals if residuals is not None else hist_cut
            assert known is not None
            counts = known.groupby("unique_id")["ds"].nunique()
            enough = counts[counts >= (1 if residuals is not None else 2)].index
            win = win[win["unique_id"].isin(enough)]
            sub = hierarchy.restrict(set(win["unique_id"]))
            if not sub.bottom or not set(sub.nodes) <= set(win["unique_id"]):
                continue
        scale = _mase_scale(actuals, cutoff if history is not None else None)
        base = win.rename(columns={col: "yhat"})[["unique_id", "ds", "yhat"]]
        truth = win.drop_duplicates(["unique_id", "ds"]).set_index(["unique_id", "ds"])["y"]
        results = {"base": base.set_index(["unique_id", "ds"])["yhat"]}
        for m in methods:
            rec = reconcile(base, sub, m, residuals=residuals, history=hist_cut)
            results[m] = rec.set_index(["unique_id", "ds"])["yhat"]
        levels = sub.levels()
        for m, fc in results.items():
            fc = fc[fc.index.get_level_values(0).isin(sub.nodes)]
            err = (truth.reindex(fc.index) - fc).abs()
            per_series = err.groupby(level=0).mean() / scale.reindex(
                err.index.get_level_values(0).unique())
            per_series = per_series.replace([np.inf, -np.inf], np.nan).dropna()
            for lv, vals in per_series.groupby(levels.reindex(per_series.index).to_numpy()):
                rows.append({"method": m, "cutoff": cutoff, "level": lv,
                             "mase": float(vals.mean()), "n": len(vals)})
    if not rows:
        raise EhcpError("no window could be scored", field="cutoff",
                        fix="give at least two cutoffs (or a history) and forecasts for every node")
    frame = pd.DataFrame(rows)
    by_level = frame.groupby(["method", "level"], as_index=False).agg(
        mase=("mase", "mean"), n=("n", "sum"))
    overall = by_level.groupby("method", as_index=False).agg(mase=("mase", "mean"), n=("n", "sum"))
    overall["level"] = "all"
    out = pd.concat([by_level, overall], ignore_index=True)
    return out.sort_values(["level", "mase"]).reset_index(drop=True)


def choose_reconciliation(cv_frame: pd.DataFrame, hierarchy: Hierarchy, *,
                          model: str | None = None, history: pd.DataFrame | None = None,
                          methods: Sequence[str] = METHODS) -> str:
    """The reconciliation method with the lowest mean MASE over levels on backtest windows.

    See :func:`reconciliation_scores` for the arguments and the table behind the choice.

    Examples
    --------
    >>> hier = Hierarchy.from_mapping({"A": "R", "B": "R"}, top="T")
    >>> rows = []
    >>> for cutoff in (2020, 2021, 2022):
    ...     for ds in (cutoff + 1, cutoff + 2):
    ...         a, b = 10.0 + ds - 2020, 20.0 + 2 * (ds - 2020)
    ...         rows += [("A", ds, cutoff, a, a + 1), ("B", ds, cutoff, b, b - 5),
    ...                  ("R", ds, cutoff, a + b, a + b), ("T", ds, cutoff, a + b, a + b + 1)]
    >>> cv = pd.DataFrame(rows, columns=["unique_id", "ds", "cutoff", "y", "fc"])
    >>> choose_reconciliation(cv, hier)  # learns the LAs' systematic errors from earlier windows
    'mint_shrink'
    """
    scores = reconciliation_scores(cv_frame, hierarchy, model=model, history=history,
                                   methods=methods)
    overall = scores[(scores["level"] == "all") & (scores["method"] != "base")]
    return str(overall.sort_values("mase", kind="stable")["method"].iloc[0])
