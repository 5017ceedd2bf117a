"""Merge finished units and a flare catalogue into the archive layout (``docs/FILES.md``)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from flarepipe import __version__
from flarepipe.archive.catalogues.flares import read_flares_csv, write_flares
from flarepipe.archive.layout import (
    RECORD_COLUMNS,
    UNIT_REJECT_COLUMNS,
    read_records_raw,
    write_pixels,
)
from flarepipe.io.atomic import sha256_file, write_csv, write_json

__all__ = ["merge_units"]


def merge_units(
    unit_outputs: Iterable[str | os.PathLike],
    archive_dir: str | os.PathLike,
    flares: pd.DataFrame | str | os.PathLike,
    *,
    rejected_flares: pd.DataFrame | str | os.PathLike | None = None,
    parameters: Mapping | None = None,
    verify: bool = False,
) -> dict:
    """Write the archive layout from finished units and a flare catalogue; return the manifest.

    ``unit_outputs`` are the ``unit.json`` files returned by
    :func:`~flarepipe.archive.sources.jsoc.fetch.fetch_unit`. Records are concatenated,
    duplicates (same series, region, ``T_REC``) dropped (counted in the manifest) and sorted by
    ``series, region, t_rec``. Every file a unit lists must exist with its recorded size
    (``verify=True`` also re-hashes). ``flares`` is a catalogue frame of
    :mod:`flarepipe.archive.catalogues.flares` or the path of a flares CSV. Writes
    ``records.csv``, ``flares.csv``, ``rejected_records.csv``, ``rejected_flares.csv`` (when
    given) and ``manifest.json``.

    Raises
    ------
    ValueError
        A unit's file is missing, has the wrong size or (``verify``) checksum; the message names
        the unit to rerun.
    """
    archive = Path(archive_dir)
    archive.mkdir(parents=True, exist_ok=True)
    recs, rejs, units, fits_sums, fits_sizes, pixels = [], [], [], {}, {}, {}
    for p in unit_outputs:
        p = Path(p)
        summary = json.loads(p.read_text())
        uid = summary["unit"]["unit_id"]
        recs.append(read_records_raw(p.parent / "records.csv"))
        rej_path = p.parent / "rejected.csv"
        if rej_path.exists() and rej_path.stat().st_size:
            rj = pd.read_csv(rej_path, dtype=str, keep_default_na=False)
            rj.insert(0, "unit_id", uid)
            rejs.append(rj)
        for rel, meta in summary.get("files", {}).items():
            fp = archive / rel
            st = fp.stat() if fp.exists() else None
            if st is None or st.st_size != meta["size"]:
                raise ValueError(
                    f"unit {uid}: {rel} is missing or has the wrong size; rerun that unit"
                )
            if verify and sha256_file(fp) != meta["sha256"]:
                raise ValueError(
                    f"unit {uid}: {rel} does not match its checksum; delete it and rerun that unit"
                )
            fits_sums[rel] = meta["sha256"]
            fits_sizes[rel] = meta["size"]
            if all(k in meta for k in ("n_nan_pixels", "nx", "ny")):  # measured when downloaded
                pixels[rel] = {"path": rel, **{k: meta[k] for k in ("n_nan_pixels", "nx", "ny")}}
                pixels[rel] |= {"bytes": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}
        units.append(
            {
                k: summary.get(k)
                for k in (
                    "recordset",
                    "export_recordset",
                    "export_requestid",
                    "counts",
                    "missing_keywords",
                    "finished_utc",
                )
            }
            | {"unit_id": uid}
        )
    records = pd.concat(recs, ignore_index=True) if recs else pd.DataFrame(columns=RECORD_COLUMNS)
    records = records.reindex(columns=RECORD_COLUMNS)
    records["noaa_ars"] = records["noaa_ars"].fillna("").astype(str)
    records["path"] = records["path"].fillna("").astype(str)
    n_before = len(records)
    records = records.drop_duplicates(["series", "region", "t_rec_tai"], keep="first")
    records = records.sort_values(["series", "region", "t_rec"], kind="stable").reset_index(
        drop=True
    )
    rejected = (
        pd.concat(rejs, ignore_index=True)
        if rejs
        else pd.DataFrame(columns=["unit_id", *UNIT_REJECT_COLUMNS])
    )

    fl = read_flares_csv(flares) if not isinstance(flares, pd.DataFrame) else flares
    write_csv(records, archive / "records.csv", float_format="%.10g")
    write_pixels((pixels[p] for p in records["path"] if p in pixels), archive / "pixels.csv")
    write_flares(fl, archive / "flares.csv")
    write_csv(rejected, archive / "rejected_records.csv")
    out_files = ["records.csv", "flares.csv", "rejected_records.csv"]
    if rejected_flares is not None:
        rf = (
            rejected_flares
            if isinstance(rejected_flares, pd.DataFrame)
            else pd.read_csv(rejected_flares, dtype=str)
        )
        write_csv(rf, archive / "rejected_flares.csv")
        out_files.append("rejected_flares.csv")
    manifest = {
        "source": "jsoc",
        "flarepipe_version": __version__,
        "parameters": dict(parameters or {}),
        "units": sorted(units, key=lambda u: u["unit_id"]),
        "queries": [u["recordset"] for u in sorted(units, key=lambda u: u["unit_id"])],
        "counts": {
            "records": int(len(records)),
            "duplicates_dropped": int(n_before - len(records)),
            "rejected_records": int(len(rejected)),
            "flares": int(len(fl)),
            "files": len(fits_sums),
            "units": len(units),
            "regions": int(records["region_id"].nunique()) if len(records) else 0,
        },
        "files": {name: sha256_file(archive / name) for name in out_files},
        "fits": dict(sorted(fits_sums.items())),
        "fits_bytes": dict(sorted(fits_sizes.items())),
    }
    write_json(manifest, archive / "manifest.json")
    return manifest
