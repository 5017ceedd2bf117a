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
from flarepipe.archive.catalogues.fits_keywords import (
    PROVENANCE_COLUMNS,
    RECOMPUTE_MODES,
    complete_keywords,
    file_segment,
)
from flarepipe.archive.catalogues.flares import (
    read_flare_file,
    read_harp_noaa_map,
    require_usable_flares,
    write_flares,
)
from flarepipe.archive.catalogues.keyword_tables import (
    DEFAULT_TABLE_COLUMN_MAP,
    TABLE_NAMES,
    TableOptions,
    keyword_tables_to_records,
    load_keyword_tables,
    read_keyword_tables,
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
    constants: Mapping[str, Any] = field(default_factory=dict)
    sep: str | None = None
    decimal: str | None = None
    time_format: str | None = None
    time_scale: str = "TAI"
    grid_minutes: float | None = None
    grid_tolerance_minutes: float = 0.0
    keep_extra: bool = True
    flares_columns: Mapping[str, str | None] = field(default_factory=dict)
    flares_time_format: str | None = None
    segment: str = "magnetogram"
    header_keywords: Mapping[str, Any] = field(default_factory=dict)
    recompute_keywords: str = "missing"

    def __post_init__(self) -> None:
        if not self.fits_dir and not self.keyword_tables:
            raise ValueError(f"{SECTION} needs fits_dir and/or keyword_tables")
        if self.recompute_keywords not in RECOMPUTE_MODES:
            raise ValueError(
                f"{SECTION}.recompute_keywords must be one of {list(RECOMPUTE_MODES)}, "
                f"got {self.recompute_keywords!r}"
            )
        self.table_options()  # the column map, constants, time scale and grid checked now

    def table_options(self) -> TableOptions:
        """The :class:`TableOptions` of the keyword tables (checks the column map)."""
        return TableOptions(
            column_map=dict(self.column_map),
            constants=dict(self.constants),
            sep=self.sep,
            decimal=self.decimal,
            time_format=self.time_format,
            time_scale=self.time_scale,
            grid_minutes=self.grid_minutes,
            grid_tolerance_minutes=float(self.grid_tolerance_minutes),
            keep_extra=bool(self.keep_extra),
            section=SECTION,
        )

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
            constants=dict(d["constants"]),
            sep=d["sep"],
            decimal=d["decimal"],
            time_format=d["time_format"],
            time_scale=str(d["time_scale"]),
            grid_minutes=None if d["grid_minutes"] is None else float(d["grid_minutes"]),
            grid_tolerance_minutes=float(d["grid_tolerance_minutes"]),
            keep_extra=bool(d["keep_extra"]),
            flares_columns=dict(d["flares_columns"]),
            flares_time_format=d["flares_time_format"],
            segment=str(d["segment"]),
            header_keywords={k: list(v) for k, v in dict(d["header_keywords"]).items()},
            recompute_keywords=str(d["recompute_keywords"]),
        )

    def to_dict(self) -> dict:
        """JSON-ready view (for the manifest)."""
        out = dataclasses.asdict(self)
        out["keyword_tables"] = list(self.keyword_tables)
        for k in ("column_map", "constants", "flares_columns", "header_keywords"):
            out[k] = dict(getattr(self, k))
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
    segment: str = "magnetogram",
    header_keywords: Mapping[str, Any] | None = None,
    recompute: str = "missing",
    details: dict | None = None,
    pixel_rows: list | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read every FITS export of segment ``segment`` under ``fits_dir``; place it in the archive.

    Returns ``(records, rejected)``; ``pixel_rows``, when given, gets the ``pixels.csv`` row of
    every file placed (:func:`flarepipe.archive.layout.pixel_stats`: read here, not again by
    quality).

    Files matching ``pattern`` whose JSOC name (``<series>.<region>.<T_REC>.<segment>.fits``)
    names another segment (``bitmap``, ``Br``, ``Bp``, ``Bt``, ...) are not records: they are
    counted per segment in ``details["ignored_segments"]`` (a bitmap beside a magnetogram serves
    as its region mask). Each record file goes through :func:`flarepipe.io.fitsio.read_patch`
    (``verify('silentfix')`` for the malformed cards of older exports) and
    :func:`flarepipe.io.fitsio.header_to_record`; keywords the header lacks come from
    ``header_keywords`` aliases or are computed from the map
    (:func:`flarepipe.archive.catalogues.fits_keywords.complete_keywords`, ``recompute``: never,
    missing, always), with one provenance row per record and keyword in
    ``details["provenance"]``. The file is stored as ``fits/<series>/<name>`` where ``name`` is
    its own file name when that is a plain JSOC name for this record, else the JSOC name built
    from the header. Unreadable files are rejected with the reason.
    """
    root = Path(fits_dir)
    if not root.is_dir():
        raise ValueError(f"{SECTION}.fits_dir {str(root)!r} is not a folder")
    archive = Path(archive_dir)
    details = {} if details is None else details
    ignored: dict[str, int] = details.setdefault("ignored_segments", {})
    provenance: list[dict] = details.setdefault("provenance", [])
    rows, rejected = [], []
    taken: dict[object, Path] = {}  # archive path, and (series, region, T_REC) -> the file placed
    matched = sorted(Path(x) for x in glob.glob(str(root / pattern), recursive=True))
    details["matched"] = len(matched)
    for p in matched:
        seg = file_segment(p)
        if seg is not None and seg != segment:
            ignored[seg] = ignored.get(seg, 0) + 1
            continue
        try:
            data, header = read_patch(p)
            rec = header_to_record(header, p)
            prov = complete_keywords(
                rec, data, header, p, aliases=header_keywords, recompute=recompute
            )
        except ValueError as exc:
            rejected.append({"source": str(p), "line": -1, "reason": str(exc), "raw": ""})
            continue
        expected = jsoc_filename(rec["series"], rec["region"], rec["t_rec_tai"], segment)
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
        for r in prov:
            provenance.append({"path": rel, "region_id": rec["region_id"], **r})
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


def _no_records_report(
    c: LocalSettings, details: dict, tables: list[Path], rejected: list[pd.DataFrame]
) -> dict:
    """Why the local inputs gave no record: FITS files matched, of other segments, rejected
    (counts, the first reasons), table rows; ``why`` says it in one line naming the keys.
    """
    rej = pd.concat(rejected, ignore_index=True) if rejected else pd.DataFrame(columns=["reason"])
    ignored = dict(sorted(details.get("ignored_segments", {}).items()))
    report: dict = {
        "fits_dir": c.fits_dir,
        "fits_glob": c.fits_glob,
        "segment": c.segment,
        "fits_files_matched": int(details.get("matched", 0)),
        "fits_ignored_segments": ignored,
        "keyword_tables": [str(p) for p in tables],
        "rejected": int(len(rej)),
        "first_rejections": rej["reason"].astype(str).head(5).tolist(),
    }
    if c.fits_dir is None:
        why = f"{SECTION}.keyword_tables gave no row"
    elif not report["fits_files_matched"]:
        why = (
            f"{SECTION}.fits_glob {c.fits_glob!r} matches no file under {SECTION}.fits_dir "
            f"{c.fits_dir!r}"
        )
    elif not len(rej):
        segs = ", ".join(f"{k} {v}" for k, v in ignored.items())
        why = (
            f"the {report['fits_files_matched']} file(s) {SECTION}.fits_glob {c.fits_glob!r} "
            f"matches under {c.fits_dir!r} are of other segments than {SECTION}.segment "
            f"{c.segment!r} ({segs})"
        )
    else:
        why = (
            f"all {len(rej)} file(s) of segment {c.segment!r} ({SECTION}.segment) that "
            f"{SECTION}.fits_glob {c.fits_glob!r} matches were rejected; first: "
            f"{report['first_rejections'][0]}"
        )
    if tables:
        why += f"; and {SECTION}.keyword_tables gave no row"
    report["why"] = why
    return report


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
    parts, rejected, repaired = [], [], []
    fits_recs = pd.DataFrame(columns=RECORD_COLUMNS)
    details: dict = {}
    pixel_rows: list[dict] = []
    if c.fits_dir:
        fits_recs, rej = scan_fits(
            c.fits_dir,
            archive,
            pattern=c.fits_glob,
            link=c.link,
            segment=c.segment,
            header_keywords=c.header_keywords,
            recompute=c.recompute_keywords,
            details=details,
            pixel_rows=pixel_rows,
        )
        rejected.append(rej)
    table_recs = pd.DataFrame(columns=RECORD_COLUMNS)
    tables = _expand(c.keyword_tables)
    table_info: list[dict] = []
    if tables:
        harp_noaa = read_harp_noaa_map(c.harp_noaa_map) if c.harp_noaa_map else None
        res = read_keyword_tables(tables, c.table_options(), harp_noaa=harp_noaa)
        table_info = res.info
        rejected.append(res.rejected)
        repaired.append(res.repaired)
        table_recs, rej = keyword_tables_to_records(
            res.table, harp_noaa=harp_noaa, quality=c.quality_default
        )
        rejected.append(rej)
    if len(fits_recs) and len(table_recs):
        key = ["series", "region", "t_rec"]
        merged = fits_recs.merge(
            table_recs[key + list(KEYWORD_COLUMNS)], on=key, how="left", suffixes=("", "_tab")
        )
        for col in KEYWORD_COLUMNS:
            merged[col] = merged[f"{col}_tab"].where(merged[f"{col}_tab"].notna(), merged[col])
        extra_cols = [x for x in table_recs.columns if x not in RECORD_COLUMNS]
        merged = merged.merge(table_recs[key + extra_cols], on=key, how="left")
        fits_recs = merged[RECORD_COLUMNS + extra_cols]
        only_table = table_recs.merge(fits_recs[key], on=key, how="left", indicator=True)
        table_recs = only_table[only_table["_merge"] == "left_only"][RECORD_COLUMNS + extra_cols]
    for part in (fits_recs, table_recs):
        if len(part):
            parts.append(part)
    if not parts:
        report = _no_records_report(c, details, tables, rejected)
        target = archive / "archive_diagnosis.json"
        write_json(report, target)
        raise ValueError(f"local source found no records: {report['why']} (detail in {target})")
    (archive / "archive_diagnosis.json").unlink(missing_ok=True)  # of an earlier run that failed
    extra = [x for p in parts for x in p.columns if x not in RECORD_COLUMNS]
    extra = list(dict.fromkeys(extra))
    records = pd.concat(parts, ignore_index=True).reindex(columns=RECORD_COLUMNS + extra)
    records["path"] = records["path"].fillna("").astype(str)
    records["noaa_ars"] = records["noaa_ars"].fillna("").astype(str)
    for col in ("region", "quality", "nx", "ny"):
        records[col] = records[col].astype("int64")
    records = records.sort_values(["series", "region", "t_rec"], kind="stable").reset_index(
        drop=True
    )
    fkey = f"{SECTION}.flares_format"
    cat = read_flare_file(
        c.flares,
        c.flares_format,
        columns=c.flares_columns,
        time_format=c.flares_time_format,
        key=fkey,
    )
    require_usable_flares(cat, c.flares, cat.format or c.flares_format, fkey)
    rejected_records = (
        pd.concat(rejected, ignore_index=True) if rejected else pd.DataFrame(columns=REJECT_COLUMNS)
    )
    repaired_records = (
        pd.concat(repaired, ignore_index=True) if repaired else pd.DataFrame(columns=REJECT_COLUMNS)
    )
    provenance = pd.DataFrame(details.get("provenance", []), columns=PROVENANCE_COLUMNS)

    write_csv(records, archive / "records.csv", float_format="%.10g")
    write_pixels(pixel_rows, archive / "pixels.csv")
    write_flares(cat.flares, archive / "flares.csv")
    write_csv(rejected_records, archive / "rejected_records.csv")
    write_csv(cat.rejected, archive / "rejected_flares.csv")
    write_csv(repaired_records, archive / "repaired_records.csv")
    write_csv(cat.repaired.reindex(columns=REJECT_COLUMNS), archive / "repaired_flares.csv")
    write_csv(provenance, archive / "keyword_provenance.csv")
    names = [
        "records.csv",
        "flares.csv",
        "rejected_records.csv",
        "rejected_flares.csv",
        "repaired_records.csv",
        "repaired_flares.csv",
        "keyword_provenance.csv",
    ]
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
            "repaired_records": int(len(repaired_records)),
            **{f"flares_{k}": v for k, v in cat.counts().items()},
            "regions": int(records["region_id"].nunique()),
            "fits_ignored_segments": dict(sorted(details.get("ignored_segments", {}).items())),
            "keywords_computed": int(provenance["source"].str.startswith("computed").sum()),
        },
        "flares_format": cat.format or c.flares_format,
        "tables": table_info,
        "extra_columns": extra,
        "files": {n: sha256_file(archive / n) for n in names},
        "fits": {p: sha256_file(archive / p) for p in fits_paths},
    }
    write_json(manifest, archive / "manifest.json")
    return manifest
