"""The SEN2 panel: every DfE release in ``data/raw`` as one tidy long table.

Columns: ``unique_id`` (ONS code of the LA or region, ``E92000001`` for England), ``name``,
``level`` (``national``/``regional``/``la``), ``measure``, ``breakdown``, ``ds`` (int year: the
calendar year of a flow, the January of a stock), ``y`` (float, NaN when missing), ``flag``
(``;``-separated reasons, ``""`` when clean), ``release``, ``source`` (zip and CSV),
``revised_from`` (the earlier release's different value, else NaN) and ``old_code`` (DfE's
3-digit LA code).
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.data.sen2_checks import add_flag, apply_corrections, flag_implausible_new_plans
from forecasting.data.sen2_read import ParsedFile, read_zip, zip_members
from forecasting.data.sen2_schema import BREAK_YEAR, STOCK_MEASURES, spec_for
from forecasting.errors import EhcpError, EhcpWarning

__all__ = [
    "CODE_VERSION",
    "PANEL_COLUMNS",
    "build_panel",
    "default_data_dir",
    "discover_zips",
    "load_panel",
]

#: Bump when the parsing changes, so cached panels built by older code are not reused.
CODE_VERSION = "sen2-panel-3"

PANEL_COLUMNS = [
    "unique_id",
    "name",
    "level",
    "measure",
    "breakdown",
    "ds",
    "y",
    "flag",
    "release",
    "source",
    "revised_from",
    "old_code",
]
_KEY = ["unique_id", "measure", "breakdown", "ds"]


def default_data_dir() -> Path:
    """``$EHCP_DATA_DIR`` if set, else the repository's ``data/raw`` (found from this package).

    Examples
    --------
    >>> default_data_dir().is_dir()
    True
    """
    env = os.environ.get("EHCP_DATA_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "data" / "raw"


def discover_zips(data_dir: Path) -> list[Path]:
    """The DfE SEN2 zips in ``data_dir`` (any ``*.zip`` holding a known SEN2 CSV), oldest first.

    A planner adds next year's release by dropping its "Download all data" zip into the folder;
    the release year is read from the file name (``..._2025.zip``).
    """
    if not data_dir.is_dir():
        raise EhcpError(
            "data folder not found",
            file=data_dir,
            fix="pass --data-dir pointing at the folder holding the DfE zips, or set EHCP_DATA_DIR",
        )
    zips = []
    for path in sorted(data_dir.glob("*.zip")):
        if any(spec_for(m) is not None for m in zip_members(path)):
            zips.append(path)
        else:
            warnings.warn(f"{path}: no SEN2 CSVs inside; skipped", EhcpWarning, stacklevel=2)
    if not zips:
        raise EhcpError(
            "no DfE SEN2 zip found",
            file=data_dir,
            fix="download 'Download all data' from the DfE publication 'Education, health and "
            "care plans' and put the zip in this folder",
        )
    return sorted(zips, key=lambda p: (release_of(p), p.name))


def release_of(path: Path) -> str:
    """The release year in a zip's name (``..._2025.zip`` -> ``"2025"``), else the stem."""
    years = re.findall(r"(?<!\d)(20\d{2})(?!\d)", path.stem)
    return years[-1] if years else path.stem


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _cache_path(data_dir: Path, zips: list[Path]) -> Path:
    key = hashlib.sha256(CODE_VERSION.encode())
    for path in zips:
        key.update(f"{path.name}:{_sha256(path)}".encode())
    cache_dir = Path(os.environ.get("EHCP_CACHE_DIR") or data_dir.resolve().parent / "interim")
    return cache_dir / f"sen2_panel_{key.hexdigest()[:16]}.parquet"


def load_panel(
    data_dir: str | Path | None = None,
    *,
    correct_known_errors: bool = True,
    cache: bool = True,
) -> pd.DataFrame:
    """Load every DfE SEN2 release in ``data_dir`` into one tidy long table.

    Parameters
    ----------
    data_dir : str or Path, optional
        Folder with the DfE "Download all data" zips. Default: ``$EHCP_DATA_DIR`` or the
        repository's ``data/raw``.
    correct_known_errors : bool
        Replace values caught by the plausibility rules (e.g. Leeds 2022 new plans 6078 -> 362)
        and flag them ``implausible;corrected:old->new``. With ``False`` they keep the
        published value and the flag ``implausible;suggest:<value>``.
    cache : bool
        Reuse / write the parsed panel as Parquet under ``data/interim`` (next to ``data_dir``;
        ``$EHCP_CACHE_DIR`` overrides), keyed by the zips' sha256 and :data:`CODE_VERSION`.

    Returns
    -------
    DataFrame
        Columns :data:`PANEL_COLUMNS`, one row per area, measure, breakdown and year.

    Examples
    --------
    >>> panel = load_panel()
    >>> int(panel.query("unique_id == 'E92000001' and measure == 'stock_plans' "
    ...                 "and breakdown == 'all' and ds == 2025")["y"].iloc[0])
    638745
    """
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    zips = discover_zips(folder)
    panel = None
    path = _cache_path(folder, zips) if cache else None
    if path is not None and path.exists():
        try:
            panel = pd.read_parquet(path)
        except (OSError, ValueError):
            panel = None  # a damaged cache is rebuilt, never trusted
    if panel is None:
        panel = build_panel([p for z in zips for p in _tag(z, read_zip(z))])
        if path is not None:
            _write_parquet_atomic(panel, path)
    if correct_known_errors:
        panel = apply_corrections(panel)
    return panel


def _tag(zip_path: Path, parsed: list[ParsedFile]) -> list[tuple[str, ParsedFile]]:
    return [(release_of(zip_path), p) for p in parsed]


def _write_parquet_atomic(panel: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        panel.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except OSError as err:  # a read-only checkout still loads, just without a cache
        tmp.unlink(missing_ok=True)
        warnings.warn(f"could not write the panel cache {path}: {err}", EhcpWarning, stacklevel=3)
    except BaseException:  # Ctrl-C mid-write: no stray temporary file in the cache folder
        tmp.unlink(missing_ok=True)
        raise


def build_panel(parsed: list[tuple[str, ParsedFile]]) -> pd.DataFrame:
    """Combine parsed files of one or more releases into the panel (no corrections applied).

    Where releases overlap the latest release's value is kept; an earlier different value
    goes to ``revised_from`` and ``revised:<old>`` in ``flag``. If the latest release has no
    figure (NaN) but an earlier one does, the earlier figure is kept and flagged
    ``from_release:<year>``. Person-level values of the first person-level year carry
    ``break_in_series``.
    """
    frames = []
    for release, pf in parsed:
        long = pf.long.copy()
        long["release"] = release
        long["source"] = pf.source
        long["kind"] = pf.spec.kind
        frames.append(long)
    if not frames:
        raise EhcpError("no SEN2 data found in the files given")
    allrows = pd.concat(frames, ignore_index=True)
    allrows["release_order"] = allrows["release"].map(
        {r: i for i, r in enumerate(sorted(set(allrows["release"]), key=_release_key))}
    )
    dupes = allrows.duplicated(subset=[*_KEY, "release"], keep=False)
    if dupes.any():  # two files of one release giving the same figure: a spec bug, not user error
        raise RuntimeError(f"duplicate panel keys: {allrows[dupes].head()}")

    # Rank: latest release with a number first, then latest release with a gap.
    allrows["has_y"] = allrows["y"].notna()
    allrows = allrows.sort_values([*_KEY, "has_y", "release_order"], ascending=[True] * 4 + [False, False])
    first = ~allrows.duplicated(subset=_KEY, keep="first")
    chosen = allrows[first].copy()
    others = allrows[~first & allrows["has_y"]]
    # The value being revised: the newest other release's figure.
    prev = others.drop_duplicates(subset=_KEY, keep="first").set_index(_KEY)["y"]
    chosen = chosen.join(prev.rename("prev_y"), on=_KEY)
    latest = allrows.groupby(_KEY)["release_order"].transform("max")
    chosen_latest = latest[first].to_numpy()
    fallback = chosen["release_order"].to_numpy() < chosen_latest
    chosen["flag"] = add_flag(chosen["flag"], fallback, "from_release:" + chosen["release"])
    revised = chosen["prev_y"].notna() & chosen["y"].notna() & (chosen["prev_y"] != chosen["y"])
    chosen["revised_from"] = chosen["prev_y"].where(revised)
    old_text = pd.Series("", index=chosen.index)
    old_text[revised] = np.array(
        ["revised:" + _fmt_num(v) for v in chosen.loc[revised, "prev_y"]], dtype=object
    )
    chosen["flag"] = add_flag(chosen["flag"], revised, old_text)

    stock = chosen["measure"].isin(list(STOCK_MEASURES))
    first_year = np.where(stock, BREAK_YEAR["stock"], BREAK_YEAR["flow"])
    brk = (chosen["kind"] == "person") & (chosen["ds"].to_numpy() == first_year)
    chosen["flag"] = add_flag(chosen["flag"], brk, "break_in_series")

    panel = chosen[PANEL_COLUMNS].copy()
    panel = flag_implausible_new_plans(panel)
    panel = panel.sort_values(["level", "unique_id", "measure", "breakdown", "ds"], kind="stable")
    panel = panel.reset_index(drop=True)
    panel["ds"] = panel["ds"].astype("int64")
    panel["y"] = panel["y"].astype("float64")
    panel["revised_from"] = panel["revised_from"].astype("float64")
    for col in ("unique_id", "name", "level", "measure", "breakdown", "flag", "release", "source", "old_code"):
        panel[col] = panel[col].astype(str)
    return panel


def _release_key(release: str) -> tuple[int, str]:
    return (int(release), release) if release.isdigit() else (10**6, release)


def _fmt_num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
