"""Resumable, verified file downloads and the retry policy shared by the network sources.

Layering (``docs/SOURCES.md``, section jsoc): this module only sends bytes over HTTP and checks
them; building queries and parsing answers lives in :mod:`flarepipe.archive.sources.jsoc` and
:mod:`flarepipe.archive.catalogues.flares`, which take their :class:`RetryPolicy` from their
validated config section with :meth:`RetryPolicy.from_section`.

Guarantees of :func:`download_file`:

* bytes go to ``<name>.part`` beside the target and are renamed onto the final name only once the
  transfer is complete (``Content-Length``/``Content-Range`` agree) and, for FITS files, the file
  is a whole number of 2880-byte blocks that :func:`flarepipe.io.fitsio.read_patch` can read. A
  killed job therefore never leaves a partial file under its final name;
* an interrupted transfer restarts where it stopped with an HTTP ``Range`` request; a server that
  ignores ``Range`` (answers 200) makes it start again from byte 0, never append a second copy;
* file names that come from a server are checked by :func:`safe_filename`: no ``..``, no absolute
  paths, no path separators, nothing that could write outside the archive folder.

:class:`RetryPolicy` and :func:`call_with_retry` give every network step the same bounded budget
(attempts and seconds) with exponential backoff and jitter; when the budget is spent
:class:`RetryBudgetExceeded` names the unit, the step and the last error.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TypeVar

from flarepipe.io.atomic import require_free_space

__all__ = [
    "DownloadError",
    "TransientError",
    "PermanentError",
    "UnsafeFilenameError",
    "RetryBudgetExceeded",
    "RetryPolicy",
    "DownloadResult",
    "safe_filename",
    "safe_join",
    "is_transient",
    "call_with_retry",
    "download_file",
    "socket_timeout",
    "redact",
]

T = TypeVar("T")

FITS_BLOCK = 2880
_USER_AGENT = "flarepipe (+https://github.com/; resumable downloader)"


class DownloadError(RuntimeError):
    """Base class of the errors raised by the network layer."""


class TransientError(DownloadError):
    """A failure worth retrying: truncated body, corrupt file, server busy, export still pending."""


class PermanentError(DownloadError):
    """A failure that retrying cannot fix (bad query, HTTP 404, unsafe file name)."""


class UnsafeFilenameError(PermanentError):
    """A file name from a server answer would write outside the archive folder."""


class RetryBudgetExceeded(DownloadError):
    """The retry budget of a unit is spent; the message names the unit, step and last error."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff.

    Attributes
    ----------
    max_attempts : int
        Attempts per step (first try included) before giving up.
    base_delay_s : float
        Delay after the first failure; doubles after each further failure.
    max_delay_s : float
        Upper bound of one delay.
    budget_s : float
        Wall-clock budget of one step, retries and delays included.
    jitter : float
        Fraction of each delay drawn at random (0 = none), to spread parallel jobs apart.
    """

    max_attempts: int = 6
    base_delay_s: float = 5.0
    max_delay_s: float = 300.0
    budget_s: float = 3600.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"retry.max_attempts must be >= 1, got {self.max_attempts}")
        for name in ("base_delay_s", "max_delay_s", "budget_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"retry.{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"retry.jitter must be in [0, 1], got {self.jitter}")

    @classmethod
    def from_section(cls, section: Mapping | None, where: str = "retry") -> RetryPolicy:
        """The policy of a validated ``retry`` config section (keys as the attributes).

        Parameters
        ----------
        section
            E.g. ``archive.jsoc.retry``, as the schema filled it; missing keys take the class
            defaults, ``None`` gives the default policy.
        where
            The section's name, for error messages.

        Raises
        ------
        ValueError
            An unknown key or a value out of range, naming ``where``.
        """
        d = dict(section or {})
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}")
        try:
            return cls(**d)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None

    def delay(self, failures: int) -> float:
        """Delay before the next attempt after ``failures`` consecutive failures (>= 1)."""
        d = min(self.max_delay_s, self.base_delay_s * 2 ** max(failures - 1, 0))
        return d * (1.0 - self.jitter * random.random())


@dataclass(frozen=True)
class DownloadResult:
    """What :func:`download_file` did: final path, size, checksum, bytes fetched in this call."""

    path: Path
    size: int
    sha256: str
    fetched_bytes: int
    resumed_from: int
    requests: int


# --------------------------------------------------------------------------- secrets in messages


def redact(text: str, *secrets: str | None) -> str:
    """Replace every secret (and its URL-encoded forms) in ``text`` by ``<redacted>``.

    For an e-mail address the ``requester=<local part>`` query parameter that drms derives from it
    is redacted too.
    """
    from urllib.parse import quote, quote_plus

    out = str(text)
    for s in secrets:
        if not s:
            continue
        forms = {s, quote(s, safe=""), quote_plus(s), quote(s), quote_plus(quote_plus(s))}
        for form in sorted(forms, key=len, reverse=True):
            out = out.replace(form, "<redacted>")
        if "@" in s:
            local = s.split("@", 1)[0]
            for form in {local, quote(local, safe=""), quote_plus(local)}:
                out = re.sub(
                    rf"(requester|requestor)=({re.escape(form)})(?=&|$|\s|'|\")",
                    r"\1=<redacted>",
                    out,
                )
    return out


# --------------------------------------------------------------------------- file names


_BAD_NAME = re.compile(r"[\x00-\x1f\x7f/\\:]")


def safe_filename(name: object) -> str:
    r"""Return ``name`` if it is a plain file name, else raise :class:`UnsafeFilenameError`.

    Refused: empty names, ``.`` and ``..`` and any name starting with ``.`` (hidden files and our
    own ``.part`` files), absolute paths, path separators (``/``, ``\``), drive letters (``:``)
    and control characters.
    """
    if not isinstance(name, str):
        raise UnsafeFilenameError(f"file name from server is not a string: {name!r}")
    problem = None
    if not name or name != name.strip():
        problem = "empty or padded with blanks"
    elif ".." in name:
        problem = "contains '..'"
    elif os.path.isabs(name) or name.startswith(("/", "\\")):
        problem = "absolute path"
    elif "/" in name or "\\" in name:
        problem = "contains a path separator"
    elif name.startswith("."):
        problem = "starts with '.'"
    elif _BAD_NAME.search(name):
        problem = "contains ':' or control characters"
    elif len(name) > 255:
        problem = "longer than 255 characters"
    if problem:
        raise UnsafeFilenameError(
            f"refusing file name from server answer: {name!r} ({problem}); a file name must be a "
            "plain name inside the archive folder"
        )
    return name


def safe_join(folder: str | os.PathLike, name: str) -> Path:
    """Join a checked file name to ``folder`` and verify the result stays inside it."""
    folder = Path(folder).resolve()
    target = (folder / safe_filename(name)).resolve()
    if target.parent != folder:
        raise UnsafeFilenameError(f"file name {name!r} resolves outside {folder}")
    return target


# --------------------------------------------------------------------------- retries


def is_transient(exc: BaseException) -> bool:
    """True for errors that a retry may cure: 5xx/408/429, timeouts, resets, truncated bodies."""
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, PermanentError):
        return False
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500 or exc.code in (408, 425, 429)
    if isinstance(
        exc,
        (
            urllib.error.URLError,
            TimeoutError,
            socket.timeout,
            ConnectionError,
            http.client.HTTPException,
            json.JSONDecodeError,
        ),
    ):
        return True
    if isinstance(exc, OSError) and exc.errno is None:
        return True  # e.g. "Failed to load return from the HEKClient" wraps a decode error
    return False


def call_with_retry(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy,
    what: str,
    unit_id: str,
    transient: Callable[[BaseException], bool] = is_transient,
    secrets: tuple[str | None, ...] = (),
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Call ``fn`` until it succeeds, retrying transient errors within ``policy``'s budget.

    A permanent error is re-raised at once as :class:`PermanentError` naming the unit and the step.
    When the attempts or the seconds are spent, :class:`RetryBudgetExceeded` names the unit, the
    step and the last error. Messages pass through :func:`redact` with ``secrets`` and the original
    exception is not chained (it may carry a URL with the e-mail address in it).
    """
    t0 = clock()
    failures = 0
    while True:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classified below
            msg = redact(f"{type(exc).__name__}: {exc}", *secrets)
            if not transient(exc):
                if isinstance(exc, PermanentError):
                    raise type(exc)(
                        f"unit {unit_id}: {what}: {redact(str(exc), *secrets)}"
                    ) from None
                raise PermanentError(f"unit {unit_id}: {what} failed: {msg}") from None
            failures += 1
            elapsed = clock() - t0
            delay = policy.delay(failures)
            if failures >= policy.max_attempts or elapsed + delay > policy.budget_s:
                raise RetryBudgetExceeded(
                    f"unit {unit_id}: {what} failed {failures} time(s) in {elapsed:.1f} s; retry "
                    f"budget spent (max_attempts={policy.max_attempts}, "
                    f"budget_s={policy.budget_s:g}). Last error: {msg}. Files already complete are "
                    "kept: rerun the job to resume, or raise the retry budget (retry.max_attempts "
                    "/ retry.budget_s of archive.jsoc or archive.catalogue.hek)."
                ) from None
            if on_retry is not None:
                on_retry(failures, exc, delay)
            sleep(delay)


@contextlib.contextmanager
def socket_timeout(seconds: float | None) -> Iterator[None]:
    """Set the process-wide default socket timeout for the block (drms and sunpy's HEK client open
    their HTTP connections without a timeout argument), restoring the previous value after.
    """
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


# --------------------------------------------------------------------------- downloads


def _part_path(target: Path) -> Path:
    return target.with_name(target.name + ".part")


def _parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    m = re.match(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", value or "")
    if not m:
        return None
    total = None if m.group(3) == "*" else int(m.group(3))
    return int(m.group(1)), int(m.group(2)), total


def _check_fits(path: Path, validate: Callable[[Path], None] | None) -> None:
    size = path.stat().st_size
    if size == 0 or size % FITS_BLOCK:
        raise TransientError(
            f"{path.name}: {size} bytes is not a whole number of 2880-byte FITS blocks (truncated?)"
        )
    if validate is not None:
        try:
            validate(path)
        except Exception as exc:  # noqa: BLE001
            raise TransientError(
                f"{path.name}: downloaded file does not read as FITS ({exc})"
            ) from None


def _default_fits_validate(path: Path) -> None:
    from flarepipe.io.fitsio import read_patch

    read_patch(path)


def download_file(
    url: str,
    target: str | os.PathLike,
    *,
    timeout: float = 60.0,
    chunk_size: int = 1 << 16,
    fits: bool | None = None,
    validate: Callable[[Path], None] | None = _default_fits_validate,
    progress: object | None = None,
    opener: Callable[..., object] = urllib.request.urlopen,
    deadline: float | None = None,
) -> DownloadResult:
    """Download ``url`` to ``target`` through ``target.part``, resuming a previous partial transfer.

    Parameters
    ----------
    url
        HTTP(S) URL of the file.
    target
        Final path. Never written to until the transfer is complete and verified.
    timeout
        Socket timeout (seconds) of the connection and of each read: a stalled server raises
        ``TimeoutError``, which callers retry.
    chunk_size
        Read size in bytes.
    fits
        Verify the file as FITS before renaming (default: when the name ends with ``.fits``).
    validate
        Extra check of a complete FITS file (default: it reads with
        :func:`flarepipe.io.fitsio.read_patch`).
    progress
        Optional tqdm-like object; ``update(n)`` is called with each chunk's size.
    opener
        ``urllib.request.urlopen`` or a stand-in.
    deadline
        ``time.monotonic()`` value after which the transfer stops (``TransientError``, the bytes
        received kept for a resume): per-read timeouts alone never end a transfer from a server
        that trickles bytes. Reached at most one read (``timeout``) late.

    Returns
    -------
    DownloadResult

    Raises
    ------
    TransientError
        Truncated or corrupt transfer. A truncated transfer keeps its ``.part`` file so that
        the next call resumes; a corrupt complete file is deleted so the next call starts over.
    urllib.error.HTTPError, TimeoutError, ConnectionError
        From the transport; retry with :func:`call_with_retry`.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = _part_path(target)
    fits = target.name.endswith(".fits") if fits is None else fits
    offset = part.stat().st_size if part.exists() else 0
    resumed_from = offset
    fetched = 0
    requests = 0

    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    if offset > 0:
        req.add_header("Range", f"bytes={offset}-")
    requests += 1
    try:
        resp = opener(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset > 0:
            # Range not satisfiable: our .part is at least as long as the file. Verify it as it is;
            # if it does not check out, start again from zero next time.
            exc.close()
            try:
                if fits:
                    _check_fits(part, validate)
            except TransientError:
                part.unlink(missing_ok=True)
                raise
            return _finish(part, target, fetched, resumed_from, requests)
        raise
    with contextlib.closing(resp):  # type: ignore[arg-type]
        status = getattr(resp, "status", None) or resp.getcode()
        headers = resp.headers
        length = headers.get("Content-Length")
        expected = int(length) if length is not None and length.isdigit() else None
        mode = "ab"
        if status == 206:
            cr = _parse_content_range(headers.get("Content-Range"))
            if cr is None or cr[0] != offset:
                # the server resumed somewhere else: do not trust it, start over next time
                part.unlink(missing_ok=True)
                raise TransientError(
                    f"{target.name}: server answered a Range request with "
                    f"Content-Range {headers.get('Content-Range')!r}; restarting"
                )
            total = cr[2]
        else:
            # 200: full body (the server ignored Range or there was none)
            mode, offset, total = "wb", 0, expected
        if mode == "wb":
            resumed_from = 0
        if expected:
            # the bytes still to come must fit: a full disk mid-transfer leaves a torn .part
            require_free_space(target.parent, expected, f"download of {target.name}")
        # unbuffered writes of whatever arrived (read1): a killed job leaves every received byte
        # in the .part file, ready for a Range request
        read = getattr(resp, "read1", None) or resp.read
        with open(part, mode, buffering=0) as fh:
            try:
                while True:
                    block = read(chunk_size)
                    if not block:
                        break
                    fh.write(block)
                    fetched += len(block)
                    if progress is not None:
                        progress.update(len(block))
                    if deadline is not None and time.monotonic() > deadline:
                        os.fsync(fh.fileno())
                        raise TransientError(
                            f"{target.name}: transfer still running at its wall-clock budget "
                            f"after {offset + fetched} bytes{f' of {total}' if total else ''} "
                            "(a server trickling bytes?); will resume from there"
                        )
            except http.client.IncompleteRead as exc:
                fh.write(exc.partial)
                fetched += len(exc.partial)
                os.fsync(fh.fileno())
                raise TransientError(
                    f"{target.name}: transfer cut after {offset + fetched} bytes"
                    f"{f' of {total}' if total else ''}; will resume from there"
                ) from None
            os.fsync(fh.fileno())
        if expected is not None and fetched < expected:
            raise TransientError(f"{target.name}: got {fetched} of {expected} bytes; will resume")
        if total is not None and part.stat().st_size != total:
            size = part.stat().st_size
            if size > total:
                part.unlink(missing_ok=True)
            raise TransientError(f"{target.name}: {size} bytes on disk, server says {total}")
    if fits:
        try:
            _check_fits(part, validate)
        except TransientError:
            part.unlink(missing_ok=True)  # complete but corrupt: start from zero next time
            raise
    return _finish(part, target, fetched, resumed_from, requests)


def _finish(
    part: Path, target: Path, fetched: int, resumed_from: int, requests: int
) -> DownloadResult:
    from flarepipe.io.atomic import sha256_file

    size = part.stat().st_size
    digest = sha256_file(part)
    os.replace(part, target)
    return DownloadResult(
        path=target,
        size=size,
        sha256=digest,
        fetched_bytes=fetched,
        resumed_from=resumed_from,
        requests=requests,
    )
