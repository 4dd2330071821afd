"""The batch settings (``configs/batch.yaml``): what to forecast, backtest and simulate per LA.

Only the settings that change results (seed, forecast, backtest, scenarios, history cut-off)
enter the config checksum that identifies a run for resuming; where files go and how many
workers run do not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from forecasting.config_io import STRICT, load_yaml, validate
from forecasting.errors import EhcpError

__all__ = [
    "BacktestSettings",
    "BatchConfig",
    "ForecastSettings",
    "ScenarioSettings",
    "current_quarter",
    "load_batch_config",
    "result_settings",
]

#: Short names accepted on the command line for the panel's measures.
MEASURE_ALIASES = {
    "requests": "requests_received",
    "plans": "stock_plans",
    "stock": "stock_plans",
    "timely": "plans_within_20wk",
}


def _known_models(names: tuple[str, ...]) -> tuple[str, ...]:
    # Refused when the config is read, not when every LA's task fails on it.
    from forecasting.models import MODEL_NAMES

    bad = [n for n in names if n not in MODEL_NAMES]
    if bad:
        raise ValueError(f"unknown model {bad[0]!r}; use one of {', '.join(MODEL_NAMES)}")
    return names


def _known_measures(names: tuple[str, ...]) -> tuple[str, ...]:
    from forecasting.data import MEASURES

    bad = [n for n in names if MEASURE_ALIASES.get(n, n) not in MEASURES]
    if bad:
        raise ValueError(f"unknown measure {bad[0]!r}; use SEN2 measures such as "
                         "requests_received, new_plans, stock_plans")
    if not names:
        raise ValueError("list at least one measure, e.g. [requests_received]")
    return tuple(MEASURE_ALIASES.get(n, n) for n in names)


class ForecastSettings(BaseModel):
    """Which SEN2 measures to forecast, how far ahead and with which model."""

    model_config = STRICT
    measures: tuple[str, ...] = (
        "requests_received", "new_plans", "stock_plans", "plans_within_20wk", "plans_issued_den",
    )
    horizon: int = Field(default=5, ge=1, le=15)
    model: str = "log_drift"
    level: tuple[int, ...] = (80, 95)
    save_models: bool = True

    @field_validator("measures")
    @classmethod
    def _measures(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _known_measures(value)

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        return _known_models((value,))[0]


class BacktestSettings(BaseModel):
    """The rolling-origin backtest run for every measure of every LA."""

    model_config = STRICT
    h: int = Field(default=2, ge=1, le=5)
    n_windows: int = Field(default=3, ge=1, le=10)
    models: tuple[str, ...] = ("naive", "drift", "log_drift")

    @field_validator("models")
    @classmethod
    def _models(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _known_models(value)


class ScenarioSettings(BaseModel):
    """The capacity scenarios simulated for every LA (skipped when ``file`` is not set)."""

    model_config = STRICT
    file: str | None = None
    names: tuple[str, ...] | None = None
    n_paths: int = Field(default=1000, ge=1, le=100_000)
    demand_measure: Literal["requests_received"] = "requests_received"
    #: Demand paths are capped at this multiple of the LA's latest figure (explosive tails).
    max_demand_ratio: float = Field(default=4.0, gt=1.0, le=100.0)


class BatchConfig(BaseModel):
    """Every setting of ``ehcp batch``; see ``configs/batch.yaml`` for the documented defaults.

    Examples
    --------
    >>> cfg = BatchConfig(quarter="2026Q4", forecast={"horizon": 3})
    >>> cfg.forecast.horizon, cfg.backtest.models
    (3, ('naive', 'drift', 'log_drift'))
    >>> BatchConfig(quarter="2026Q5")
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for BatchConfig
    ...
    """

    model_config = STRICT
    quarter: str | None = None
    data_dir: str = "data/raw"
    store: str = "data/ehcp_runs.duckdb"
    out_dir: str = "reports/batch"
    models_dir: str = "models"
    seed: int = 20261
    workers: int | None = Field(default=None, ge=1)
    include_national: bool = True
    history_end: int | None = Field(default=None, ge=2016, le=2100)
    forecast: ForecastSettings = ForecastSettings()
    backtest: BacktestSettings = BacktestSettings()
    scenarios: ScenarioSettings = ScenarioSettings()

    @field_validator("quarter")
    @classmethod
    def _quarter(cls, value: str | None) -> str | None:
        if value is None:
            return value
        text = value.strip().upper()
        if len(text) != 6 or not text[:4].isdigit() or text[4] != "Q" or text[5] not in "1234":
            raise ValueError(f"quarter must look like 2026Q4, got {value!r}")
        return text


def current_quarter(today: dt.date | None = None) -> str:
    """The calendar quarter of ``today``, e.g. ``"2026Q4"``.

    Examples
    --------
    >>> current_quarter(dt.date(2026, 11, 27))
    '2026Q4'
    """
    today = today or dt.datetime.now(dt.UTC).date()
    return f"{today.year}Q{(today.month - 1) // 3 + 1}"


def load_batch_config(path: str | Path | None, **overrides: Any) -> BatchConfig:
    """Read ``configs/batch.yaml`` (or defaults when ``path`` is None) and apply overrides.

    ``overrides`` are top-level keys (e.g. ``quarter``, ``workers``, ``store``); None values
    are ignored so CLI options left out keep the file's settings.

    Examples
    --------
    >>> load_batch_config(None, quarter="2026q4", workers=None).quarter
    '2026Q4'
    """
    data: dict[str, Any] = {}
    name = "<defaults>"
    if path is not None:
        data = load_yaml(path) or {}
        name = str(path)
    data.update({k: v for k, v in overrides.items() if v is not None})
    return validate(BatchConfig, data, name)


def result_settings(cfg: BatchConfig) -> dict[str, Any]:
    """The settings that change results, for the run's config checksum.

    The scenario file enters by its sha256, so editing it makes a new run, not a resume.

    Examples
    --------
    >>> sorted(result_settings(BatchConfig()))
    ['backtest', 'forecast', 'history_end', 'include_national', 'scenarios', 'seed']
    """
    out = cfg.model_dump(mode="json", include={"seed", "forecast", "backtest", "scenarios",
                                               "include_national", "history_end"})
    if cfg.scenarios.file:
        path = Path(cfg.scenarios.file)
        if not path.exists():
            raise EhcpError("scenario file not found", file=path, field="scenarios.file",
                            fix="give the path of a scenario YAML such as configs/leeds.yaml")
        out["scenarios"]["file_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out
