"""A synthetic case-level extract calibrated to one LA's SEN2 totals. Always labelled synthetic.

No real case-level extract is public, so the toolkit makes one that looks like a case-management
export and matches an LA's published yearly figures: request volumes, the refusal rate, the rate
of assessments that end without a plan and the share of plans issued within 20 weeks. Every row
carries ``synthetic = True``; :func:`write_synthetic` puts ``synthetic`` in the file name and
writes a ``.meta.json`` sidecar saying so.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.data.caselevel_load import empty_frame
from forecasting.data.caselevel_read import DATE_DTYPE, as_day, sidecar_path
from forecasting.data.caselevel_schema import CASE_SCHEMA, WEEKS_20_DAYS
from forecasting.data.export import atomic_path
from forecasting.data.synthetic_calibration import (
    DEFAULT_NEED_MIX,
    Calibration,
    calibration_from_panel,
)
from forecasting.errors import EhcpError

__all__ = [
    "DEFAULT_NEED_MIX",
    "Calibration",
    "calibration_from_panel",
    "duration_scale",
    "generate_synthetic",
    "synthesise_la",
    "write_synthetic",
]

# Ages at request: (first age, last age, share). Most requests are at primary age.
_AGE_BANDS = ((0, 4, 0.22), (5, 10, 0.40), (11, 15, 0.28), (16, 19, 0.08), (20, 25, 0.02))
# Setting at request, by age band index above.
_SETTINGS: dict[int, dict[str, float]] = {
    0: {"early_years": 0.85, "mainstream": 0.10, "other": 0.05},
    1: {"mainstream": 0.84, "special": 0.04, "independent_special": 0.02, "ap_pru": 0.03,
        "home_education": 0.03, "other": 0.04},
    2: {"mainstream": 0.78, "special": 0.05, "independent_special": 0.04, "ap_pru": 0.06,
        "home_education": 0.04, "other": 0.03},
    3: {"fe": 0.60, "mainstream": 0.15, "special": 0.05, "independent_special": 0.04,
        "neet": 0.12, "other": 0.04},
    4: {"fe": 0.55, "special": 0.05, "neet": 0.30, "other": 0.10},
}
# Relative request intake by month: school holidays are quiet (August above all), autumn and
# spring terms busy. Late December and weekends are damped separately.
_MONTH_WEIGHT = np.array([1.0, 1.05, 1.1, 0.85, 1.0, 1.1, 0.95, 0.35, 1.0, 1.2, 1.2, 0.9])
_WEEKEND_WEIGHT = 0.08
_XMAS_WEIGHT = 0.15
# Advice requested for this share of assessments (EP advice is statutory for all).
_ADVICE_SHARE = {"ep": 1.0, "health": 0.9, "social_care": 0.6}
# Median days per stage at scale 1 and log-sd; the timeliness tuner stretches them together.
_STAGE = {
    "decision": (30.0, 0.40), "ep": (38.0, 0.45), "health": (35.0, 0.40),
    "social_care": (30.0, 0.45), "draft": (14.0, 0.50), "final": (10.0, 0.60),
    "not_issued": (14.0, 0.50),
}
_FAMILY_COMMENT_DAYS = 15
_TUNE_SEED = 20_140_901  # fixed, so the tuned scale never depends on the caller's seed
_TUNE_N = 10_000
_ONE_YEAR_DAYS = 365


def _stage_days(z: Mapping[str, np.ndarray], scale: float, spread: float = 0.0
                ) -> dict[str, np.ndarray]:
    """Stage durations in days from standard normals ``z``.

    ``scale`` stretches every stage; ``spread`` gives each case one common slowness factor
    (``exp(spread * z_case)``) on the assessment stages, so a case stuck behind a backlog is
    slow throughout and the share of plans taking over a year can be matched too.
    """
    case = np.exp(spread * z["case"])
    out = {}
    for stage, (median, sd) in _STAGE.items():
        # Decisions slip less than the advice and drafting stages when a service is behind.
        s = np.sqrt(scale) if stage == "decision" else scale * case
        out[stage] = np.maximum(1.0, np.round(median * s * np.exp(sd * z[stage])))
    return out


def _normals(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {stage: rng.standard_normal(n) for stage in (*_STAGE, "case")}


def _assess_total(days: Mapping[str, np.ndarray], offset: np.ndarray,
                  asked: Mapping[str, np.ndarray]) -> np.ndarray:
    """Days from request to final plan (before truncation, without exception delays)."""
    advice = np.zeros_like(offset)
    for kind in _ADVICE_SHARE:
        advice = np.maximum(advice, np.where(asked[kind], days[kind], 0.0))
    return days["decision"] + offset + advice + days["draft"] + _FAMILY_COMMENT_DAYS + days["final"]


@functools.lru_cache(maxsize=64)
def duration_scale(pct_within_20wk: float, pct_over_1yr: float | None = None
                   ) -> tuple[float, float]:
    """The ``(scale, spread)`` of stage durations that reproduce the SEN2 timeliness figures.

    ``scale`` is found by bisection so that ``pct_within_20wk`` percent of plans take at most
    20 weeks; if ``pct_over_1yr`` is given, ``spread`` is found by an outer bisection so that
    that percent take over 52 weeks (else ``spread`` is 0). Computed on a fixed sample, so the
    result does not depend on the generator's seed.

    Examples
    --------
    >>> duration_scale(90.0)[0] < 1.0 < duration_scale(40.0)[0] < duration_scale(10.0)[0]
    True
    >>> scale, spread = duration_scale(9.4, 44.8)
    >>> spread > 0.3
    True
    """
    rng = np.random.default_rng(_TUNE_SEED)
    z = _normals(rng, _TUNE_N)
    offset = rng.integers(0, 8, _TUNE_N).astype(float)
    asked = {k: rng.random(_TUNE_N) < p for k, p in _ADVICE_SHARE.items()}

    def totals(log_scale: float, spread: float) -> np.ndarray:
        return _assess_total(_stage_days(z, float(np.exp(log_scale)), spread), offset, asked)

    def fit_scale(spread: float) -> float:
        target = min(max(pct_within_20wk / 100.0, 0.001), 0.999)
        lo, hi = np.log(0.01), np.log(50.0)
        for _ in range(30):
            mid = 0.5 * (lo + hi)
            share = np.mean(totals(mid, spread) <= WEEKS_20_DAYS)
            lo, hi = (mid, hi) if share > target else (lo, mid)
        return 0.5 * (lo + hi)

    spread = 0.0
    if pct_over_1yr is not None:
        target = min(max(pct_over_1yr / 100.0, 0.0), 0.999)
        lo, hi = 0.0, 2.5
        for _ in range(20):
            mid = 0.5 * (lo + hi)
            share = np.mean(totals(fit_scale(mid), mid) > _ONE_YEAR_DAYS)
            lo, hi = (mid, hi) if share < target else (lo, mid)
        spread = 0.5 * (lo + hi)
    return float(np.exp(fit_scale(spread))), float(spread)


def _request_dates(cal: Calibration, start: pd.Timestamp, end: pd.Timestamp,
                   rng: np.random.Generator) -> pd.DatetimeIndex:
    """Request dates with term-time seasonality; each year's count matches the calibration."""
    dates: list[pd.DatetimeIndex] = []
    for year in range(start.year, end.year + 1):
        days = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
        weight = _MONTH_WEIGHT[days.month - 1].copy()
        weight[days.day_of_week >= 5] *= _WEEKEND_WEIGHT
        weight[(days.month == 12) & (days.day >= 21)] *= _XMAS_WEIGHT
        inside = (days >= start) & (days <= end)
        share = weight[inside].sum() / weight.sum()
        n = round(cal.volume(year) * share)
        if n == 0 or not inside.any():
            continue
        counts = rng.multinomial(n, weight[inside] / weight[inside].sum())
        dates.append(days[inside].repeat(counts))
    if not dates:
        return pd.DatetimeIndex([], dtype=DATE_DTYPE)
    return pd.DatetimeIndex(np.concatenate([d.values for d in dates]))


def _pick(rng: np.random.Generator, mix: Mapping[str, float], n: int) -> np.ndarray:
    codes = list(mix)
    p = np.array([mix[c] for c in codes], dtype=float)
    return np.array(codes, dtype=object)[rng.choice(len(codes), size=n, p=p / p.sum())]


def generate_synthetic(
    calibration: Calibration,
    *,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    seed: int = 0,
    warmup_years: int = 3,
) -> pd.DataFrame:
    """Make a synthetic case-level extract in the schema, calibrated to one LA's SEN2 figures.

    Requests arrive with term-time seasonality; each goes through the statutory stages with
    log-normal durations stretched so that the share of plans issued within 20 weeks (and,
    if given, over a year) matches the calibration. Events after ``end`` are left blank, so
    cases still open on ``end`` form today's backlog.

    Like a case-management export of "every case active in the period", the extract holds
    the requests received from ``start`` to ``end`` plus those received up to
    ``warmup_years`` earlier that were still open on ``start``. Without them, plans issued in
    the first months would all be quick ones and the backlog would lack its oldest cases.

    Parameters
    ----------
    calibration : Calibration
        The figures to match.
    start, end : date-like
        First and last day of the extract (``end`` plays the role of "today").
    seed : int
        Seed for ``numpy.random.default_rng``; the same seed gives the same frame.
    warmup_years : int
        How far before ``start`` cases still open on ``start`` may have been requested
        (0: only requests from ``start``).

    Returns
    -------
    DataFrame
        One row per request, the schema's columns, ``synthetic`` True on every row and
        ``attrs["synthetic"] = True``.

    Examples
    --------
    >>> cal = Calibration("Testshire", {2024: 600}, refusal_rate=0.2, not_issued_rate=0.02,
    ...                   pct_within_20wk=50.0)
    >>> df = generate_synthetic(cal, start="2024-01-01", end="2024-12-31", seed=1)
    >>> int((df["request_date"] >= "2024-01-01").sum()), bool(df["synthetic"].all())
    (600, True)
    >>> bool((df["request_date"] < "2024-01-01").any())  # still open on 1 January
    True
    """
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if end < start:
        raise EhcpError(f"end {end.date()} is before start {start.date()}", field="end",
                        fix="give an end date after the start date")
    if warmup_years < 0:
        raise EhcpError(f"warmup_years must be 0 or more, got {warmup_years}",
                        field="warmup_years", fix="give a whole number of years such as 3")
    rng = np.random.default_rng(seed)
    first = start - pd.DateOffset(years=warmup_years)
    requests = _request_dates(calibration, first, end, rng)
    n = len(requests)
    frame = empty_frame()
    if n == 0:
        frame["synthetic"] = frame["synthetic"].astype(bool)
        frame.attrs["synthetic"] = True
        return frame
    # Every draw is made for every case, in a fixed order, so the output depends only on seed.
    u_decision, u_issue, u_exception = rng.random(n), rng.random(n), rng.random(n)
    z = _normals(rng, n)
    offset = rng.integers(0, 8, n).astype(float)
    asked = {k: rng.random(n) < p for k, p in _ADVICE_SHARE.items()}
    exception_delay = rng.integers(28, 91, n).astype(float)
    band = rng.choice(len(_AGE_BANDS), size=n, p=[b[2] for b in _AGE_BANDS])
    age_u = rng.random(n)
    setting_u = rng.random(n)
    need = _pick(rng, calibration.need_mix, n)

    days = _stage_days(z, *duration_scale(calibration.pct_within_20wk,
                                          calibration.pct_over_1yr))
    refuse = calibration.refusal_rate
    decision = np.where(u_decision < refuse, "not_assess",
                        np.where(u_decision < refuse + calibration.withdrawn_rate, "withdrawn",
                                 "assess"))
    assess = decision == "assess"
    exception = assess & (u_exception < calibration.exception_rate)
    not_issued = assess & (u_issue < calibration.not_issued_rate)

    req = requests.values.astype("datetime64[D]")

    def at(base: np.ndarray, plus: np.ndarray) -> np.ndarray:
        return base + plus.astype("timedelta64[D]")

    decided = at(req, days["decision"])
    asked_on = at(decided, offset)
    advice_in = asked_on.copy()
    cols: dict[str, Any] = {}
    for kind in _ADVICE_SHARE:
        wanted = assess & asked[kind]
        received = at(asked_on, days[kind])
        advice_in = np.where(wanted, np.maximum(advice_in, received), advice_in)
        cols[f"{kind}_advice_requested"] = np.where(wanted, asked_on, np.datetime64("NaT"))
        cols[f"{kind}_advice_received"] = np.where(wanted, received, np.datetime64("NaT"))
    draft = at(advice_in, days["draft"] + np.where(exception, exception_delay, 0.0))
    final = at(draft, _FAMILY_COMMENT_DAYS + days["final"])
    issued = assess & ~not_issued
    cols.update(
        decision_date=decided,
        draft_date=np.where(issued, draft, np.datetime64("NaT")),
        final_date=np.where(issued, final, np.datetime64("NaT")),
        not_issued_date=np.where(not_issued, at(advice_in, days["not_issued"]),
                                 np.datetime64("NaT")),
    )

    lo = np.array([b[0] for b in _AGE_BANDS])[band]
    hi = np.array([b[1] for b in _AGE_BANDS])[band]
    age = lo + np.floor(age_u * (hi - lo + 1)).astype(int)
    setting = np.empty(n, dtype=object)
    for b, mix in _SETTINGS.items():
        cum = np.cumsum(np.array(list(mix.values())) / sum(mix.values()))
        idx = np.minimum(np.searchsorted(cum, setting_u[band == b], side="right"), len(cum) - 1)
        setting[band == b] = np.array(list(mix), dtype=object)[idx]

    out = pd.DataFrame({"request_date": pd.to_datetime(req).astype(DATE_DTYPE)})
    out["decision"] = pd.Series(decision, dtype="str")
    for name, values in cols.items():
        out[name] = pd.to_datetime(values).astype(DATE_DTYPE)
    out["primary_need"] = pd.Series(need, dtype="str")
    out["age"] = pd.Series(age, dtype="Int64")
    out["setting"] = pd.Series(setting, dtype="str")
    out["exception"] = exception
    out["synthetic"] = True
    out = _truncate(out, end)
    closed = pd.concat([
        out["decision_date"].where(out["decision"].isin(["not_assess", "withdrawn"])),
        out["final_date"], out["not_issued_date"],
    ], axis=1).min(axis=1)
    out = out[(out["request_date"] >= start) | closed.isna() | (closed >= start)]
    out = out.sort_values("request_date", kind="stable").reset_index(drop=True)
    year = out["request_date"].dt.year
    seq = out.groupby(year).cumcount() + 1
    out["case_id"] = "SYN" + year.astype("str") + "-" + seq.map("{:05d}".format)
    out = out[[c.name for c in CASE_SCHEMA]]
    out.attrs.update({"synthetic": True, "la": calibration.la, "seed": seed,
                      "start": str(start.date()), "end": str(end.date()),
                      "warmup_years": warmup_years})
    return out


def _truncate(df: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """Blank every event after ``end`` (and the events that depend on it)."""
    df = df.copy()
    late_decision = df["decision_date"] > end
    df.loc[late_decision, "decision"] = np.nan
    dependants = ["decision_date", "draft_date", "final_date", "not_issued_date"]
    for kind in ("ep", "health", "social_care"):
        dependants += [f"{kind}_advice_requested", f"{kind}_advice_received"]
    for col in dependants:
        df.loc[late_decision, col] = pd.NaT
    for kind in ("ep", "health", "social_care"):
        asked, got = f"{kind}_advice_requested", f"{kind}_advice_received"
        df.loc[df[asked] > end, [asked, got]] = pd.NaT
        df.loc[df[got] > end, got] = pd.NaT
    df.loc[df["draft_date"] > end, ["draft_date", "final_date"]] = pd.NaT
    df.loc[df["final_date"] > end, "final_date"] = pd.NaT
    df.loc[df["not_issued_date"] > end, "not_issued_date"] = pd.NaT
    return df


def write_synthetic(
    df: pd.DataFrame,
    out_dir: str | Path,
    la: str,
    *,
    calibration: Calibration | None = None,
    seed: int | None = None,
    command: str | None = None,
) -> Path:
    """Write ``<la>_case_extract_synthetic.csv`` and its ``.meta.json`` sidecar.

    Returns the CSV path. Dates are written as ``YYYY-MM-DD``; the sidecar records
    ``synthetic: true``, the seed, the calibration and its source, and when it was made.

    Examples
    --------
    >>> import tempfile
    >>> cal = Calibration("Testshire", {2024: 50}, refusal_rate=0.2, not_issued_rate=0.02,
    ...                   pct_within_20wk=50.0)
    >>> df = generate_synthetic(cal, start="2024-01-01", end="2024-12-31", seed=1)
    >>> path = write_synthetic(df, tempfile.mkdtemp(), "Testshire", calibration=cal, seed=1)
    >>> path.name, json.loads(path.with_name(path.stem + ".meta.json").read_text())["synthetic"]
    ('testshire_case_extract_synthetic.csv', True)
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise EhcpError(f"cannot create the output folder ({err})", file=out,
                        fix="choose a folder you can write to") from err
    # The name comes from a data file: only letters and digits reach the file name, so a
    # name like "../../x" cannot write outside ``out_dir``.
    slug = re.sub(r"[^a-z0-9]+", "_", la.lower().replace("&", "and")).strip("_") or "la"
    path = out / f"{slug}_case_extract_synthetic.csv"
    meta: dict[str, Any] = {
        "synthetic": True,
        "description": "SYNTHETIC case-level extract made by forecasting.data.synthetic; "
                       "not real cases. Calibrated to published DfE SEN2 totals only.",
        "la": la,
        "seed": seed if seed is not None else df.attrs.get("seed"),
        "start": df.attrs.get("start"),
        "end": df.attrs.get("end"),
        "warmup_years": df.attrs.get("warmup_years"),
        "rows": len(df),
        "first_request": str(df["request_date"].min().date()) if len(df) else None,
        "last_request": str(df["request_date"].max().date()) if len(df) else None,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
    }
    if calibration is not None:
        cal = asdict(calibration)
        cal["requests_per_year"] = {str(k): v for k, v in calibration.requests_per_year.items()}
        meta["calibration"] = cal
        meta["calibration_source"] = calibration.source
        scale, spread = duration_scale(calibration.pct_within_20wk, calibration.pct_over_1yr)
        meta["duration_scale"] = round(scale, 4)
        meta["duration_spread"] = round(spread, 4)
    # Both files are written under temporary names and renamed only when both are whole, so
    # a failed write (a full disk) leaves the previous pair as it was.
    with (atomic_path(path, field="--out") as tmp_csv,
          atomic_path(sidecar_path(path), field="--out") as tmp_meta):
        df.to_csv(tmp_csv, index=False, date_format="%Y-%m-%d", lineterminator="\n")
        tmp_meta.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return path


def synthesise_la(
    la: str,
    out_dir: str | Path,
    *,
    seed: int = 0,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    data_dir: str | Path | None = None,
) -> tuple[Path, Calibration, pd.DataFrame]:
    """Calibrate to ``la``'s SEN2 totals, generate and write a synthetic extract.

    The period defaults to the latest calendar year with SEN2 request figures. Returns the
    CSV path, the calibration and the generated frame. This is what ``ehcp cases synth``
    runs.
    """
    from forecasting.data import load_panel  # the SEN2 panel is only needed here

    start_day = as_day(start, "--start") if start is not None else None
    end_day = as_day(end, "--end") if end is not None else None
    cal = calibration_from_panel(load_panel(data_dir), la)
    last = max(cal.requests_per_year)
    start_day = start_day if start_day is not None else pd.Timestamp(f"{last}-01-01")
    end_day = end_day if end_day is not None else pd.Timestamp(f"{last}-12-31")
    df = generate_synthetic(cal, start=start_day, end=end_day, seed=seed)
    command = (f"ehcp cases synth --la {shlex.quote(la)} --out {shlex.quote(str(out_dir))} "
               f"--seed {seed} --start {start_day.date()} --end {end_day.date()}")
    path = write_synthetic(df, out_dir, cal.la, calibration=cal, seed=seed, command=command)
    return path, cal, df
