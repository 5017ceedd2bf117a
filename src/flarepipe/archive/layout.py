"""The raw-archive contract (docs/FILES.md): its columns, and how every later stage loads it.

Every source writes the same layout (docs/FILES.md); :func:`load_archive` is how every later stage
reads it, so none of them can tell which source made it. This module is the contract: it imports
none of the sources that write it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from flarepipe.core.keywords import KEYWORD_COLUMNS
from flarepipe.core.timeutil import parse_utc
from flarepipe.io.atomic import verify_integrity, write_csv

__all__ = [
    "Archive",
    "load_archive",
    "read_records",
    "read_records_raw",
    "read_flares",
    "RECORD_COLUMNS",
    "RECORD_TEXT_COLUMNS",
    "RECORD_FLOAT_COLUMNS",
    "FLARE_COLUMNS",
    "REJECT_COLUMNS",
    "UNIT_REJECT_COLUMNS",
    "PIXEL_COLUMNS",
    "pixel_stats",
    "write_pixels",
    "read_pixels",
]

#: the records.csv columns of docs/FILES.md, in order
RECORD_COLUMNS: list[str] = [
    "series",
    "instrument",
    "region",
    "region_id",
    "t_rec",
    "t_rec_tai",
    "noaa_ars",
    "quality",
    "lat_fwt",
    "lon_fwt",
    "obs_vr",
    *KEYWORD_COLUMNS,
    "nx",
    "ny",
    "path",
]
#: records.csv columns read as text (``noaa_ars`` and ``path`` may be empty)
RECORD_TEXT_COLUMNS: tuple[str, ...] = (
    "series",
    "instrument",
    "region_id",
    "t_rec",
    "t_rec_tai",
    "noaa_ars",
    "path",
)
#: records.csv columns that may be missing (empty cell -> NaN)
RECORD_FLOAT_COLUMNS: tuple[str, ...] = ("lat_fwt", "lon_fwt", "obs_vr", *KEYWORD_COLUMNS)
#: the flares.csv columns of docs/FILES.md, in order
FLARE_COLUMNS = [
    "start_utc",
    "peak_utc",
    "end_utc",
    "goes_class",
    "peak_flux_wm2",
    "noaa_ar",
    "region_missing",
]
#: rows a reader rejected or repaired (``rejected_flares.csv``; local ``rejected_records.csv``)
REJECT_COLUMNS = ["source", "line", "reason", "raw"]
#: ``pixels.csv``: what the source measured of each magnetogram when it wrote or read it (the NaN
#: pixels and shape quality checks), with the file's size and modification time then; a file whose
#: size or time differ now is read again (:func:`flarepipe.samples.quality.scan_fits`)
PIXEL_COLUMNS = ["path", "n_nan_pixels", "nx", "ny", "bytes", "mtime_ns"]
#: records a JSOC unit rejected (``units/<unit>/rejected.csv``; merged with a ``unit_id`` first)
UNIT_REJECT_COLUMNS = ["series", "row", "reason", "raw"]


@dataclasses.dataclass
class Archive:
    """A loaded raw archive: parsed records and flares, plus where it lives."""

    root: Path
    records: pd.DataFrame
    flares: pd.DataFrame
    manifest: dict

    def fits_path(self, row: int) -> Path:
        """Absolute path of the magnetogram of record ``row``."""
        return self.root / str(self.records.at[row, "path"])


def _check_columns(df: pd.DataFrame, needed: list[str], path: Path) -> None:
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {missing}; see docs/FILES.md for the archive layout"
        )


def read_records_raw(path: str | os.PathLike) -> pd.DataFrame:
    """Read a ``records.csv`` as written: text columns as strings (empty stays ``''``), missing
    numbers (empty cells) as NaN, ``t_rec`` left as its ISO string. Extra numeric columns after
    the layout's (keyword-table extras) are floats, empty cells NaN.
    """
    df = pd.read_csv(
        path,
        dtype={c: str for c in RECORD_TEXT_COLUMNS},
        keep_default_na=False,
        na_values={c: ["", "nan", "NaN"] for c in RECORD_FLOAT_COLUMNS},
    )
    for c in df.columns:  # extra keyword columns of a keyword table: numbers, empty -> NaN
        if c not in RECORD_COLUMNS and not pd.api.types.is_numeric_dtype(df[c]):
            blank = df[c].astype(str).str.strip().isin(["", "nan", "NaN"])
            num = pd.to_numeric(df[c].where(~blank), errors="coerce")
            if num[~blank].notna().all():
                df[c] = num.astype(float)
    return df


def read_records(path: str | os.PathLike) -> pd.DataFrame:
    """Read an archive's ``records.csv``: ``t_rec`` as naive UTC, a RangeIndex of record ids.

    Records keep their file order (sorted by series, region, time); the row numbers are the record
    ids used by later stages. ``path`` values are relative to the file's folder (docs/FILES.md).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: archive file not found (run the archive stage first)")
    records = read_records_raw(path)
    verify_integrity(path, rows=len(records))  # cut or edited since the archive stage wrote it
    _check_columns(records, RECORD_COLUMNS, path)
    records["t_rec"] = parse_utc(records["t_rec"], what=f"{path}: t_rec")
    return records.reset_index(drop=True)


def read_flares(path: str | os.PathLike) -> pd.DataFrame:
    """Read an archive's ``flares.csv``: times as naive UTC, ``noaa_ar`` as nullable integers."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: archive file not found (run the archive stage first)")
    flares = pd.read_csv(path, dtype={"goes_class": str})
    verify_integrity(path, rows=len(flares))
    _check_columns(flares, FLARE_COLUMNS[:-1], path)
    for c in ("start_utc", "peak_utc", "end_utc"):
        flares[c] = parse_utc(flares[c], what=f"{path}: {c}")
    flares["noaa_ar"] = pd.to_numeric(flares["noaa_ar"], errors="coerce").astype("Int64")
    if "region_missing" not in flares:
        flares["region_missing"] = flares["noaa_ar"].isna()
    return flares


def load_archive(root: str | os.PathLike) -> Archive:
    """Read ``records.csv``, ``flares.csv`` and ``manifest.json`` of an archive folder.

    See :func:`read_records` and :func:`read_flares`; the manifest is ``{}`` when absent.
    """
    root = Path(root)
    records = read_records(root / "records.csv")
    flares = read_flares(root / "flares.csv")
    mpath = root / "manifest.json"
    manifest = json.loads(mpath.read_text()) if mpath.exists() else {}
    return Archive(root=root, records=records, flares=flares, manifest=manifest)


def pixel_stats(path: str, data: np.ndarray, file: str | os.PathLike) -> dict:
    """One ``pixels.csv`` row: ``path`` (relative, as in records.csv), NaN pixels and shape of
    ``data`` (the magnetogram as stored in ``file``), and ``file``'s size and mtime now.
    """
    st = os.stat(file)
    return {
        "path": path,
        "n_nan_pixels": int(np.count_nonzero(np.isnan(data))),
        "nx": int(data.shape[1]),
        "ny": int(data.shape[0]),
        "bytes": int(st.st_size),
        "mtime_ns": int(st.st_mtime_ns),
    }


def write_pixels(rows, target: str | os.PathLike) -> None:
    """Write ``pixels.csv`` (rows of :func:`pixel_stats`; none for an archive without files)."""
    write_csv(pd.DataFrame(list(rows), columns=PIXEL_COLUMNS), target)


def read_pixels(path: str | os.PathLike) -> pd.DataFrame:
    """Read ``pixels.csv``, indexed by ``path``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: archive file not found (run the archive stage first)")
    df = pd.read_csv(path, dtype={"path": str}, keep_default_na=False)
    _check_columns(df, PIXEL_COLUMNS, path)
    return df.set_index("path")
