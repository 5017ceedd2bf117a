"""The JSOC archive source: SHARP/SMARP keywords and magnetograms through drms, in resumable units.

Layers, as drms itself is built (``/work/shared/docs/STYLE.md``):

1. **Query (pure).** :func:`build_recordset` writes DRMS record-set strings such as
   ``hmi.sharp_cea_720s[377][2011.02.14_00:00:00_TAI/2d@96m][? QUALITY<65536 ?]{magnetogram}``;
   :func:`plan_units` splits the configured series x time range (or region list) into small units
   that Snakemake runs in parallel and reruns one by one.
2. **Send (HTTP).** :func:`fetch_unit` talks to the server through a ``drms.Client`` that the caller
   builds (:func:`make_client`) and passes in - a custom base URL (mirror, local NetDRMS, the test
   server) takes exactly the same code path as ``'jsoc'``. Files are fetched by
   :func:`flarepipe.io.download.download_file` (``.part`` + rename, HTTP ``Range`` resume).
3. **Parse (pure).** :func:`keywords_to_records` turns the keyword table into ``records.csv`` rows
   (``docs/FILES.md``), TAI ``T_REC`` converted once to UTC; rows that cannot be converted go to a
   rejected table with a reason. :func:`parse_export_record` reads export answers' record names.
4. **Convert.** :func:`merge_units` writes the archive layout: ``records.csv``, ``flares.csv``,
   ``manifest.json`` and ``fits/<series>/<JSOC file name>``.

Real JSOC behaviour handled in :func:`fetch_unit`:

* one pending export per user (``exp_request`` answers status 7, "User ... has 1 pending export
  requests"): wait and ask again, up to ``jsoc.pending_export_wait_s``;
* failed (status 4) and expired (status 5) exports and "request not found" (6): submit again;
  a request id is kept in ``units/<unit>/export.json`` so a rerun reuses a finished export;
* slow status: polled every ``jsoc.poll_interval_s`` up to ``jsoc.export_timeout_s``;
* HTTP 5xx, timeouts, resets, truncated bodies: retried with backoff within ``jsoc.retry``; when the
  budget is spent :class:`flarepipe.io.download.RetryBudgetExceeded` names the unit and the last error.

Resume: a file counts as done once it is under its final name and listed (size, SHA-256) in the
unit's ledger ``units/<unit>/files.jsonl``; nothing done is fetched again; an interrupted
transfer resumes from its ``.part`` file. The export e-mail (``jsoc.email`` or
``$FLAREPIPE_JSOC_EMAIL``) is never written to files, manifests or logs: it is redacted from drms's
log records and from every error.

Unit folder ``<archive>/units/<unit_id>/``: ``records.csv``, ``rejected.csv``, ``files.jsonl``,
``export.json`` and, written last, ``unit.json`` (the unit's Snakemake output).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import numpy as np
import pandas as pd

from flarepipe import __version__
from flarepipe.archive.layout import RECORD_COLUMNS as _ARCHIVE_RECORD_COLUMNS
from flarepipe.io.atomic import sha256_file, write_csv, write_json
from flarepipe.io.download import (
    PermanentError,
    RetryBudgetExceeded,
    RetryPolicy,
    TransientError,
    UnsafeFilenameError,
    call_with_retry,
    download_file,
    redact,
    safe_filename,
    safe_join,
    socket_timeout,
)
from flarepipe.io.fitsio import KEYWORD_COLUMNS, SERIES_INFO, header_to_record, jsoc_filename, read_patch
from flarepipe.core.timeutil import format_trec, parse_trec, to_iso_utc

__all__ = [
    "EMAIL_ENV",
    "SERIES_SPANS",
    "RECORD_COLUMNS",
    "JsocSettings",
    "Unit",
    "UnitError",
    "ExportFailed",
    "build_recordset",
    "quality_clause",
    "format_duration",
    "plan_units",
    "get_unit",
    "resolve_email",
    "make_server_config",
    "make_client",
    "keywords_to_records",
    "parse_export_record",
    "normalise_noaa_ars",
    "fetch_unit",
    "run_unit",
    "merge_units",
]

log = logging.getLogger(__name__)

#: environment variable holding the JSOC export e-mail (wins over ``jsoc.email``)
EMAIL_ENV = "FLAREPIPE_JSOC_EMAIL"

#: mission spans (TAI) used to clip the configured time range per series
SERIES_SPANS: dict[str, tuple[str, str | None]] = {
    "hmi.sharp_cea_720s": ("2010-05-01", None),
    "mdi.smarp_cea_96m": ("1996-04-01", "2010-10-29"),
}

#: the records.csv columns of docs/FILES.md, in order (owned by :mod:`flarepipe.archive.layout`)
RECORD_COLUMNS: list[str] = list(_ARCHIVE_RECORD_COLUMNS)

_REJECT_COLUMNS = ["series", "row", "reason", "raw"]
_RECORD_TEXT = {
    c: str for c in ("series", "instrument", "region_id", "t_rec", "t_rec_tai", "noaa_ars", "path")
}
_RECORD_FLOATS = ("lat_fwt", "lon_fwt", "obs_vr", *KEYWORD_COLUMNS)
_BASE_KEYS = ("T_REC", "NOAA_ARS", "QUALITY", "LAT_FWT", "LON_FWT", "OBS_VR")
_SERIES_RE = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")
_CADENCE_RE = re.compile(r"^(\d+)([smhd])$")
_UNIT_ID_RE = re.compile(r"^[A-Za-z0-9_.-]+$")

#: exports use method 'url' + protocol 'fits': files carry the record's keywords in their headers
#: and are named ``<series>.<region>.<T_REC>.<segment>.fits`` (``url_quick``/``as-is`` files are
#: bare SUMS files, all called ``magnetogram.fits``)
EXPORT_METHOD, EXPORT_PROTOCOL = "url", "fits"

# JSOC export status codes (jsoc_fetch op=exp_request / exp_status)
STATUS_OK, STATUS_PROCESSING, STATUS_QUEUED = 0, 1, 2
STATUS_TOO_LARGE, STATUS_FAILED, STATUS_EXPIRED, STATUS_NOT_FOUND = 3, 4, 5, 6
STATUS_PENDING_LIMIT = 7  # "User ... has 1 pending export requests": one pending export per user


class UnitError(PermanentError):
    """A unit cannot be fetched as configured (bad query, unsupported server, no e-mail)."""


class ExportFailed(TransientError):
    """An export failed or expired on the server; a new export request is worth a try."""


# =============================================================================== settings


def _section(cfg: Mapping | None, name: str) -> dict:
    if cfg is None:
        return {}
    if name in cfg and isinstance(cfg[name], Mapping):
        return dict(cfg[name])
    return dict(cfg)


def _positive(sec: str, key: str, value: Any, *, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"config.yaml: {sec}.{key} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(
            f"config.yaml: {sec}.{key} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}"
        )
    return v


def _retry_from(d: Mapping | None, sec: str) -> RetryPolicy:
    d = dict(d or {})
    unknown = set(d) - {f.name for f in dataclasses.fields(RetryPolicy)}
    if unknown:
        raise ValueError(f"config.yaml: unknown keys in {sec}: {sorted(unknown)}")
    try:
        return RetryPolicy(**d)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"config.yaml: {sec}: {exc}") from None


@dataclass(frozen=True)
class JsocSettings:
    """Everything :func:`plan_units` and :func:`fetch_unit` read from the ``jsoc`` config section.

    The export e-mail is deliberately not a field (see :func:`resolve_email`): settings are written
    to manifests. Defaults are listed in :meth:`from_config`.
    """

    server: str = "jsoc"
    cgi_path: str = "cgi-bin/ajax/"
    series: tuple[str, ...] = ("hmi.sharp_cea_720s", "mdi.smarp_cea_96m")
    start: str | None = None
    end: str | None = None
    chunk_days: float = 30.0
    regions: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    cadence: str | None = "96m"
    where: str | None = None
    max_quality: int | None = None
    segment: str = "magnetogram"
    download_images: bool = True
    keywords: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {k: tuple(v) for k, v in KEYWORD_COLUMNS.items()}
    )
    timeout_s: float = 60.0
    poll_interval_s: float = 10.0
    export_timeout_s: float = 3600.0
    pending_export_wait_s: float = 7200.0
    notfound_polls: int = 5
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    progress: bool | None = None
    verify_existing: bool = False

    @classmethod
    def from_config(cls, cfg: Mapping | None) -> JsocSettings:
        """Read and check ``cfg['jsoc']`` (or ``cfg`` itself when it is the section).

        Keys and defaults: ``server: jsoc`` (``jsoc``, ``kis`` or a base URL such as
        ``http://127.0.0.1:8080/``), ``cgi_path: cgi-bin/ajax/`` (CGI folder under a base URL),
        ``series: [hmi.sharp_cea_720s, mdi.smarp_cea_96m]``, ``start: null`` / ``end: null``
        (JSOC grid times, read as TAI; null = mission span), ``chunk_days: 30``,
        ``regions: {}`` (series -> region numbers; one unit per region when given),
        ``cadence: 96m`` (null = native), ``where: null`` (SQL clause, e.g. ``LON_FWT<70``),
        ``max_quality: null`` (keep records with ``QUALITY < max_quality``, e.g. 65536),
        ``segment: magnetogram``, ``download_images: true``, ``keywords`` (archive column ->
        JSOC keywords, first present; default :data:`flarepipe.io.fitsio.KEYWORD_COLUMNS`),
        ``timeout_s: 60``,
        ``poll_interval_s: 10``, ``export_timeout_s: 3600``, ``pending_export_wait_s: 7200``,
        ``notfound_polls: 5``, ``retry: {max_attempts: 6, base_delay_s: 5, max_delay_s: 300,
        budget_s: 3600, jitter: 0.25}``, ``progress: null`` (tqdm bar when stderr is a tty),
        ``verify_existing: false`` (re-hash completed files on a rerun), ``email: null``.
        """
        d = _section(cfg, "jsoc")
        d.pop("email", None)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"config.yaml: unknown keys in jsoc: {sorted(unknown)}")
        kw: dict[str, Any] = {}
        if "server" in d:
            if not isinstance(d["server"], str) or not d["server"].strip():
                raise ValueError(
                    f"config.yaml: jsoc.server must be 'jsoc', 'kis' or a URL, got {d['server']!r}"
                )
            kw["server"] = d["server"].strip()
        if "cgi_path" in d:
            kw["cgi_path"] = str(d["cgi_path"])
        if "series" in d:
            series = [d["series"]] if isinstance(d["series"], str) else list(d["series"])
            for s in series:
                if s not in SERIES_INFO:
                    raise ValueError(
                        f"config.yaml: jsoc.series: unknown series {s!r} "
                        f"(known: {sorted(SERIES_INFO)})"
                    )
            if not series:
                raise ValueError("config.yaml: jsoc.series must name at least one series")
            kw["series"] = tuple(series)
        for key in ("start", "end"):
            if d.get(key) is not None:
                try:
                    pd.Timestamp(str(d[key]))
                except ValueError:
                    raise ValueError(
                        f"config.yaml: jsoc.{key} must be a date/time, got {d[key]!r}"
                    ) from None
                kw[key] = str(d[key])
        if (
            kw.get("start")
            and kw.get("end")
            and pd.Timestamp(kw["start"]) >= pd.Timestamp(kw["end"])
        ):
            raise ValueError(
                f"config.yaml: jsoc.start must be before jsoc.end, got {kw['start']} >= {kw['end']}"
            )
        if "chunk_days" in d:
            kw["chunk_days"] = _positive("jsoc", "chunk_days", d["chunk_days"])
        if d.get("regions"):
            regions = {}
            for s, nums in dict(d["regions"]).items():
                if s not in SERIES_INFO:
                    raise ValueError(f"config.yaml: jsoc.regions: unknown series {s!r}")
                try:
                    regions[s] = tuple(sorted({int(n) for n in nums}))
                except (TypeError, ValueError):
                    raise ValueError(
                        f"config.yaml: jsoc.regions.{s} must be a list of integers, got {nums!r}"
                    ) from None
                if any(n <= 0 for n in regions[s]):
                    raise ValueError(f"config.yaml: jsoc.regions.{s}: region numbers must be > 0")
            kw["regions"] = regions
        if "cadence" in d:
            cad = d["cadence"]
            if cad not in (None, "") and not _CADENCE_RE.match(str(cad)):
                raise ValueError(
                    f"config.yaml: jsoc.cadence must look like '96m' or be null, got {cad!r}"
                )
            kw["cadence"] = str(cad) if cad else None
        if "where" in d:
            kw["where"] = str(d["where"]) if d["where"] else None
            if kw["where"]:
                _check_where(kw["where"])
        if d.get("max_quality") is not None:
            mq = d["max_quality"]
            try:
                mq = int(mq, 0) if isinstance(mq, str) else int(mq)
            except (TypeError, ValueError):
                raise ValueError(
                    f"config.yaml: jsoc.max_quality must be an integer (e.g. 65536), got {mq!r}"
                ) from None
            if mq <= 0:
                raise ValueError(f"config.yaml: jsoc.max_quality must be > 0, got {mq}")
            kw["max_quality"] = mq
        if "segment" in d:
            if not re.match(r"^\w+$", str(d["segment"])):
                raise ValueError(
                    f"config.yaml: jsoc.segment must be a segment name, got {d['segment']!r}"
                )
            kw["segment"] = str(d["segment"])
        for key in ("download_images", "verify_existing"):
            if key in d:
                kw[key] = bool(d[key])
        if "progress" in d:
            kw["progress"] = None if d["progress"] is None else bool(d["progress"])
        if "keywords" in d:
            kws = {k: tuple(v) for k, v in cls().keywords.items()}
            for col, names in dict(d["keywords"]).items():
                if col not in KEYWORD_COLUMNS:
                    raise ValueError(
                        f"config.yaml: jsoc.keywords: unknown archive column {col!r} "
                        f"(known: {list(KEYWORD_COLUMNS)})"
                    )
                kws[col] = (names,) if isinstance(names, str) else tuple(names)
            kw["keywords"] = kws
        for key in ("timeout_s", "poll_interval_s", "export_timeout_s", "pending_export_wait_s"):
            if key in d:
                kw[key] = _positive("jsoc", key, d[key], allow_zero=key != "timeout_s")
        if "notfound_polls" in d:
            kw["notfound_polls"] = int(
                _positive("jsoc", "notfound_polls", d["notfound_polls"], allow_zero=True)
            )
        if "retry" in d:
            kw["retry"] = _retry_from(d["retry"], "jsoc.retry")
        return cls(**kw)

    def to_dict(self) -> dict:
        """JSON-ready view (for manifests); holds no secret."""
        out = dataclasses.asdict(self)
        out["series"] = list(self.series)
        out["regions"] = {k: list(v) for k, v in self.regions.items()}
        out["keywords"] = {k: list(v) for k, v in self.keywords.items()}
        return out


def resolve_email(cfg: Mapping | None = None) -> str | None:
    """The JSOC export e-mail: ``$FLAREPIPE_JSOC_EMAIL`` if set, else ``jsoc.email``, else None.

    The environment wins so that an address need never be committed in ``config.yaml``.
    """
    env = os.environ.get(EMAIL_ENV, "").strip()
    if env:
        return env
    value = _section(cfg, "jsoc").get("email")
    return str(value).strip() if value else None


# =============================================================================== query layer (pure)


def _check_where(where: str) -> None:
    if re.search(r"[\[\]{}?]", where):
        raise ValueError(f"jsoc where clause must not contain brackets, braces or '?': {where!r}")


def quality_clause(max_quality: int | None = None, where: str | None = None) -> str | None:
    """The ``[? ... ?]`` clause of a unit (pure): ``QUALITY<max_quality`` and/or ``where``.

    >>> quality_clause(65536, "LON_FWT<70")
    'QUALITY<65536 AND (LON_FWT<70)'
    """
    parts = []
    if max_quality is not None:
        parts.append(f"QUALITY<{int(max_quality)}")
    if where:
        _check_where(where)
        parts.append(f"({where.strip()})" if parts else where.strip())
    return " AND ".join(parts) or None


def format_duration(delta: pd.Timedelta) -> str:
    """DRMS duration string: whole days as ``'30d'``, else whole minutes (``'90m'``) or seconds."""
    secs = delta.total_seconds()
    if secs <= 0:
        raise ValueError(f"duration must be positive, got {delta}")
    if secs % 86400 == 0:
        return f"{int(secs // 86400)}d"
    if secs % 60 == 0:
        return f"{int(secs // 60)}m"
    return f"{int(math.ceil(secs))}s"


def _as_tai(t: str | pd.Timestamp) -> pd.Timestamp:
    """A JSOC grid time: a ``T_REC`` string, or a date/time read as TAI."""
    if isinstance(t, pd.Timestamp):
        return t
    s = str(t).strip()
    m = re.match(
        r"^(\d{4})\.(\d{2})\.(\d{2})(?:_(\d{2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?)?(?:_TAI)?$", s
    )
    if m:
        y, mo, d, h, mi, sec = m.groups()
        return pd.Timestamp(f"{y}-{mo}-{d}T{h or '00'}:{mi or '00'}:{float(sec or 0):06.3f}")
    return pd.Timestamp(s).tz_localize(None) if pd.Timestamp(s).tzinfo else pd.Timestamp(s)


def build_recordset(
    series: str,
    *,
    regions: Iterable[int] = (),
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    cadence: str | None = None,
    where: str | None = None,
    segments: Iterable[str] = (),
) -> str:
    """DRMS record-set string for a SHARP/SMARP query (pure).

    ``[regions][start/duration@cadence][? where ?]{segments}``; ``start``/``end`` are JSOC grid
    times (TAI) and select ``start <= T_REC < end`` (DRMS ``start/duration``). Examples::

        >>> build_recordset("hmi.sharp_cea_720s", regions=[377], start="2011-02-14",
        ...                 end="2011-02-16", cadence="96m", segments=["magnetogram"])
        'hmi.sharp_cea_720s[377][2011.02.14_00:00:00_TAI/2d@96m]{magnetogram}'
        >>> build_recordset("mdi.smarp_cea_96m", start="2010-07-01", end="2010-08-01",
        ...                 where="QUALITY=0")
        'mdi.smarp_cea_96m[][2010.07.01_00:00:00_TAI/31d][? QUALITY=0 ?]'

    Raises ``ValueError`` on an unknown series syntax, a bad cadence, an empty or reversed interval,
    a cadence without an interval, or a where clause that could break out of its brackets.
    """
    if not _SERIES_RE.match(series):
        raise ValueError(f"not a DRMS series name: {series!r}")
    regs = sorted({int(r) for r in regions})
    if any(r <= 0 for r in regs):
        raise ValueError(f"region numbers must be positive, got {regs}")
    out = series + "[" + ",".join(str(r) for r in regs) + "]"
    if (start is None) != (end is None):
        raise ValueError("give both start and end, or neither")
    if start is not None:
        t0, t1 = _as_tai(start), _as_tai(end)
        if t1 <= t0:
            raise ValueError(f"empty time interval: start {t0} >= end {t1}")
        spec = f"{format_trec(t0)}/{format_duration(t1 - t0)}"
        if cadence:
            if not _CADENCE_RE.match(cadence):
                raise ValueError(f"cadence must look like '96m', got {cadence!r}")
            spec += f"@{cadence}"
        out += f"[{spec}]"
    elif cadence:
        raise ValueError("a cadence needs a time interval (start and end)")
    if where:
        _check_where(where)
        if start is None:
            out += "[]"
        out += f"[? {where.strip()} ?]"
    segs = [str(s) for s in segments]
    for s in segs:
        if not re.match(r"^\w+$", s):
            raise ValueError(f"not a segment name: {s!r}")
    if segs:
        out += "{" + ",".join(segs) + "}"
    return out


def _cadence_minutes(cadence: str | None) -> float | None:
    if not cadence:
        return None
    n, unit = _CADENCE_RE.match(cadence).groups()
    return int(n) * {"s": 1 / 60, "m": 1, "h": 60, "d": 1440}[unit]


def _floor_to_grid(t: pd.Timestamp, cadence: str | None) -> pd.Timestamp:
    """Floor to the cadence grid counted from midnight, so that chunked ``@96m`` samples line up."""
    minutes = _cadence_minutes(cadence)
    day = t.normalize()
    if not minutes or (1440 % minutes):
        return t
    k = math.floor((t - day).total_seconds() / 60 / minutes)
    return day + pd.Timedelta(minutes=k * minutes)


@dataclass(frozen=True)
class Unit:
    """One independently fetched and rerun piece of the JSOC download.

    ``start``/``end`` are TAI grid times as ``T_REC`` strings: records with
    ``start <= T_REC < end``.
    ``regions`` empty means every region of the series in that interval.
    """

    unit_id: str
    series: str
    start: str
    end: str
    regions: tuple[int, ...] = ()
    cadence: str | None = "96m"
    where: str | None = None
    segment: str = "magnetogram"
    download: bool = True

    def recordset(self, with_segment: bool = False) -> str:
        """The unit's DRMS record set (with ``{segment}`` for exports)."""
        return build_recordset(
            self.series,
            regions=self.regions,
            start=self.start,
            end=self.end,
            cadence=self.cadence,
            where=self.where,
            segments=[self.segment] if with_segment else (),
        )

    def to_dict(self) -> dict:
        """JSON-ready view."""
        d = dataclasses.asdict(self)
        d["regions"] = list(self.regions)
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> Unit:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["regions"] = tuple(int(r) for r in d.get("regions", ()))
        return cls(**d)


def _series_span(settings: JsocSettings, series: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    lo, hi = SERIES_SPANS[series]
    start = pd.Timestamp(lo)
    end = pd.Timestamp(hi) if hi else pd.Timestamp.now().normalize() + pd.Timedelta(days=1)
    if settings.start:
        start = max(start, _as_tai(settings.start))
    if settings.end:
        end = min(end, _as_tai(settings.end))
    start = _floor_to_grid(start, settings.cadence)
    return (start, end) if start < end else None


def plan_units(cfg: Mapping | JsocSettings) -> list[Unit]:
    """Split the configured download into units (pure; no network).

    Without ``jsoc.regions`` a series' time range (the configured ``start``/``end`` clipped to the
    mission, start floored to the cadence grid from midnight) is cut into ``chunk_days`` windows,
    each chunk starting where the previous one ended; with ``jsoc.regions`` there is one unit per
    region over the whole range. Unit ids are safe file names and Snakemake wildcards, e.g.
    ``hmi.sharp_cea_720s.20110201-20110303`` or ``mdi.smarp_cea_96m.TARP13520``.
    """
    s = cfg if isinstance(cfg, JsocSettings) else JsocSettings.from_config(cfg)
    units: list[Unit] = []
    for series in s.series:
        span = _series_span(s, series)
        if span is None:
            continue
        start, end = span
        common = dict(
            series=series,
            cadence=s.cadence,
            where=quality_clause(s.max_quality, s.where),
            segment=s.segment,
            download=s.download_images,
        )
        regions = s.regions.get(series, ())
        if regions:
            prefix = SERIES_INFO[series]["prefix"]
            for r in regions:
                units.append(
                    Unit(
                        unit_id=f"{series}.{prefix}{r}",
                        start=format_trec(start),
                        end=format_trec(end),
                        regions=(r,),
                        **common,
                    )
                )
            continue
        step = pd.Timedelta(days=s.chunk_days)
        t = start
        while t < end:
            t1 = min(t + step, end)
            uid = f"{series}.{t:%Y%m%d}-{t1:%Y%m%d}"
            if t.normalize() != t or t1.normalize() != t1:
                uid = f"{series}.{t:%Y%m%dT%H%M}-{t1:%Y%m%dT%H%M}"
            units.append(Unit(unit_id=uid, start=format_trec(t), end=format_trec(t1), **common))
            t = t1
    ids = [u.unit_id for u in units]
    if len(set(ids)) != len(ids):
        raise ValueError("jsoc: unit ids are not unique; use whole-day jsoc.chunk_days")
    return units


def get_unit(cfg: Mapping | JsocSettings, unit_id: str) -> Unit:
    """The planned unit called ``unit_id`` (what a Snakemake job receives as wildcard)."""
    for u in plan_units(cfg):
        if u.unit_id == unit_id:
            return u
    raise KeyError(
        f"jsoc: no unit {unit_id!r} in the current plan (config changed since the DAG was built?)"
    )


# =============================================================================== client


def make_server_config(server: str, cgi_path: str = "cgi-bin/ajax/"):
    """``drms.ServerConfig`` for a base URL (mirror, local NetDRMS, test server).

    ``http://host:port/`` serves the CGIs under ``cgi_path`` (``jsoc_info``, ``jsoc_fetch``,
    ``show_series``, ``checkAddress.sh``) and export files under the base URL, as JSOC does.
    """
    import drms

    base = server if server.endswith("/") else server + "/"
    return drms.ServerConfig(
        name=f"mirror:{base}",
        cgi_baseurl=urljoin(base, cgi_path),
        cgi_show_series="show_series",
        cgi_jsoc_info="jsoc_info",
        cgi_jsoc_fetch="jsoc_fetch",
        cgi_check_address="checkAddress.sh",
        http_download_baseurl=base,
    )


def make_client(cfg: Mapping | JsocSettings):
    """A ``drms.Client`` for ``jsoc.server``: ``'jsoc'``, ``'kis'`` or a base URL.

    No e-mail is set on the client (that would make drms call ``checkAddress`` at construction);
    :func:`fetch_unit` passes it to each export request.
    """
    import drms

    s = cfg if isinstance(cfg, JsocSettings) else JsocSettings.from_config(cfg)
    if re.match(r"^https?://", s.server):
        return drms.Client(server=make_server_config(s.server, s.cgi_path))
    try:
        return drms.Client(server=s.server.lower())
    except KeyError:
        raise ValueError(
            f"config.yaml: jsoc.server {s.server!r} is neither a drms server name ('jsoc', 'kis') "
            "nor an http(s):// base URL"
        ) from None


# =============================================================================== parse layer (pure)


def normalise_noaa_ars(value: object) -> str:
    """``'11158,11159'`` from a JSOC NOAA_ARS value; ``''`` for none (0, MISSING, NaN, blanks)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    nums = []
    for tok in re.split(r"[,\s;]+", str(value)):
        if tok.isdigit() and int(tok) > 0 and int(tok) not in nums:
            nums.append(int(tok))
    return ",".join(str(n) for n in nums)


def _pick(kdf: pd.DataFrame, names: Sequence[str]) -> pd.Series:
    for n in names:
        if n in kdf.columns:
            return pd.to_numeric(kdf[n], errors="coerce").astype(float)
    return pd.Series(np.nan, index=kdf.index, dtype=float)


def _quality_int(v: object) -> int | None:
    if v is None:
        return None
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(v) else int(v)
    s = str(v).strip()
    try:
        return int(s, 16) if s.lower().startswith("0x") else int(float(s))
    except ValueError:
        return None


_TREC_RE = re.compile(
    r"^\d{4}\.\d{2}\.\d{2}_\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:_(?:TAI|UTC|UT|Z))?$"
)


def keywords_to_records(
    kdf: pd.DataFrame, series: str, keywords: Mapping[str, Sequence[str]] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """records.csv rows (``docs/FILES.md``) from a drms keyword table; ``(records, rejected)``.

    ``T_REC`` (TAI) is converted once to UTC (``t_rec``) and kept as given (``t_rec_tai``). Archive
    keyword columns take the first JSOC keyword of ``keywords[col]`` present in ``kdf`` (NaN when
    none is). ``nx``/``ny`` are 0 and ``path`` empty until a file is attached. Rows with an
    unreadable ``T_REC`` (JSOC writes ``MISSING``), region number or ``QUALITY`` go to ``rejected``
    (``series, row, reason, raw``) rather than being dropped silently.
    """
    info = SERIES_INFO[series]
    keywords = keywords or KEYWORD_COLUMNS
    kdf = kdf.reset_index(drop=True)
    n = len(kdf)
    regkey = info["regkey"]
    region = (
        pd.to_numeric(kdf[regkey], errors="coerce")
        if regkey in kdf.columns
        else pd.Series(np.nan, index=kdf.index)
    )
    trec = (
        kdf["T_REC"].astype(str).str.strip()
        if "T_REC" in kdf.columns
        else pd.Series("", index=kdf.index)
    )
    if "QUALITY" in kdf.columns:
        quality = pd.Series(
            [_quality_int(v) for v in kdf["QUALITY"]], index=kdf.index, dtype=object
        )
    else:
        quality = pd.Series([0] * n, index=kdf.index, dtype=object)
    reason = pd.Series([""] * n, index=kdf.index, dtype=object)
    bad_q = quality.isna()
    reason[bad_q] = (
        ["bad QUALITY " + repr(v) for v in kdf.loc[bad_q, "QUALITY"]] if bad_q.any() else []
    )
    bad_t = ~trec.str.match(_TREC_RE)
    reason[bad_t] = ["bad T_REC " + repr(v) for v in trec[bad_t]]
    bad_r = region.isna() | (region <= 0)
    reason[bad_r] = [
        f"bad {regkey} " + repr(v)
        for v in (kdf[regkey] if regkey in kdf.columns else region)[bad_r]
    ]
    bad = reason != ""
    rejected = pd.DataFrame(
        {
            "series": series,
            "row": np.flatnonzero(bad.to_numpy()),
            "reason": reason[bad].to_numpy(),
            "raw": [
                json.dumps(kdf.loc[i].to_dict(), default=str, sort_keys=True)
                for i in kdf.index[bad]
            ],
        },
        columns=_REJECT_COLUMNS,
    )
    good = kdf.index[~bad]
    rec = pd.DataFrame(
        {
            "series": series,
            "instrument": info["instrument"],
            "region": region[good].astype("int64").to_numpy(),
        }
    )
    rec["region_id"] = [f"{info['prefix']}{r}" for r in rec["region"]]
    rec["t_rec"] = to_iso_utc(parse_trec(trec[good])) if len(good) else pd.Series(dtype=str)
    rec["t_rec_tai"] = trec[good].to_numpy()
    rec["noaa_ars"] = (
        [normalise_noaa_ars(v) for v in kdf.loc[good, "NOAA_ARS"]]
        if "NOAA_ARS" in kdf.columns
        else ""
    )
    rec["quality"] = quality[good].astype("int64").to_numpy()
    for col in ("lat_fwt", "lon_fwt", "obs_vr"):
        rec[col] = _pick(kdf, [col.upper()])[good].to_numpy()
    for col, names in keywords.items():
        rec[col] = _pick(kdf, names)[good].to_numpy()
    rec["nx"] = 0
    rec["ny"] = 0
    rec["path"] = ""
    rec = rec.reindex(columns=RECORD_COLUMNS)
    rec = rec.sort_values(["series", "region", "t_rec"], kind="stable").reset_index(drop=True)
    return rec, rejected


_RECORD_RE = re.compile(r"^\s*(?P<series>[\w.]+)\[(?P<region>\d+)\]\[(?P<trec>[^\]]+)\]")


def parse_export_record(record: str) -> tuple[str, int, str] | None:
    """``(series, region, T_REC)`` from an export answer's record name, or None.

    ``'hmi.sharp_cea_720s[377][2011.02.15_02:00:00_TAI]{magnetogram}'`` ->
    ``('hmi.sharp_cea_720s', 377, '2011.02.15_02:00:00_TAI')``.
    """
    m = _RECORD_RE.match(str(record or ""))
    if not m:
        return None
    return m.group("series"), int(m.group("region")), m.group("trec").strip()


# =============================================================================== send layer


class _RedactFilter(logging.Filter):
    def __init__(self, secrets: tuple[str | None, ...]):
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001
            return True
        red = redact(msg, *self.secrets)
        if red != msg:
            record.msg, record.args = red, ()
        return True


@contextlib.contextmanager
def _redacting_logs(*secrets: str | None) -> Iterator[None]:
    """Redact secrets from drms's and our own log records while the block runs."""
    if not any(secrets):
        yield
        return
    flt = _RedactFilter(secrets)
    loggers = [logging.getLogger("drms"), log, logging.getLogger("flarepipe")]
    for lg in loggers:
        lg.addFilter(flt)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeFilter(flt)


def _progress_bar(total: int, desc: str, enabled: bool | None):
    from tqdm import tqdm

    # disable=None: tqdm switches itself off when stderr is not a tty
    return tqdm(
        total=total,
        desc=desc,
        unit="file",
        disable=None if enabled is None else not enabled,
        leave=False,
    )


class _Ledger:
    """Append-only record of the files a unit has completed (JSON lines; a torn last line from a
    killed job is ignored)."""

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, dict] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    e = json.loads(line)
                    self.entries[e["name"]] = e
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue

    def add(self, entry: dict) -> None:
        self.entries[entry["name"]] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


class _Fetcher:
    """State of one :func:`fetch_unit` call (kept small; the steps are methods for readability)."""

    def __init__(
        self,
        unit: Unit,
        client,
        archive_dir: Path,
        settings: JsocSettings,
        email: str | None,
        sleep,
        clock,
    ):
        self.unit, self.client, self.settings, self.email = unit, client, settings, email
        self.archive = archive_dir
        self.unit_dir = archive_dir / "units" / unit.unit_id
        self.fits_dir = archive_dir / "fits" / unit.series
        self.sleep, self.clock = sleep, clock
        self.ledger: _Ledger | None = None
        self.stats = {
            "retries": 0,
            "export_requests": 0,
            "status_polls": 0,
            "files_downloaded": 0,
            "files_skipped": 0,
            "bytes_downloaded": 0,
            "pending_limit_waits": 0,
        }

    # -- helpers
    def retry(self, fn, what: str):
        def on_retry(n, exc, delay):
            self.stats["retries"] += 1
            log.warning(
                "unit %s: %s failed (%s); retry %d in %.1f s",
                self.unit.unit_id,
                what,
                redact(f"{type(exc).__name__}: {exc}", self.email),
                n,
                delay,
            )

        return call_with_retry(
            fn,
            policy=self.settings.retry,
            what=what,
            unit_id=self.unit.unit_id,
            secrets=(self.email,),
            sleep=self.sleep,
            clock=self.clock,
            on_retry=on_retry,
        )

    def fail(self, msg: str) -> UnitError:
        return UnitError(f"unit {self.unit.unit_id}: {redact(msg, self.email)}")

    # -- keywords
    def query_keywords(self) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
        s, u = self.settings, self.unit
        import drms

        def keys():
            return list(self.client.keys(u.series))

        try:
            available = set(self.retry(keys, f"series info of {u.series}"))
        except PermanentError as exc:
            raise self.fail(f"cannot read the series description of {u.series}: {exc}") from None
        info = SERIES_INFO[u.series]
        wanted = [info["regkey"], *_BASE_KEYS]
        chosen: dict[str, tuple[str, ...]] = {}
        missing = []
        for col, names in s.keywords.items():
            present = tuple(n for n in names if n in available)
            chosen[col] = present
            wanted += [n for n in present if n not in wanted]
            if not present:
                missing.append(f"{col} (none of {list(names)})")
        wanted = [k for k in wanted if k in available or k in (info["regkey"], "T_REC")]
        rs = u.recordset()

        def query():
            try:
                # QUALITY comes as hex ('0x00000400'); drms 0.9 converts hex only for object
                # columns, which pandas >= 3 no longer makes (str dtype) -> NaN: parse it here.
                return self.client.query(rs, key=wanted, skip_conversion=["QUALITY", "NOAA_ARS"])
            except drms.DrmsQueryError as exc:
                raise PermanentError(f"JSOC refused the keyword query {rs!r}: {exc}") from None

        kdf = self.retry(query, f"keyword query {rs}")
        records, rejected = keywords_to_records(kdf, u.series, chosen)
        return records, rejected, missing

    # -- export
    def _state_path(self) -> Path:
        return self.unit_dir / "export.json"

    def _load_state(self) -> dict:
        try:
            return json.loads(self._state_path().read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def _save_state(self, requestid: str | None, rs: str) -> None:
        write_json(
            {
                "requestid": requestid,
                "recordset": rs,
                "method": EXPORT_METHOD,
                "protocol": EXPORT_PROTOCOL,
                "submitted_utc": pd.Timestamp.now("UTC").isoformat(),
            },
            self._state_path(),
        )

    def _export_call(self, rs: str):
        import drms

        s = self.settings
        try:
            return self.client.export(
                rs, method=EXPORT_METHOD, protocol=EXPORT_PROTOCOL, email=self.email
            )
        except drms.DrmsOperationNotSupported:
            raise self.fail(
                f"server {s.server!r} does not support exports; set "
                "jsoc.download_images: false or use server 'jsoc'"
            ) from None

    def _submit(self, rs: str):
        """Submit an export; waits while JSOC says this user already has a pending export."""
        s = self.settings
        t0 = self.clock()
        waits = 0
        while True:
            self.stats["export_requests"] += 1
            req = self.retry(lambda: self._export_call(rs), f"export request {rs}")
            status = int(req.status)
            if status != STATUS_PENDING_LIMIT:
                break
            waits += 1
            self.stats["pending_limit_waits"] += 1
            elapsed = self.clock() - t0
            if elapsed >= s.pending_export_wait_s:
                raise RetryBudgetExceeded(
                    f"unit {self.unit.unit_id}: JSOC still reports a pending export request for "
                    f"this user after {elapsed:.0f} s ({waits} tries; status 7: one pending export "
                    "per user). Let the other export finish (or run fewer jsoc jobs at once), then "
                    "rerun; or raise jsoc.pending_export_wait_s."
                )
            delay = max(s.poll_interval_s, s.retry.delay(waits))
            log.info(
                "unit %s: JSOC allows one pending export per user; asking again in %.0f s",
                self.unit.unit_id,
                delay,
            )
            self.sleep(delay)
        if status == STATUS_TOO_LARGE:
            raise self.fail(
                f"JSOC refused the export {rs!r} as too large (status 3); lower jsoc.chunk_days"
            )
        if status not in (STATUS_OK, STATUS_PROCESSING, STATUS_QUEUED, STATUS_NOT_FOUND):
            raise ExportFailed(f"export request {rs!r} was refused (status {status})")
        self._save_state(req.id, rs)
        return req

    def _wait(self, req) -> None:
        """Poll the export status until it is finished, within ``export_timeout_s``."""
        s = self.settings
        t0 = self.clock()
        notfound = 0
        while True:
            status = int(req.status)
            if status == STATUS_OK:
                return
            if status == STATUS_NOT_FOUND:
                notfound += 1
                if notfound > s.notfound_polls:
                    raise ExportFailed(f"export {req.id} not found on the server (status 6)")
            elif status == STATUS_EXPIRED:
                raise ExportFailed(f"export {req.id} has expired (status 5)")
            elif status not in (STATUS_PROCESSING, STATUS_QUEUED):
                raise ExportFailed(f"export {req.id} failed on the server (status {status})")
            if self.clock() - t0 > s.export_timeout_s:
                raise RetryBudgetExceeded(
                    f"unit {self.unit.unit_id}: export {req.id} still pending after "
                    f"{s.export_timeout_s:g} s (status {status}; jsoc.export_timeout_s). The "
                    "request id is saved in export.json: a rerun keeps waiting for the same export."
                )
            self.sleep(s.poll_interval_s)
            self.stats["status_polls"] += 1
            self.retry(lambda: req.has_finished(), f"export status of {req.id}")

    def export(self, rs: str):
        """A finished export of ``rs``: the saved one if it is still valid, else a new one."""
        state = self._load_state()
        req = None
        if state.get("requestid") and state.get("recordset") == rs:
            try:
                req = self.retry(
                    lambda: self.client.export_from_id(state["requestid"]),
                    f"status of saved export {state['requestid']}",
                )
                if int(req.status) not in (STATUS_OK, STATUS_PROCESSING, STATUS_QUEUED):
                    log.info(
                        "unit %s: saved export %s has status %s; submitting a new one",
                        self.unit.unit_id,
                        state["requestid"],
                        req.status,
                    )
                    req = None
            except PermanentError:
                req = None
        failures = 0
        while True:
            try:
                if req is None:
                    req = self._submit(rs)
                self._wait(req)
                return req
            except ExportFailed as exc:
                failures += 1
                self.stats["retries"] += 1
                req = None
                if failures >= self.settings.retry.max_attempts:
                    raise RetryBudgetExceeded(
                        f"unit {self.unit.unit_id}: export of {rs} failed {failures} time(s); "
                        f"retry budget spent (max_attempts={self.settings.retry.max_attempts}). "
                        "Last error: "
                        f"{redact(str(exc), self.email)}. Rerun the job later."
                    ) from None
                delay = self.settings.retry.delay(failures)
                log.warning(
                    "unit %s: %s; new export in %.1f s",
                    self.unit.unit_id,
                    redact(str(exc), self.email),
                    delay,
                )
                self.sleep(delay)

    def is_done(self, name: str) -> bool:
        """True when ``name`` is complete (ledger entry, file of the recorded size) or known to
        have no data on the server."""
        e = self.ledger.entries.get(name) if self.ledger else None
        if not e:
            return False
        if e.get("missing"):
            return True
        dest = self.fits_dir / name
        return dest.exists() and dest.stat().st_size == e["size"]

    def file_list(self, req) -> tuple[pd.DataFrame, list[str]]:
        """``(files, nodata)``: records, checked file names and URLs of a finished export, and the
        records for which the server has no file (``NoDataFile``)."""
        raw = req.data  # as the server sent it
        nodata = []
        for rec_name, name in zip(raw["record"], raw["filename"], strict=True):
            if name == "NoDataFile":
                nodata.append(str(rec_name))
            else:
                safe_filename(name)
        urls = req.urls
        if len(urls):
            urls = urls.copy()
            urls["filename"] = [safe_filename(n) for n in urls["filename"]]
        return urls.reset_index(drop=True), nodata

    # -- files
    def _validate_into(self, shapes: dict):
        def validate(path: Path) -> None:
            data, _ = read_patch(path)
            shapes[path.name.removesuffix(".part")] = data.shape

        return validate

    def download(self, files: pd.DataFrame, ledger: _Ledger) -> dict[str, dict]:
        """Download the files not yet complete; returns name -> ledger entry for all files."""
        s = self.settings
        done: dict[str, dict] = {}
        shapes: dict[str, tuple[int, int]] = {}
        validate = self._validate_into(shapes)
        bar = _progress_bar(len(files), self.unit.unit_id, s.progress)
        try:
            for row in files.itertuples(index=False):
                name = row.filename
                dest = safe_join(self.fits_dir, name)
                entry = ledger.entries.get(name)
                if entry and entry.get("missing"):
                    entry = None
                if (
                    entry
                    and dest.exists()
                    and dest.stat().st_size == entry["size"]
                    and (not s.verify_existing or sha256_file(dest) == entry["sha256"])
                ):
                    done[name] = entry
                    self.stats["files_skipped"] += 1
                    bar.update(1)
                    continue
                if dest.exists() and not entry:
                    # completed by a job killed between rename and ledger entry: check it, keep it
                    try:
                        data, _ = read_patch(dest)
                        entry = {
                            "name": name,
                            "record": row.record,
                            "size": dest.stat().st_size,
                            "sha256": sha256_file(dest),
                            "ny": int(data.shape[0]),
                            "nx": int(data.shape[1]),
                        }
                        ledger.add(entry)
                        done[name] = entry
                        self.stats["files_skipped"] += 1
                        bar.update(1)
                        continue
                    except ValueError:
                        dest.unlink()
                res = self.retry(
                    lambda row=row, dest=dest: download_file(
                        row.url, dest, timeout=s.timeout_s, validate=validate
                    ),
                    f"download of {name}",
                )
                ny, nx = shapes.get(name, (0, 0))
                entry = {
                    "name": name,
                    "record": row.record,
                    "size": res.size,
                    "sha256": res.sha256,
                    "nx": int(nx),
                    "ny": int(ny),
                }
                ledger.add(entry)
                done[name] = entry
                self.stats["files_downloaded"] += 1
                self.stats["bytes_downloaded"] += res.fetched_bytes
                bar.update(1)
        finally:
            bar.close()
        return done


def _expected_files(records: pd.DataFrame, unit: Unit) -> dict[str, str]:
    """JSOC ``fits``-protocol file names the unit's records will have (name -> T_REC)."""
    out = {}
    for region, trec in zip(records["region"], records["t_rec_tai"], strict=True):
        try:
            out[jsoc_filename(unit.series, int(region), trec, unit.segment)] = trec
        except ValueError:
            return {}
    return out


def _records_from_files(
    names: Iterable[str], fits_dir: Path, archive: Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """records.csv rows read from the headers of downloaded files (``(records, rejected)``)."""
    rows, bad = [], []
    for name in names:
        path = fits_dir / name
        try:
            data, header = read_patch(path)
            rec = header_to_record(header, path, archive)
        except ValueError as exc:
            bad.append({"series": fits_dir.name, "row": -1, "reason": str(exc), "raw": name})
            continue
        rec["ny"], rec["nx"] = int(data.shape[0]), int(data.shape[1])
        rows.append(rec)
    recs = pd.DataFrame(rows).reindex(columns=RECORD_COLUMNS)
    return recs, pd.DataFrame(bad, columns=_REJECT_COLUMNS)


def _attach_files(
    records: pd.DataFrame, done: Mapping[str, dict], series: str
) -> tuple[pd.DataFrame, list[str]]:
    """Fill ``path``/``nx``/``ny`` of records from completed files; returns unmatched file names."""
    records = records.copy()
    if not len(records) or not done:
        return records, sorted(done)
    key = {
        (int(r), t): i
        for i, (r, t) in enumerate(
            zip(records["region"], pd.DatetimeIndex(parse_trec(records["t_rec_tai"])), strict=True)
        )
    }
    unmatched = []
    for name, e in done.items():
        parsed = parse_export_record(e.get("record") or "")
        idx = None
        if parsed and parsed[0] == series:
            try:
                idx = key.get((parsed[1], parse_trec(parsed[2])))
            except ValueError:
                idx = None
        if idx is None:
            unmatched.append(name)
            continue
        records.iat[idx, records.columns.get_loc("path")] = f"fits/{series}/{name}"
        records.iat[idx, records.columns.get_loc("nx")] = int(e.get("nx", 0))
        records.iat[idx, records.columns.get_loc("ny")] = int(e.get("ny", 0))
    return records, sorted(unmatched)


def fetch_unit(
    unit: Unit,
    client,
    archive_dir: str | os.PathLike,
    *,
    settings: JsocSettings | None = None,
    email: str | None = None,
    sleep=time.sleep,
    clock=time.monotonic,
) -> Path:
    """Fetch one unit: keyword query, export of the ``segment`` files, resumable downloads.

    Parameters
    ----------
    unit
        From :func:`plan_units` / :func:`get_unit`.
    client
        A ``drms.Client`` (see :func:`make_client`); never built here.
    archive_dir
        The archive folder; files go to ``fits/<series>/``, unit outputs to ``units/<unit_id>/``.
    settings
        Timeouts, retry budget, export options (default: :class:`JsocSettings` defaults).
    email
        Registered JSOC export address; default ``$FLAREPIPE_JSOC_EMAIL``. Needed only when the unit
        downloads images. Never written anywhere.
    sleep, clock
        Injected for tests.

    Returns
    -------
    Path
        ``units/<unit_id>/unit.json``, written last (atomically): the unit's completion marker.

    Raises
    ------
    UnitError
        The unit cannot work as configured (no e-mail, server without exports, query refused).
    flarepipe.io.download.RetryBudgetExceeded
        Transient failures outlasted ``jsoc.retry``; the message names the unit. Completed files
        are kept, so a rerun resumes.
    flarepipe.io.download.UnsafeFilenameError
        The server answered a file name that could write outside the archive.
    """
    settings = settings or JsocSettings()
    archive = Path(archive_dir)
    email = email if email is not None else (os.environ.get(EMAIL_ENV, "").strip() or None)
    f = _Fetcher(unit, client, archive, settings, email, sleep, clock)
    f.unit_dir.mkdir(parents=True, exist_ok=True)
    (f.unit_dir / "unit.json").unlink(missing_ok=True)
    t_start = time.time()
    with _redacting_logs(email), socket_timeout(settings.timeout_s):
        records, rejected, missing = f.query_keywords()
        log.info("unit %s: %d records (%d rejected)", unit.unit_id, len(records), len(rejected))
        ledger = f.ledger = _Ledger(f.unit_dir / "files.jsonl")
        export_id = None
        done: dict[str, dict] = {}
        n_listed = 0
        if unit.download and len(records):
            expected = _expected_files(records, unit)
            if expected and all(f.is_done(n) for n in expected):
                # everything this unit needs is complete: no export, no download
                done = {
                    n: ledger.entries[n] for n in expected if not ledger.entries[n].get("missing")
                }
                f.stats["files_skipped"] = len(done)
                log.info("unit %s: all %d files already complete", unit.unit_id, len(done))
            else:
                if not email:
                    raise f.fail(
                        "JSOC exports need a registered e-mail address: set the environment "
                        f"variable {EMAIL_ENV} (or jsoc.email in config.yaml); register it at "
                        "http://jsoc.stanford.edu/ajax/register_email.html. Or set "
                        "jsoc.download_images: false."
                    )
                rs = unit.recordset(with_segment=True)
                req = f.export(rs)
                export_id = req.id
                try:
                    files, nodata = f.file_list(req)
                except UnsafeFilenameError as exc:
                    raise UnsafeFilenameError(f"unit {unit.unit_id}: {exc}") from None
                n_listed = len(files)
                for rec_name in nodata:
                    parsed = parse_export_record(rec_name)
                    if parsed and parsed[0] == unit.series:
                        with contextlib.suppress(ValueError):
                            name = jsoc_filename(unit.series, parsed[1], parsed[2], unit.segment)
                            if name not in ledger.entries:
                                ledger.add(
                                    {
                                        "name": name,
                                        "record": rec_name,
                                        "missing": True,
                                        "size": 0,
                                        "sha256": "",
                                    }
                                )
                done = f.download(files, ledger)
        records, unmatched = _attach_files(records, done, unit.series)
        if unmatched:
            # files the export listed but the keyword query did not (the archive changed between
            # the two requests): describe them from their own headers rather than orphan them
            extra, bad = _records_from_files(unmatched, f.fits_dir, archive)
            records = (
                pd.concat([records, extra], ignore_index=True)
                .sort_values(["series", "region", "t_rec"], kind="stable")
                .reset_index(drop=True)
            )
            rejected = pd.concat([rejected, bad], ignore_index=True)
        write_csv(records, f.unit_dir / "records.csv", float_format="%.10g")
        write_csv(rejected, f.unit_dir / "rejected.csv")
        summary = {
            "unit": unit.to_dict(),
            "recordset": unit.recordset(),
            "export_recordset": unit.recordset(with_segment=True) if unit.download else None,
            "export_requestid": export_id,
            "server": redact(settings.server, email),
            "flarepipe_version": __version__,
            "finished_utc": pd.Timestamp.now("UTC").isoformat(),
            "elapsed_s": round(time.time() - t_start, 3),
            "counts": {
                "records": int(len(records)),
                "rejected": int(len(rejected)),
                "files_listed": int(n_listed),
                "files": len(done),
                "records_with_file": int((records["path"] != "").sum()) if len(records) else 0,
                "unmatched_files": len(unmatched),
            },
            "missing_keywords": missing,
            "unmatched_files": unmatched,
            "stats": f.stats,
            "files": {
                f"fits/{unit.series}/{n}": {"size": e["size"], "sha256": e["sha256"]}
                for n, e in sorted(done.items())
            },
        }
        write_json(summary, f.unit_dir / "unit.json")
    return f.unit_dir / "unit.json"


def run_unit(cfg: Mapping, unit_id: str, archive_dir: str | os.PathLike) -> Path:
    """What a Snakemake job of unit ``unit_id`` runs: settings, client and e-mail from ``cfg``
    (the ``archive`` section, or the ``jsoc`` section itself), then :func:`fetch_unit`."""
    settings = JsocSettings.from_config(cfg)
    unit = get_unit(settings, unit_id)
    email = resolve_email(cfg if "jsoc" in cfg else {"jsoc": cfg})
    return fetch_unit(unit, make_client(settings), archive_dir, settings=settings, email=email)


# =============================================================================== convert layer


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

    ``unit_outputs`` are the ``unit.json`` files returned by :func:`fetch_unit`. Records are
    concatenated, duplicates (same series, region, ``T_REC``) dropped (counted in the manifest) and
    sorted by ``series, region, t_rec``. Every file a unit lists must exist with its recorded size
    (``verify=True`` also re-hashes). ``flares`` is a catalogue frame of
    :mod:`flarepipe.archive.catalogues.flares` or the path of a flares CSV. Writes ``records.csv``, ``flares.csv``,
    ``rejected_records.csv``, ``rejected_flares.csv`` (when given) and ``manifest.json``.
    """
    from flarepipe.archive.catalogues.flares import read_flares_csv, write_flares

    archive = Path(archive_dir)
    archive.mkdir(parents=True, exist_ok=True)
    recs, rejs, units, fits_sums, fits_sizes = [], [], [], {}, {}
    for p in unit_outputs:
        p = Path(p)
        summary = json.loads(p.read_text())
        uid = summary["unit"]["unit_id"]
        recs.append(
            pd.read_csv(
                p.parent / "records.csv",
                dtype=_RECORD_TEXT,
                keep_default_na=False,
                na_values={c: [""] for c in _RECORD_FLOATS},
            )
        )
        rej_path = p.parent / "rejected.csv"
        if rej_path.exists() and rej_path.stat().st_size:
            rj = pd.read_csv(rej_path, dtype=str, keep_default_na=False)
            rj.insert(0, "unit_id", uid)
            rejs.append(rj)
        for rel, meta in summary.get("files", {}).items():
            fp = archive / rel
            if not fp.exists() or fp.stat().st_size != meta["size"]:
                raise ValueError(
                    f"unit {uid}: {rel} is missing or has the wrong size; rerun that unit"
                )
            if verify and sha256_file(fp) != meta["sha256"]:
                raise ValueError(
                    f"unit {uid}: {rel} does not match its checksum; delete it and rerun that unit"
                )
            fits_sums[rel] = meta["sha256"]
            fits_sizes[rel] = meta["size"]
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
        else pd.DataFrame(columns=["unit_id", *_REJECT_COLUMNS])
    )

    fl = read_flares_csv(flares) if not isinstance(flares, pd.DataFrame) else flares
    write_csv(records, archive / "records.csv", float_format="%.10g")
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
