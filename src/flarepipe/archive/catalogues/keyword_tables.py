"""Keyword tables: published per-record keyword time series (Sun et al. 2022 and alike).

A keyword table holds, per region and time, the archive keywords and often a label and the flares
that made it (``sharp_{0..4}.csv`` / ``smarp_{0..4}.csv`` of Sun et al. 2022: ``prefix, arpnum,
t_start, t_end, label, flares, FLARE_INDEX, AREA, USFLUX, MEANGBZ, R_VALUE``). Real tables name
keywords differently (the Sun et al. tables call the line-of-sight ``USFLUXL``/``MEANGBL``
``USFLUX``/``MEANGBZ``: :attr:`flarepipe.core.keywords.Keyword.table_column`), so they are read
with a column map. Every source that reads such tables (``local``, ``tables``) imports this module.

Times. The tables' ``t_start``/``t_end`` lie on the 96-minute JSOC ``T_REC`` grid (00:00, 01:36,
... TAI): they are ``T_REC`` values written without their ``_TAI`` suffix. They are therefore read
as TAI and converted once to UTC (``t_end`` is 32-37 s earlier than the string), the same
conversion ``T_REC`` gets everywhere else; ``t_end_tai`` keeps the grid time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flarepipe.archive.catalogues.table_read import (
    TIME_SCALES,
    parse_times,
    read_table,
    snap_to_grid,
)
from flarepipe.archive.catalogues.table_read import (  # noqa: F401 - kept for its tests
    tai_to_utc_fast as _tai_to_utc_grid,
)
from flarepipe.archive.layout import RECORD_COLUMNS, REJECT_COLUMNS
from flarepipe.core.keywords import KEYWORD_COLUMNS, KEYWORDS
from flarepipe.core.noaa import NOAA_10000_DATE, normalise_noaa_ars, parse_noaa_ars
from flarepipe.core.series import SERIES, series_of_prefix
from flarepipe.core.timeutil import format_trec, to_iso_utc

__all__ = [
    "DEFAULT_TABLE_COLUMN_MAP",
    "LAYOUT_NAMES",
    "TABLE_NAMES",
    "CONSTANT_NAMES",
    "TableOptions",
    "KeywordTableResult",
    "check_column_map",
    "table_column_problems",
    "extra_column_candidates",
    "table_names_given",
    "missing_columns_message",
    "read_keyword_tables",
    "load_keyword_tables",
    "keyword_tables_to_records",
]

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
#: archive-layout columns a table may also give (QUALITY, positions, velocity, size, NOAA
#: numbers); read when mapped, or when the table has a column of their JSOC name
LAYOUT_NAMES: tuple[str, ...] = ("noaa", "quality", "lat_fwt", "lon_fwt", "obs_vr", "nx", "ny")
#: every flarepipe name a column map may set (the keys of ``{flarepipe name: table column}``)
TABLE_NAMES: tuple[str, ...] = (*DEFAULT_TABLE_COLUMN_MAP, *LAYOUT_NAMES)
#: names a constant may give instead of a column (``constants: {prefix: HARP}``)
CONSTANT_NAMES: tuple[str, ...] = ("prefix", "region", *LAYOUT_NAMES, *KEYWORD_COLUMNS)
#: other table columns recognised when the default one is absent (JSOC/FITS names first)
_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "region": ("arpnum", "HARPNUM", "TARPNUM"),
    "t_end": ("t_end", "T_REC"),
    "noaa": ("NOAA_ARS", "NOAA_AR", "NOAA"),
    "quality": ("QUALITY",),
    "lat_fwt": ("LAT_FWT",),
    "lon_fwt": ("LON_FWT",),
    "obs_vr": ("OBS_VR",),
    "nx": ("NX",),
    "ny": ("NY",),
    **{k.column: (k.fits_card, k.table_column) for k in KEYWORDS},
}
_REQUIRED = ("prefix", "region", "t_end")
_PREFIXES = [s.prefix for s in SERIES.values()]
_TRUE = ["true", "1", "1.0", "yes"]
_OFFSET_DATE = NOAA_10000_DATE
_TIDY_NAMES = {
    "label",
    "flares",
    "flare_index",
    "fold",
    "source_file",
    "t_end",
    "t_start",
    "t_end_tai",
    "noaa_ars",
}


def _fold_of(path: Path) -> int | None:
    m = re.search(r"_(\d+)$", path.stem)
    return int(m.group(1)) if m else None


@dataclass(frozen=True)
class TableOptions:
    """How a source reads its keyword tables (the keys of ``archive.local``/``archive.tables``).

    Attributes
    ----------
    column_map
        ``{flarepipe name: table column}`` over :data:`DEFAULT_TABLE_COLUMN_MAP` (``None``: skip).
    constants
        ``{flarepipe name: value}`` for columns the table lacks (``{prefix: HARP}``).
    sep, decimal
        Separator and decimal mark of text tables; ``None`` detects them.
    time_format, time_scale
        ``strftime`` format of the time columns (``None``: ISO-like or ``T_REC``), and their scale.
    grid_minutes, grid_tolerance_minutes
        The ``T_REC`` sampling grid (TAI, from 1993-01-01); a row farther than the tolerance from a
        grid point is rejected, a nearer one snapped. ``None``: times are taken as they are.
    keep_extra
        Keep unmapped numeric table columns as extra ``records.csv`` columns (lower-case names).
    section
        The config section, named in every error (``archive.local``).
    """

    column_map: Mapping[str, str | None] = field(default_factory=dict)
    constants: Mapping[str, Any] = field(default_factory=dict)
    sep: str | None = None
    decimal: str | None = None
    time_format: str | None = None
    time_scale: str = "TAI"
    grid_minutes: float | None = None
    grid_tolerance_minutes: float = 0.0
    keep_extra: bool = True
    section: str = "archive.local"

    def __post_init__(self) -> None:
        check_column_map(self.column_map, f"{self.section}.column_map")
        bad = sorted(set(self.constants) - set(CONSTANT_NAMES))
        if bad:
            raise ValueError(
                f"{self.section}.constants: unknown name(s) {bad}; a constant may set "
                f"{list(CONSTANT_NAMES)}"
            )
        both = sorted(set(self.constants) & {k for k, v in self.column_map.items() if v})
        if both:
            raise ValueError(
                f"{self.section}: {both} set both in column_map and in constants; keep one"
            )
        if str(self.time_scale).upper() not in TIME_SCALES:
            raise ValueError(
                f"{self.section}.time_scale must be one of {list(TIME_SCALES)}, "
                f"got {self.time_scale!r}"
            )
        if self.grid_minutes is not None and not 2 * self.grid_tolerance_minutes < float(
            self.grid_minutes
        ):
            raise ValueError(
                f"{self.section}.grid_tolerance_minutes ({self.grid_tolerance_minutes}) must be "
                f"below half of grid_minutes ({self.grid_minutes})"
            )


def check_column_map(column_map: Mapping[str, str | None], key: str) -> None:
    """Refuse a column map that is not ``{flarepipe name: table column}``.

    Raises
    ------
    ValueError
        Naming ``key``, every unknown flarepipe name with the column it was mapped to, and a hint
        when the map looks written the other way round (its values are flarepipe names).
    """
    unknown = {k: v for k, v in dict(column_map or {}).items() if k not in TABLE_NAMES}
    if not unknown:
        return
    pairs = ", ".join(f"{k!r} -> {v!r}" for k, v in unknown.items())
    hint = ""
    if any(v in TABLE_NAMES for v in unknown.values()):
        flipped = {v: k for k, v in unknown.items() if v in TABLE_NAMES}
        hint = f"; it looks written the other way round: write {flipped}"
    raise ValueError(
        f"{key}: unknown flarepipe name(s) {pairs}; the map goes {{flarepipe name: table "
        f"column}} and the names are {list(TABLE_NAMES)}{hint}"
    )


def _pick(df_cols: list[str], name: str, cmap: dict, explicit: set) -> str | None:
    """The table column of ``name``: the mapped one, else a known alternative the table has."""
    col = cmap.get(name)
    if name in explicit or col in df_cols:
        return col
    cols = {c.upper(): c for c in df_cols}
    for alt in _ALTERNATIVES.get(name, ()):  # JSOC names first (USFLUXL before Sun's USFLUX)
        if alt.upper() in cols:
            return cols[alt.upper()]
    return col


def _raw_lines(df: pd.DataFrame, idx: np.ndarray) -> list[str]:
    return [";".join(str(v) for v in df.iloc[int(i)].tolist()) for i in idx]


def _columns_used(cols: list[str], o: TableOptions) -> tuple[dict[str, str], list[str]]:
    """``({flarepipe name: table column}, missing)`` for a table with columns ``cols``."""
    explicit = set(o.column_map or {})
    cmap = {**DEFAULT_TABLE_COLUMN_MAP, **dict(o.column_map or {})}
    consts = dict(o.constants or {})
    use = {n: _pick(cols, n, cmap, explicit) for n in TABLE_NAMES}
    use = {n: c for n, c in use.items() if c is not None and n not in consts}
    missing = [
        f"{k} -> {v!r}"
        for k, v in use.items()
        if v not in cols
        and (k in _REQUIRED or k in KEYWORD_COLUMNS or k in explicit)
        and not (k == "region" and k not in explicit and use.get("noaa") in cols)
    ]
    for name in _REQUIRED:
        if name not in use and name not in consts and not (name == "region" and "noaa" in use):
            missing.append(f"{name} -> None")
    return use, missing


def missing_columns_message(missing: list[str], cols: list[str], o: TableOptions) -> str:
    """The error for mapped or required columns a table lacks (names both, the key, the table's)."""
    return (
        f"columns not found for {', '.join(missing)} (set {o.section}.column_map as "
        f"{{flarepipe name: table column}}, or {o.section}.constants for a value the "
        f"table lacks, e.g. prefix: HARP; the table has {cols})"
    )


def table_column_problems(path: str | os.PathLike, options: TableOptions) -> str | None:
    """The missing-column error of one table, read from its first lines only; None when fine.

    For the config checks (before any job, in every rule's environment): a file that does not
    exist or does not read (or a Parquet table where pyarrow is missing) is left to the archive
    rule, which reports it.
    """
    from flarepipe.archive.catalogues.table_read import read_header

    try:
        cols = read_header(path, options.sep, options.decimal)
    except (OSError, ValueError):
        return None
    _, missing = _columns_used(cols, options)
    return f"{path}: {missing_columns_message(missing, cols, options)}" if missing else None


def _extra_name(column: str, taken: Iterable[str]) -> str:
    """The ``records.csv`` name of an extra table column: lower case, ``[0-9a-z_]``, with a
    ``table_`` prefix where it would clash with a layout, tidy or already taken name.
    """
    name = re.sub(r"[^0-9a-z_]+", "_", column.strip().lower()).strip("_") or "column"
    if name in RECORD_COLUMNS or name in set(taken) or name in _TIDY_NAMES:
        name = f"table_{name}"
    return name


def extra_column_candidates(path: str | os.PathLike, options: TableOptions) -> list[str] | None:
    """The ``records.csv`` names the unmapped columns of one table could get as extra keyword
    columns, read from its header only (a superset: the reader keeps the numeric ones); empty
    when ``options.keep_extra`` is off, ``None`` when the header does not read.
    """
    from flarepipe.archive.catalogues.table_read import read_header

    try:
        cols = read_header(path, options.sep, options.decimal)
    except (OSError, ValueError):
        return None
    if not options.keep_extra:
        return []
    use, _ = _columns_used(cols, options)
    used = set(use.values())
    taken = [
        *("region_id", "instrument", "series", "region"),
        *KEYWORD_COLUMNS,
        *LAYOUT_NAMES,
    ]
    out = []
    for c in cols:
        if c not in used:
            out.append(_extra_name(c, [*taken, *out]))
    return out


def table_names_given(path: str | os.PathLike, options: TableOptions) -> set[str] | None:
    """The flarepipe names (:data:`TABLE_NAMES`) one table gives a value of, by a column its
    header has or a constant; ``None`` when the header does not read.
    """
    from flarepipe.archive.catalogues.table_read import read_header

    try:
        cols = read_header(path, options.sep, options.decimal)
    except (OSError, ValueError):
        return None
    use, _ = _columns_used(cols, options)
    return {n for n, c in use.items() if c in cols} | set(options.constants or {})


@dataclass
class KeywordTableResult:
    """What :func:`read_keyword_tables` read: the tidy rows, rows rejected and repaired, and how."""

    table: pd.DataFrame
    rejected: pd.DataFrame
    repaired: pd.DataFrame
    info: list[dict]


def read_keyword_tables(
    paths: Iterable[str | os.PathLike],
    options: TableOptions | None = None,
    *,
    harp_noaa: Mapping[int, Sequence[int]] | None = None,
) -> KeywordTableResult:
    """Read keyword tables (any delimited text, Parquet) into one tidy frame, rejecting bad rows.

    Parameters
    ----------
    paths
        Table files; a trailing ``_<n>`` in the name is the fold.
    options
        :class:`TableOptions` (column map, constants, separator, time format/scale, grid).
    harp_noaa
        JSOC's HARP -> NOAA map; when a HARP table gives NOAA numbers (``noaa``) but no region
        number, the region is the one HARP whose NOAA numbers hold them.

    Returns
    -------
    KeywordTableResult
        ``table``: columns as :func:`load_keyword_tables`, plus ``quality``, ``lat_fwt``,
        ``lon_fwt``, ``obs_vr``, ``nx``, ``ny``, ``noaa_ars`` where the table (or a constant)
        gives them, and the extra keyword columns (``extra_columns`` in ``info``). ``rejected``
        and ``repaired``: ``source, line, reason, raw`` per row (unknown prefix, bad region or
        time, NOAA number that maps to no or several HARPs, off the grid; snapped to the grid).
        ``info``: per file its format, columns mapped, recognised, kept as extra and ignored.

    Raises
    ------
    ValueError
        A mapped or required column is missing (naming the flarepipe name, the column, the file
        and the config key), or every row of a file is rejected (the reasons counted).
    """
    o = options or TableOptions()
    key = f"{o.section}.column_map"
    consts = {k: v for k, v in (o.constants or {}).items()}
    inverse: dict[int, set[int]] = {}
    for harp, nums in (harp_noaa or {}).items():
        for n in nums:
            inverse.setdefault(int(n), set()).add(int(harp))
    frames, rejected, repaired, info = [], [], [], []
    for p in paths:
        p = Path(p)
        df, fmt = read_table(p, o.sep, o.decimal)
        cols = list(df.columns)
        use, missing = _columns_used(cols, o)
        if missing:
            raise ValueError(f"{p}: {missing_columns_message(missing, cols, o)}")
        use = {n: c for n, c in use.items() if c in df.columns}
        n = len(df)
        reason = np.array([None] * n, dtype=object)
        fixes: list[list[str]] = [[] for _ in range(n)]

        def reject(mask, text, reason=reason):
            for i in np.flatnonzero(
                np.asarray(mask) & np.array([r is None for r in reason], dtype=bool)
            ):
                reason[i] = text(int(i))

        out = pd.DataFrame(index=df.index)
        pre_raw = df[use["prefix"]] if "prefix" in use else pd.Series([consts["prefix"]] * n)
        prefix = pre_raw.astype(str).str.strip().str.upper().reset_index(drop=True)
        reject(
            ~prefix.isin(_PREFIXES),
            lambda i, prefix=prefix: (
                f"unknown region prefix {prefix.iloc[i]!r} (expected one of {_PREFIXES})"
            ),
        )
        noaa_lists_ = None
        n_from_noaa = 0
        if "noaa" in use or "noaa" in consts:
            cells = df[use["noaa"]] if "noaa" in use else pd.Series([consts["noaa"]] * n)
            noaa_lists_ = [parse_noaa_ars(normalise_noaa_ars(v)) for v in cells]
        if "region" in use or "region" in consts:
            cells = df[use["region"]] if "region" in use else pd.Series([consts["region"]] * n)
            region = pd.to_numeric(cells.reset_index(drop=True), errors="coerce")
            reject(region.isna(), lambda i, c=cells: f"bad region number {c.iloc[i]!r}")
        else:
            region = pd.Series(np.nan, index=range(n))
        # times
        for name in ("t_end", "t_start"):
            if name not in use:
                continue
            utc, tai, bad = parse_times(df[use[name]], o.time_format, o.time_scale)
            cells = df[use[name]].reset_index(drop=True)
            fmt_hint = f" ({o.section}.time_format {o.time_format!r})" if o.time_format else ""
            reject(
                bad,
                lambda i, c=cells, nm=name, use=use, fmt_hint=fmt_hint: (
                    f"cannot read {use[nm]!r} time {c.iloc[i]!r}" + fmt_hint
                ),
            )
            out[f"{name}_utc_"] = utc
            out[f"{name}_tai_"] = tai
        if "t_end_utc_" not in out:
            raise ValueError(f"{p}: no t_end column (set {key}.t_end)")
        if noaa_lists_ is not None:  # the 10000 offset lost after 2002-06-14 (as in flare lists)
            when = out["t_end_utc_"].to_numpy()
            for i, nums in enumerate(noaa_lists_):
                if nums and not pd.isna(when[i]) and pd.Timestamp(when[i]) >= _OFFSET_DATE:
                    fixed = tuple(m + 10000 if 0 < m < 9000 else m for m in nums)
                    if fixed != nums:
                        noaa_lists_[i] = fixed
                        fixes[i].append(f"NOAA {list(nums)} +10000 (leading 1 dropped)")
        # NOAA numbers without a region number: JSOC's HARP -> NOAA map, read backwards
        if region.isna().all() and noaa_lists_ is not None:
            fixes_from_noaa = []
            vals = np.full(n, np.nan)
            for i, nums in enumerate(noaa_lists_):
                if prefix.iloc[i] != "HARP":
                    reason[i] = reason[i] or (
                        f"no region number and no {prefix.iloc[i]} -> NOAA map (NOAA {list(nums)})"
                    )
                    continue
                harps = set().union(*(inverse.get(m, set()) for m in nums)) if nums else set()
                if not nums:
                    why = "no region number and no NOAA number"
                elif harp_noaa is None:
                    why = f"NOAA {list(nums)} without a region number, and no harp_noaa_map set"
                elif not harps:
                    why = f"NOAA {list(nums)} is in no HARP of the harp_noaa_map"
                elif len(harps) > 1:
                    why = f"NOAA {list(nums)} is ambiguous: HARPs {sorted(harps)} hold it"
                else:
                    vals[i] = next(iter(harps))
                    fixes_from_noaa.append(i)
                    continue
                reason[i] = reason[i] or why
            region = pd.Series(vals)
            n_from_noaa = len(fixes_from_noaa)
        # the sampling grid
        if o.grid_minutes is not None:
            ok = np.array([r is None for r in reason], dtype=bool)
            tai = pd.DatetimeIndex(out["t_end_tai_"])
            safe = pd.DatetimeIndex(np.where(ok, tai.asi8, 0).astype("datetime64[ns]"))
            snapped, off, far = snap_to_grid(safe, o.grid_minutes, o.grid_tolerance_minutes)
            reject(
                ok & far,
                lambda i, tai=tai, off=off: (
                    f"t_end {tai[i]} TAI is {off[i]:+.1f} min off the {o.grid_minutes:g}-"
                    f"minute T_REC grid (tolerance {o.grid_tolerance_minutes:g} min: "
                    f"{o.section}.grid_tolerance_minutes)"
                ),
            )
            moved = ok & ~far & (snapped.asi8 != tai.asi8)
            if moved.any():
                shift = pd.to_timedelta(np.where(moved, snapped.asi8 - tai.asi8, 0), unit="ns")
                for nm in ("t_end", "t_start"):
                    if f"{nm}_tai_" in out:
                        out[f"{nm}_tai_"] = pd.DatetimeIndex(out[f"{nm}_tai_"]) + shift
                        out[f"{nm}_utc_"] = pd.DatetimeIndex(out[f"{nm}_utc_"]) + shift
                for i in np.flatnonzero(moved):
                    fixes[i].append(f"t_end {tai[i]} TAI snapped {-off[i]:+.1f} min to the grid")
        good = np.array([r is None for r in reason], dtype=bool)
        base_line = 2 + fmt.skip
        if not n:
            raise ValueError(
                f"{p}: a header and no data row ({o.section}.keyword_tables): nothing to read"
            )
        if not good.any():
            counts = pd.Series(reason).map(_reason_kind).value_counts().to_dict()
            first = int(np.flatnonzero(~good)[0])
            raise ValueError(
                f"{p}: every row rejected ({counts}); first: {p}:{first + base_line}: "
                f"{reason[first]} (check {key}, {o.section}.constants, "
                f"{o.section}.time_format/time_scale/grid_tolerance_minutes)"
            )
        for i in np.flatnonzero(~good):
            rejected.append(
                {"source": p.name, "line": int(i) + base_line, "reason": reason[i], "raw": ""}
            )
        fixed_rows = np.flatnonzero(good & np.array([bool(f) for f in fixes], dtype=bool))
        for i, text in zip(fixed_rows, _raw_lines(df, fixed_rows), strict=True):
            repaired.append(
                {
                    "source": p.name,
                    "line": int(i) + base_line,
                    "reason": "; ".join(fixes[i]),
                    "raw": text,
                }
            )
        raws = _raw_lines(df, np.flatnonzero(~good))
        for row, text in zip(rejected[len(rejected) - len(raws) :], raws, strict=True):
            row["raw"] = text
        sel = np.flatnonzero(good)
        d = df.iloc[sel].reset_index(drop=True)
        pre = prefix.iloc[sel].reset_index(drop=True)
        reg = region.iloc[sel].astype("int64").reset_index(drop=True)
        t = pd.DataFrame(index=d.index)
        t["region_id"] = pre + reg.astype(str)
        known = {x: series_of_prefix(x) for x in pre.unique()}
        t["instrument"] = pre.map({x: v.instrument for x, v in known.items()})
        t["series"] = pre.map({x: v.name for x, v in known.items()})
        t["region"] = reg
        t["t_end"] = pd.DatetimeIndex(out["t_end_utc_"].iloc[sel]).as_unit("ns")
        t["t_end_tai"] = pd.DatetimeIndex(out["t_end_tai_"].iloc[sel]).as_unit("ns")
        if "t_start_utc_" in out:
            t["t_start"] = pd.DatetimeIndex(out["t_start_utc_"].iloc[sel]).as_unit("ns")
        for col in KEYWORD_COLUMNS:
            src = use.get(col)
            if col in consts:
                t[col] = float(consts[col])
            else:
                t[col] = pd.to_numeric(d[src], errors="coerce").astype(float) if src else np.nan
        if "label" in use:
            t["label"] = d[use["label"]].astype(str).str.strip().str.lower().isin(_TRUE)
        if "flares" in use:
            t["flares"] = d[use["flares"]].replace("", None).fillna("").astype(str)
        if "flare_index" in use:
            t["flare_index"] = pd.to_numeric(d[use["flare_index"]], errors="coerce").astype(float)
        for col in LAYOUT_NAMES:
            if col == "noaa":
                continue
            if col in consts:
                t[col] = consts[col]
            elif col in use:
                if col == "quality":
                    t[col] = [_quality_int(v) for v in d[use[col]]]
                else:
                    t[col] = pd.to_numeric(d[use[col]], errors="coerce").astype(float)
        if noaa_lists_ is not None:
            t["noaa_ars"] = [",".join(map(str, noaa_lists_[i])) for i in sel]
        used = set(use.values())
        extra, ignored = [], []
        for c in cols:
            if c in used:
                continue
            vals = pd.to_numeric(d[c], errors="coerce") if len(d) else pd.Series(dtype=float)
            if o.keep_extra and len(d) and vals.notna().mean() >= 0.5:
                name = _extra_name(c, t.columns)
                t[name] = vals.astype(float)
                extra.append(name)
            else:
                ignored.append(c)
        fold = _fold_of(p)
        t["fold"] = pd.array([fold] * len(t), dtype="Int64")
        t["source_file"] = p.name
        frames.append(t)
        info.append(
            {
                "file": str(p),
                "format": fmt.describe(),
                "rows": int(n),
                "rows_rejected": int((~good).sum()),
                "rows_repaired": int(sum(bool(f) for f in fixes)),
                "regions_from_noaa": int(n_from_noaa),
                "mapped": {k: v for k, v in use.items()},
                "constants": dict(consts),
                "extra_columns": extra,
                "ignored_columns": ignored,
                "time_scale": str(o.time_scale).upper(),
            }
        )
    if not frames:
        raise ValueError(f"{o.section}.keyword_tables: no tables given")
    res = pd.concat(frames, ignore_index=True)
    res = res.sort_values(["region_id", "t_end"], kind="stable").reset_index(drop=True)
    return KeywordTableResult(
        res,
        pd.DataFrame(rejected, columns=REJECT_COLUMNS),
        pd.DataFrame(repaired, columns=REJECT_COLUMNS),
        info,
    )


def _reason_kind(text: object) -> str:
    s = str(text)
    for kind in (
        "unknown region prefix",
        "bad region number",
        "cannot read",
        "off the",
        "ambiguous",
        "is in no HARP",
        "no region number",
        "without a region number",
    ):
        if kind in s:
            return kind
    return s[:40]


def _quality_int(v: object) -> int:
    """A QUALITY cell: integer, float or hex string (``0x00010000``); blank -> 0."""
    s = str(v).strip()
    if not s or s.lower() in ("nan", "none"):
        return 0
    try:
        return int(s, 0)
    except ValueError:
        return int(float(s))


def load_keyword_tables(
    paths: Iterable[str | os.PathLike],
    column_map: Mapping[str, str | None] | None = None,
    *,
    column_map_key: str = "archive.local.column_map",
) -> pd.DataFrame:
    """Read keyword tables into one tidy frame with canonical column names; any bad row is an error.

    :func:`read_keyword_tables` with the default :class:`TableOptions` (times TAI, no grid) and
    ``column_map``; a source that lists bad rows instead calls that function.

    Parameters
    ----------
    paths
        Tables (e.g. ``sharp_0.csv`` ... ``smarp_4.csv``); a trailing ``_<n>`` in the name is the
        fold (the authors' region-grouped split), else ``fold`` is empty.
    column_map
        ``{flarepipe name: table column}``, merged over :data:`DEFAULT_TABLE_COLUMN_MAP`. Names:
        ``prefix`` (``HARP``/``TARP``), ``region``, ``t_end`` (required), ``t_start``, ``label``,
        ``flares``, ``flare_index``, the archive keyword columns of
        :data:`flarepipe.core.keywords.KEYWORD_COLUMNS` and :data:`LAYOUT_NAMES`. Map a name to
        ``None`` to skip it.
    column_map_key
        The config key of the column map, named in the error when a column is missing.

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
    section = column_map_key.rsplit(".", 1)[0]
    res = read_keyword_tables(
        paths, TableOptions(column_map=dict(column_map or {}), section=section)
    )
    if len(res.rejected):
        r = res.rejected.iloc[0]
        folder = {Path(p).name: Path(p) for p in paths}
        raise ValueError(f"{folder.get(r['source'], r['source'])}:{r['line']}: {r['reason']}")
    return res.table


def keyword_tables_to_records(
    table: pd.DataFrame, *, harp_noaa: Mapping[int, list[int]] | None = None, quality: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``records.csv`` rows (``docs/FILES.md``) from :func:`load_keyword_tables`.

    Returns ``(records, rejected)``.

    One record per ``(region_id, t_end)``: ``t_rec`` is ``t_end`` (UTC), ``t_rec_tai`` the grid
    time as a JSOC ``T_REC`` string. ``noaa_ars`` is the table's own NOAA numbers where it gives
    them (column ``noaa_ars``), else from ``harp_noaa`` for HARPs (else empty). ``quality``,
    ``lat_fwt``, ``lon_fwt``, ``obs_vr``, ``nx`` and ``ny`` come from the table where it has them;
    otherwise ``quality`` is set to ``quality`` (default 0: the published tables were already
    quality-filtered by their authors), positions and velocity are NaN, ``nx``/``ny`` 0. ``path``
    is empty (no image). Extra keyword columns of the table (:func:`read_keyword_tables`) follow
    the layout's columns. Repeated ``(region_id, t_end)`` rows with different keyword values are
    rejected (reason given).
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
    own = t["noaa_ars"].fillna("").astype(str).to_numpy() if "noaa_ars" in t else None
    noaa = []
    for i, (pre_id, r) in enumerate(zip(t["region_id"], t["region"], strict=True)):
        if own is not None and own[i]:
            noaa.append(own[i])
        elif harp_noaa is not None and str(pre_id).startswith("HARP"):
            noaa.append(",".join(str(n) for n in harp_noaa.get(int(r), [])))
        else:
            noaa.append("")
    rec["noaa_ars"] = noaa
    rec["quality"] = (
        pd.to_numeric(t["quality"]).fillna(quality).astype("int64").to_numpy()
        if "quality" in t
        else int(quality)
    )
    for c in ("lat_fwt", "lon_fwt", "obs_vr"):
        rec[c] = t[c].astype(float).to_numpy() if c in t else np.nan
    for c in KEYWORD_COLUMNS:
        rec[c] = t[c].to_numpy()
    for c in ("nx", "ny"):
        rec[c] = pd.to_numeric(t[c]).fillna(0).astype("int64").to_numpy() if c in t else 0
    rec["path"] = ""
    extra = [
        c
        for c in t.columns
        if c not in RECORD_COLUMNS
        and c not in _TIDY_NAMES
        and c not in ("region_id", "instrument", "series", "region")
        and c not in LAYOUT_NAMES
    ]
    for c in extra:
        rec[c] = t[c].to_numpy()
    rec = rec.reindex(columns=RECORD_COLUMNS + extra)
    rec = rec.sort_values(["series", "region", "t_rec"], kind="stable").reset_index(drop=True)
    return rec, pd.DataFrame(rejected, columns=REJECT_COLUMNS)
