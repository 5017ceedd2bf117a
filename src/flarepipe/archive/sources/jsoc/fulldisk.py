"""Full-disk magnetograms from JSOC (``fulldisk.source: jsoc``): one record a day, in units.

Per instrument (``HMI``: ``hmi.M_720s``, ``MDI``: ``mdi.fd_M_96m_lev182``; the names are
``fulldisk.jsoc.series``) the configured UTC days are cut into units of ``chunk_days`` days
(:func:`plan_fulldisk_units`; a unit id is a file name and a Snakemake wildcard,
``hmi.M_720s.20110101-20110131``). One unit (:func:`fetch_fulldisk_unit`):

1. reads the series description: its keywords must hold ``T_REC`` and ``QUALITY``, its segments
   the configured one (``fulldisk.jsoc.segments``), else the unit stops with an error naming the
   config key;
2. queries ``T_REC`` and ``QUALITY`` of every record of its days (from ``max_lag_h`` before the
   first day's 00:00 UT to the last day's 00:00 UT);
3. chooses one record a day (:func:`choose_daily_records`: the 00:00 record, or the nearest
   earlier good one) and lists every day without one, with the reason;
4. exports only the chosen records' segment (``hmi.M_720s[t1,t2,...]{magnetogram}``) and
   downloads the files through the patch units' machinery (:func:`.fetch.download_files`: the
   ledger ``files.jsonl``, ``.part`` files resumed with HTTP ``Range``, the retry budget of
   ``archive.jsoc.retry``), each file's header checked (the WCS cards, the ``T_REC`` of its
   record); a rerun whose files are all complete exports nothing;
5. writes ``units/<unit>/records.csv``, ``rejected_days.csv``, ``rejected.csv`` and, last,
   ``unit.json`` (the unit's Snakemake output).

:func:`merge_fulldisk_units` then writes the full-disk archive the ``local`` and ``synthetic``
sources write (``fulldisk/records.csv`` with :data:`flarepipe.io.fulldisk.RECORD_COLUMNS`,
``fulldisk/<series>/<file>``, ``fulldisk/rejected.csv``, ``fulldisk/rejected_days.csv``,
``fulldisk/manifest.json``, ``flares.csv``), so ``fulldisk_samples`` onwards do not know the
source. Server, timeouts, retry budget and the export e-mail are ``archive.jsoc``'s
(:class:`~.settings.JsocSettings`); the flare list is ``archive.catalogue``'s, as for patches.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flarepipe import __version__
from flarepipe.archive.catalogues.flares import read_flares_csv, write_flares
from flarepipe.archive.sources.jsoc.client import JsocSession, redacting_logs
from flarepipe.archive.sources.jsoc.errors import UnitError
from flarepipe.archive.sources.jsoc.fetch import (
    Ledger,
    download_files,
    export_file_list,
    open_unit,
)
from flarepipe.archive.sources.jsoc.parse import TREC_PATTERN, quality_int
from flarepipe.archive.sources.jsoc.query import build_fulldisk_recordset
from flarepipe.archive.sources.jsoc.settings import JsocSettings
from flarepipe.archive.sources.jsoc.units import UNIT_ID_PATTERN
from flarepipe.core.disk import fulldisk_series_of
from flarepipe.core.timeutil import parse_trec, to_iso_utc
from flarepipe.io.atomic import place_file, sha256_file, write_csv, write_json
from flarepipe.io.download import redact, socket_timeout
from flarepipe.io.fulldisk import RECORD_COLUMNS, WCS_CARDS

__all__ = [
    "FD_SECTION",
    "DAY_COLUMNS",
    "REJECTED_DAY_COLUMNS",
    "FullDiskJsocSettings",
    "FullDiskUnit",
    "plan_fulldisk_units",
    "get_fulldisk_unit",
    "choose_daily_records",
    "parse_fulldisk_record",
    "fetch_fulldisk_unit",
    "merge_fulldisk_units",
]

log = logging.getLogger(__name__)

#: where the full-disk JSOC settings live in the configuration (for messages)
FD_SECTION = "fulldisk.jsoc"
#: the keywords a full-disk series must have
_NEEDED_KEYS = ("T_REC", "QUALITY")
#: columns of a unit's ``records.csv``: the archive's record columns, the day and the lag
DAY_COLUMNS = [*RECORD_COLUMNS, "day", "lag_h"]
#: columns of ``rejected_days.csv``
REJECTED_DAY_COLUMNS = ["day", "instrument", "series", "reason", "detail"]
_RECORD_RE = re.compile(r"^\s*(?P<series>[\w.]+)\[(?P<trec>[^\]]+)\]")


def _day(value: object, key: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(str(value).strip()[:10].replace(".", "-")).normalize()
    except ValueError:
        raise ValueError(f"{FD_SECTION}.{key} must be a date, got {value!r}") from None


@dataclass(frozen=True)
class FullDiskJsocSettings:
    """What :func:`plan_fulldisk_units` and :func:`fetch_fulldisk_unit` read from ``fulldisk``.

    ``instruments``, ``series``, ``segments``, ``start``, ``end``, ``chunk_days`` are
    ``fulldisk.jsoc``'s (described, with bounds and defaults, in the schema);
    ``quality_mask`` and ``max_lag_h`` are ``fulldisk.daily``'s, so that the record chosen at
    download time is the one the daily sampler (:func:`flarepipe.samples.fulldisk.daily_frames`)
    takes. ``start``/``end`` are UTC days (``end`` excluded); ``None``: the mission's span.
    """

    instruments: tuple[str, ...] = ("MDI", "HMI")
    series: Mapping[str, str] = field(
        default_factory=lambda: {"MDI": "mdi.fd_M_96m_lev182", "HMI": "hmi.M_720s"}
    )
    segments: Mapping[str, str] = field(
        default_factory=lambda: {"MDI": "data", "HMI": "magnetogram"}
    )
    start: str | None = None
    end: str | None = None
    chunk_days: int = 30
    quality_mask: int = 0xFFFFFDFF
    max_lag_h: float = 6.0

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None:
            if _day(self.start, "start") >= _day(self.end, "end"):
                raise ValueError(
                    f"{FD_SECTION}.start must be before {FD_SECTION}.end, got {self.start} >= "
                    f"{self.end}"
                )
        for inst in self.instruments:
            for key, table in (("series", self.series), ("segments", self.segments)):
                if not table.get(inst):
                    raise ValueError(f"{FD_SECTION}.{key}.{inst} is not set")

    @classmethod
    def from_section(cls, fulldisk: Mapping[str, Any]) -> FullDiskJsocSettings:
        """Settings from the validated ``fulldisk`` section (its ``jsoc`` and ``daily``)."""
        j, d = fulldisk["jsoc"], fulldisk["daily"]
        mask = d["quality_mask"]
        return cls(
            instruments=tuple(j["instruments"]),
            series={k: str(v) for k, v in j["series"].items()},
            segments={k: str(v) for k, v in j["segments"].items()},
            start=None if j["start"] is None else str(j["start"]),
            end=None if j["end"] is None else str(j["end"]),
            chunk_days=int(j["chunk_days"]),
            quality_mask=int(mask, 16) if isinstance(mask, str) else int(mask),
            max_lag_h=float(d["max_lag_h"]),
        )

    def days(self, instrument: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """``(first day, end day)`` of ``instrument`` (end excluded): ``start``/``end`` clipped to
        the mission span of :data:`flarepipe.core.disk.FULLDISK_SERIES`; None when empty.
        """
        spec = fulldisk_series_of(instrument)
        first = pd.Timestamp(spec.first_day).normalize()
        end = (
            pd.Timestamp(spec.last_day).normalize() + pd.Timedelta(days=1)
            if spec.last_day
            else pd.Timestamp.now().normalize()
        )
        if self.start is not None:
            first = max(first, _day(self.start, "start"))
        if self.end is not None:
            end = min(end, _day(self.end, "end"))
        return (first, end) if first < end else None

    def to_dict(self) -> dict:
        """JSON-ready view (for manifests)."""
        out = asdict(self)
        out["instruments"] = list(self.instruments)
        return out


@dataclass(frozen=True)
class FullDiskUnit:
    """The UTC days ``[first_day, end_day)`` of one instrument's series: one Snakemake job."""

    unit_id: str
    instrument: str
    series: str
    segment: str
    first_day: str
    end_day: str

    def days(self) -> pd.DatetimeIndex:
        """The unit's days (00:00 UT of each)."""
        return pd.date_range(self.first_day, self.end_day, freq="D", inclusive="left")

    def query_recordset(self, max_lag_h: float) -> str:
        """Every record that may serve one of the days: from ``max_lag_h`` before the first day's
        00:00 UT to the last day's 00:00 UT, a minute wider on both sides (``T_REC`` is TAI, 32 to
        37 s ahead of UTC; :func:`choose_daily_records` applies the exact UTC window).
        """
        days = self.days()
        minute = pd.Timedelta(minutes=1)
        t0 = days[0] - pd.Timedelta(hours=max_lag_h) - minute
        return build_fulldisk_recordset(self.series, start=t0, end=days[-1] + minute)

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return asdict(self)


def plan_fulldisk_units(settings: FullDiskJsocSettings) -> list[FullDiskUnit]:
    """Cut each instrument's days into ``chunk_days`` units (pure; no network).

    Raises
    ------
    ValueError
        A unit id is not a safe file name (a series name with odd characters).
    """
    units = []
    for inst in settings.instruments:
        span = settings.days(inst)
        if span is None:
            continue
        series, segment = settings.series[inst], settings.segments[inst]
        t, end = span
        step = pd.Timedelta(days=settings.chunk_days)
        while t < end:
            t1 = min(t + step, end)
            uid = f"{series}.{t:%Y%m%d}-{t1:%Y%m%d}"
            if not UNIT_ID_PATTERN.match(uid):
                raise ValueError(f"{FD_SECTION}.series.{inst}: {series!r} is no safe file name")
            units.append(
                FullDiskUnit(uid, inst, series, segment, f"{t:%Y-%m-%d}", f"{t1:%Y-%m-%d}")
            )
            t = t1
    return units


def get_fulldisk_unit(settings: FullDiskJsocSettings, unit_id: str) -> FullDiskUnit:
    """The planned unit ``unit_id``; ``KeyError`` when the plan has none (config changed?)."""
    for u in plan_fulldisk_units(settings):
        if u.unit_id == unit_id:
            return u
    raise KeyError(
        f"{FD_SECTION}: no unit {unit_id!r} in the current plan (config changed since the DAG "
        "was built?)"
    )


# =============================================================================== the daily rule


def choose_daily_records(
    listed: pd.DataFrame, days: Iterable[pd.Timestamp], quality_mask: int, max_lag_h: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One record a UTC day, as Yi et al. (2021) take it: ``(chosen, rejected_days)``.

    The record of day ``D`` is the latest one with
    ``D 00:00 UT - max_lag_h <= t_rec <= D 00:00 UT`` and ``QUALITY & quality_mask == 0``: the
    00:00 record, else the nearest earlier one; never a later one (it would see part of the day
    it forecasts). It is :func:`flarepipe.samples.fulldisk.daily_frames`' rule with the one
    flag known before a download (``QUALITY``). Truth table (HMI, ``max_lag_h`` 6)::

        records listed                                       record of D     reason
        D 00:00:00_TAI (D-1 23:59:23 UTC), QUALITY 0          it              -
        D 00:00:00_TAI QUALITY 0x400 and D-1 23:48:00_TAI     23:48           -
        D-1 23:48:00_TAI only                                 23:48           -
        D 00:12:00_TAI only (00:11:23 UTC of D)               none            no record
        D-1 17:00:00_TAI only (7 h before)                    none            no record
        D 00:00:00_TAI QUALITY 0x400 only                     none            bad quality

    Parameters
    ----------
    listed
        The keyword query's records: ``t_rec_tai`` (``T_REC`` as given), ``t_rec`` (UTC
        timestamps) and ``quality`` (int).
    days
        The days (00:00 UT).

    Returns
    -------
    chosen : DataFrame
        ``listed``'s columns of each chosen record plus ``day`` (ISO date) and ``lag_h`` (hours
        before 00:00 UT).
    rejected_days : DataFrame
        ``day``, ``reason`` (``no record`` or ``bad quality``) and ``detail`` (the window, or
        the records in it with their ``QUALITY``).
    """
    lag = pd.Timedelta(hours=max_lag_h)
    t = pd.DatetimeIndex(pd.to_datetime(listed["t_rec"]))
    order = np.argsort(t.to_numpy(), kind="stable")
    tt, srt = t.to_numpy()[order], listed.iloc[order].reset_index(drop=True)
    good = (srt["quality"].astype("int64").to_numpy() & int(quality_mask)) == 0
    chosen, rejected = [], []
    for day in days:
        day = pd.Timestamp(day)
        lo = np.searchsorted(tt, (day - lag).to_datetime64(), side="left")
        hi = np.searchsorted(tt, day.to_datetime64(), side="right")
        iso = f"{day:%Y-%m-%d}"
        ok = np.flatnonzero(good[lo:hi])
        if len(ok):
            row = srt.iloc[lo + ok[-1]].to_dict()
            row["day"] = iso
            row["lag_h"] = (day - pd.Timestamp(row["t_rec"])).total_seconds() / 3600.0
            chosen.append(row)
        elif hi > lo:
            detail = "; ".join(
                f"{r.t_rec_tai} (QUALITY 0x{int(r.quality):08x})"
                for r in srt.iloc[lo:hi].itertuples()
            )
            rejected.append({"day": iso, "reason": "bad quality", "detail": detail})
        else:
            window = f"[{to_iso_utc(day - lag)}, {to_iso_utc(day)}]"
            rejected.append({"day": iso, "reason": "no record", "detail": f"none in {window}"})
    cols = [*listed.columns, "day", "lag_h"]
    return (
        pd.DataFrame(chosen, columns=cols),
        pd.DataFrame(rejected, columns=["day", "reason", "detail"]),
    )


def parse_fulldisk_record(record: str) -> tuple[str, str] | None:
    """``(series, T_REC)`` of an export's record name (``hmi.M_720s[2011.01.01_00:00:00_TAI]``
    with any segment or further prime keys after it), or None.
    """
    m = _RECORD_RE.match(str(record or ""))
    return (m.group("series"), m.group("trec").strip()) if m else None


def _same_time(a: str, b: str) -> bool:
    try:
        return parse_trec(a) == parse_trec(b)
    except ValueError:
        return False


def _check_frame(header, record: str | None, name: str) -> None:
    """Refuse a downloaded file that is no full-disk frame (the WCS cards of
    :data:`flarepipe.io.fulldisk.WCS_CARDS`) or whose ``T_REC`` is not its record's.
    """
    missing = [k for k in WCS_CARDS if k not in header]
    if missing:
        raise ValueError(f"{name}: full-disk header lacks the WCS card(s) {missing}")
    parsed = parse_fulldisk_record(record or "")
    got = str(header.get("T_REC", "")).strip()
    if parsed and not _same_time(got, parsed[1]):
        raise ValueError(
            f"{name}: header says T_REC={got!r}, the export listed it as {record!r}: another "
            "record's file"
        )


def _listed_records(kdf: pd.DataFrame, series: str) -> tuple[pd.DataFrame, list[dict]]:
    """``(listed, rejected)``: the keyword table's readable rows, and the others with a reason."""
    rows, bad = [], []
    kdf = kdf.reindex(columns=list(_NEEDED_KEYS))  # an empty answer may come without columns
    for i, (trec, q) in enumerate(zip(kdf["T_REC"], kdf["QUALITY"], strict=True)):
        trec = str(trec).strip()
        quality = quality_int(q)
        if not TREC_PATTERN.match(trec):
            bad.append({"file": f"{series} row {i}", "reason": f"bad T_REC {trec!r}"})
        elif quality is None:
            bad.append({"file": f"{series}[{trec}]", "reason": f"bad QUALITY {q!r}"})
        else:
            rows.append({"t_rec_tai": trec, "t_rec": parse_trec(trec), "quality": quality})
    return pd.DataFrame(rows, columns=["t_rec_tai", "t_rec", "quality"]), bad


def _ledger_by_time(ledger: Ledger, series: str) -> dict[pd.Timestamp, dict]:
    """Ledger entries of ``series`` by their record's ``T_REC`` (UTC)."""
    out = {}
    for e in ledger.entries.values():
        parsed = parse_fulldisk_record(e.get("record") or "")
        if parsed and parsed[0].lower() == series.lower():
            try:
                out[parse_trec(parsed[1])] = e
            except ValueError:
                continue
    return out


def _series_description(session: JsocSession, unit: FullDiskUnit) -> None:
    """Refuse a series that does not exist, lacks ``T_REC``/``QUALITY`` or the segment."""
    key = f"{FD_SECTION}.series.{unit.instrument}"
    try:
        keys = session.series_keywords(unit.series)
        segments = session.series_segments(unit.series)
    except UnitError as exc:
        raise UnitError(f"{key}: {exc}; is {unit.series!r} a DRMS full-disk series?") from None
    missing = [k for k in _NEEDED_KEYS if k not in keys]
    if missing:
        raise UnitError(
            f"{key}: series {unit.series} has no keyword(s) {missing}: not a full-disk "
            "magnetogram series (hmi.M_720s, mdi.fd_M_96m_lev182)"
        )
    if unit.segment not in segments:
        raise UnitError(
            f"{FD_SECTION}.segments.{unit.instrument}: series {unit.series} has no segment "
            f"{unit.segment!r}; its segments are {segments}"
        )


def fetch_fulldisk_unit(
    unit: FullDiskUnit,
    client: Any,
    jsoc_dir: str | os.PathLike,
    *,
    settings: JsocSettings,
    fd: FullDiskJsocSettings,
    email: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Path:
    """Fetch one full-disk unit (module docstring); returns ``units/<unit_id>/unit.json``.

    Parameters
    ----------
    unit
        From :func:`plan_fulldisk_units` / :func:`get_fulldisk_unit`.
    client
        A ``drms.Client`` (:func:`~flarepipe.archive.sources.jsoc.client.make_client`).
    jsoc_dir
        The download folder: files go to ``fits/<series>/``, unit outputs to ``units/<unit_id>/``.
    settings
        ``archive.jsoc``'s server, timeouts, retry budget, polling.
    fd
        The full-disk settings (the daily rule's ``quality_mask`` and ``max_lag_h``).
    email
        The export address (default ``$FLAREPIPE_JSOC_EMAIL``); never written anywhere.

    Raises
    ------
    UnitError
        The series or segment does not exist (the message names the ``fulldisk.jsoc`` key), no
        e-mail for an export, a refused query.
    flarepipe.io.download.RetryBudgetExceeded
        Transient failures outlasted the retry budget; completed files are kept for a rerun.
    """
    session, unit_dir, fits_dir, email = open_unit(
        unit.unit_id, unit.series, Path(jsoc_dir), client, settings, email, sleep, clock
    )
    t_start = time.time()
    with redacting_logs(email), socket_timeout(settings.timeout_s):
        _series_description(session, unit)
        rs = unit.query_recordset(fd.max_lag_h)
        kdf = session.query(rs, list(_NEEDED_KEYS))
        listed, rejected = _listed_records(kdf, unit.series)
        chosen, rejected_days = choose_daily_records(
            listed, unit.days(), fd.quality_mask, fd.max_lag_h
        )
        log.info(
            "unit %s: %d records listed, %d of %d days served",
            unit.unit_id,
            len(listed),
            len(chosen),
            len(unit.days()),
        )
        ledger = Ledger(unit_dir / "files.jsonl")
        export_rs, export_id, n_listed = None, None, 0
        if len(chosen):
            known = _ledger_by_time(ledger, unit.series)
            wanted = [pd.Timestamp(t) for t in chosen["t_rec"]]
            complete = all(
                w in known and ledger.is_done(known[w]["name"], fits_dir, settings.verify_existing)
                for w in wanted
            )
            if complete:
                session.stats["files_skipped"] = len(wanted)
                log.info("unit %s: all %d files already complete", unit.unit_id, len(wanted))
            else:
                export_rs = build_fulldisk_recordset(
                    unit.series, trecs=chosen["t_rec_tai"], segments=[unit.segment]
                )
                req, files, nodata = export_file_list(session, export_rs)
                export_id = req.id
                n_listed = len(files)
                for rec_name in nodata:  # no data on the server: a rerun does not ask again
                    ledger.add(
                        {
                            "name": f"nodata:{rec_name}",
                            "record": rec_name,
                            "missing": True,
                            "reason": "NoDataFile",
                            "size": 0,
                            "sha256": "",
                        }
                    )
                download_files(session, files, ledger, fits_dir, check=_check_frame)
        known = _ledger_by_time(ledger, unit.series)
        records, files_meta = [], {}
        for row in chosen.itertuples(index=False):
            e = known.get(pd.Timestamp(row.t_rec))
            path, nx, ny = "", 0, 0
            if e is None or e.get("missing") or not ledger.is_done(e["name"], fits_dir):
                why = (
                    "not in the export's file list"
                    if e is None
                    else e.get("reason", "no data")
                    if e.get("missing")
                    else f"{e['name']} is not complete"
                )
                rejected.append({"file": f"{unit.series}[{row.t_rec_tai}]", "reason": why})
            else:
                path = f"fits/{unit.series}/{e['name']}"
                nx, ny = int(e.get("nx", 0)), int(e.get("ny", 0))
                files_meta[path] = {k: e[k] for k in ("size", "sha256", "nx", "ny") if k in e}
            records.append(
                {
                    "series": unit.series,
                    "instrument": unit.instrument,
                    "t_rec": to_iso_utc(pd.Timestamp(row.t_rec)),
                    "t_rec_tai": row.t_rec_tai,
                    "quality": int(row.quality),
                    "nx": nx,
                    "ny": ny,
                    "planted": "",
                    "path": path,
                    "day": row.day,
                    "lag_h": round(float(row.lag_h), 6),
                }
            )
        rejected_days = rejected_days.assign(instrument=unit.instrument, series=unit.series)
        write_csv(pd.DataFrame(records, columns=DAY_COLUMNS), unit_dir / "records.csv")
        write_csv(rejected_days[REJECTED_DAY_COLUMNS], unit_dir / "rejected_days.csv")
        write_csv(pd.DataFrame(rejected, columns=["file", "reason"]), unit_dir / "rejected.csv")
        summary = {
            "unit": unit.to_dict(),
            "recordset": rs,
            "export_recordset": export_rs,
            "export_requestid": export_id,
            "server": redact(settings.server, email),
            "settings": fd.to_dict(),
            "flarepipe_version": __version__,
            "finished_utc": pd.Timestamp.now("UTC").isoformat(),
            "elapsed_s": round(time.time() - t_start, 3),
            "counts": {
                "days": len(unit.days()),
                "records_listed": int(len(listed)),
                "days_chosen": int(len(chosen)),
                "days_rejected": int(len(rejected_days)),
                "files_listed": int(n_listed),
                "files": len(files_meta),
            },
            "stats": session.stats,
            "files": dict(sorted(files_meta.items())),
        }
        write_json(summary, unit_dir / "unit.json")
    return unit_dir / "unit.json"


# =============================================================================== the archive


def merge_fulldisk_units(
    unit_outputs: Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    flares: pd.DataFrame | str | os.PathLike,
    *,
    link: str = "hardlink",
) -> dict:
    """Write the full-disk archive layout into ``out_dir`` from finished units; the manifest.

    Each unit's files are taken (hard-linked, else copied) as ``fulldisk/<series>/<file>``;
    ``fulldisk/records.csv`` lists one record a served day (an empty ``path`` where the server
    had no file: the sampler rejects that day as ``missing_file``), ``fulldisk/rejected.csv``
    the records that were not taken and ``fulldisk/rejected_days.csv`` the days without a record,
    each with its reason; ``flares.csv`` is the catalogue (``archive.catalogue``).

    Raises
    ------
    ValueError
        A unit's file is missing or has another size than its unit recorded (names the unit to
        rerun).
    """
    out = Path(out_dir)
    recs, rej, rej_days, units = [], [], [], []
    for p in unit_outputs:
        p = Path(p)
        summary = json.loads(p.read_text())
        uid = summary["unit"]["unit_id"]
        root = p.parent.parent.parent  # <jsoc_dir>/units/<unit>/unit.json
        records = pd.read_csv(p.parent / "records.csv", dtype={"path": str, "planted": str})
        records = records.fillna({"path": "", "planted": ""})
        for i, rel in enumerate(records["path"]):
            if not rel:
                continue
            src, meta = root / rel, summary["files"].get(rel, {})
            if not src.exists() or src.stat().st_size != meta.get("size"):
                raise ValueError(f"unit {uid}: {src} is missing or has the wrong size; rerun it")
            dst = Path("fulldisk") / Path(rel).parent.name / Path(rel).name
            place_file(src, out / dst, link)
            records.iat[i, records.columns.get_loc("path")] = str(dst)
        recs.append(records)
        rej.append(pd.read_csv(p.parent / "rejected.csv", dtype=str).assign(unit_id=uid))
        rej_days.append(pd.read_csv(p.parent / "rejected_days.csv", dtype=str))
        units.append(
            {k: summary.get(k) for k in ("recordset", "export_recordset", "counts")}
            | {"unit_id": uid}
        )
    records = pd.concat(recs, ignore_index=True) if recs else pd.DataFrame(columns=DAY_COLUMNS)
    records = records.sort_values(["instrument", "t_rec"], kind="stable").reset_index(drop=True)
    rejected = (
        pd.concat(rej, ignore_index=True)
        if rej
        else pd.DataFrame(columns=["file", "reason", "unit_id"])
    )
    days = (
        pd.concat(rej_days, ignore_index=True)
        if rej_days
        else pd.DataFrame(columns=REJECTED_DAY_COLUMNS)
    ).sort_values(["instrument", "day"], kind="stable")
    fl = flares if isinstance(flares, pd.DataFrame) else read_flares_csv(flares)
    fd = out / "fulldisk"
    write_csv(records[RECORD_COLUMNS], fd / "records.csv")
    write_csv(rejected[["file", "reason", "unit_id"]], fd / "rejected.csv")
    write_csv(days[REJECTED_DAY_COLUMNS], fd / "rejected_days.csv")
    write_flares(fl, out / "flares.csv")
    manifest = {
        "source": "jsoc",
        "flarepipe_version": __version__,
        "units": sorted(units, key=lambda u: u["unit_id"]),
        "counts": {
            "records": int(len(records)),
            "records_with_file": int((records["path"] != "").sum()),
            "rejected_records": int(len(rejected)),
            "rejected_days": int(len(days)),
            "flares": int(len(fl)),
            "units": len(units),
        },
        "files": {
            name: sha256_file(out / name)
            for name in ("fulldisk/records.csv", "fulldisk/rejected_days.csv", "flares.csv")
        },
    }
    write_json(manifest, fd / "manifest.json")
    return manifest
