"""Write tables to disk atomically (a temporary file renamed into place)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from forecasting.errors import EhcpError

__all__ = ["write_table"]

_FORMATS = (".csv", ".parquet")


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as CSV or Parquet, chosen by the file's suffix, atomically.

    A reader never sees a half-written file: the table goes to a temporary file in the same
    folder, which is then renamed over ``path``.

    Examples
    --------
    >>> import tempfile
    >>> out = write_table(pd.DataFrame({"a": [1]}), Path(tempfile.mkdtemp()) / "t.csv")
    >>> out.read_text()
    'a\\n1\\n'
    >>> write_table(pd.DataFrame(), "t.xls")
    Traceback (most recent call last):
    ...
    forecasting.errors.EhcpError: t.xls, field '--out': unknown output format '.xls'. Fix: use a file name ending in .csv or .parquet.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        raise EhcpError(
            f"unknown output format {suffix or '(no suffix)'!r}",
            file=path,
            field="--out",
            fix="use a file name ending in .csv or .parquet",
        )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise EhcpError("the output folder does not exist", file=path, field="--out",
                        fix="create the folder first")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if suffix == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
