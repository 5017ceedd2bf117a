"""GOES flare catalogues: the HEK (through sunpy) and three real catalogue files, one schema out.

Every reader returns a :class:`CatalogueResult`: ``flares`` in the ``flares.csv`` schema of
``docs/FILES.md`` (``start_utc``, ``peak_utc``, ``end_utc`` as naive-UTC ``pd.Timestamp``,
``goes_class``, ``peak_flux_wm2``, ``noaa_ar`` nullable ``Int64``, ``region_missing``), ``rejected``
(``source, line, reason, raw``: bad rows are reported, never dropped silently) and ``repaired``
(rows kept after one of the documented repairs below).

Rules applied to every source (:func:`finalise_events`):

* **Flux** from the class string with :func:`flarepipe.core.flareclass.class_to_flux`;
  ``goes_class`` is rewritten canonically (``'C1  '`` -> ``'C1.0'``, ``'X14.'`` -> ``'X14.0'``).
  A bare letter (``'C'``, SWPC's unknown magnitude) counts as 1.0 of its class, the flareclass
  convention: the lower bound of the class, so a ``>= M1.0`` label is still right.
* **Regions** (:mod:`flarepipe.core.noaa`): no region (empty, blank, ``0``: SWPC writes 0 for
  none) -> ``noaa_ar`` empty and ``region_missing`` true; the event is kept. NOAA numbers passed
  9999 on 2002-06-14 (region 10000); afterwards the HEK and SWPC sometimes drop the leading 1
  (``1158`` for ``11158``): 10000 is added to numbers below 9000 for events from 2002-06-14 on
  (:func:`flarepipe.core.noaa.offset_lost`), and reported as a repair. Numbers 9000-9999 stay as
  given: those are real regions still on the disk in the weeks after the switch (this would only
  become ambiguous once NOAA numbers reach 19000).
* **Times**, UTC: a peak before the start is moved one day later when that puts it inside
  ``[start, end]`` (catalogues write a peak just after midnight with the start's date), an end
  before the start likewise (SWPC gives the end time with the start's date). Anything else out of
  order (peak before start, peak after end) is rejected.
* **Duplicates** (same start, peak, end, class and region) are rejected as ``duplicate``.

:func:`build_catalogue` reads its :class:`CatalogueSettings` from the validated
``archive.catalogue`` section; the schema holds every key, bound and default.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import math
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flarepipe.archive.layout import FLARE_COLUMNS, REJECT_COLUMNS
from flarepipe.core.flareclass import class_to_flux, flux_to_class
from flarepipe.core.noaa import NOAA_10000_DATE, noaa_number, normalise_noaa, offset_lost
from flarepipe.core.timeutil import to_iso_utc
from flarepipe.io.atomic import write_csv
from flarepipe.io.download import RetryPolicy, call_with_retry, socket_timeout

__all__ = [
    "FLARE_COLUMNS",
    "REJECT_COLUMNS",
    "NOAA_10000_DATE",
    "SECTION",
    "FORMATS",
    "HEK_URL",
    "HekSettings",
    "CatalogueSettings",
    "CatalogueResult",
    "normalise_noaa",
    "finalise_events",
    "read_goes_events_txt",
    "read_swpc_events_csv",
    "read_goes_sc24_csv",
    "read_flare_file",
    "read_flare_table",
    "detect_flare_format",
    "flare_list_problems",
    "require_usable_flares",
    "FLARE_FIELDS",
    "hek_windows",
    "hek_events_to_flares",
    "make_hek_client",
    "query_hek",
    "build_catalogue",
    "write_flares",
    "read_flares_csv",
    "write_catalogue",
    "read_harp_noaa_map",
]

log = logging.getLogger(__name__)

#: where the section lives in the configuration (for messages)
SECTION = "archive.catalogue"
#: the LMSAL HEK
HEK_URL = "https://www.lmsal.com/hek/her?"
#: flare-list formats :func:`read_flare_file` reads (``auto`` detects them from the first line)
FORMATS: tuple[str, ...] = ("auto", "goes_txt", "swpc_csv", "sc24_csv", "flares_csv", "csv")
#: the fields of a flare list read with a column map (format ``csv``), and the column names
#: recognised for each when the map does not name one (case-insensitive, first match)
FLARE_FIELDS: dict[str, tuple[str, ...]] = {
    "start": ("start_utc", "start", "start_time", "event_starttime", "tstart", "begin", "t_start"),
    "peak": ("peak_utc", "peak", "peak_time", "event_peaktime", "tpeak", "max", "t_peak"),
    "end": ("end_utc", "end", "end_time", "event_endtime", "tend", "stop", "t_end"),
    "goes_class": ("goes_class", "class", "xray_class", "fl_goescls", "goes", "magnitude"),
    "noaa_ar": ("noaa_ar", "noaa", "ar", "ar_noaanum", "region", "noaa_region", "active_region"),
}


@dataclass
class CatalogueResult:
    """Flares in the archive schema, with the rows rejected and repaired on the way."""

    flares: pd.DataFrame
    rejected: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECT_COLUMNS))
    repaired: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECT_COLUMNS))
    source: str = ""
    format: str = ""

    def counts(self) -> dict:
        """Row counts for manifests and logs."""
        return {
            "flares": int(len(self.flares)),
            "rejected": int(len(self.rejected)),
            "repaired": int(len(self.repaired)),
            "region_missing": int(self.flares["region_missing"].sum()) if len(self.flares) else 0,
        }


def _time_text(value: object) -> str | None:
    """A configured time as text (YAML reads ``2011-01-01`` as a date)."""
    return None if value is None else str(value).strip()


def _check_keys(cls: type, d: Mapping, where: str, extra: tuple[str, ...] = ()) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(d) - set(names) - set(extra))
    missing = [n for n in names if n not in d]
    if unknown or missing:
        raise ValueError(
            f"{where}: {'unknown keys ' + str(unknown) if unknown else ''}"
            f"{'; ' if unknown and missing else ''}"
            f"{'missing keys ' + str(missing) if missing else ''}: pass the section as "
            "flarepipe.config.validate_config checked and filled it"
        )


@dataclass(frozen=True)
class HekSettings:
    """The HEK query of ``archive.catalogue.hek`` (every key described in the schema)."""

    url: str = HEK_URL
    frm_name: str | None = "SWPC"
    observatory: str | None = None
    chunk_days: float = 30.0
    timeout_s: float = 120.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> HekSettings:
        """Settings from the validated ``archive.catalogue.hek`` section."""
        d = dict(section)
        _check_keys(cls, d, f"{SECTION}.hek")
        return cls(
            url=str(d["url"]),
            frm_name=str(d["frm_name"]) if d["frm_name"] else None,
            observatory=str(d["observatory"]) if d["observatory"] else None,
            chunk_days=float(d["chunk_days"]),
            timeout_s=float(d["timeout_s"]),
            retry=RetryPolicy.from_section(d["retry"], f"{SECTION}.hek.retry"),
        )


@dataclass(frozen=True)
class CatalogueSettings:
    """What :func:`build_catalogue` reads from the validated ``archive.catalogue`` section.

    ``source`` is ``file`` (the flare list at ``path``, in ``format``) or ``hek``; events
    starting in ``[start, end)`` (UTC) are kept (``start``/``end`` required for the HEK).

    Raises
    ------
    ValueError
        ``path`` missing for ``file``, ``start``/``end`` missing for ``hek``, or ``start`` not
        before ``end``.
    """

    source: str = "file"
    path: str | None = None
    format: str = "auto"
    start: str | None = None
    end: str | None = None
    hek: HekSettings = field(default_factory=HekSettings)

    def __post_init__(self) -> None:
        if self.source == "file" and not self.path:
            raise ValueError(f"{SECTION}.path is required when {SECTION}.source is 'file'")
        if self.source == "hek" and not (self.start and self.end):
            raise ValueError(f"{SECTION}.start and {SECTION}.end are required for the HEK")
        times = {}
        for key in ("start", "end"):
            value = getattr(self, key)
            if value is not None:
                try:
                    times[key] = pd.Timestamp(value)
                except ValueError:
                    raise ValueError(
                        f"{SECTION}.{key} must be a date/time, got {value!r}"
                    ) from None
        if len(times) == 2 and times["start"] >= times["end"]:
            raise ValueError(
                f"{SECTION}.start must be before {SECTION}.end, got {self.start} >= {self.end}"
            )

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> CatalogueSettings:
        """Settings from the ``archive.catalogue`` section as :mod:`flarepipe.config` validated
        it (every key present: the schema fills the defaults).

        Raises
        ------
        ValueError
            A key is missing or unknown (the section was not validated), or the values do not
            fit together (see the class).
        """
        d = dict(section)
        _check_keys(cls, d, SECTION)
        return cls(
            source=str(d["source"]),
            path=str(d["path"]) if d["path"] else None,
            format=str(d["format"]),
            start=_time_text(d["start"]),
            end=_time_text(d["end"]),
            hek=HekSettings.from_section(d["hek"]),
        )


def _empty_flares() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype="datetime64[ns]") for c in FLARE_COLUMNS[:3]})
    df["goes_class"] = pd.Series(dtype=str)
    df["peak_flux_wm2"] = pd.Series(dtype=float)
    df["noaa_ar"] = pd.Series(dtype="Int64")
    df["region_missing"] = pd.Series(dtype=bool)
    return df


# =============================================================================== shared rules


def _canonical_class(raw: str) -> tuple[str, float]:
    s = re.sub(r"\s+", "", str(raw)).upper()
    flux = class_to_flux(s)
    m = re.match(r"^[ABCMX](\d+)?(?:\.(\d*))?$", s)
    decimals = len(m.group(2)) if m and m.group(2) else 0
    return flux_to_class(flux, digits=max(1, decimals)), flux


def _parse_times(values: Sequence) -> pd.DatetimeIndex:
    s = pd.Series(list(values), dtype=object)
    s = s.where(~s.astype(str).str.strip().isin(["", "nan", "NaT", "None"]), None)
    idx = pd.to_datetime(s, errors="coerce", utc=True, format="ISO8601")
    retry = idx.isna() & s.notna()
    if retry.any():
        idx[retry] = pd.to_datetime(s[retry], errors="coerce", utc=True, format="mixed")
    return pd.DatetimeIndex(idx).tz_convert(None)


def _canonical_classes(values: Sequence) -> tuple[list, list, list]:
    """Per value: canonical class, flux, error (None when fine); parsed once per distinct value.
    A comma used as decimal separator (``'C6,2'``) is read as a point and reported as a repair.
    """
    cache: dict = {}
    classes, fluxes, errors, fixes = [], [], [], []
    for v in values:
        key = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
        if key not in cache:
            fix = None
            text = key
            if re.match(r"^\s*[ABCMXabcmx]\s*\d+,\d+\s*$", text):
                text, fix = text.replace(",", "."), "decimal comma in class read as a point"
            try:
                cache[key] = (*_canonical_class(text), None, fix)
            except ValueError:
                cache[key] = (None, math.nan, f"bad GOES class {v!r}", None)
        c, f, e, fx = cache[key]
        classes.append(c)
        fluxes.append(f)
        errors.append(e)
        fixes.append(fx)
    return classes, fluxes, errors, fixes


def finalise_events(raw: pd.DataFrame, source: str) -> CatalogueResult:
    """Apply the shared rules to raw events; ``raw`` has ``line, raw, start, peak, end, goes_class,
    noaa`` (times as strings or timestamps, UTC). Returns the archive schema sorted by start.
    """
    if len(raw) == 0:
        return CatalogueResult(_empty_flares(), source=source)
    raw = raw.reset_index(drop=True)
    n = len(raw)
    t0 = _parse_times(raw["start"]).to_numpy()
    tp = _parse_times(raw["peak"]).to_numpy()
    t1 = _parse_times(raw["end"]).to_numpy()
    day = np.timedelta64(1, "D")
    reason = np.array([None] * n, dtype=object)
    fixes: list[list[str]] = [[] for _ in range(n)]

    def set_reason(mask, texts):
        m = np.asarray(mask) & np.array([r is None for r in reason])
        for i in np.flatnonzero(m):
            reason[i] = texts(i)

    set_reason(np.isnat(t0), lambda i: f"bad start time {raw['start'][i]!r}")
    set_reason(np.isnat(tp), lambda i: f"bad peak time {raw['peak'][i]!r}")
    set_reason(np.isnat(t1), lambda i: f"bad end time {raw['end'][i]!r}")
    ok = ~(np.isnat(t0) | np.isnat(tp) | np.isnat(t1))
    end_fix = ok & (t1 < t0) & (t1 + day >= t0)
    t1 = np.where(end_fix, t1 + day, t1)
    peak_fix = ok & (tp < t0) & (tp + day >= t0) & (tp + day <= t1)
    tp = np.where(peak_fix, tp + day, tp)
    for i in np.flatnonzero(end_fix):
        fixes[i].append("end moved +1 day (end time given with the start's date)")
    for i in np.flatnonzero(peak_fix):
        note = (
            " (00:00:00 may stand for a missing peak time)"
            if pd.Timestamp(tp[i]).time().isoformat() == "00:00:00"
            else ""
        )
        fixes[i].append(
            f"peak moved +1 day (peak after midnight given with the start's date){note}"
        )
    set_reason(
        ok & (tp < t0), lambda i: f"peak {pd.Timestamp(tp[i])} before start {pd.Timestamp(t0[i])}"
    )
    set_reason(
        ok & (t1 < tp), lambda i: f"peak {pd.Timestamp(tp[i])} after end {pd.Timestamp(t1[i])}"
    )
    classes, fluxes, cerr, cfix = _canonical_classes(raw["goes_class"])
    set_reason(np.array([e is not None for e in cerr]), lambda i: cerr[i])
    for i, fx in enumerate(cfix):
        if fx:
            fixes[i].append(fx)
    noaa: list[int | None] = []
    ncache: dict = {}
    nerr = []
    for v in raw["noaa"]:
        key = repr(v)
        if key not in ncache:
            try:
                ncache[key] = (noaa_number(v), None)
            except ValueError:
                ncache[key] = (None, f"bad NOAA region {v!r}")
        noaa.append(ncache[key][0])
        nerr.append(ncache[key][1])
    set_reason(np.array([e is not None for e in nerr]), lambda i: nerr[i])
    nums = np.array([-1 if x is None else x for x in noaa], dtype=np.int64)
    offset = ok & offset_lost(nums, t0)
    nums = np.where(offset, nums + 10000, nums)
    for i in np.flatnonzero(offset):
        fixes[i].append("NOAA number +10000 (leading 1 dropped after 2002-06-14)")

    good = np.array([r is None for r in reason])
    rejected = pd.DataFrame(
        {
            "source": source,
            "line": raw["line"][~good].to_numpy(),
            "reason": reason[~good],
            "raw": raw["raw"][~good].to_numpy(),
        },
        columns=REJECT_COLUMNS,
    )
    fixed = good & np.array([bool(f) for f in fixes])
    repaired = pd.DataFrame(
        {
            "source": source,
            "line": raw["line"][fixed].to_numpy(),
            "reason": ["; ".join(fixes[i]) for i in np.flatnonzero(fixed)],
            "raw": raw["raw"][fixed].to_numpy(),
        },
        columns=REJECT_COLUMNS,
    )
    df = pd.DataFrame(
        {
            "start_utc": t0[good],
            "peak_utc": tp[good],
            "end_utc": t1[good],
            "goes_class": pd.array(np.array(classes, dtype=object)[good], dtype="str"),
            "peak_flux_wm2": np.asarray(fluxes, dtype=float)[good],
            "noaa_ar": pd.array(np.where(nums[good] > 0, nums[good], 0), dtype="Int64"),
            "src_line": raw["line"][good].to_numpy(),
            "src_raw": raw["raw"][good].to_numpy(),
        }
    )
    df.loc[df["noaa_ar"] == 0, "noaa_ar"] = pd.NA
    key = ["start_utc", "peak_utc", "end_utc", "goes_class", "noaa_ar"]
    dup = df.duplicated(key, keep="first")
    if dup.any():
        keys = list(
            zip(*(df[c].astype(object).where(df[c].notna(), None) for c in key), strict=True)
        )
        first: dict = {}
        dups = []
        for k, ln, is_dup, text in zip(keys, df["src_line"], dup, df["src_raw"], strict=True):
            if not is_dup:
                first.setdefault(k, ln)
            else:
                dups.append(
                    {
                        "source": source,
                        "line": ln,
                        "reason": f"duplicate of line {first.get(k, '?')}",
                        "raw": text,
                    }
                )
        rejected = pd.concat(
            [rejected, pd.DataFrame(dups, columns=REJECT_COLUMNS)], ignore_index=True
        )
        df = df[~dup.to_numpy()]
    df = df.sort_values(["start_utc", "peak_utc", "peak_flux_wm2"], kind="stable").reset_index(
        drop=True
    )
    df["region_missing"] = df["noaa_ar"].isna()
    df = df[FLARE_COLUMNS]
    for c in FLARE_COLUMNS[:3]:
        df[c] = pd.DatetimeIndex(df[c]).as_unit("ns")
    rejected = rejected.sort_values("line", kind="stable").reset_index(drop=True)
    return CatalogueResult(df, rejected, repaired, source)


# =============================================================================== file readers


def read_goes_events_txt(path: str | os.PathLike) -> CatalogueResult:
    """``goes_events_1995_2024.txt``: ``;``-separated, no header,
    ``start;peak;end;AR<number>;class;location`` with ISO times (``1995-01-02T20:00:00``).
    """
    path = Path(path)
    raw = []
    rejected = []
    with open(path, newline="") as fh:
        for lineno, line in enumerate(fh, start=1):
            text = line.rstrip("\r\n")
            if not text.strip() or text.lstrip().startswith("#"):
                continue
            parts = text.split(";")
            if len(parts) != 6:
                rejected.append(
                    {
                        "source": path.name,
                        "line": lineno,
                        "reason": f"expected 6 ';'-separated fields, got {len(parts)}",
                        "raw": text,
                    }
                )
                continue
            raw.append(
                {
                    "line": lineno,
                    "raw": text,
                    "start": parts[0],
                    "peak": parts[1],
                    "end": parts[2],
                    "noaa": parts[3],
                    "goes_class": parts[4],
                }
            )
    return _with_rejects(finalise_events(pd.DataFrame(raw), path.name), rejected)


def _with_rejects(res: CatalogueResult, extra: list[dict]) -> CatalogueResult:
    if extra:
        res.rejected = (
            pd.concat(
                [pd.DataFrame(extra, columns=REJECT_COLUMNS), res.rejected], ignore_index=True
            )
            .sort_values("line", kind="stable")
            .reset_index(drop=True)
        )
    return res


def _read_indexed_csv(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """CSV whose data rows carry one more (index) field than the header names (``to_csv``)."""
    text = path.read_text()
    lines = text.splitlines()
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    return df, lines


def read_swpc_events_csv(path: str | os.PathLike) -> CatalogueResult:
    """``swpc_events_1996_2018.csv``: SWPC event reports. ``start_time``/``end_time`` are full UTC
    times, ``max_time`` is ``HHMM`` on the start's date (next day when before the start),
    ``noaa_ar`` 0 means no region. The first (unnamed) column is a row index.
    """
    path = Path(path)
    df, lines = _read_indexed_csv(path)
    need = {"start_time", "max_time", "end_time", "goes_class", "noaa_ar"}
    if not need <= set(df.columns):
        raise ValueError(
            f"{path}: not an SWPC event list (missing columns {sorted(need - set(df.columns))})"
        )
    raw, rejected, missing_peak = [], [], []
    for i, r in enumerate(df.itertuples(index=False)):
        lineno = i + 2
        text = lines[i + 1] if i + 1 < len(lines) else ""
        start = str(r.start_time).strip()
        hhmm = str(r.max_time).strip()
        if re.fullmatch(r"/+|-+|", hhmm):
            # SWPC writes '////' when the peak time is unknown; keep the event, peak = start
            peak = start
            missing_peak.append(
                {
                    "source": path.name,
                    "line": lineno,
                    "reason": f"max_time {r.max_time!r} missing: peak set to start",
                    "raw": text,
                }
            )
        elif not re.match(r"^\d{4}$", hhmm) or int(hhmm[:2]) > 23 or int(hhmm[2:]) > 59:
            rejected.append(
                {
                    "source": path.name,
                    "line": lineno,
                    "reason": f"bad max_time {r.max_time!r}",
                    "raw": text,
                }
            )
            continue
        else:
            peak = f"{start[:10]} {hhmm[:2]}:{hhmm[2:]}:00"
        raw.append(
            {
                "line": lineno,
                "raw": text,
                "start": start,
                "peak": peak,
                "end": r.end_time,
                "noaa": r.noaa_ar,
                "goes_class": r.goes_class,
            }
        )
    res = _with_rejects(finalise_events(pd.DataFrame(raw), path.name), rejected)
    if missing_peak:
        kept = set(res.rejected["line"])
        extra = pd.DataFrame(
            [m for m in missing_peak if m["line"] not in kept], columns=REJECT_COLUMNS
        )
        res.repaired = (
            pd.concat([res.repaired, extra], ignore_index=True)
            .sort_values("line", kind="stable")
            .reset_index(drop=True)
        )
    return res


def read_goes_sc24_csv(path: str | os.PathLike) -> CatalogueResult:
    """``goes_events_sc24_with_positions.csv``: ``event_starttime``, ``event_peaktime``,
    ``event_endtime``, ``goes_class``, ``noaa_ar`` (blank when none), positions. The first (unnamed)
    column is a row index.
    """
    path = Path(path)
    df, lines = _read_indexed_csv(path)
    need = {"event_starttime", "event_peaktime", "event_endtime", "goes_class", "noaa_ar"}
    if not need <= set(df.columns):
        raise ValueError(
            f"{path}: not a GOES SC24 event list (missing {sorted(need - set(df.columns))})"
        )
    raw = pd.DataFrame(
        {
            "line": np.arange(2, len(df) + 2),
            "raw": lines[1 : len(df) + 1],
            "start": df["event_starttime"],
            "peak": df["event_peaktime"],
            "end": df["event_endtime"],
            "noaa": df["noaa_ar"],
            "goes_class": df["goes_class"],
        }
    )
    return finalise_events(raw, path.name)


def _flare_columns(columns: Sequence[str], column_map: Mapping[str, str] | None, key: str) -> dict:
    """``{field: table column}`` of :data:`FLARE_FIELDS` for a table with ``columns``."""
    cmap = dict(column_map or {})
    unknown = sorted(set(cmap) - set(FLARE_FIELDS))
    if unknown:
        raise ValueError(
            f"{key}: unknown field(s) {unknown}; the map goes {{field: column}} with fields "
            f"{list(FLARE_FIELDS)}"
        )
    have = {c.strip().lower(): c for c in columns}
    out, missing = {}, []
    for f, names in FLARE_FIELDS.items():
        if f in cmap:
            if cmap[f] is None:
                continue
            if cmap[f] not in columns:
                missing.append(f"{f} -> {cmap[f]!r}")
                continue
            out[f] = cmap[f]
            continue
        hit = next((have[n] for n in names if n in have), None)
        if hit is not None:
            out[f] = hit
    for f in ("start", "goes_class"):
        if f not in out and f not in [m.split(" ")[0] for m in missing]:
            missing.append(f"{f} -> (no column named {' / '.join(FLARE_FIELDS[f][:4])})")
    if missing:
        raise ValueError(
            f"columns not found for {', '.join(missing)} (set {key} as {{field: column}}; the "
            f"list has {list(columns)})"
        )
    return out


def read_flare_table(
    path: str | os.PathLike,
    column_map: Mapping[str, str] | None = None,
    *,
    time_format: str | None = None,
    sep: str | None = None,
    key: str = "archive.local.flares_columns",
) -> CatalogueResult:
    """Read any flare list with a header (CSV, TSV, ``;``, Parquet) through the shared rules.

    The columns of :data:`FLARE_FIELDS` come from ``column_map`` (``{field: column}``), else from
    the names recognised for each field; ``start`` and ``goes_class`` are required. Without a
    ``peak`` column the peak is the start, without ``end`` the end is the peak (noted as repairs).
    Times are UTC, ISO-like unless ``time_format`` (``strftime``) is given. Every row then goes
    through :func:`finalise_events`: the 10000 offset of NOAA numbers, next-day end/peak times,
    decimal commas, duplicates, with a reason per rejected or repaired row.

    Raises
    ------
    ValueError
        A required or mapped column is missing (named with ``key`` and the file's columns).
    """
    from flarepipe.archive.catalogues.table_read import read_table

    path = Path(path)
    df, fmt = read_table(path, sep=sep)
    try:
        cols = _flare_columns(list(df.columns), column_map, key)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    n = len(df)
    cells = {f: df[c].astype(str).str.strip() for f, c in cols.items()}
    if time_format:
        for f in ("start", "peak", "end"):
            if f in cells:
                t = pd.to_datetime(cells[f], format=time_format, errors="coerce")
                cells[f] = t.dt.strftime("%Y-%m-%dT%H:%M:%S").where(t.notna(), cells[f])
    notes = []
    if "peak" not in cells:
        cells["peak"] = cells["start"]
        notes.append("no peak column: peak = start")
    if "end" not in cells:
        cells["end"] = cells["peak"]
        notes.append("no end column: end = peak")
    sep_text = fmt.sep or " "
    raw = pd.DataFrame(
        {
            "line": np.arange(2 + fmt.skip, n + 2 + fmt.skip),
            "raw": [sep_text.join(map(str, r)) for r in df.itertuples(index=False)],
            "start": cells["start"].to_numpy(),
            "peak": cells["peak"].to_numpy(),
            "end": cells["end"].to_numpy(),
            "noaa": cells["noaa_ar"].to_numpy() if "noaa_ar" in cells else [None] * n,
            "goes_class": cells["goes_class"].to_numpy(),
        }
    )
    res = finalise_events(raw, path.name)
    res.format = f"csv ({fmt.describe()}; columns {cols}" + (
        f"; {'; '.join(notes)})" if notes else ")"
    )
    return res


def require_usable_flares(
    res: CatalogueResult, path: str | os.PathLike, fmt: str, key: str
) -> CatalogueResult:
    """``res`` when it holds at least one flare; else an error that says why none was usable.

    Raises
    ------
    ValueError
        Naming the file, the format read (and the config key that sets it), and the rejection
        reasons counted (their first words), when every row of a non-empty list was rejected or
        the list holds no row at all.
    """
    if len(res.flares):
        return res
    rej = res.rejected
    if len(rej):
        kinds = rej["reason"].astype(str).str.replace(r"[0-9'\"].*$", "", regex=True).str.strip()
        counts = kinds.value_counts().to_dict()
        first = rej.iloc[0]
        raise ValueError(
            f"{path}: no usable flare: all {len(rej)} rows rejected when read as {fmt!r} "
            f"({counts}; first, line {first['line']}: {first['reason']}); check {key} (and the "
            "column map / time format of the list)"
        )
    raise ValueError(f"{path}: the flare list holds no flare (read as {fmt!r}; {key})")


_FORMATS = {
    "goes_txt": read_goes_events_txt,
    "swpc_csv": read_swpc_events_csv,
    "sc24_csv": read_goes_sc24_csv,
}


#: formats with a header line that the generic ``csv`` reader can also read with a column map
_HEADER_FORMATS = ("swpc_csv", "sc24_csv", "flares_csv")


def flare_list_problems(
    path: str | os.PathLike,
    fmt: str = "auto",
    columns: Mapping[str, str] | None = None,
    key: str = "archive.local.flares_format",
) -> str | None:
    """What is wrong with a flare list, seen from its first line only; ``None`` when nothing is.

    For the config checks (before any job): a format given that its first line contradicts (the
    line :func:`detect_flare_format` recognises as another format; ``csv`` may read any list with
    a header), and, for ``csv``, a mapped or required column its header lacks. A file that does
    not exist or does not read is left to the archive rule, which reports it.
    """
    from flarepipe.archive.catalogues.table_read import read_header

    path = Path(path)
    try:
        detected = detect_flare_format(path)
    except OSError:
        return None
    fmt = str(fmt)
    if fmt not in ("auto", "") and detected and detected != fmt:
        if not (fmt == "csv" and detected in _HEADER_FORMATS):
            return (
                f"{path}: {key} is {fmt!r}, but its first line reads as {detected!r} "
                f"(flarepipe.archive.catalogues.flares.detect_flare_format); set {key}: "
                f"{detected} or auto"
            )
    if (detected if fmt == "auto" else fmt) != "csv":
        return None
    try:
        cols = read_header(path)
    except (OSError, ValueError):
        return None
    try:
        _flare_columns(cols, columns, key.rsplit("_", 1)[0] + "_columns")
    except ValueError as exc:
        return f"{path}: {exc}"
    return None


def detect_flare_format(path: str | os.PathLike) -> str:
    """The format of a flare list, from its first line (see :func:`read_flare_file`)."""
    path = Path(path)
    with open(path, errors="replace") as fh:
        first = fh.readline()
        while first and first.lstrip().startswith("#"):
            first = fh.readline()
    if first.startswith("start_utc,"):
        return "flares_csv"
    if "max_time" in first and "noaa_ar" in first:
        return "swpc_csv"
    if "event_starttime" in first:
        return "sc24_csv"
    if first.count(";") == 5 and re.match(r"^\s*\d{4}-", first):
        return "goes_txt"
    if path.suffix.lower() in (".parquet", ".pq"):
        return "csv"
    words = {w.strip().strip('"').lower() for w in re.split(r"[,;\t|]", first)}
    if words & set(FLARE_FIELDS["start"]) and words & set(FLARE_FIELDS["goes_class"]):
        return "csv"
    return ""


def read_flare_file(
    path: str | os.PathLike,
    fmt: str = "auto",
    *,
    columns: Mapping[str, str] | None = None,
    time_format: str | None = None,
    sep: str | None = None,
    key: str = "archive.local.flares_format",
) -> CatalogueResult:
    """Read a flare list in one of the known formats (``goes_txt``, ``swpc_csv``, ``sc24_csv``,
    ``flares_csv`` = an archive ``flares.csv``, ``csv`` = any table with a header, read by
    :func:`read_flare_table` with ``columns``, ``time_format`` and ``sep``), detected from the
    first line when ``fmt='auto'``. Every format goes through the same repairs
    (:func:`finalise_events`). ``key`` is the config key of the format, named in errors (the
    key of ``columns`` is the same key with ``_format`` replaced by ``_columns``).

    Raises
    ------
    ValueError
        Naming the file: an unknown format, or a file that does not parse as one (empty, not
        text, a column that does not read); bad rows of a file that parses are rejected rows.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such flare list ({key.rsplit('_', 1)[0]})")
    try:
        return _read_flare_file(path, fmt, columns, time_format, sep, key)
    except ValueError as exc:  # pandas/pyarrow parse errors and UnicodeDecodeError are ValueErrors
        if str(path) in str(exc):
            raise
        raise ValueError(
            f"{path}: cannot read as a {fmt} flare list ({type(exc).__name__}: {exc})"
        ) from exc


def _read_flare_file(
    path: Path,
    fmt: str,
    columns: Mapping[str, str] | None,
    time_format: str | None,
    sep: str | None,
    key: str,
) -> CatalogueResult:
    if fmt == "auto":
        fmt = "csv" if columns else detect_flare_format(path)
        if not fmt:
            with open(path, errors="replace") as fh:
                first = fh.readline()
            raise ValueError(
                f"{path}: unknown flare-list format (first line {first.strip()[:80]!r}); "
                f"name the format with {key}: goes_txt, swpc_csv, sc24_csv, flares_csv or csv "
                "(any table with a header, with a column map)"
            )
    ckey = key.replace("_format", "_columns") if key.endswith("_format") else f"{key}_columns"
    if fmt == "flares_csv":
        cols = dict(zip(FLARE_FIELDS, FLARE_COLUMNS[:3] + ["goes_class", "noaa_ar"], strict=True))
        res = read_flare_table(path, cols, sep=",", key=ckey)
        res.format = "flares_csv"
        return res
    if fmt == "csv":
        return read_flare_table(path, columns, time_format=time_format, sep=sep, key=ckey)
    if fmt not in _FORMATS:
        raise ValueError(f"{key} must be one of {list(FORMATS)}, got {fmt!r}")
    res = _FORMATS[fmt](path)
    res.format = fmt
    return res


# =============================================================================== HEK


def hek_windows(start, end, chunk_days: float = 30.0) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Consecutive ``[t0, t1)`` windows of ``chunk_days`` covering ``[start, end)`` (pure).
    Multi-year HEK queries hang; 30-day windows answer in seconds.
    """
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    if t1 <= t0:
        raise ValueError(f"empty HEK interval: {t0} >= {t1}")
    if chunk_days <= 0:
        raise ValueError(f"HEK chunk_days must be > 0, got {chunk_days}")
    out, t = [], t0
    step = pd.Timedelta(days=chunk_days)
    while t < t1:
        out.append((t, min(t + step, t1)))
        t = out[-1][1]
    return out


def _cell(v):
    if v is None or v is np.ma.masked:
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def hek_events_to_flares(rows: Iterable[Mapping], source: str = "hek") -> CatalogueResult:
    """Catalogue from raw HEK flare records (pure): ``event_starttime``, ``event_peaktime``,
    ``event_endtime``, ``fl_goescls``, ``ar_noaanum``; duplicates by ``kb_archivid`` (windows
    overlap at their edges) are skipped before the shared rules.
    """
    raw, seen = [], set()
    for i, r in enumerate(rows):
        r = {k: _cell(v) for k, v in dict(r).items()}
        ident = r.get("kb_archivid") or (
            r.get("event_starttime"),
            r.get("event_peaktime"),
            r.get("fl_goescls"),
            r.get("ar_noaanum"),
        )
        if ident in seen:
            continue
        seen.add(ident)
        raw.append(
            {
                "line": i,
                "raw": str(r.get("kb_archivid") or ident),
                "start": r.get("event_starttime"),
                "peak": r.get("event_peaktime"),
                "end": r.get("event_endtime"),
                "goes_class": r.get("fl_goescls") or "",
                "noaa": r.get("ar_noaanum"),
            }
        )
    return finalise_events(pd.DataFrame(raw), source)


def make_hek_client(url: str | None = None):
    """``sunpy.net.hek.HEKClient`` for ``url`` (default: the LMSAL HEK)."""
    from sunpy.net.hek import HEKClient

    return HEKClient(url=url or HEK_URL)


_HEK_FIELDS = (
    "event_starttime",
    "event_peaktime",
    "event_endtime",
    "fl_goescls",
    "ar_noaanum",
    "kb_archivid",
    "frm_name",
    "obs_observatory",
)


def query_hek(
    start,
    end,
    client=None,
    *,
    chunk_days: float = 30.0,
    frm_name: str | None = "SWPC",
    observatory: str | None = None,
    timeout_s: float = 120.0,
    retry: RetryPolicy | None = None,
    sleep=time.sleep,
) -> CatalogueResult:
    """GOES flares (``event_type='FL'``) from the HEK in ``chunk_days`` windows of ``[start, end)``.

    ``frm_name`` (default ``'SWPC'``) and/or ``observatory`` (e.g. ``'GOES'``) select the catalogue.
    Each window is retried within ``retry``; the client (``HEKClient``, see :func:`make_hek_client`)
    is passed in. Events are kept when their start lies in ``[start, end)``.
    """
    from sunpy.net import attrs as a

    client = client or make_hek_client()
    retry = retry or RetryPolicy()
    t_start, t_end = pd.Timestamp(start), pd.Timestamp(end)
    rows: list[dict] = []
    with socket_timeout(timeout_s):
        for t0, t1 in hek_windows(t_start, t_end, chunk_days):
            query = [a.Time(t0.isoformat(), t1.isoformat()), a.hek.EventType("FL")]
            if frm_name:
                query.append(a.hek.FRM.Name == frm_name)
            if observatory:
                query.append(a.hek.OBS.Observatory == observatory)
            table = call_with_retry(
                lambda q=query: client.search(*q),
                policy=retry,
                what=f"HEK query {t0:%Y-%m-%d}..{t1:%Y-%m-%d}",
                unit_id="hek",
                sleep=sleep,
            )
            raw = getattr(table, "raw", table)
            cols = [c for c in _HEK_FIELDS if c in raw.colnames]
            rows.extend({c: row[c] for c in cols} for row in raw)
            log.info("HEK %s..%s: %d events", t0.date(), t1.date(), len(raw))
    res = hek_events_to_flares(rows, source="hek")
    inside = (res.flares["start_utc"] >= t_start) & (res.flares["start_utc"] < t_end)
    res.flares = res.flares[inside].reset_index(drop=True)
    return res


# ========================================================================= config entry + files


def _time_filter(res: CatalogueResult, start, end) -> CatalogueResult:
    if start is None and end is None:
        return res
    keep = pd.Series(True, index=res.flares.index)
    if start is not None:
        keep &= res.flares["start_utc"] >= pd.Timestamp(start)
    if end is not None:
        keep &= res.flares["start_utc"] < pd.Timestamp(end)
    res.flares = res.flares[keep].reset_index(drop=True)
    return res


def build_catalogue(
    settings: CatalogueSettings | Mapping[str, Any], *, hek_client: Any = None
) -> CatalogueResult:
    """The flare catalogue the configuration asks for.

    Parameters
    ----------
    settings
        :class:`CatalogueSettings`, or the validated ``archive.catalogue`` section.
    hek_client
        A ``sunpy.net.hek.HEKClient`` (default: one for ``hek.url``, built here when needed).
    """
    c = (
        settings
        if isinstance(settings, CatalogueSettings)
        else CatalogueSettings.from_section(settings)
    )
    if c.source == "file":
        return _time_filter(
            read_flare_file(c.path, c.format, key=f"{SECTION}.format"), c.start, c.end
        )
    h = c.hek
    return query_hek(
        c.start,
        c.end,
        hek_client or make_hek_client(h.url),
        chunk_days=h.chunk_days,
        frm_name=h.frm_name,
        observatory=h.observatory,
        timeout_s=h.timeout_s,
        retry=h.retry,
    )


def write_flares(flares: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``flares.csv`` atomically: ISO UTC times with milliseconds, empty ``noaa_ar`` if
    none.
    """
    df = flares.reindex(columns=FLARE_COLUMNS).copy()
    for c in FLARE_COLUMNS[:3]:
        df[c] = to_iso_utc(pd.DatetimeIndex(df[c])) if len(df) else pd.Series(dtype=str)
    df["noaa_ar"] = df["noaa_ar"].astype("Int64")
    df["region_missing"] = df["noaa_ar"].isna()
    write_csv(df, path)


def read_flares_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a ``flares.csv`` back into the catalogue schema (timestamps, ``Int64`` regions)."""
    df = pd.read_csv(path, dtype={"goes_class": str}, keep_default_na=True)
    missing = set(FLARE_COLUMNS) - set(df.columns)
    if missing:
        raise ValueError(f"{path}: not a flares.csv (missing columns {sorted(missing)})")
    for c in FLARE_COLUMNS[:3]:
        df[c] = _parse_times(df[c]).as_unit("ns")
    df["noaa_ar"] = df["noaa_ar"].astype("Int64")
    df["region_missing"] = df["noaa_ar"].isna()
    df["peak_flux_wm2"] = df["peak_flux_wm2"].astype(float)
    return df[FLARE_COLUMNS]


def write_catalogue(
    res: CatalogueResult,
    flares_path: str | os.PathLike,
    rejected_path: str | os.PathLike | None = None,
    repaired_path: str | os.PathLike | None = None,
) -> None:
    """Write the flares (``flares.csv`` schema) and, when paths are given, the rejected and
    repaired tables.
    """
    write_flares(res.flares, flares_path)
    if rejected_path is not None:
        write_csv(res.rejected.reindex(columns=REJECT_COLUMNS), rejected_path)
    if repaired_path is not None:
        write_csv(res.repaired.reindex(columns=REJECT_COLUMNS), repaired_path)


def read_harp_noaa_map(path: str | os.PathLike) -> dict[int, list[int]]:
    """JSOC's HARP -> NOAA table (``harp_noaa_map.txt``): lines ``HARPNUM NOAA[,NOAA...]``.

    Returns ``{harpnum: [noaa, ...]}`` (numbers as given, order kept). A header line (non-numeric
    first field), blank lines and ``#`` comments are skipped; any other malformed line raises
    ``ValueError`` naming the line.
    """
    path = Path(path)
    out: dict[int, list[int]] = {}
    with open(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            parts = s.split()
            if lineno == 1 and not parts[0].isdigit():
                continue
            if len(parts) != 2 or not parts[0].isdigit():
                raise ValueError(f"{path}:{lineno}: expected 'HARPNUM NOAA[,NOAA...]', got {s!r}")
            try:
                noaa = [int(x) for x in parts[1].split(",") if x.strip() and int(x) > 0]
            except ValueError:
                raise ValueError(f"{path}:{lineno}: bad NOAA list {parts[1]!r}") from None
            out.setdefault(int(parts[0]), []).extend(
                n for n in noaa if n not in out.get(int(parts[0]), [])
            )
    return out
