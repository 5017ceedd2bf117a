"""The local archive source: JSOC FITS exports, keyword tables and a flare list already on disk.

Writes the same archive layout as the other sources (``docs/FILES.md``). Inputs, any of:

* a folder of JSOC FITS exports (``archive.local.fits_dir``), read with
  :func:`flarepipe.io.fitsio.read_patch` and :func:`flarepipe.io.fitsio.header_to_record` - the
  code that reads downloaded files - and copied (or hard/sym-linked) to
  ``fits/<series>/<JSOC file name>``;
* keyword tables (``archive.local.keyword_tables``) read by :func:`load_keyword_tables` with a
  column map, because real tables name keywords differently (the Sun et al. 2022 tables call the
  line-of-sight ``USFLUXL``/``MEANGBL`` ``USFLUX``/``MEANGBZ``:
  :attr:`flarepipe.core.keywords.Keyword.table_column`);
* a flare list (``archive.local.flares``) in any format
  :func:`flarepipe.archive.catalogues.flares.read_flare_file` reads.

Settings come from the validated ``archive.local`` section (:class:`LocalSettings`); the schema
holds every key, bound and default.

Keyword-table times. The tables' ``t_start``/``t_end`` lie on the 96-minute JSOC ``T_REC`` grid
(00:00, 01:36, ... TAI): they are ``T_REC`` values written without their ``_TAI`` suffix. They are
therefore read as TAI and converted once to UTC (``t_end`` is 32-37 s earlier than the string), the
same conversion ``T_REC`` gets everywhere else; ``t_end_tai`` keeps the grid time.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flarepipe import __version__
from flarepipe.archive.catalogues.flares import read_flare_file, read_harp_noaa_map, write_flares
from flarepipe.archive.layout import RECORD_COLUMNS, REJECT_COLUMNS
from flarepipe.core.keywords import KEYWORD_COLUMNS, KEYWORDS
from flarepipe.core.series import SERIES, series_of_prefix
from flarepipe.core.timeutil import format_trec, tai_to_utc, to_iso_utc
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

#: canonical name -> column of the keyword table (defaults: the Sun et al. 2022 sharp_*.csv /
#: smarp_*.csv tables; keyword columns from :attr:`flarepipe.core.keywords.Keyword.table_column`)
DEFAULT_TABLE_COLUMN_MAP: dict[str, str] = {
    "prefix": "prefix",
    "region": "arpnum",
    "t_start": "t_start",
    "t_end": "t_end",
    "label": "label",
    "flares": "flares",
    "flare_index": "FLARE_INDEX",
    **{k.column: k.table_column for k in KEYWORDS},
}
#: the canonical names a column map may set
TABLE_NAMES: tuple[str, ...] = tuple(DEFAULT_TABLE_COLUMN_MAP)
_REQUIRED = ("prefix", "region", "t_end")
_PREFIXES = [s.prefix for s in SERIES.values()]


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


def _tai_to_utc_grid(tai: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """:func:`flarepipe.core.timeutil.tai_to_utc`, evaluated once per distinct day, not per value.

    TAI-UTC is constant within a TAI day except across a leap second (UTC midnight = TAI 00:00:3x);
    days whose offset at 00:00 and 12:00 TAI differ are converted element by element. Exact, and
    fast for large keyword tables (277k rows).
    """
    tai = pd.DatetimeIndex(tai)
    if len(tai) == 0:
        return tai
    days = tai.normalize()
    udays = pd.DatetimeIndex(days.unique())
    off0 = udays - pd.DatetimeIndex(tai_to_utc(udays))
    off1 = (udays + pd.Timedelta(hours=12)) - pd.DatetimeIndex(
        tai_to_utc(udays + pd.Timedelta(hours=12))
    )
    offset = pd.Series(off1, index=udays)
    out = tai - pd.TimedeltaIndex(offset.reindex(days).to_numpy())
    odd = off0 != off1
    if odd.any():
        # leap second at the end of the previous UTC day: TAI times before 00:00:00 + old offset
        # keep the old offset (a time inside the leap second itself maps to 23:59:59.x UTC)
        old = pd.Series(off0, index=udays).reindex(days).to_numpy()
        new = offset.reindex(days).to_numpy()
        is_odd = pd.Series(odd, index=udays).reindex(days).to_numpy()
        before = is_odd & ((tai - days).to_numpy() < old)
        out = pd.DatetimeIndex(
            np.where(
                before,
                (tai - pd.TimedeltaIndex(old)).to_numpy(),
                (tai - pd.TimedeltaIndex(new)).to_numpy(),
            )
        )
    return out


def _fold_of(path: Path) -> int | None:
    m = re.search(r"_(\d+)$", path.stem)
    return int(m.group(1)) if m else None


def load_keyword_tables(
    paths: Iterable[str | os.PathLike], column_map: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Read keyword tables into one tidy frame with canonical column names.

    Parameters
    ----------
    paths
        CSV files (e.g. ``sharp_0.csv`` ... ``smarp_4.csv``); a trailing ``_<n>`` in the name is the
        fold (the authors' region-grouped split), else ``fold`` is empty.
    column_map
        Canonical name -> table column, merged over :data:`DEFAULT_TABLE_COLUMN_MAP`. Names:
        ``prefix`` (``HARP``/``TARP``), ``region``, ``t_end`` (required), ``t_start``, ``label``,
        ``flares``, ``flare_index`` and the archive keyword columns of
        :data:`flarepipe.core.keywords.KEYWORD_COLUMNS`. Map a name to ``None`` to skip it.

    Returns
    -------
    pandas.DataFrame
        ``region_id`` (``HARP377``/``TARP13520``), ``instrument``, ``series``, ``region``, ``t_end``
        (UTC ``Timestamp``, converted from the TAI grid time), ``t_end_tai``, ``t_start`` (UTC, when
        mapped), the keyword columns, ``label`` (bool), ``flares``, ``flare_index``, ``fold``
        (``Int64``), ``source_file``; sorted by ``region_id, t_end``.

    Raises
    ------
    ValueError
        A table lacks a mapped column, or has an unknown prefix or unreadable time (named with file
        and line).
    """
    cmap = {**DEFAULT_TABLE_COLUMN_MAP, **dict(column_map or {})}
    frames = []
    for p in paths:
        p = Path(p)
        df = pd.read_csv(p, dtype={cmap.get("prefix") or "prefix": str})
        use = {k: v for k, v in cmap.items() if v is not None}
        explicit = set(column_map or {})
        missing = [
            f"{k} -> {v!r}"
            for k, v in use.items()
            if v not in df.columns and (k in _REQUIRED or k in KEYWORD_COLUMNS or k in explicit)
        ]
        if missing:
            raise ValueError(
                f"{p}: columns not found for {', '.join(missing)} (set {SECTION}.column_map; "
                f"the table has {list(df.columns)})"
            )
        out = pd.DataFrame(index=df.index)
        prefix = df[use["prefix"]].astype(str).str.strip().str.upper()
        bad = ~prefix.isin(_PREFIXES)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"{p}:{i + 2}: unknown region prefix {prefix.iloc[i]!r} "
                f"(expected one of {_PREFIXES})"
            )
        region = pd.to_numeric(df[use["region"]], errors="coerce")
        if region.isna().any():
            i = int(np.flatnonzero(region.isna().to_numpy())[0])
            raise ValueError(f"{p}:{i + 2}: bad region number {df[use['region']].iloc[i]!r}")
        out["region_id"] = prefix + region.astype("int64").astype(str)
        out["instrument"] = prefix.map(lambda x: series_of_prefix(x).instrument)
        out["series"] = prefix.map(lambda x: series_of_prefix(x).name)
        out["region"] = region.astype("int64")
        for name in ("t_end", "t_start"):
            if name not in use or use[name] not in df.columns:
                continue
            tai = pd.to_datetime(df[use[name]], errors="coerce", format="ISO8601")
            if tai.isna().any():
                i = int(np.flatnonzero(tai.isna().to_numpy())[0])
                raise ValueError(
                    f"{p}:{i + 2}: cannot read {use[name]!r} time {df[use[name]].iloc[i]!r}"
                )
            tai_idx = pd.DatetimeIndex(tai)
            if name == "t_end":
                out["t_end_tai"] = tai_idx.as_unit("ns")
            out[name] = _tai_to_utc_grid(tai_idx).as_unit("ns")
        for col in KEYWORD_COLUMNS:
            src = use.get(col)
            out[col] = (
                pd.to_numeric(df[src], errors="coerce").astype(float)
                if src in df.columns
                else np.nan
            )
        if use.get("label") in df.columns:
            lab = df[use["label"]]
            out["label"] = lab.astype(str).str.strip().str.lower().isin(["true", "1", "1.0", "yes"])
        if use.get("flares") in df.columns:
            out["flares"] = df[use["flares"]].fillna("").astype(str)
        if use.get("flare_index") in df.columns:
            out["flare_index"] = pd.to_numeric(df[use["flare_index"]], errors="coerce").astype(
                float
            )
        fold = _fold_of(p)
        out["fold"] = pd.array([fold] * len(df), dtype="Int64")
        out["source_file"] = p.name
        frames.append(out)
    if not frames:
        raise ValueError("load_keyword_tables: no tables given")
    res = pd.concat(frames, ignore_index=True)
    return res.sort_values(["region_id", "t_end"], kind="stable").reset_index(drop=True)


def keyword_tables_to_records(
    table: pd.DataFrame, *, harp_noaa: Mapping[int, list[int]] | None = None, quality: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``records.csv`` rows (``docs/FILES.md``) from :func:`load_keyword_tables`.

    Returns ``(records, rejected)``.

    One record per ``(region_id, t_end)``: ``t_rec`` is ``t_end`` (UTC), ``t_rec_tai`` the grid
    time as a JSOC ``T_REC`` string. ``noaa_ars`` comes from ``harp_noaa`` for HARPs (else
    empty).
    The tables carry no ``QUALITY``, position or velocity: ``quality`` is set to ``quality``
    (default 0: the published tables were already quality-filtered by their authors) and
    ``lat_fwt``/``lon_fwt``/``obs_vr`` are NaN; ``nx``/``ny`` 0 and ``path`` empty (no image).
    Repeated ``(region_id, t_end)`` rows with different keyword values are rejected (reason given).
    """
    t = table.copy()
    dup_all = t.duplicated(["region_id", "t_end"], keep=False)
    rejected = []
    if dup_all.any():
        kw = list(KEYWORD_COLUMNS)
        same = t[dup_all].groupby(["region_id", "t_end"])[kw].nunique(dropna=False).max(axis=1) <= 1
        for (rid, te), ok in same.items():
            if not ok:
                rows = t[(t["region_id"] == rid) & (t["t_end"] == te)]
                for _, r in rows.iloc[1:].iterrows():
                    rejected.append(
                        {
                            "source": r.get("source_file", ""),
                            "line": -1,
                            "reason": f"{rid} at {te}: conflicting keyword values for one record",
                            "raw": r.to_json(default_handler=str),
                        }
                    )
        t = t.drop_duplicates(["region_id", "t_end"], keep="first")
    rec = pd.DataFrame(
        {
            "series": t["series"].to_numpy(),
            "instrument": t["instrument"].to_numpy(),
            "region": t["region"].astype("int64").to_numpy(),
            "region_id": t["region_id"].to_numpy(),
            "t_rec": to_iso_utc(pd.DatetimeIndex(t["t_end"])) if len(t) else [],
            "t_rec_tai": [format_trec(x) for x in pd.DatetimeIndex(t["t_end_tai"])],
        }
    )
    noaa = []
    for pre_id, r in zip(t["region_id"], t["region"], strict=True):
        if harp_noaa is not None and str(pre_id).startswith("HARP"):
            noaa.append(",".join(str(n) for n in harp_noaa.get(int(r), [])))
        else:
            noaa.append("")
    rec["noaa_ars"] = noaa
    rec["quality"] = int(quality)
    for c in ("lat_fwt", "lon_fwt", "obs_vr"):
        rec[c] = np.nan
    for c in KEYWORD_COLUMNS:
        rec[c] = t[c].to_numpy()
    rec["nx"] = 0
    rec["ny"] = 0
    rec["path"] = ""
    rec = rec.reindex(columns=RECORD_COLUMNS)
    rec = rec.sort_values(["series", "region", "t_rec"], kind="stable").reset_index(drop=True)
    return rec, pd.DataFrame(rejected, columns=REJECT_COLUMNS)


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
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read every FITS export under ``fits_dir`` and place it in the archive.

    Returns ``(records, rejected)``.

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
        dest = archive / "fits" / rec["series"] / name
        _place(p, dest, link)
        rec["path"] = f"fits/{rec['series']}/{name}"
        rec["ny"], rec["nx"] = int(data.shape[0]), int(data.shape[1])
        rows.append(rec)
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
    if c.fits_dir:
        fits_recs, rej = scan_fits(c.fits_dir, archive, pattern=c.fits_glob, link=c.link)
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
