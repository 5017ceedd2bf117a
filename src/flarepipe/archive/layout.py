"""The raw-archive contract (docs/FILES.md): its columns, and how every later stage loads it.

Every source writes the same layout (docs/FILES.md); :func:`load_archive` is how every later stage
reads it, so none of them can tell which source made it.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pandas as pd

from flarepipe.core.timeutil import parse_utc

__all__ = ["Archive", "load_archive", "RECORD_COLUMNS", "FLARE_COLUMNS", "KEYWORDS"]

RECORD_COLUMNS = [
    "series", "instrument", "region", "region_id", "t_rec", "t_rec_tai", "noaa_ars", "quality",
    "lat_fwt", "lon_fwt", "obs_vr", "usfluxl_mx", "meangbl_g_per_px", "r_value", "area_uhem",
    "nx", "ny", "path",
]
FLARE_COLUMNS = ["start_utc", "peak_utc", "end_utc", "goes_class", "peak_flux_wm2", "noaa_ar",
                 "region_missing"]
#: the four keywords shared by SHARP and SMARP (SCIENCE.md S1), in model input order
KEYWORDS = ["usfluxl_mx", "meangbl_g_per_px", "r_value", "area_uhem"]


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
        raise ValueError(f"{path}: missing column(s) {missing}; see docs/FILES.md for the archive layout")


def load_archive(root: str | os.PathLike) -> Archive:
    """Read ``records.csv``, ``flares.csv`` and ``manifest.json`` of an archive folder.

    Times are parsed to naive UTC timestamps; records keep their file order (sorted by series, region,
    time) with a RangeIndex, whose numbers are the record ids used by later stages.
    """
    import json

    root = Path(root)
    rec_path, fl_path = root / "records.csv", root / "flares.csv"
    for p in (rec_path, fl_path):
        if not p.exists():
            raise FileNotFoundError(f"{p}: archive file not found (run the archive stage first)")
    records = pd.read_csv(rec_path, dtype={"noaa_ars": str, "path": str, "t_rec_tai": str},
                          keep_default_na=False, na_values={c: ["", "nan", "NaN"] for c in KEYWORDS
                                                            + ["lat_fwt", "lon_fwt", "obs_vr"]})
    _check_columns(records, RECORD_COLUMNS, rec_path)
    records["t_rec"] = parse_utc(records["t_rec"], what=f"{rec_path}: t_rec")
    flares = pd.read_csv(fl_path, dtype={"goes_class": str})
    _check_columns(flares, FLARE_COLUMNS[:-1], fl_path)
    for c in ("start_utc", "peak_utc", "end_utc"):
        flares[c] = parse_utc(flares[c], what=f"{fl_path}: {c}")
    flares["noaa_ar"] = pd.to_numeric(flares["noaa_ar"], errors="coerce").astype("Int64")
    if "region_missing" not in flares:
        flares["region_missing"] = flares["noaa_ar"].isna()
    manifest = json.loads((root / "manifest.json").read_text()) if (root / "manifest.json").exists() else {}
    return Archive(root=root, records=records.reset_index(drop=True), flares=flares, manifest=manifest)
