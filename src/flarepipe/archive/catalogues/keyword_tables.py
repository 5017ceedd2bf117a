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
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from flarepipe.archive.layout import RECORD_COLUMNS, REJECT_COLUMNS
from flarepipe.core.keywords import KEYWORD_COLUMNS, KEYWORDS
from flarepipe.core.series import SERIES, series_of_prefix
from flarepipe.core.timeutil import format_trec, tai_to_utc, to_iso_utc

__all__ = [
    "DEFAULT_TABLE_COLUMN_MAP",
    "TABLE_NAMES",
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
#: the canonical names a column map may set
TABLE_NAMES: tuple[str, ...] = tuple(DEFAULT_TABLE_COLUMN_MAP)
_REQUIRED = ("prefix", "region", "t_end")
_PREFIXES = [s.prefix for s in SERIES.values()]


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
    paths: Iterable[str | os.PathLike],
    column_map: Mapping[str, str | None] | None = None,
    *,
    column_map_key: str = "archive.local.column_map",
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
    cmap = {**DEFAULT_TABLE_COLUMN_MAP, **dict(column_map or {})}
    frames = []
    for p in paths:
        p = Path(p)
        try:
            df = pd.read_csv(p, dtype={cmap.get("prefix") or "prefix": str})
        except (ValueError, pd.errors.ParserError) as exc:  # empty, undecodable, ragged
            raise ValueError(f"{p}: cannot read as a keyword table ({exc})") from exc
        use = {k: v for k, v in cmap.items() if v is not None}
        explicit = set(column_map or {})
        missing = [
            f"{k} -> {v!r}"
            for k, v in use.items()
            if v not in df.columns and (k in _REQUIRED or k in KEYWORD_COLUMNS or k in explicit)
        ]
        if missing:
            raise ValueError(
                f"{p}: columns not found for {', '.join(missing)} (set {column_map_key}; "
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
