"""Documented default parameters typed in from public web pages (not official statistics).

``data/raw/reference_parameters_from_pages.csv`` holds, one row per figure, the statutory
timeline, annual-review rules, EP workforce, caseworker caseloads and costs, each with the
page it came from. Configuration defaults cite its rows; override them with local figures.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forecasting.errors import EhcpError

__all__ = ["REFERENCE_COLUMNS", "load_reference_parameters"]

REFERENCE_COLUMNS = ("topic", "parameter", "value", "unit", "geography", "period", "source_url", "notes")
_FILE = "reference_parameters_from_pages.csv"


def load_reference_parameters(path: str | Path | None = None) -> pd.DataFrame:
    """The reference parameters as text columns plus ``value_num`` (NaN if not one number).

    Parameters
    ----------
    path : str or Path, optional
        The CSV; default the repository's ``data/raw/reference_parameters_from_pages.csv``
        (``$EHCP_DATA_DIR`` is honoured).

    Returns
    -------
    DataFrame
        Columns :data:`REFERENCE_COLUMNS` (``""`` when blank) and ``value_num``; ``row`` is
        the 1-based line in the file (header = 1), for citing.

    Examples
    --------
    >>> ref = load_reference_parameters()
    >>> ref.loc[ref["parameter"] == "final EHC plan issued by", "value_num"].item()
    20.0
    """
    from forecasting.data.sen2_panel import default_data_dir

    file = Path(path) if path is not None else default_data_dir() / _FILE
    try:
        df = pd.read_csv(file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError as err:
        raise EhcpError("file not found", file=file, fix=f"restore {_FILE} in data/raw") from err
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise EhcpError(f"malformed CSV ({err})", file=file) from err
    missing = [c for c in REFERENCE_COLUMNS if c not in df.columns]
    if missing:
        raise EhcpError(
            f"missing column(s) {', '.join(missing)}", file=file, row=1, field=missing[0]
        )
    df = df[list(REFERENCE_COLUMNS)].copy()
    df["value_num"] = pd.to_numeric(df["value"].str.replace(",", "", regex=False), errors="coerce")
    df.insert(0, "row", range(2, len(df) + 2))
    return df
