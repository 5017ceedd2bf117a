"""The ``tables`` archive source: published keyword tables and a flare list become the raw archive.

Writes the layout of ``docs/FILES.md`` with no image files: one ``records.csv`` row per table row
(``path`` empty, ``nx``/``ny`` 0), ``flares.csv`` from any flare list that
:func:`flarepipe.archive.catalogues.flares.read_flare_file` reads (GOES event text, SWPC CSV, the
SC24 list or an archive ``flares.csv``), ``rejected_records.csv``, ``rejected_flares.csv`` and
``manifest.json``. Every later stage then runs on it as on any other archive; a study that
trains on published tables is a config (``config/studies/sun2022_tables.yaml``), not a script.

Inputs (``archive.tables`` in the config, see ``docs/SOURCES.md``)::

    keyword_tables   CSVs (globs allowed) read by load_keyword_tables: one row per window end,
                     the keywords of that record; the Sun et al. 2022 columns by default
    column_map       canonical name -> table column, over DEFAULT_TABLE_COLUMN_MAP
    flares           the flare list; flares_format: auto | goes_txt | swpc_csv | sc24_csv |
                     flares_csv
    harp_noaa_map    JSOC's HARPNUM -> NOAA table (optional): noaa_ars of HARP records
    derive_noaa      region prefixes whose NOAA numbers are derived from the tables' own
                     ``flares`` lists (derive_region_noaa; default TARP: no TARP map exists)
    data_dir         folder that relative paths are read from (default: the working folder)

Table times lie on the 96-minute JSOC ``T_REC`` grid and are TAI; they are converted once to UTC
(see :mod:`flarepipe.archive.catalogues.keyword_tables`), ``t_rec_tai`` keeps the grid time.

The table reader and its record conversion (:func:`load_keyword_tables`,
:func:`keyword_tables_to_records`) live in :mod:`flarepipe.archive.catalogues.keyword_tables`,
shared with the local source; sources never import each other.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flarepipe import __version__
from flarepipe.archive.catalogues.flares import (
    REJECT_COLUMNS,
    read_flare_file,
    read_harp_noaa_map,
    require_usable_flares,
    write_flares,
)
from flarepipe.archive.catalogues.keyword_tables import (
    TableOptions,
    keyword_tables_to_records,
    read_keyword_tables,
)
from flarepipe.archive.layout import RECORD_COLUMNS, write_pixels
from flarepipe.core.flareclass import class_to_flux
from flarepipe.core.series import SERIES
from flarepipe.io.atomic import sha256_file, write_csv, write_json

__all__ = [
    "FLARE_FORMATS",
    "TABLES_SECTION",
    "build_tables_archive",
    "derive_region_noaa",
    "region_noaa_map",
    "resolve_tables_config",
    "table_files",
]

#: the config section this source reads (named in errors)
TABLES_SECTION = "archive.tables"
#: flare-list formats of :func:`flarepipe.archive.catalogues.flares.read_flare_file`
FLARE_FORMATS: tuple[str, ...] = ("auto", "goes_txt", "swpc_csv", "sc24_csv", "flares_csv", "csv")
#: keys of the section read into :class:`TableOptions` (same meaning as in ``archive.local``)
TABLE_OPTION_KEYS: tuple[str, ...] = (
    "constants",
    "sep",
    "decimal",
    "time_format",
    "time_scale",
    "grid_minutes",
    "grid_tolerance_minutes",
    "keep_extra",
)
_FLUX_UNIT = 1e-10  # flux keys in units of 1e-10 W/m² (A1.0 = 100): exact class comparison
_DAY = np.timedelta64(24, "h")


# ============================================================================ configuration
def _resolve(path: str | os.PathLike, data_dir: str | os.PathLike | None) -> Path:
    p = Path(os.path.expanduser(str(path)))
    if not p.is_absolute() and data_dir is not None:
        p = Path(os.path.expanduser(str(data_dir))) / p
    return p


def table_files(
    keyword_tables: str | os.PathLike | Iterable[str | os.PathLike],
    data_dir: str | os.PathLike | None = None,
) -> list[Path]:
    """The keyword-table files named by paths or globs, sorted per pattern, in pattern order.

    Raises
    ------
    ValueError
        When no pattern is given, or a pattern matches no file (named, with the folder it was
        looked up in).
    """
    if isinstance(keyword_tables, (str, os.PathLike)):
        keyword_tables = [keyword_tables]
    patterns = list(keyword_tables or [])
    if not patterns:
        raise ValueError(f"{TABLES_SECTION}.keyword_tables: no table given")
    out: list[Path] = []
    for pat in patterns:
        full = _resolve(pat, data_dir)
        hits = sorted(Path(h) for h in glob.glob(str(full)))
        if not hits:
            where = f" (data_dir {str(data_dir)!r})" if data_dir is not None else ""
            raise ValueError(
                f"{TABLES_SECTION}.keyword_tables: no file matches {str(full)!r}{where}"
            )
        out += [h for h in hits if h not in out]
    return out


def resolve_tables_config(section: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :func:`build_tables_archive` from the ``archive.tables`` section.

    Relative paths are joined to ``data_dir`` and globs expanded; defaults as in the schema.

    Raises
    ------
    ValueError
        A required key is missing, a key is unknown, or a file does not exist (named with its
        config key).
    """
    known = {
        "data_dir",
        "keyword_tables",
        "column_map",
        "flares",
        "flares_format",
        "harp_noaa_map",
        "derive_noaa",
        "noaa_min_fraction",
        "quality",
        "flares_columns",
        "flares_time_format",
        *TABLE_OPTION_KEYS,
    }
    c = dict(section or {})
    unknown = sorted(set(c) - known)
    if unknown:
        raise ValueError(f"{TABLES_SECTION}: unknown key(s) {unknown}; known: {sorted(known)}")
    for key in ("keyword_tables", "flares"):
        if not c.get(key):
            raise ValueError(f"{TABLES_SECTION}.{key} is required by archive.source 'tables'")
    data_dir = c.get("data_dir")
    if data_dir is not None and not Path(os.path.expanduser(str(data_dir))).is_dir():
        raise ValueError(f"{TABLES_SECTION}.data_dir {str(data_dir)!r} is not a folder")
    out: dict[str, Any] = {"keyword_tables": table_files(c["keyword_tables"], data_dir)}
    for key in ("flares", "harp_noaa_map"):
        if c.get(key):
            p = _resolve(c[key], data_dir)
            if not p.is_file():
                raise ValueError(f"{TABLES_SECTION}.{key}: no such file {str(p)!r}")
            out[key] = p
        else:
            out[key] = None
    fmt = c.get("flares_format", "auto")
    if fmt not in FLARE_FORMATS:
        raise ValueError(
            f"{TABLES_SECTION}.flares_format must be one of {list(FLARE_FORMATS)}, got {fmt!r}"
        )
    derive = [str(p).upper() for p in c.get("derive_noaa", ["TARP"]) or []]
    prefixes = sorted(s.prefix for s in SERIES.values())
    bad = [p for p in derive if p not in prefixes]
    if bad:
        raise ValueError(
            f"{TABLES_SECTION}.derive_noaa: unknown prefix(es) {bad}; known: {prefixes}"
        )
    frac = c.get("noaa_min_fraction", 0.5)
    if not isinstance(frac, (int, float)) or isinstance(frac, bool) or not 0 < frac <= 1:
        raise ValueError(f"{TABLES_SECTION}.noaa_min_fraction must be in (0, 1], got {frac!r}")
    quality = c.get("quality", 0)
    if not isinstance(quality, int) or isinstance(quality, bool) or quality < 0:
        raise ValueError(f"{TABLES_SECTION}.quality must be an integer >= 0, got {quality!r}")
    options = {k: c[k] for k in TABLE_OPTION_KEYS if k in c}
    TableOptions(column_map=dict(c.get("column_map") or {}), section=TABLES_SECTION, **options)
    out.update(
        flares_format=fmt,
        derive_noaa=tuple(derive),
        noaa_min_fraction=float(frac),
        column_map=dict(c.get("column_map") or {}),
        quality=int(quality),
        table_options=options,
        flares_columns=dict(c.get("flares_columns") or {}),
        flares_time_format=c.get("flares_time_format"),
    )
    return out


# ============================================================================ NOAA numbers
def _flux_keys(values: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(values, dtype=float) / _FLUX_UNIT).astype(np.int64)


def _listed_keys(flares: pd.Series) -> pd.DataFrame:
    """(row position, flux key) for every class in the ``|``-joined ``flares`` lists."""
    rows, keys = [], []
    cache: dict[str, int] = {}
    for i, text in enumerate(flares.fillna("").astype(str).to_numpy()):
        if not text:
            continue
        for c in text.split("|"):
            if c not in cache:
                try:
                    cache[c] = int(_flux_keys([class_to_flux(c)])[0])
                except ValueError:
                    cache[c] = -1
            rows.append(i)
            keys.append(cache[c])
    return pd.DataFrame(
        {"row": np.asarray(rows, dtype=np.int64), "key": np.asarray(keys, dtype=np.int64)}
    ).drop_duplicates()


def _events_in_windows(
    start: np.ndarray, t0: np.ndarray, t1: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(window position, event position) pairs with ``t0 <= start <= t1``; ``start`` sorted."""
    lo = np.searchsorted(start, t0, side="left")
    hi = np.searchsorted(start, t1, side="right")
    n = np.maximum(hi - lo, 0)
    win = np.repeat(np.arange(len(t0)), n)
    offs = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    return win, np.repeat(lo, n) + offs


def derive_region_noaa(
    table: pd.DataFrame, flares: pd.DataFrame, min_fraction: float = 0.5
) -> tuple[dict[str, list[int]], pd.DataFrame]:
    """Infer each region's NOAA numbers from the flare lists of its table rows.

    For regions without a region->NOAA map (TARPs). The Sun et al. 2022 tables list in
    ``flares`` the classes of the region's GOES events starting in ``[t_end_tai, t_end_tai +
    24 h]`` (the TAI grid time compared with UTC event times, both ends included). For every row
    and every NOAA number ``n`` with catalogue events in that window, the pair *supports* ``n``
    when every one of ``n``'s events there has its peak flux among the row's listed classes
    (compared as fluxes). ``n`` is accepted for the region when::

        support >= 1  and  support / windows >= min_fraction

    over the region's rows where ``n`` has events. A region without any listed flare gets no NOAA
    number. On the real HARPs with ``min_fraction = 0.5`` the derived map relabels every SHARP
    row exactly as JSOC's map does (see the relabel audit).

    Parameters
    ----------
    table
        Rows with ``region_id``, ``t_end_tai`` and ``flares``.
    flares
        Catalogue events with ``start_utc``, ``peak_flux_wm2`` and ``noaa_ar``.
    min_fraction
        Smallest fraction of supporting windows.

    Returns
    -------
    mapping : dict
        ``region_id`` -> sorted NOAA numbers.
    evidence : pandas.DataFrame
        ``region_id, noaa, support, windows, fraction, accepted``, one row per candidate pair.

    Raises
    ------
    ValueError
        When a needed column is missing.
    """
    for what, df, cols in (
        ("table", table, ("region_id", "t_end_tai", "flares")),
        ("flares", flares, ("start_utc", "peak_flux_wm2", "noaa_ar")),
    ):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ValueError(f"derive_region_noaa: {what} lacks column(s) {missing}")
    ev = flares[flares["noaa_ar"].notna() & flares["peak_flux_wm2"].notna()]
    ev = ev.sort_values("start_utc", kind="stable")
    start = pd.DatetimeIndex(ev["start_utc"]).as_unit("ns").to_numpy()
    t0 = pd.DatetimeIndex(table["t_end_tai"]).as_unit("ns").to_numpy()
    win, evi = _events_in_windows(start, t0, t0 + _DAY)
    pairs = pd.DataFrame(
        {
            "row": win,
            "noaa": ev["noaa_ar"].to_numpy(dtype=np.int64)[evi],
            "key": _flux_keys(ev["peak_flux_wm2"].to_numpy())[evi],
        }
    )
    listed = _listed_keys(table["flares"])
    listed["in_list"] = True
    pairs = pairs.merge(listed, on=["row", "key"], how="left")
    pairs["in_list"] = pairs["in_list"].astype("boolean").fillna(False).astype(bool)
    per = pairs.groupby(["row", "noaa"], sort=False)["in_list"].all().reset_index()
    per["region_id"] = table["region_id"].astype(str).to_numpy()[per["row"].to_numpy()]
    evidence = (
        per.groupby(["region_id", "noaa"])["in_list"]
        .agg(support="sum", windows="count")
        .reset_index()
    )
    evidence["support"] = evidence["support"].astype(np.int64)
    evidence["windows"] = evidence["windows"].astype(np.int64)
    evidence["fraction"] = evidence["support"] / evidence["windows"]
    evidence["accepted"] = (evidence["support"] >= 1) & (evidence["fraction"] >= min_fraction)
    acc = evidence[evidence["accepted"]]
    mapping = {str(r): sorted(int(x) for x in g["noaa"]) for r, g in acc.groupby("region_id")}
    return mapping, evidence


def region_noaa_map(
    table: pd.DataFrame,
    flares: pd.DataFrame,
    harp_noaa: Mapping[int, Sequence[int]] | None = None,
    derive_noaa: Sequence[str] = ("TARP",),
    min_fraction: float = 0.5,
) -> tuple[dict[str, list[int]], pd.DataFrame]:
    """NOAA numbers of every table region: JSOC's HARP map, or derived from the flare lists.

    Regions whose prefix is in ``derive_noaa`` get :func:`derive_region_noaa`; other HARPs get
    ``harp_noaa`` (when given); every other region gets none.

    Returns
    -------
    mapping : dict
        ``region_id`` -> NOAA numbers (regions without any left out).
    evidence : pandas.DataFrame
        The derivation's evidence (:func:`derive_region_noaa`), empty when nothing is derived.
    """
    prefix = table["region_id"].astype(str).str.extract(r"^([A-Z]+)", expand=False)
    derive = prefix.isin([p.upper() for p in derive_noaa]).to_numpy()
    mapping: dict[str, list[int]] = {}
    if harp_noaa is not None:
        harps = table.loc[~derive & (prefix == "HARP").to_numpy(), ["region_id", "region"]]
        for rid, reg in harps.drop_duplicates("region_id").itertuples(index=False):
            nums = list(harp_noaa.get(int(reg), []))
            if nums:
                mapping[str(rid)] = nums
    evidence = pd.DataFrame(
        columns=["region_id", "noaa", "support", "windows", "fraction", "accepted"]
    )
    if derive.any():
        if "flares" not in table.columns:
            raise ValueError(
                f"{TABLES_SECTION}.derive_noaa {list(derive_noaa)}: the keyword "
                "tables have no flare-list column (column_map 'flares')"
            )
        derived, evidence = derive_region_noaa(
            table[derive].reset_index(drop=True), flares, min_fraction
        )
        mapping.update(derived)
    return mapping, evidence


# ============================================================================ the archive
def build_tables_archive(
    archive_dir: str | os.PathLike,
    keyword_tables: Sequence[str | os.PathLike],
    flares: str | os.PathLike,
    *,
    flares_format: str = "auto",
    harp_noaa_map: str | os.PathLike | None = None,
    derive_noaa: Sequence[str] = ("TARP",),
    noaa_min_fraction: float = 0.5,
    column_map: Mapping[str, str | None] | None = None,
    quality: int = 0,
    table_options: Mapping[str, Any] | None = None,
    flares_columns: Mapping[str, str | None] | None = None,
    flares_time_format: str | None = None,
) -> dict:
    """Write the raw archive from keyword tables and a flare list; return the manifest.

    Parameters
    ----------
    archive_dir
        Output folder (``records.csv``, ``flares.csv``, ``rejected_records.csv``,
        ``rejected_flares.csv``, ``manifest.json``).
    keyword_tables
        Table files (already expanded, see :func:`resolve_tables_config`).
    flares
        Flare list, in a ``flares_format`` of
        :func:`flarepipe.archive.catalogues.flares.read_flare_file`.
    harp_noaa_map
        JSOC's ``harp_noaa_map.txt`` (HARP records' ``noaa_ars``), or None.
    derive_noaa, noaa_min_fraction
        Prefixes whose NOAA numbers :func:`derive_region_noaa` infers, and its threshold.
    column_map
        Over :data:`flarepipe.archive.sources.local.DEFAULT_TABLE_COLUMN_MAP`.
    quality
        ``quality`` of every record (the published tables hold already filtered records) that
        the table does not give its own ``QUALITY``.
    table_options
        The other :class:`flarepipe.archive.catalogues.keyword_tables.TableOptions` (constants,
        separator, time format and scale, grid, extra columns), as in ``archive.local``.
    flares_columns, flares_time_format
        Column map and time format of a flare list read as ``csv``.

    Returns
    -------
    dict
        The manifest (source ``tables``, inputs with SHA-256, counts, file checksums).
    """
    archive = Path(archive_dir)
    archive.mkdir(parents=True, exist_ok=True)
    tables = [Path(p) for p in keyword_tables]
    fkey = f"{TABLES_SECTION}.flares_format"
    harp = read_harp_noaa_map(harp_noaa_map) if harp_noaa_map else None
    opts = TableOptions(
        column_map=dict(column_map or {}), section=TABLES_SECTION, **dict(table_options or {})
    )
    res = read_keyword_tables(tables, opts, harp_noaa=harp)
    tidy = res.table
    cat = read_flare_file(
        flares, flares_format, columns=flares_columns, time_format=flares_time_format, key=fkey
    )
    require_usable_flares(cat, flares, cat.format or flares_format, fkey)
    mapping, evidence = region_noaa_map(tidy, cat.flares, harp, derive_noaa, noaa_min_fraction)
    records, rejected = keyword_tables_to_records(tidy, quality=quality)
    own = records["noaa_ars"].fillna("").astype(str) if "noaa_ars" in tidy else None
    records["noaa_ars"] = [
        ",".join(str(n) for n in mapping.get(str(r), ())) for r in records["region_id"]
    ]
    if own is not None:  # the table's own NOAA numbers win over the map
        records["noaa_ars"] = own.where(own != "", records["noaa_ars"])
    extra = [x for x in records.columns if x not in RECORD_COLUMNS]
    records = records.reindex(columns=RECORD_COLUMNS + extra)
    rejected = pd.concat([res.rejected, rejected], ignore_index=True)
    write_csv(records, archive / "records.csv")
    write_pixels([], archive / "pixels.csv")  # no magnetograms: nothing for quality to read
    write_flares(cat.flares, archive / "flares.csv")
    write_csv(rejected.reindex(columns=REJECT_COLUMNS), archive / "rejected_records.csv")
    write_csv(cat.rejected.reindex(columns=REJECT_COLUMNS), archive / "rejected_flares.csv")
    write_csv(res.repaired.reindex(columns=REJECT_COLUMNS), archive / "repaired_records.csv")
    names = [
        "records.csv",
        "flares.csv",
        "rejected_records.csv",
        "rejected_flares.csv",
        "repaired_records.csv",
    ]
    inst = records.groupby("instrument")
    manifest = {
        "source": "tables",
        "flarepipe_version": __version__,
        "parameters": {
            "flares_format": flares_format,
            "derive_noaa": list(derive_noaa),
            "noaa_min_fraction": noaa_min_fraction,
            "column_map": dict(column_map or {}),
            "quality": int(quality),
        },
        "inputs": {
            "keyword_tables": {str(p): sha256_file(p) for p in tables},
            "flares": {str(flares): sha256_file(flares)},
            "harp_noaa_map": (
                {str(harp_noaa_map): sha256_file(harp_noaa_map)} if harp_noaa_map else None
            ),
        },
        "counts": {
            "table_rows": int(len(tidy)),
            "records": int(len(records)),
            "records_with_file": 0,
            "rejected_records": int(len(rejected)),
            "repaired_records": int(len(res.repaired)),
            **{f"flares_{k}": v for k, v in cat.counts().items()},
            "regions": int(records["region_id"].nunique()),
            "regions_per_instrument": {str(k): int(g["region_id"].nunique()) for k, g in inst},
            "regions_with_noaa": {
                str(k): int(g.loc[g["noaa_ars"] != "", "region_id"].nunique()) for k, g in inst
            },
            "regions_noaa_derived": int(
                evidence["accepted"].astype(bool).groupby(evidence["region_id"]).any().sum()
            )
            if len(evidence)
            else 0,
        },
        "files": {n: sha256_file(archive / n) for n in names},
        "fits": {},
        "flares_format": cat.format or flares_format,
        "tables": res.info,
        "extra_columns": extra,
    }
    write_json(manifest, archive / "manifest.json")
    return manifest
