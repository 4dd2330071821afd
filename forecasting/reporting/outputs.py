"""Safe output: neutralised cell text, and report folders that appear whole or not at all.

Names that reach a CSV or a spreadsheet (LA names, scenario names, target names) are written by
the user or come from data files. A cell that begins with ``=``, ``+``, ``-`` or ``@`` is run as
a formula by spreadsheet programs (CSV/formula injection), so such text gets a leading ``'``.
Numbers are left alone.

A run writes into a temporary folder next to the target and renames it into place when
everything is written; on any failure the temporary folder is removed, so a half-written report
never appears under the target name.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from forecasting.errors import EhcpError

__all__ = ["FORMULA_PREFIXES", "atomic_output_dir", "neutralise", "neutralise_frame", "write_table"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_USER_FIXABLE = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}


def neutralise(value: object) -> object:
    """Prefix text that a spreadsheet would read as a formula with ``'``; leave the rest.

    Examples
    --------
    >>> neutralise("=HYPERLINK(\\"http://x\\")"), neutralise("-10% requests"), neutralise("Leeds")
    ('\\'=HYPERLINK("http://x")', "'-10% requests", 'Leeds')
    >>> neutralise(-3.5)
    -3.5
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``df`` with every text cell, column name and index label neutralised.

    Examples
    --------
    >>> df = pd.DataFrame({"scenario": ["=1+1", "baseline"], "y": [1.0, -2.0]})
    >>> neutralise_frame(df).values.tolist()
    [["'=1+1", 1.0], ['baseline', -2.0]]
    """
    out = df.copy()
    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_datetime64_any_dtype(out[col])):
            out[col] = out[col].map(neutralise)
    out.columns = [neutralise(c) for c in out.columns]
    return out


def write_table(df: pd.DataFrame, folder: Path, name: str) -> list[Path]:
    """Write ``df`` as ``<name>.csv`` and ``<name>.parquet`` (text cells neutralised).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> [p.name for p in write_table(pd.DataFrame({"a": ["@x"]}), d, "t")]
    ['t.csv', 't.parquet']
    >>> (d / "t.csv").read_text().splitlines()
    ['a', "'@x"]
    """
    safe = neutralise_frame(df)
    safe.columns = [str(c) for c in safe.columns]
    csv = folder / f"{name}.csv"
    parquet = folder / f"{name}.parquet"
    safe.to_csv(csv, index=False)
    safe.to_parquet(parquet, index=False)
    return [csv, parquet]


@contextmanager
def atomic_output_dir(target: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder next to ``target``; rename it to ``target`` when the block ends.

    Parameters
    ----------
    target : str or Path
        The report folder to create.
    overwrite : bool
        Replace an existing ``target``. Without it an existing target is an :class:`EhcpError`.

    Raises
    ------
    EhcpError
        When ``target`` exists and ``overwrite`` is False, or its parent cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "run"
    >>> with atomic_output_dir(target) as tmp:
    ...     _ = (tmp / "a.txt").write_text("x")
    >>> sorted(p.name for p in target.iterdir())
    ['a.txt']
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise EhcpError(
            "the output folder already exists",
            file=target,
            fix="choose another --out, or pass --overwrite to replace it",
        )
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
    except OSError as err:
        raise EhcpError(f"cannot create the output folder ({err.strerror})", file=parent) from None
    try:
        yield tmp
        if target.exists():
            _swap(tmp, target)
        else:
            os.replace(tmp, target)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if err.errno in _USER_FIXABLE:
            # A full disk or a read-only folder is the user's to fix: say so without a traceback.
            raise EhcpError(
                f"could not write the report ({err.strerror})",
                file=target,
                fix="free disk space or choose another --out; any previous report there is unchanged",
            ) from None
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap(new: Path, target: Path) -> None:
    """Replace folder ``target`` by ``new``; if that fails, put the old ``target`` back."""
    # Move the old folder aside first (a rename cannot replace a non-empty folder), and
    # restore it when the second rename fails, so the user never loses both reports.
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    try:
        os.replace(target, aside / target.name)
    except BaseException:
        shutil.rmtree(aside, ignore_errors=True)
        raise
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(aside / target.name, target)
        shutil.rmtree(aside, ignore_errors=True)
        raise
    shutil.rmtree(aside, ignore_errors=True)
