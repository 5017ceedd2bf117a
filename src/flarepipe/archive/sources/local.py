"""The local archive source: JSOC FITS exports, keyword tables and a flare list already on disk.

Writes the same archive layout as the other sources (``docs/FILES.md``). Inputs, any of:

* a folder of JSOC FITS exports (``archive.local.fits_dir``), read with
  :func:`flarepipe.io.fitsio.read_patch` and :func:`flarepipe.io.fitsio.header_to_record` - the
  code that reads downloaded files - and copied (or hard/sym-linked) to
  ``fits/<series>/<JSOC file name>``;
* keyword tables (``archive.local.keyword_tables``) read with a column map by
  :func:`flarepipe.archive.catalogues.keyword_tables.load_keyword_tables` (re-exported here),
  because real tables name keywords differently;
* a flare list (``archive.local.flares``) in any format
  :func:`flarepipe.archive.catalogues.flares.read_flare_file` reads.

Settings come from the validated ``archive.local`` section (:class:`LocalSettings`); the schema
holds every key, bound and default.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from flarepipe import __version__
from flarepipe.archive.catalogues.flares import read_flare_file, read_harp_noaa_map, write_flares
from flarepipe.archive.catalogues.keyword_tables import (
    DEFAULT_TABLE_COLUMN_MAP,
    TABLE_NAMES,
    keyword_tables_to_records,
    load_keyword_tables,
)
from flarepipe.archive.layout import RECORD_COLUMNS, REJECT_COLUMNS, pixel_stats, write_pixels
from flarepipe.core.keywords import KEYWORD_COLUMNS
from flarepipe.io.atomic import atomic_path, sha256_file, write_csv, write_json
from flarepipe.io.download import safe_filename
from flarepipe.io.fitsio import header_to_record, jsoc_filename, read_patch

__all__ = [
    "SECTION",
    "DEFAULT_TABLE_COLUMN_MAP",
    "TABLE_NAMES",
    "LocalSettings",
    "load_keyword_tables",
    "keyword_tables_to_records",
    "scan_fits",
    "build_local_archive",
]

#: where the section lives in the configuration (for messages)
SECTION = "archive.local"


@dataclass(frozen=True)
class LocalSettings:
    """What :func:`build_local_archive` reads from the validated ``archive.local`` section.

    Every attribute is described, with its bounds and default, in the schema section
    ``archive.local``; ``keyword_tables`` are paths or globs, ``column_map`` is merged over
    :data:`DEFAULT_TABLE_COLUMN_MAP`.

    Raises
    ------
    ValueError
        Neither ``fits_dir`` nor ``keyword_tables`` is given.
    """

    flares: str
    fits_dir: str | None = None
    fits_glob: str = "**/*.magnetogram.fits"
    link: str = "copy"
    keyword_tables: tuple[str, ...] = ()
    column_map: Mapping[str, str | None] = field(default_factory=dict)
    harp_noaa_map: str | None = None
    quality_default: int = 0
    flares_format: str = "auto"

    def __post_init__(self) -> None:
        if not self.fits_dir and not self.keyword_tables:
            raise ValueError(f"{SECTION} needs fits_dir and/or keyword_tables")

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> LocalSettings:
        """Settings from the ``archive.local`` section as :mod:`flarepipe.config` validated it.

        Raises
        ------
        ValueError
            A key is missing or unknown (the section was not validated), or the section names
            neither FITS files nor keyword tables.
        """
        d = dict(section)
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(names))
        missing = [n for n in names if n not in d]
        if unknown or missing:
            raise ValueError(
                f"{SECTION}: {'unknown keys ' + str(unknown) if unknown else ''}"
                f"{'; ' if unknown and missing else ''}"
                f"{'missing keys ' + str(missing) if missing else ''}: pass the section as "
                "flarepipe.config.validate_config checked and filled it"
            )
        tables = d["keyword_tables"]
        return cls(
            flares=str(d["flares"]),
            fits_dir=str(d["fits_dir"]) if d["fits_dir"] else None,
            fits_glob=str(d["fits_glob"]),
            link=str(d["link"]),
            keyword_tables=(str(tables),)
            if isinstance(tables, (str, os.PathLike))
            else tuple(str(t) for t in tables),
            column_map=dict(d["column_map"]),
            harp_noaa_map=str(d["harp_noaa_map"]) if d["harp_noaa_map"] else None,
            quality_default=int(d["quality_default"]),
            flares_format=str(d["flares_format"]),
        )

    def to_dict(self) -> dict:
        """JSON-ready view (for the manifest)."""
        out = dataclasses.asdict(self)
        out["keyword_tables"] = list(self.keyword_tables)
        out["column_map"] = dict(self.column_map)
        return out


def _place(src: Path, dest: Path, mode: str) -> None:
    if (
        dest.exists()
        and dest.stat().st_size == src.stat().st_size
        and sha256_file(dest) == sha256_file(src)
    ):
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    if mode == "copy":
        with atomic_path(dest, suffix=".fits.part") as tmp:
            shutil.copyfile(src, tmp)
        return
    tmp = dest.with_name(f".{dest.name}.link.part")
    tmp.unlink(missing_ok=True)
    if mode == "hardlink":
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
    elif mode == "symlink":
        os.symlink(src.resolve(), tmp)
    else:
        raise ValueError(f"{SECTION}.link must be copy, hardlink or symlink, got {mode!r}")
    os.replace(tmp, dest)


def scan_fits(
    fits_dir: str | os.PathLike,
    archive_dir: str | os.PathLike,
    *,
    pattern: str = "**/*.magnetogram.fits",
    link: str = "copy",
    pixel_rows: list | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read every FITS export under ``fits_dir`` and place it in the archive.

    Returns ``(records, rejected)``; ``pixel_rows``, when given, gets the ``pixels.csv`` row of
    every file placed (:func:`flarepipe.archive.layout.pixel_stats`: read here, not again by
    quality).

    Each file goes through :func:`flarepipe.io.fitsio.read_patch` (``verify('silentfix')`` for the
    malformed cards of older exports) and :func:`flarepipe.io.fitsio.header_to_record`. It is stored
    as ``fits/<series>/<name>`` where ``name`` is its own file name when that is a plain JSOC name
    for this record, else the JSOC name built from the header. Unreadable files are rejected with
    the reason.
    """
    root = Path(fits_dir)
    if not root.is_dir():
        raise ValueError(f"{SECTION}.fits_dir {str(root)!r} is not a folder")
    archive = Path(archive_dir)
    rows, rejected = [], []
    taken: dict[object, Path] = {}  # archive path, and (series, region, T_REC) -> the file placed
    for p in sorted(Path(x) for x in glob.glob(str(root / pattern), recursive=True)):
        try:
            data, header = read_patch(p)
            rec = header_to_record(header, p)
        except ValueError as exc:
            rejected.append({"source": str(p), "line": -1, "reason": str(exc), "raw": ""})
            continue
        expected = jsoc_filename(rec["series"], rec["region"], rec["t_rec_tai"], "magnetogram")
        name = p.name
        try:
            safe_filename(name)
        except ValueError:
            name = expected
        if not name.startswith(f"{rec['series']}.{rec['region']}."):
            name = expected
        rel = f"fits/{rec['series']}/{name}"
        key = (rec["series"], rec["region"], rec["t_rec_tai"])
        clash = next((k for k in (rel, key) if k in taken), None)
        if clash is not None:
            what = (
                f"archive file {rel}" if clash == rel else f"record {rec['series']}{list(key[1:])}"
            )
            rejected.append(
                {
                    "source": str(p),
                    "line": -1,
                    "reason": f"{p}: maps to {what}, already taken by {taken[clash]} "
                    "(two files of one record, or a name that hides its record); not placed",
                    "raw": "",
                }
            )
            continue
        taken[rel] = taken[key] = p
        dest = archive / rel
        _place(p, dest, link)
        rec["path"] = rel
        rec["ny"], rec["nx"] = int(data.shape[0]), int(data.shape[1])
        rows.append(rec)
        if pixel_rows is not None:
            pixel_rows.append(pixel_stats(rel, data, dest))
    recs = (
        pd.DataFrame(rows).reindex(columns=RECORD_COLUMNS)
        if rows
        else pd.DataFrame(columns=RECORD_COLUMNS)
    )
    return recs, pd.DataFrame(rejected, columns=REJECT_COLUMNS)


def _expand(paths) -> list[Path]:
    if not paths:
        return []
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out = []
    for p in paths:
        hits = sorted(glob.glob(str(p)))
        if not hits:
            raise ValueError(f"{SECTION}.keyword_tables: no file matches {str(p)!r}")
        out += [Path(h) for h in hits]
    return out


def build_local_archive(
    settings: LocalSettings | Mapping[str, Any], archive_dir: str | os.PathLike
) -> dict:
    """Write the archive layout from files on disk; return the manifest.

    Parameters
    ----------
    settings
        :class:`LocalSettings`, or the validated ``archive.local`` section.
    archive_dir
        The archive folder.

    When a record comes both from a table and from a FITS file (same series, region and ``T_REC``),
    the file gives ``path``, size, ``QUALITY``, position and NOAA numbers, and the table gives the
    keyword values it maps (the table is what the column map was configured for); header values fill
    keywords the table lacks.

    Raises
    ------
    ValueError
        No records found, or an input cannot be read (the message names the file and the key).
    """
    c = settings if isinstance(settings, LocalSettings) else LocalSettings.from_section(settings)
    archive = Path(archive_dir)
    archive.mkdir(parents=True, exist_ok=True)
    parts, rejected = [], []
    fits_recs = pd.DataFrame(columns=RECORD_COLUMNS)
    pixel_rows: list[dict] = []
    if c.fits_dir:
        fits_recs, rej = scan_fits(
            c.fits_dir, archive, pattern=c.fits_glob, link=c.link, pixel_rows=pixel_rows
        )
        rejected.append(rej)
    table_recs = pd.DataFrame(columns=RECORD_COLUMNS)
    tables = _expand(c.keyword_tables)
    if tables:
        harp_noaa = read_harp_noaa_map(c.harp_noaa_map) if c.harp_noaa_map else None
        tidy = load_keyword_tables(tables, c.column_map)
        table_recs, rej = keyword_tables_to_records(
            tidy, harp_noaa=harp_noaa, quality=c.quality_default
        )
        rejected.append(rej)
    if len(fits_recs) and len(table_recs):
        key = ["series", "region", "t_rec"]
        merged = fits_recs.merge(
            table_recs[key + list(KEYWORD_COLUMNS)], on=key, how="left", suffixes=("", "_tab")
        )
        for col in KEYWORD_COLUMNS:
            merged[col] = merged[f"{col}_tab"].where(merged[f"{col}_tab"].notna(), merged[col])
        fits_recs = merged[RECORD_COLUMNS]
        only_table = table_recs.merge(fits_recs[key], on=key, how="left", indicator=True)
        table_recs = only_table[only_table["_merge"] == "left_only"][RECORD_COLUMNS]
    for part in (fits_recs, table_recs):
        if len(part):
            parts.append(part)
    if not parts:
        raise ValueError(
            f"local source found no records (check {SECTION}.fits_dir / {SECTION}.keyword_tables)"
        )
    records = pd.concat(parts, ignore_index=True).reindex(columns=RECORD_COLUMNS)
    records["path"] = records["path"].fillna("").astype(str)
    records["noaa_ars"] = records["noaa_ars"].fillna("").astype(str)
    for col in ("region", "quality", "nx", "ny"):
        records[col] = records[col].astype("int64")
    records = records.sort_values(["series", "region", "t_rec"], kind="stable").reset_index(
        drop=True
    )
    cat = read_flare_file(c.flares, c.flares_format)
    rejected_records = (
        pd.concat(rejected, ignore_index=True) if rejected else pd.DataFrame(columns=REJECT_COLUMNS)
    )

    write_csv(records, archive / "records.csv", float_format="%.10g")
    write_pixels(pixel_rows, archive / "pixels.csv")
    write_flares(cat.flares, archive / "flares.csv")
    write_csv(rejected_records, archive / "rejected_records.csv")
    write_csv(cat.rejected, archive / "rejected_flares.csv")
    names = ["records.csv", "flares.csv", "rejected_records.csv", "rejected_flares.csv"]
    fits_paths = [p for p in records["path"] if p]
    manifest = {
        "source": "local",
        "flarepipe_version": __version__,
        "parameters": c.to_dict(),
        "inputs": {
            "keyword_tables": [str(p) for p in tables],
            "fits_dir": c.fits_dir,
            "flares": c.flares,
        },
        "counts": {
            "records": int(len(records)),
            "records_with_file": len(fits_paths),
            "rejected_records": int(len(rejected_records)),
            **{f"flares_{k}": v for k, v in cat.counts().items()},
            "regions": int(records["region_id"].nunique()),
        },
        "files": {n: sha256_file(archive / n) for n in names},
        "fits": {p: sha256_file(archive / p) for p in fits_paths},
    }
    write_json(manifest, archive / "manifest.json")
    return manifest
