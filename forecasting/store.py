"""The run store: every batch run (vintage) and its results, in one DuckDB file.

One file (``data/ehcp_runs.duckdb`` by default, git-ignored) holds five tables:

``runs``
    one row per batch run: its quarter, the checksums of the data release and the config, the
    code version, when it started and finished, how long it took and its status.
``tasks``
    one row per (run, LA): status (``done`` or ``failed``), the error of a failed LA, notes
    (e.g. a year missing from the data, capped demand paths), timings
    (wall seconds, and seconds per phase as JSON, e.g. forecast / backtest / scenarios).
``forecasts``
    the point forecasts and 80%/95% intervals of every series of every LA.
``backtest_scores``
    rolling-origin scores, one row per (LA, measure, model, metric).
``scenario_summaries``
    one row per (LA, scenario, metric): the capacity simulator's summaries.

Everything one LA produced is written in one transaction that first deletes what that LA had
under the same run, so writing it twice (a resumed run, a retry) never duplicates rows, and a
process killed part-way leaves either all of an LA's rows or none. DuckDB allows one writing
process: workers return their results to the parent, which alone writes here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from forecasting.errors import EhcpError

__all__ = [
    "RESULT_TABLES",
    "TABLE_COLUMNS",
    "TIMING_COLUMNS",
    "LaResult",
    "RunStore",
    "ds_from_store",
    "ds_to_store",
]

# Column order and DuckDB types of every table; the single source for DDL, inserts and checks.
TABLE_COLUMNS: dict[str, dict[str, str]] = {
    "runs": {
        "run_id": "VARCHAR PRIMARY KEY",
        "quarter": "VARCHAR NOT NULL",
        "data_checksum": "VARCHAR NOT NULL",
        "config_checksum": "VARCHAR NOT NULL",
        "code_version": "VARCHAR NOT NULL",
        "config_json": "VARCHAR",
        "n_las": "INTEGER",
        "started": "TIMESTAMP",
        "finished": "TIMESTAMP",
        "seconds": "DOUBLE",
        "status": "VARCHAR NOT NULL",
    },
    "tasks": {
        "run_id": "VARCHAR NOT NULL",
        "la": "VARCHAR NOT NULL",
        "la_name": "VARCHAR",
        "level": "VARCHAR",
        "status": "VARCHAR NOT NULL",
        "error": "VARCHAR",
        "notes": "VARCHAR",
        "started": "TIMESTAMP",
        "finished": "TIMESTAMP",
        "seconds": "DOUBLE",
        "timings": "VARCHAR",
    },
    "forecasts": {
        "run_id": "VARCHAR NOT NULL",
        "la": "VARCHAR NOT NULL",
        "unique_id": "VARCHAR NOT NULL",
        "measure": "VARCHAR NOT NULL",
        "ds": "TIMESTAMP NOT NULL",
        "freq": "VARCHAR",
        "yhat": "DOUBLE",
        "lo_80": "DOUBLE",
        "hi_80": "DOUBLE",
        "lo_95": "DOUBLE",
        "hi_95": "DOUBLE",
        "model": "VARCHAR",
    },
    "backtest_scores": {
        "run_id": "VARCHAR NOT NULL",
        "la": "VARCHAR NOT NULL",
        "measure": "VARCHAR NOT NULL",
        "model": "VARCHAR NOT NULL",
        "metric": "VARCHAR NOT NULL",
        "value": "DOUBLE",
    },
    "scenario_summaries": {
        "run_id": "VARCHAR NOT NULL",
        "la": "VARCHAR NOT NULL",
        "scenario": "VARCHAR NOT NULL",
        "metric": "VARCHAR NOT NULL",
        "value": "DOUBLE",
    },
}
RESULT_TABLES = ("forecasts", "backtest_scores", "scenario_summaries")
# Columns that differ between two otherwise identical runs (left out when comparing runs).
TIMING_COLUMNS = ("started", "finished", "seconds", "timings")
# The primary key of each table, used for stable ordering when reading.
_ORDER = {
    "runs": ("run_id",),
    "tasks": ("run_id", "la"),
    "forecasts": ("run_id", "la", "unique_id", "measure", "model", "ds"),
    "backtest_scores": ("run_id", "la", "measure", "model", "metric"),
    "scenario_summaries": ("run_id", "la", "scenario", "metric"),
}


@dataclass
class LaResult:
    """Everything one LA's task produced, as returned by a worker to the parent.

    Attributes
    ----------
    la : str
        The LA's key (its code or ``unique_id``); the ``la`` column of every table.
    tables : dict of str to DataFrame
        Rows for ``forecasts``, ``backtest_scores`` and ``scenario_summaries`` (without the
        ``run_id`` and ``la`` columns, which the store adds). Missing tables mean no rows.
    la_name : str, optional
        The LA's name, for people.
    level : str, optional
        ``"la"``, ``"regional"`` or ``"national"``.
    error : str, optional
        Set when the task failed; then ``tables`` is ignored.
    seconds : float
        Wall time of the task in the worker.
    extras : dict
        Anything else the task wants the parent to write to disk (not stored in DuckDB).

    Examples
    --------
    >>> r = LaResult("E08000035", {}, la_name="Leeds")
    >>> r.ok
    True
    """

    la: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    la_name: str | None = None
    level: str | None = None
    error: str | None = None
    seconds: float = 0.0
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the task succeeded."""
        return self.error is None


def ds_to_store(ds: pd.Series) -> tuple[str, pd.Series]:
    """Map a ``ds`` column (int years or dates) to timestamps and its frequency label.

    Annual data use int years (the models' contract); the store keeps one TIMESTAMP column, so a
    year is stored as 1 January of that year with ``freq = 'year'`` to map it back.

    Examples
    --------
    >>> freq, ts = ds_to_store(pd.Series([2024, 2025]))
    >>> freq, [str(t.date()) for t in ts]
    ('year', ['2024-01-01', '2025-01-01'])
    >>> ds_from_store(ts, freq).tolist()
    [2024, 2025]
    """
    if pd.api.types.is_integer_dtype(ds):
        return "year", pd.to_datetime(ds.astype("int64").astype(str) + "-01-01")
    return "month", pd.to_datetime(ds)


def ds_from_store(ts: pd.Series, freq: str) -> pd.Series:
    """The inverse of :func:`ds_to_store`: int years back for ``freq == 'year'``."""
    ts = pd.to_datetime(ts)
    return ts.dt.year.astype("int64") if freq == "year" else ts


def _now() -> dt.datetime:
    # Naive UTC, because DuckDB TIMESTAMP has no zone and local time would shift with DST.
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class RunStore:
    """A DuckDB file holding every batch run; the only writer is the process that opens it.

    Parameters
    ----------
    path : str or Path
        The DuckDB file; its folder is created if missing. ``":memory:"`` for a throw-away store.
    read_only : bool
        Open without writing (e.g. for ``ehcp history`` while no batch is running).

    Examples
    --------
    >>> import pandas as pd
    >>> with RunStore(":memory:") as store:
    ...     store.start_run("r1", quarter="2026Q4", data_checksum="d", config_checksum="c",
    ...                     code_version="0.1.0", n_las=1)
    ...     fc = pd.DataFrame({"unique_id": ["a"], "measure": ["requests"],
    ...                        "ds": pd.to_datetime(["2025-01-01"]), "yhat": [10.0]})
    ...     store.write_result("r1", LaResult("a", {"forecasts": fc}))
    ...     store.write_result("r1", LaResult("a", {"forecasts": fc}))  # idempotent
    ...     len(store.table("forecasts")), store.done_las("r1")
    (1, {'a'})
    """

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            p = Path(self.path)
            if read_only and not p.exists():
                raise EhcpError(
                    "the run store does not exist yet",
                    file=p,
                    fix="run `ehcp batch` first, or pass --store with the right file",
                )
            p.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as err:
            raise EhcpError(
                f"cannot open the run store ({err})",
                file=self.path,
                fix="another `ehcp batch` may be writing to it; wait for it to finish",
            ) from err
        if not read_only:
            self._create()

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (a checkpoint folds the write-ahead log into the file)."""
        self.con.close()

    def _create(self) -> None:
        for name, cols in TABLE_COLUMNS.items():
            body = ", ".join(f"{c} {t}" for c, t in cols.items())
            extra = ", PRIMARY KEY (run_id, la)" if name == "tasks" else ""
            self.con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({body}{extra})")

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # -- runs ------------------------------------------------------------------------------
    def start_run(
        self,
        run_id: str,
        *,
        quarter: str,
        data_checksum: str,
        config_checksum: str,
        code_version: str,
        n_las: int,
        config_json: str | None = None,
    ) -> None:
        """Record a new run as ``running`` (or mark an existing one as ``running`` again)."""
        with self._transaction() as con:
            row = con.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone()
            if row is None:
                con.execute(
                    "INSERT INTO runs (run_id, quarter, data_checksum, config_checksum,"
                    " code_version, config_json, n_las, started, status)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running')",
                    [run_id, quarter, data_checksum, config_checksum, code_version,
                     config_json, n_las, _now()],
                )
            else:
                con.execute(
                    "UPDATE runs SET status = 'running', finished = NULL, n_las = ?"
                    " WHERE run_id = ?",
                    [n_las, run_id],
                )

    def finish_run(self, run_id: str, *, status: str | None = None) -> str:
        """Mark a run finished; its status is ``finished`` or ``finished_with_errors``.

        The elapsed time counts from the first start, so a resumed run includes the pause.
        """
        failed = self.con.execute(
            "SELECT count(*) FROM tasks WHERE run_id = ? AND status <> 'done'", [run_id]
        ).fetchone()
        if status is None:
            status = "finished_with_errors" if failed and failed[0] else "finished"
        now = _now()
        self.con.execute(
            "UPDATE runs SET finished = ?, status = ?,"
            " seconds = date_diff('millisecond', started, ?) / 1000.0 WHERE run_id = ?",
            [now, status, now, run_id],
        )
        return status

    def run(self, run_id: str) -> dict[str, Any]:
        """The ``runs`` row of one run, as a dict; an unknown id is a user error."""
        df = self.con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id]).df()
        if df.empty:
            known = ", ".join(self.runs()["run_id"].tolist()[-5:]) or "none"
            raise EhcpError(
                f"no run '{run_id}' in the store (latest: {known})",
                file=self.path,
                field="--resume",
                fix="use a run id listed by `ehcp history --runs`",
            )
        return {str(k): (None if pd.isna(v) else v) for k, v in df.iloc[0].to_dict().items()}

    def runs(self) -> pd.DataFrame:
        """Every run, oldest first."""
        return self.con.execute("SELECT * FROM runs ORDER BY started, run_id").df()

    def find_unfinished(
        self, *, quarter: str, data_checksum: str, config_checksum: str
    ) -> str | None:
        """The latest run of this quarter, data and config that never finished, if any."""
        row = self.con.execute(
            "SELECT run_id FROM runs WHERE quarter = ? AND data_checksum = ?"
            " AND config_checksum = ? AND status IN ('running', 'interrupted')"
            " ORDER BY started DESC LIMIT 1",
            [quarter, data_checksum, config_checksum],
        ).fetchone()
        return None if row is None else str(row[0])

    # -- tasks -----------------------------------------------------------------------------
    def done_las(self, run_id: str) -> set[str]:
        """The LAs whose results are committed for this run."""
        rows = self.con.execute(
            "SELECT la FROM tasks WHERE run_id = ? AND status = 'done'", [run_id]
        ).fetchall()
        return {str(r[0]) for r in rows}

    def write_result(
        self, run_id: str, result: LaResult, *, started: dt.datetime | None = None
    ) -> None:
        """Write one LA's rows and its task row in one transaction (delete, then insert).

        A failed task writes only its ``tasks`` row (with the error) and removes any rows an
        earlier attempt left, so the tables never mix two attempts.
        """
        finished = _now()
        started = started or (finished - dt.timedelta(seconds=result.seconds))
        phases = result.extras.get("timings")
        timings = json.dumps({k: round(float(v), 3) for k, v in phases.items()}) if phases else None
        frames = {} if not result.ok else {
            name: self._conform(name, run_id, result.la, result.tables.get(name))
            for name in RESULT_TABLES
        }
        with self._transaction() as con:
            for name in (*RESULT_TABLES, "tasks"):
                con.execute(f"DELETE FROM {name} WHERE run_id = ? AND la = ?", [run_id, result.la])
            for name, frame in frames.items():
                if frame is not None and len(frame):
                    con.register("_rows", frame)
                    try:
                        con.execute(
                            f"INSERT INTO {name} SELECT {', '.join(TABLE_COLUMNS[name])} FROM _rows"
                        )
                    finally:
                        con.unregister("_rows")
            con.execute(
                "INSERT INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, result.la, result.la_name, result.level,
                 "done" if result.ok else "failed", result.error,
                 "; ".join(result.extras.get("notes") or []) or None,
                 started, finished, float(result.seconds), timings],
            )

    @staticmethod
    def _conform(
        name: str, run_id: str, la: str, frame: pd.DataFrame | None
    ) -> pd.DataFrame | None:
        if frame is None or frame.empty:
            return None
        cols = TABLE_COLUMNS[name]
        missing = [c for c in cols if c not in frame.columns and c not in ("run_id", "la")]
        required = [c for c in missing if "NOT NULL" in cols[c]]
        if required:
            # A task that returns a malformed table is a programming error, not a user one.
            raise ValueError(f"{name} rows from task for {la!r} lack columns {required}")
        out = frame.copy()
        out["run_id"] = run_id
        out["la"] = la
        for c in missing:
            out[c] = None
        if "ds" in cols:
            out["freq"], out["ds"] = ds_to_store(out["ds"])
        return out[list(cols)]

    # -- reading ---------------------------------------------------------------------------
    def table(self, name: str, *, run_id: str | None = None, **where: Any) -> pd.DataFrame:
        """One table (optionally one run's rows, and ``column=value`` filters), in key order."""
        if name not in TABLE_COLUMNS:
            raise ValueError(f"unknown table {name!r}; tables: {list(TABLE_COLUMNS)}")
        conds: dict[str, Any] = dict(where)
        if run_id is not None:
            conds["run_id"] = run_id
        for c in conds:
            if c not in TABLE_COLUMNS[name]:
                raise ValueError(f"table {name!r} has no column {c!r}")
        sql = f"SELECT * FROM {name}"
        if conds:
            sql += " WHERE " + " AND ".join(f"{c} = ?" for c in conds)
        sql += " ORDER BY " + ", ".join(_ORDER[name])
        return self.con.execute(sql, list(conds.values())).df()

    def snapshot(self, *, drop: tuple[str, ...] = TIMING_COLUMNS) -> Mapping[str, pd.DataFrame]:
        """Every table without the timing columns, for comparing two stores row for row."""
        out = {}
        for name in TABLE_COLUMNS:
            df = self.table(name)
            out[name] = df.drop(columns=[c for c in drop if c in df.columns]).reset_index(
                drop=True
            )
        return out
