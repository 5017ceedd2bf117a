"""Record-level quality flags: which archive records are good, and why the others are not.

Every record of ``records.csv`` is kept in the output with one boolean column per rejection reason,
a ``reasons`` string (``;``-joined codes, empty when kept) and ``keep``. Nothing is dropped here;
the labelling stage decides what a bad record costs (see :mod:`flarepipe.samples.labels`), and
:func:`summarise` counts every reason so that no record disappears silently.

Reasons, in output order (a check whose setting is ``None``/``false`` is disabled and never fires;
a ``NaN`` in a column that an enabled check reads fails that check). Settings are the fields of
:class:`QualitySettings`; their defaults and bounds live in the config schema
(``flarepipe/config/schema.yaml``, section ``quality``)::

    reason          fires when                                       setting
    bad_quality     quality & quality_mask != 0          (S1 style)  quality_mask
                    or quality >= max_quality  (S2 style, 0x10000)   max_quality
    high_obs_vr     |obs_vr| >= max_abs_obs_vr (m/s)                 max_abs_obs_vr
    far_from_cm     |lon_fwt| > max_cm_distance_deg (S1 70, S2 45)   max_cm_distance_deg
    no_noaa         require_noaa and noaa_ars lists no region        require_noaa
    small_area      area < min_area_mm2; the record's own area       min_area_mm2,
                    (area_scope: record) or the region's maximum     area_scope
                    (area_scope: region_max, S2's max area > 25 Mm²)
    nan_pixels      pixel_checks.n_nan_pixels > max_nan_pixels       max_nan_pixels
    size_deviation  nx or ny more than max_size_deviation_px off     max_size_deviation_px
                    the median of the same region's records
    nan_keyword     any column of ``keywords`` is NaN                check_nan_keywords,
                                                                     keywords
    missing_file    path empty, or (with archive_dir) no such file   require_file
                    (a keyword-only record, path empty and
                    nx = ny = 0, has no file to miss: table rows)
    unreadable_file pixel_checks.read_error is not empty: the file    (with pixel_checks)
                    does not read as FITS (empty, truncated, a
                    corrupt compressed tile); the error, naming the
                    file, is kept in the ``read_error`` column

``quality_mask`` and ``max_quality`` take an integer, a string such as ``"0x10000"``, or a mapping
``{instrument: value}`` (e.g. ``{HMI: ..., MDI: ...}``; ``null`` disables it for that instrument).

Areas: the archive's ``area_uhem`` is in micro-hemispheres; 1 µhem = 1e-6 · 2π R☉² with
R☉ = 696 Mm, i.e. :data:`MM2_PER_UHEM` ≈ 3.0437 Mm². The threshold is given in Mm² because S2 states
it so.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from flarepipe.core.keywords import KEYWORD_COLUMNS
from flarepipe.core.noaa import noaa_lists, parse_noaa_ars
from flarepipe.core.timeutil import to_iso_utc
from flarepipe.io.atomic import record_integrity, write_csv
from flarepipe.io.parallel import map_chunked

__all__ = [
    "REASONS",
    "REASON_SETTINGS",
    "KEYWORD_COLUMNS",
    "QualitySettings",
    "MM2_PER_UHEM",
    "R_SUN_MM",
    "parse_noaa_ars",
    "noaa_lists",
    "region_noaa",
    "check_required_columns",
    "flag_records",
    "summarise",
    "scan_fits",
    "write_flagged",
]

REASONS: tuple[str, ...] = (
    "bad_quality",
    "high_obs_vr",
    "far_from_cm",
    "no_noaa",
    "small_area",
    "nan_pixels",
    "size_deviation",
    "nan_keyword",
    "missing_file",
    "unreadable_file",
)
#: reason -> the ``quality`` settings that make it fire (the module docstring's table)
REASON_SETTINGS: dict[str, tuple[str, ...]] = {
    "bad_quality": ("quality_mask", "max_quality"),
    "high_obs_vr": ("max_abs_obs_vr",),
    "far_from_cm": ("max_cm_distance_deg",),
    "no_noaa": ("require_noaa",),
    "small_area": ("min_area_mm2", "area_scope"),
    "nan_pixels": ("max_nan_pixels",),
    "size_deviation": ("max_size_deviation_px",),
    "nan_keyword": ("check_nan_keywords", "keywords"),
    "missing_file": ("require_file",),
    "unreadable_file": (),
}
R_SUN_MM = 696.0
MM2_PER_UHEM = 1e-6 * 2.0 * math.pi * R_SUN_MM**2  # ≈ 3.0437 Mm² per micro-hemisphere


def region_noaa(records: pd.DataFrame) -> dict[str, tuple[int, ...]]:
    """NOAA numbers of each region: the union of ``noaa_ars`` over all its records, sorted.

    Parameters
    ----------
    records
        Needs ``region_id`` and ``noaa_ars`` (``records.csv``).

    Returns
    -------
    dict
        ``region_id`` (as a string) -> sorted NOAA numbers (empty when none), every region present.
    """
    _require(records, ["region_id", "noaa_ars"], "records")
    union: dict[str, set[int]] = {}
    for rid, ars in zip(
        records["region_id"].astype(str), noaa_lists(records["noaa_ars"]), strict=True
    ):
        union.setdefault(rid, set()).update(ars)
    return {r: tuple(sorted(v)) for r, v in union.items()}


QualityValue = int | Mapping[str, int | None] | None


@dataclass(frozen=True)
class QualitySettings:
    """The record filters, typed: one field per setting of the table in the module docstring.

    Build it from the configuration with ``flarepipe.config.settings("quality", ...)``, which
    fills the schema defaults and checks the bounds. ``quality_mask`` and ``max_quality`` given as
    strings (``"0x10000"``) are converted to integers here, per instrument for a mapping.
    """

    quality_mask: QualityValue | str
    max_quality: QualityValue | str
    max_abs_obs_vr: float | None
    max_cm_distance_deg: float | None
    require_noaa: bool
    min_area_mm2: float | None
    area_scope: str
    max_nan_pixels: int | None
    max_size_deviation_px: int | None
    check_nan_keywords: bool
    keywords: tuple[str, ...]
    require_file: bool

    def __post_init__(self) -> None:
        object.__setattr__(self, "keywords", tuple(self.keywords))
        for name in ("quality_mask", "max_quality"):
            object.__setattr__(self, name, _quality_value(getattr(self, name), name))


def _quality_value(value: object, name: str) -> QualityValue:
    """An integer, a per-instrument mapping of integers (``None`` disables), or ``None``."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {str(k): None if v is None else _as_int(v, f"{name}.{k}") for k, v in value.items()}
    return _as_int(value, name)


def _as_int(value: object, where: str) -> int:
    """Read an integer setting given as int or string (``"0x10000"``)."""
    if isinstance(value, bool):
        raise ValueError(f"{where} must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            pass
    raise ValueError(f"{where} must be an integer (e.g. 65536 or '0x10000'), got {value!r}")


def _per_instrument(setting: QualityValue, instruments: pd.Series, name: str) -> pd.Series | None:
    """Expand a scalar or ``{instrument: value}`` setting into a per-record threshold."""
    if setting is None:
        return None
    if isinstance(setting, Mapping):
        missing = sorted(set(instruments.astype(str)) - set(setting))
        if missing:
            raise ValueError(
                f"quality setting {name} gives no value for instrument(s) {missing} found in the "
                f"records; give one per instrument ({sorted(setting)}) or a single integer"
            )
        return instruments.astype(str).map(setting)
    return pd.Series(setting, index=instruments.index, dtype="object")


def _require(df: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; have {list(df.columns)}")


def _num(records: pd.DataFrame, col: str) -> pd.Series:
    try:
        return pd.to_numeric(records[col], errors="raise").astype("float64")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"records.{col}: not numeric ({exc})") from None


#: setting -> the records column it filters on (:func:`check_required_columns`).
_FILTER_COLUMNS: dict[str, str] = {
    "max_abs_obs_vr": "obs_vr",
    "max_cm_distance_deg": "lon_fwt",
    "min_area_mm2": "area_uhem",
}


def check_required_columns(
    records: pd.DataFrame, settings: QualitySettings, where: str = "records.csv"
) -> None:
    """Refuse records that lack (or hold no value of) a column a configured filter needs.

    A filter on a column that is absent or NaN in every record would reject every record as
    failing it (e.g. ``high_obs_vr`` for an archive without OBS_VR), so that no sample is left
    and the reason is far from the cause. The message names the column and the setting.

    Raises
    ------
    ValueError
        Naming ``where``, the column and ``quality.<setting>``.
    """
    if records.empty:
        return
    for key, col in _FILTER_COLUMNS.items():
        if getattr(settings, key) is None:
            continue
        if col not in records.columns:
            problem = "missing column"
        elif pd.to_numeric(records[col], errors="coerce").isna().all():
            problem = "no value (NaN in every record) in column"
        else:
            continue
        raise ValueError(
            f"{where}: {problem} {col!r}, which quality.{key} needs: the archive lacks it (a "
            f"keyword table without it, or JSOC keywords not fetched); set quality.{key}: null "
            "or use an archive that carries it"
        )


def flag_records(
    records: pd.DataFrame,
    settings: QualitySettings,
    pixel_checks: pd.DataFrame | None = None,
    archive_dir: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Flag every record with the reasons it fails; keep all rows.

    Parameters
    ----------
    records
        The archive's ``records.csv`` (see ``docs/FILES.md``); its index is kept (row numbers).
    settings
        The filters (:class:`QualitySettings`); rules in the module docstring.
    pixel_checks
        Optional frame indexed like ``records`` (a subset of its index is fine) with column
        ``n_nan_pixels`` and optionally ``nx``/``ny`` measured from the FITS data (used instead of
        the keyword ``nx``/``ny`` where given), and optionally ``read_error`` (non-empty: the file
        does not read, reason ``unreadable_file``; :func:`scan_fits` writes it). Records without a
        row are not flagged ``nan_pixels``; without ``pixel_checks`` the check is skipped.
    archive_dir
        When given, ``missing_file`` also fires for a ``path`` that does not exist under it.

    Returns
    -------
    pandas.DataFrame
        ``records`` plus one bool column per reason in :data:`REASONS`, ``reasons``
        (``;``-joined, in :data:`REASONS` order, empty when kept), ``keep`` (no reason fired) and
        ``read_error`` (why the record's file did not read, naming it; empty otherwise).

    Raises
    ------
    ValueError
        On a per-instrument setting that misses an instrument of the records, a missing column,
        or a ``pixel_checks`` index that names records that do not exist.
    """
    s = settings
    check_required_columns(records, s)
    idx = records.index
    flags = {r: pd.Series(False, index=idx) for r in REASONS}

    # bad_quality
    if s.quality_mask is not None or s.max_quality is not None:
        _require(records, ["quality", "instrument"], "records")
        q = _num(records, "quality")
        bad = q.isna()
        qi = q.fillna(0).astype("int64")
        mask = _per_instrument(s.quality_mask, records["instrument"], "quality_mask")
        if mask is not None:
            m = mask.fillna(0).astype("int64")
            bad |= (qi & m) != 0
        maxq = _per_instrument(s.max_quality, records["instrument"], "max_quality")
        if maxq is not None:
            lim = maxq.astype("float64")  # None (instrument disabled) -> NaN -> never >=
            bad |= qi.astype("float64") >= lim
        flags["bad_quality"] = bad

    if s.max_abs_obs_vr is not None:
        _require(records, ["obs_vr"], "records")
        v = _num(records, "obs_vr")
        flags["high_obs_vr"] = v.isna() | (v.abs() >= float(s.max_abs_obs_vr))

    if s.max_cm_distance_deg is not None:
        _require(records, ["lon_fwt"], "records")
        lon = _num(records, "lon_fwt")
        flags["far_from_cm"] = lon.isna() | (lon.abs() > float(s.max_cm_distance_deg))

    if s.require_noaa:
        _require(records, ["noaa_ars"], "records")
        has = noaa_lists(records["noaa_ars"]).map(bool)
        flags["no_noaa"] = ~has.astype(bool)

    if s.min_area_mm2 is not None:
        _require(records, ["area_uhem", "region_id"], "records")
        area = _num(records, "area_uhem")
        if s.area_scope == "region_max":
            area = area.groupby(records["region_id"]).transform("max")
        min_uhem = float(s.min_area_mm2) / MM2_PER_UHEM
        flags["small_area"] = area.isna() | (area < min_uhem)

    if pixel_checks is not None:
        extra = pixel_checks.index.difference(idx)
        if len(extra):
            raise ValueError(
                f"pixel_checks: index names {len(extra)} record(s) not in records "
                f"(first: {extra[0]!r}); index it by the records' row numbers"
            )

    read_error = pd.Series("", index=idx, dtype=object)
    if pixel_checks is not None and "read_error" in pixel_checks.columns:
        read_error = pixel_checks["read_error"].reindex(idx).fillna("").astype(str)
        flags["unreadable_file"] = read_error.str.strip() != ""
        # an unreadable file has no measured pixels or sizes: leave them to its own reason
        pixel_checks = pixel_checks.loc[pixel_checks["read_error"].fillna("").astype(str) == ""]

    if s.max_nan_pixels is not None and pixel_checks is not None:
        _require(pixel_checks, ["n_nan_pixels"], "pixel_checks")
        n_nan = pd.to_numeric(pixel_checks["n_nan_pixels"]).reindex(idx)
        flags["nan_pixels"] = (n_nan > float(s.max_nan_pixels)).fillna(False).astype(bool)

    if s.max_size_deviation_px is not None:
        _require(records, ["nx", "ny", "region_id"], "records")
        tol = float(s.max_size_deviation_px)
        dev = pd.Series(False, index=idx)
        for col in ("nx", "ny"):
            size = _num(records, col)
            if pixel_checks is not None and col in pixel_checks.columns:
                measured = pd.to_numeric(pixel_checks[col]).reindex(idx).astype("float64")
                size = measured.where(measured.notna(), size)
            med = size.groupby(records["region_id"]).transform("median")
            dev |= size.isna() | ((size - med).abs() > tol)
        flags["size_deviation"] = dev

    if s.check_nan_keywords:
        cols = list(s.keywords)
        _require(records, cols, "records (quality setting keywords)")
        values = records[cols].apply(pd.to_numeric, errors="coerce")
        flags["nan_keyword"] = values.isna().any(axis=1)

    if s.require_file:
        _require(records, ["path"], "records")
        paths = records["path"].astype("object")
        empty = paths.isna() | (paths.astype(str).str.strip() == "")
        missing = empty.copy()
        if {"nx", "ny"} <= set(records.columns):
            # a keyword-only record (a table row: no path, nx = ny = 0) has no file to miss
            size = records[["nx", "ny"]].apply(pd.to_numeric, errors="coerce").fillna(0)
            missing &= ~((size["nx"] == 0) & (size["ny"] == 0))
        if archive_dir is not None:
            base = Path(archive_dir)
            absent = [
                (not e) and not (base / str(p)).is_file() for p, e in zip(paths, empty, strict=True)
            ]
            missing = missing | pd.Series(absent, index=idx, dtype=bool)
        flags["missing_file"] = missing

    out = records.copy()
    table = pd.DataFrame({r: flags[r].astype(bool).to_numpy() for r in REASONS}, index=idx)
    for r in REASONS:
        out[r] = table[r]
    codes = np.array(REASONS, dtype=object)
    out["reasons"] = [";".join(codes[row]) for row in table.to_numpy()]
    out["keep"] = ~table.any(axis=1)
    out["read_error"] = read_error.to_numpy()
    return out


def summarise(flagged: pd.DataFrame) -> pd.DataFrame:
    """Count records per series: ``total``, ``kept`` and each reason (once per record and reason).

    Parameters
    ----------
    flagged
        Output of :func:`flag_records` (needs ``series``, ``keep`` and the reason columns).

    Returns
    -------
    pandas.DataFrame
        Columns ``series, reason, count``; per series (sorted) the rows ``total``, ``kept``, then
        every reason of :data:`REASONS` in order, zero counts included.
    """
    _require(flagged, ["series", "keep", *REASONS], "flagged records")
    rows = []
    for series, grp in flagged.groupby("series", sort=True):
        rows.append((series, "total", len(grp)))
        rows.append((series, "kept", int(grp["keep"].astype(bool).sum())))
        rows.extend((series, r, int(grp[r].astype(bool).sum())) for r in REASONS)
    return pd.DataFrame(rows, columns=["series", "reason", "count"]).astype({"count": "int64"})


#: below this many files a process pool costs more than it saves (:func:`.parallel.map_chunked`)
_PARALLEL_MIN_FILES = 2000


def _scan_one(path: str) -> tuple[int, int, int, str]:
    """NaN pixel count, width, height and read error (empty when it reads) of one FITS file.

    Read through :func:`flarepipe.io.fitsio.read_patch`, whose ``ValueError`` names the file; a
    file that does not read gives ``(0, 0, 0, message)``, never an exception.
    """
    from flarepipe.io.fitsio import read_patch

    try:
        data, _ = read_patch(path)
    except ValueError as exc:
        return 0, 0, 0, str(exc)
    return int(np.isnan(data).sum()), int(data.shape[1]), int(data.shape[0]), ""


def scan_fits(
    records: pd.DataFrame,
    archive_dir: str | os.PathLike,
    workers: int = 1,
    known: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Read each record's magnetogram once: NaN pixel count and array shape.

    Parameters
    ----------
    records
        Needs ``path`` (relative to ``archive_dir``); records with an empty or absent path are left
        out of the result (``missing_file`` reports them).
    archive_dir
        The archive folder.
    workers
        Processes reading files (FITS header parsing is CPU-bound Python); the result does not
        depend on it.
    known
        The archive's ``pixels.csv`` (:func:`flarepipe.archive.layout.read_pixels`): a file listed
        there whose size and modification time are still those recorded is not read; its counts
        come from the table. Any other file is read.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``records`` (subset) with ``n_nan_pixels``, ``nx`` (width), ``ny``
        (height) and ``read_error``, suitable as ``pixel_checks`` for :func:`flag_records`. The
        first HDU holding an image is read (RICE-compressed exports keep it in HDU 1). A file that
        does not read (no image, empty, truncated, corrupt tiles) is not an error here: its
        ``read_error`` holds the reason naming the file (``unreadable_file`` in
        :func:`flag_records`), and its counts are 0.
    """
    _require(records, ["path"], "records")
    base = Path(archive_dir)
    lookup = {} if known is None else known.to_dict("index")
    ids, files, found = [], [], {}
    for rid, p in records["path"].items():
        if p is None or (isinstance(p, float) and math.isnan(p)) or str(p).strip() == "":
            continue
        f = base / str(p)
        try:
            st = f.stat()
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        k = lookup.get(str(p))
        if k is not None and (k["bytes"], k["mtime_ns"]) == (st.st_size, st.st_mtime_ns):
            found[rid] = (int(k["n_nan_pixels"]), int(k["nx"]), int(k["ny"]), "")
        else:
            ids.append(rid)
            files.append(str(f))
    read = map_chunked(_scan_one, files, workers=workers, min_items=_PARALLEL_MIN_FILES)
    found.update(zip(ids, read, strict=True))
    order = [rid for rid in records.index if rid in found]
    cols = ["n_nan_pixels", "nx", "ny", "read_error"]
    out = pd.DataFrame(
        [found[r] for r in order], index=pd.Index(order, name=records.index.name), columns=cols
    )
    return out.astype({c: "int64" for c in cols[:3]}) if len(out) else out


def write_flagged(flagged: pd.DataFrame, target: str | os.PathLike) -> None:
    """Write ``records_flagged.csv`` atomically, ``t_rec`` as ISO UTC with milliseconds; its row
    count and checksum are recorded beside it (the label stage verifies them).
    """
    out = flagged.copy()
    if "t_rec" in out.columns and pd.api.types.is_datetime64_any_dtype(out["t_rec"]):
        out["t_rec"] = to_iso_utc(pd.DatetimeIndex(out["t_rec"]))
    write_csv(out, target)
    record_integrity(target, rows=len(out))
