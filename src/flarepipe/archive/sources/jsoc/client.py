"""Send layer: the ``drms.Client`` (built on demand, passed in) and every request of one unit.

:func:`make_client` builds a client for ``archive.jsoc.server`` (``'jsoc'``, ``'kis'`` or the base
URL of a mirror, a local NetDRMS or the test server: one code path). :class:`JsocSession` sends a
unit's requests through a client it is given, with the retry budget of the settings:

* the series description and the keyword query;
* the export: one pending export per user (status 7: wait and ask again, up to
  ``pending_export_wait_s``), failed/expired/unknown exports (4, 5, 6: submit again), slow
  exports (polled every ``poll_interval_s`` up to ``export_timeout_s``); the request id is kept in
  ``units/<unit>/export.json`` so that a rerun reuses a finished export;
* the export's file list, with file names checked by :func:`flarepipe.io.download.safe_filename`.

The export e-mail is passed to each export request and redacted from every message and from
drms's log records (:func:`redacting_logs`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin

import pandas as pd

from flarepipe.archive.sources.jsoc.errors import ExportFailed, UnitError
from flarepipe.archive.sources.jsoc.settings import SECTION, JsocSettings
from flarepipe.io.atomic import write_json
from flarepipe.io.download import (
    PermanentError,
    RetryBudgetExceeded,
    call_with_retry,
    redact,
    safe_filename,
)

__all__ = [
    "EXPORT_METHOD",
    "EXPORT_PROTOCOL",
    "STATUS_OK",
    "STATUS_PROCESSING",
    "STATUS_QUEUED",
    "STATUS_TOO_LARGE",
    "STATUS_FAILED",
    "STATUS_EXPIRED",
    "STATUS_NOT_FOUND",
    "STATUS_PENDING_LIMIT",
    "make_server_config",
    "make_client",
    "redacting_logs",
    "JsocSession",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: exports use method 'url' + protocol 'fits': files carry the record's keywords in their headers
#: and are named ``<series>.<region>.<T_REC>.<segment>.fits`` (``url_quick``/``as-is`` files are
#: bare SUMS files, all called ``magnetogram.fits``)
EXPORT_METHOD, EXPORT_PROTOCOL = "url", "fits"

# JSOC export status codes (jsoc_fetch op=exp_request / exp_status)
STATUS_OK, STATUS_PROCESSING, STATUS_QUEUED = 0, 1, 2
STATUS_TOO_LARGE, STATUS_FAILED, STATUS_EXPIRED, STATUS_NOT_FOUND = 3, 4, 5, 6
STATUS_PENDING_LIMIT = 7  # "User ... has 1 pending export requests": one pending export per user
_LIVE = (STATUS_OK, STATUS_PROCESSING, STATUS_QUEUED)


# =============================================================================== the client


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


def make_client(settings: JsocSettings | Mapping[str, Any]):
    """A ``drms.Client`` for ``settings.server``: ``'jsoc'``, ``'kis'`` or a base URL.

    ``settings`` is a :class:`JsocSettings` or the validated ``archive.jsoc`` section.

    No e-mail is set on the client (that would make drms call ``checkAddress`` at construction);
    :class:`JsocSession` passes it to each export request.

    Raises
    ------
    ValueError
        The server is neither a drms server name nor an ``http(s)://`` URL.
    """
    import drms

    if isinstance(settings, JsocSettings):
        server, cgi_path = settings.server, settings.cgi_path
    else:  # the validated archive.jsoc section
        server, cgi_path = str(settings["server"]), str(settings["cgi_path"])
    if re.match(r"^https?://", server):
        return drms.Client(server=make_server_config(server, cgi_path))
    try:
        return drms.Client(server=server.lower())
    except KeyError:
        raise ValueError(
            f"{SECTION}.server {server!r} is neither a drms server name ('jsoc', 'kis') nor an "
            "http(s):// base URL"
        ) from None


# =============================================================================== secrets in logs


class _RedactFilter(logging.Filter):
    def __init__(self, secrets: tuple[str | None, ...]):
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is logged as it is
            return True
        red = redact(msg, *self.secrets)
        if red != msg:
            record.msg, record.args = red, ()
        return True


@contextlib.contextmanager
def redacting_logs(*secrets: str | None) -> Iterator[None]:
    """Redact secrets from drms's and flarepipe's log records while the block runs."""
    if not any(secrets):
        yield
        return
    flt = _RedactFilter(secrets)
    names = ["drms", "flarepipe"] + [
        n for n in list(logging.Logger.manager.loggerDict) if n.startswith(("drms.", "flarepipe."))
    ]
    loggers = [logging.getLogger(n) for n in names]
    for lg in loggers:
        lg.addFilter(flt)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeFilter(flt)


# =============================================================================== the session


class JsocSession:
    """Every request of one unit, sent through a passed-in ``drms.Client``.

    Parameters
    ----------
    client
        A ``drms.Client`` (see :func:`make_client`); never built here.
    unit_id
        Named in every message.
    settings
        Retry budget, polling and export limits.
    email
        The export address (only exports need it); redacted from every message.
    state_path
        Where the export request id is kept (``units/<unit>/export.json``).
    sleep, clock
        Injected for tests.
    """

    def __init__(
        self,
        client: Any,
        unit_id: str,
        settings: JsocSettings,
        email: str | None,
        state_path: Path,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ):
        self.client, self.unit_id, self.settings, self.email = client, unit_id, settings, email
        self.state_path = state_path
        self.sleep, self.clock = sleep, clock
        self.stats = {
            "retries": 0,
            "export_requests": 0,
            "status_polls": 0,
            "files_downloaded": 0,
            "files_skipped": 0,
            "files_missing": 0,
            "bytes_downloaded": 0,
            "pending_limit_waits": 0,
        }

    # -- helpers
    def retry(self, fn: Callable[[], T], what: str) -> T:
        """``fn()`` within the retry budget; retries are counted and logged (redacted)."""

        def on_retry(n: int, exc: BaseException, delay: float) -> None:
            self.stats["retries"] += 1
            log.warning(
                "unit %s: %s failed (%s); retry %d in %.1f s",
                self.unit_id,
                what,
                redact(f"{type(exc).__name__}: {exc}", self.email),
                n,
                delay,
            )

        return call_with_retry(
            fn,
            policy=self.settings.retry,
            what=what,
            unit_id=self.unit_id,
            secrets=(self.email,),
            sleep=self.sleep,
            clock=self.clock,
            on_retry=on_retry,
        )

    def fail(self, msg: str) -> UnitError:
        """A :class:`UnitError` naming the unit, the e-mail redacted."""
        return UnitError(f"unit {self.unit_id}: {redact(msg, self.email)}")

    # -- keywords
    def series_keywords(self, series: str) -> set[str]:
        """The keywords ``series`` has (its description from ``jsoc_info op=series_struct``)."""
        try:
            keys = self.retry(lambda: list(self.client.keys(series)), f"series info of {series}")
            return set(keys)
        except PermanentError as exc:
            raise self.fail(f"cannot read the series description of {series}: {exc}") from None

    def series_segments(self, series: str) -> list[str]:
        """The segment names of ``series`` (its description from ``jsoc_info op=series_struct``)."""
        try:
            info = self.retry(lambda: self.client.info(series), f"series info of {series}")
        except PermanentError as exc:
            raise self.fail(f"cannot read the series description of {series}: {exc}") from None
        return [str(n) for n in info.segments.index]

    def query(self, rs: str, keys: list[str]) -> pd.DataFrame:
        """The keyword table of record set ``rs`` (values as the server sent them)."""
        import drms

        def query() -> pd.DataFrame:
            try:
                # QUALITY comes as hex ('0x00000400'); drms 0.9 converts hex only for object
                # columns, which pandas >= 3 no longer makes (str dtype) -> NaN: parse it later.
                return self.client.query(rs, key=keys, skip_conversion=["QUALITY", "NOAA_ARS"])
            except drms.DrmsQueryError as exc:
                raise PermanentError(f"JSOC refused the keyword query {rs!r}: {exc}") from None

        return self.retry(query, f"keyword query {rs}")

    # -- export
    def _load_state(self) -> dict:
        try:
            return json.loads(self.state_path.read_text())
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
            self.state_path,
        )

    def _export_call(self, rs: str):
        import drms

        try:
            return self.client.export(
                rs, method=EXPORT_METHOD, protocol=EXPORT_PROTOCOL, email=self.email
            )
        except drms.DrmsOperationNotSupported:
            raise self.fail(
                f"server {self.settings.server!r} does not support exports; set "
                f"{SECTION}.download_images: false or use server 'jsoc'"
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
                    f"unit {self.unit_id}: JSOC still reports a pending export request for this "
                    f"user after {elapsed:.0f} s ({waits} tries; status 7: one pending export per "
                    "user). Let the other export finish (or run fewer jsoc jobs at once), then "
                    f"rerun; or raise {SECTION}.pending_export_wait_s."
                )
            delay = max(s.poll_interval_s, s.retry.delay(waits))
            log.info(
                "unit %s: JSOC allows one pending export per user; asking again in %.0f s",
                self.unit_id,
                delay,
            )
            self.sleep(delay)
        if status == STATUS_TOO_LARGE:
            raise self.fail(
                f"JSOC refused the export {rs!r} as too large (status 3); lower "
                f"{SECTION}.chunk_days"
            )
        if status not in (*_LIVE, STATUS_NOT_FOUND):
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
                    f"unit {self.unit_id}: export {req.id} still pending after "
                    f"{s.export_timeout_s:g} s (status {status}; {SECTION}.export_timeout_s). "
                    "The request id is saved in export.json: a rerun keeps waiting for the same "
                    "export."
                )
            self.sleep(s.poll_interval_s)
            self.stats["status_polls"] += 1
            self.retry(lambda: req.has_finished(), f"export status of {req.id}")

    def _saved_export(self, rs: str):
        """The export request saved for ``rs`` when the server still has it, else None."""
        state = self._load_state()
        if not (state.get("requestid") and state.get("recordset") == rs):
            return None
        try:
            req = self.retry(
                lambda: self.client.export_from_id(state["requestid"]),
                f"status of saved export {state['requestid']}",
            )
        except PermanentError:
            return None
        if int(req.status) not in _LIVE:
            log.info(
                "unit %s: saved export %s has status %s; submitting a new one",
                self.unit_id,
                state["requestid"],
                req.status,
            )
            return None
        return req

    def export(self, rs: str):
        """A finished export of ``rs``: the saved one if it is still valid, else a new one.

        Raises
        ------
        flarepipe.io.download.RetryBudgetExceeded
            Exports kept failing (``retry.max_attempts``), or one stayed pending too long.
        UnitError
            The server refuses exports of this kind (too large, no export support).
        """
        req = self._saved_export(rs)
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
                        f"unit {self.unit_id}: export of {rs} failed {failures} time(s); retry "
                        f"budget spent (max_attempts={self.settings.retry.max_attempts}). Last "
                        f"error: {redact(str(exc), self.email)}. Rerun the job later."
                    ) from None
                delay = self.settings.retry.delay(failures)
                log.warning(
                    "unit %s: %s; new export in %.1f s",
                    self.unit_id,
                    redact(str(exc), self.email),
                    delay,
                )
                self.sleep(delay)

    @staticmethod
    def file_list(req) -> tuple[pd.DataFrame, list[str]]:
        """``(files, nodata)`` of a finished export: its records, checked file names and URLs,
        and the records for which the server has no file (``NoDataFile``).

        Raises
        ------
        flarepipe.io.download.UnsafeFilenameError
            A file name could write outside the archive.
        """
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
