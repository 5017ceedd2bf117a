"""Fetch one unit: keyword query, export of the segment files, resumable downloads, unit outputs.

Resume: a file counts as done once it is under its final name and listed (size, SHA-256) in the
unit's ledger ``units/<unit>/files.jsonl``; nothing done is fetched again; an interrupted
transfer resumes from its ``.part`` file (:func:`flarepipe.io.download.download_file`). The
export e-mail (``archive.jsoc.email`` or ``$FLAREPIPE_JSOC_EMAIL``) is never written to files,
manifests or logs.

Unit folder ``<archive>/units/<unit_id>/``: ``records.csv``, ``rejected.csv``, ``files.jsonl``,
``export.json`` and, written last, ``unit.json`` (the unit's Snakemake output).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import urllib.error
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flarepipe import __version__
from flarepipe.archive.sources.jsoc.client import JsocSession, make_client, redacting_logs
from flarepipe.archive.sources.jsoc.errors import UnitError
from flarepipe.archive.sources.jsoc.parse import choose_keywords, parse_export_record
from flarepipe.archive.sources.jsoc.records import (
    attach_files,
    expected_files,
    keywords_to_records,
    records_from_files,
)
from flarepipe.archive.sources.jsoc.settings import (
    EMAIL_ENV,
    SECTION,
    JsocSettings,
    resolve_email,
)
from flarepipe.archive.sources.jsoc.units import Unit, get_unit
from flarepipe.core.timeutil import parse_trec
from flarepipe.io.atomic import sha256_file, write_csv, write_json
from flarepipe.io.download import (
    PermanentError,
    UnsafeFilenameError,
    download_file,
    redact,
    safe_join,
    socket_timeout,
)
from flarepipe.io.fitsio import jsoc_filename, read_patch

__all__ = ["Ledger", "open_unit", "export_file_list", "download_files", "fetch_unit", "run_unit"]

log = logging.getLogger(__name__)


class _NotOnServer(PermanentError):
    """HTTP 404 for a file the export listed: recorded as missing, like a record without data."""


def _check_header(header, record: str | None, name: str) -> None:
    """Refuse a downloaded file whose header names another record than the export listed for it
    (region keyword and ``T_REC``): a swapped file must not enter the archive under this name.
    """
    from flarepipe.core.series import SERIES

    parsed = parse_export_record(record or "")
    if not parsed or parsed[0] not in SERIES:
        return
    series, region, trec = parsed
    key = SERIES[series].region_key
    got_region, got_trec = header.get(key), str(header.get("T_REC", "")).strip()
    try:
        same_time = got_trec and parse_trec(got_trec) == parse_trec(trec)
    except ValueError:
        same_time = False
    if got_region is None or int(got_region) != region or not same_time:
        raise ValueError(
            f"{name}: header says {key}={got_region}, T_REC={got_trec!r}, the export listed it as "
            f"{record!r}: another record's file"
        )


def _fetch_or_missing(url: str, dest: Path, timeout: float, validate, deadline: float) -> Any:
    try:
        return download_file(url, dest, timeout=timeout, validate=validate, deadline=deadline)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            exc.close()
            raise _NotOnServer(f"HTTP 404 for {dest.name}") from None
        raise


class Ledger:
    """Append-only record of the files a unit has completed (JSON lines; a torn last line from a
    killed job is ignored).
    """

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
        """Record ``entry`` (``name``, ``record``, ``size``, ``sha256``, ...), fsynced."""
        self.entries[entry["name"]] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def is_done(self, name: str, fits_dir: Path, verify: bool = False) -> bool:
        """True when ``name`` is complete (entry, file of the recorded size, and with ``verify``
        of the recorded SHA-256) or known to have no data on the server.
        """
        e = self.entries.get(name)
        if not e:
            return False
        if e.get("missing"):
            return True
        dest = fits_dir / name
        if not (dest.exists() and dest.stat().st_size == e["size"]):
            return False
        return not verify or sha256_file(dest) == e["sha256"]


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


def download_files(
    session: JsocSession,
    files: pd.DataFrame,
    ledger: Ledger,
    fits_dir: Path,
    check: Callable[[Any, str | None, str], None] = _check_header,
) -> dict[str, dict]:
    """Download the files not yet complete; returns name -> ledger entry for all files.

    ``check(header, record, name)`` refuses (``ValueError``) a file whose header does not belong
    to the record the export listed it for (default: the patch series' region and ``T_REC``).
    """
    s = session.settings
    stats = session.stats
    done: dict[str, dict] = {}
    shapes: dict[str, tuple[int, int]] = {}
    nans: dict[str, int] = {}  # NaN pixels of each file read here (pixels.csv: quality reads none)

    records_of = dict(zip(files["filename"], files["record"], strict=True))

    def validate(path: Path) -> None:
        data, header = read_patch(path)
        name = path.name.removesuffix(".part")
        check(header, records_of.get(name), name)
        shapes[name] = data.shape
        nans[name] = int(np.count_nonzero(np.isnan(data)))

    bar = _progress_bar(len(files), session.unit_id, s.progress)
    try:
        for row in files.itertuples(index=False):
            name = row.filename
            dest = safe_join(fits_dir, name)
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
                stats["files_skipped"] += 1
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
                        "n_nan_pixels": int(np.count_nonzero(np.isnan(data))),
                    }
                    ledger.add(entry)
                    done[name] = entry
                    stats["files_skipped"] += 1
                    bar.update(1)
                    continue
                except ValueError:
                    dest.unlink()
            # the step's wall-clock budget (retry.budget_s) bounds each transfer too
            deadline = time.monotonic() + s.retry.budget_s
            try:
                res = session.retry(
                    lambda row=row, dest=dest, deadline=deadline: _fetch_or_missing(
                        row.url, dest, s.timeout_s, validate, deadline
                    ),
                    f"download of {name}",
                )
            except _NotOnServer as exc:
                # a permanently missing file: its record keeps an empty path (as a record the
                # server has no data for), the unit finishes and a rerun does not ask again
                log.warning("unit %s: %s; recorded as missing", session.unit_id, exc)
                ledger.add(
                    {
                        "name": name,
                        "record": row.record,
                        "missing": True,
                        "reason": "HTTP 404",
                        "size": 0,
                        "sha256": "",
                    }
                )
                stats["files_missing"] += 1
                bar.update(1)
                continue
            ny, nx = shapes.get(name, (0, 0))
            entry = {
                "name": name,
                "record": row.record,
                "size": res.size,
                "sha256": res.sha256,
                "nx": int(nx),
                "ny": int(ny),
            }
            if name in nans:
                entry["n_nan_pixels"] = nans[name]
            ledger.add(entry)
            done[name] = entry
            stats["files_downloaded"] += 1
            stats["bytes_downloaded"] += res.fetched_bytes
            bar.update(1)
    finally:
        bar.close()
    return done


def _remember_nodata(ledger: Ledger, unit: Unit, nodata: list[str]) -> None:
    """Ledger entries for records the server has no file for, so a rerun does not ask again."""
    for rec_name in nodata:
        parsed = parse_export_record(rec_name)
        if parsed and parsed[0] == unit.series:
            with contextlib.suppress(ValueError):
                name = jsoc_filename(unit.series, parsed[1], parsed[2], unit.segment)
                if name not in ledger.entries:
                    ledger.add(
                        {"name": name, "record": rec_name, "missing": True, "size": 0, "sha256": ""}
                    )


def open_unit(
    unit_id: str,
    series: str,
    root: Path,
    client: Any,
    settings: JsocSettings,
    email: str | None,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> tuple[JsocSession, Path, Path, str | None]:
    """``(session, unit_dir, fits_dir, email)`` of a unit under ``root``: the e-mail resolved
    (``$FLAREPIPE_JSOC_EMAIL`` when not given), the unit folder made and its old ``unit.json``
    removed (a rerun is incomplete until it writes a new one).
    """
    email = email if email is not None else (os.environ.get(EMAIL_ENV, "").strip() or None)
    unit_dir, fits_dir = root / "units" / unit_id, root / "fits" / series
    unit_dir.mkdir(parents=True, exist_ok=True)
    (unit_dir / "unit.json").unlink(missing_ok=True)
    session = JsocSession(client, unit_id, settings, email, unit_dir / "export.json", sleep, clock)
    return session, unit_dir, fits_dir, email


def export_file_list(
    session: JsocSession, rs: str, hint: str = ""
) -> tuple[Any, pd.DataFrame, list]:
    """``(request, files, nodata)`` of a finished export of ``rs`` (see
    :meth:`JsocSession.export` and :meth:`JsocSession.file_list`).

    Raises
    ------
    UnitError
        No e-mail address (``hint`` is added to the message).
    flarepipe.io.download.UnsafeFilenameError
        A listed file name could write outside the archive (the message names the unit).
    """
    if not session.email:
        raise UnitError(
            f"unit {session.unit_id}: JSOC exports need a registered e-mail address: set the "
            f"environment variable {EMAIL_ENV} (or {SECTION}.email); register it at "
            f"http://jsoc.stanford.edu/ajax/register_email.html.{hint}"
        )
    req = session.export(rs)
    try:
        files, nodata = session.file_list(req)
    except UnsafeFilenameError as exc:
        raise UnsafeFilenameError(f"unit {session.unit_id}: {exc}") from None
    return req, files, nodata


def fetch_unit(
    unit: Unit,
    client: Any,
    archive_dir: str | os.PathLike,
    *,
    settings: JsocSettings | None = None,
    email: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Path:
    """Fetch one unit: keyword query, export of the ``segment`` files, resumable downloads.

    Parameters
    ----------
    unit
        From :func:`~flarepipe.archive.sources.jsoc.units.plan_units` /
        :func:`~flarepipe.archive.sources.jsoc.units.get_unit`.
    client
        A ``drms.Client`` (see :func:`~flarepipe.archive.sources.jsoc.client.make_client`); never
        built here.
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
        Transient failures outlasted the retry budget; the message names the unit. Completed files
        are kept, so a rerun resumes.
    flarepipe.io.download.UnsafeFilenameError
        The server answered a file name that could write outside the archive.
    """
    settings = settings or JsocSettings()
    archive = Path(archive_dir)
    session, unit_dir, fits_dir, email = open_unit(
        unit.unit_id, unit.series, archive, client, settings, email, sleep, clock
    )
    t_start = time.time()
    with redacting_logs(email), socket_timeout(settings.timeout_s):
        available = session.series_keywords(unit.series)
        wanted, chosen, missing = choose_keywords(unit.series, available, settings.keywords)
        kdf = session.query(unit.recordset(), wanted)
        records, rejected = keywords_to_records(kdf, unit.series, chosen)
        log.info("unit %s: %d records (%d rejected)", unit.unit_id, len(records), len(rejected))
        ledger = Ledger(unit_dir / "files.jsonl")
        export_id = None
        done: dict[str, dict] = {}
        n_listed = 0
        if unit.download and len(records):
            expected = expected_files(records, unit.series, unit.segment)
            verify = settings.verify_existing  # re-hash complete files, not only their sizes
            if expected and all(ledger.is_done(n, fits_dir, verify) for n in expected):
                # everything this unit needs is complete: no export, no download
                done = {
                    n: ledger.entries[n] for n in expected if not ledger.entries[n].get("missing")
                }
                session.stats["files_skipped"] = len(done)
                log.info("unit %s: all %d files already complete", unit.unit_id, len(done))
            else:
                req, files, nodata = export_file_list(
                    session,
                    unit.recordset(with_segment=True),
                    f" Or set {SECTION}.download_images: false.",
                )
                export_id = req.id
                n_listed = len(files)
                _remember_nodata(ledger, unit, nodata)
                done = download_files(session, files, ledger, fits_dir)
        records, unmatched = attach_files(records, done, unit.series)
        if unmatched:
            # files the export listed but the keyword query did not (the archive changed between
            # the two requests): describe them from their own headers rather than orphan them
            extra, bad = records_from_files(unmatched, fits_dir, archive)
            records = (
                pd.concat([records, extra], ignore_index=True)
                .sort_values(["series", "region", "t_rec"], kind="stable")
                .reset_index(drop=True)
            )
            rejected = pd.concat([rejected, bad], ignore_index=True)
        write_csv(records, unit_dir / "records.csv", float_format="%.10g")
        write_csv(rejected, unit_dir / "rejected.csv")
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
            "stats": session.stats,
            "files": {
                f"fits/{unit.series}/{n}": {
                    k: e[k] for k in ("size", "sha256", "nx", "ny", "n_nan_pixels") if k in e
                }
                for n, e in sorted(done.items())
            },
        }
        write_json(summary, unit_dir / "unit.json")
    return unit_dir / "unit.json"


def run_unit(section: Mapping[str, Any], unit_id: str, archive_dir: str | os.PathLike) -> Path:
    """What a Snakemake job of unit ``unit_id`` runs: settings, client and e-mail from the
    validated ``archive.jsoc`` section, then :func:`fetch_unit`.
    """
    settings = JsocSettings.from_section(section)
    unit = get_unit(settings, unit_id)
    return fetch_unit(
        unit, make_client(settings), archive_dir, settings=settings, email=resolve_email(section)
    )
