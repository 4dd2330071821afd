"""Write tables and text files to disk atomically (a temporary file renamed into place).

A reader never sees a half-written file and a failed write (a full disk, an interrupted run)
leaves the previous file as it was, with no temporary file behind. Text cells of CSV output
that a spreadsheet would run as formulas are neutralised (see
:func:`forecasting.reporting.outputs.neutralise`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from forecasting.errors import EhcpError
from forecasting.reporting.outputs import neutralise_frame

__all__ = ["atomic_path", "write_table"]

_FORMATS = (".csv", ".parquet")


@contextmanager
def atomic_path(path: str | Path, *, field: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` when the block ends.

    If the block raises, the temporary file is removed and ``path`` is left as it was. A
    write error from the disk (full, read-only, permission) becomes an :class:`EhcpError`
    naming ``path``.

    Examples
    --------
    >>> target = Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("whole")
    >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('whole', ['a.txt'])
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise EhcpError("the output folder does not exist", file=path, field=field,
                        fix="create the folder first")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise EhcpError(f"cannot write here ({err.strerror})", file=path, field=field,
                        fix="choose a folder you can write to") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise EhcpError(f"could not write the file ({err.strerror or err}); the previous "
                        "version, if any, is unchanged", file=path, field=field,
                        fix="free some disk space or choose another folder") from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as CSV or Parquet, chosen by the file's suffix, atomically.

    A reader never sees a half-written file: the table goes to a temporary file in the same
    folder, which is then renamed over ``path``. In CSV output, text starting with ``=``,
    ``+``, ``-`` or ``@`` gets a leading ``'`` so a spreadsheet shows it instead of running it.

    Examples
    --------
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
    with atomic_path(path, field="--out") as tmp:
        if suffix == ".csv":
            neutralise_frame(df).to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
    return path
