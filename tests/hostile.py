"""A seeded corpus of hostile inputs, and the rule every case is judged by (issue 12).

Each :class:`Case` writes its inputs into a folder of its own and returns the call that feeds
them to one of flarepipe's public entry points: the FITS reader (:mod:`flarepipe.io.fitsio`), the
flare-list and keyword-table parsers (:mod:`flarepipe.archive.catalogues`), the HARP -> NOAA map,
config validation (:func:`flarepipe.config.validate_config`), the integrity check of stage
outputs, and a JSOC unit against the loopback server of ``tests/jsoc_server.py`` with a fault
that never goes away. :func:`run_case` runs one case within a wall-clock limit and gives it one
outcome:

good outcomes
    ``accepted``     the input is valid (or documented as repaired) and was read;
    ``rejected``     the input was read, and every bad row is a rejected row with a line and a
                     reason, none lost (rows read + rows rejected = rows given);
    ``clear_error``  an exception of the project's kinds (``ValueError`` and its subclasses
                     ``ConfigError``/``IntegrityError``, ``OSError``, the download errors) whose
                     message names the file, the config key or the record (the case says which);
    ``recovered``    (JSOC) the faulty run ended with a clear error, and a rerun against a healthy
                     server gives the records a clean run gives.

bad outcomes (the test fails on any)
    ``unnamed_error`` such an exception whose message names no file, key or record;
    ``raw_error``     any other exception (a raw traceback: ``KeyError``, ``TypeError``, ...);
    ``hang``          the case ran past its limit;
    ``lost_rows``     rows given, read and rejected do not add up: something was dropped silently;
    ``wrong``         the call returned, but what it returned breaks the case's own check.

The corpus is generated from a seed (:func:`corpus`), so it is the same on every machine; run
``python tests/hostile.py`` for the outcome counts quoted in docs/RELIABILITY.md.
"""

from __future__ import annotations

import contextlib
import copy
import random
import signal
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
SEED = 12

GOOD = ("accepted", "rejected", "clear_error", "recovered")
BAD = ("unnamed_error", "raw_error", "hang", "lost_rows", "wrong")


class CaseTimeout(BaseException):
    """The case ran past its wall-clock limit (a ``BaseException``: no handler may swallow it)."""


class Wrong(AssertionError):
    """A case's own check of a returned value failed."""


class LostRows(AssertionError):
    """Rows given, read and rejected do not add up."""


@dataclass(frozen=True)
class Prepared:
    """What a case's ``build`` returns: the call, what an error must name, how to judge a value."""

    call: Callable[[], Any]
    names: tuple[str, ...]
    check: Callable[[Any], str] = lambda value: "accepted"
    rerun: Callable[[], str] | None = None
    must_refuse: bool = False  # accepting it is ``wrong`` (a conflict the schema alone allows)


@dataclass(frozen=True)
class Case:
    """One hostile input: a kind (what it feeds), a name, and how to build it in a folder."""

    kind: str
    name: str
    build: Callable[[Path], Prepared]
    limit_s: float = 10.0


@dataclass
class Result:
    """The outcome of one case, with the message or traceback that decided it."""

    case: Case
    outcome: str
    detail: str = ""
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------ the runner
@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`CaseTimeout` in the main thread after ``seconds`` (elsewhere: no limit)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def fire(signum, frame):
        raise CaseTimeout(f"ran past {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _clear_types() -> tuple[type, ...]:
    from flarepipe.io.download import DownloadError

    return (ValueError, OSError, DownloadError)


def run_case(case: Case, folder: Path) -> Result:
    """Run one case in ``folder`` (created) and judge it (module docstring)."""
    import logging
    import warnings

    logging.disable(logging.WARNING)  # retries log by design; the outcome is what is judged
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    prep = case.build(folder)
    outcome, detail = "accepted", ""
    try:
        with time_limit(case.limit_s), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = prep.call()
            outcome = prep.check(value)
            if prep.must_refuse and outcome == "accepted":
                raise Wrong("accepted an input that must be refused before any job")
    except CaseTimeout as exc:
        outcome, detail = "hang", str(exc)
    except LostRows as exc:
        outcome, detail = "lost_rows", str(exc)
    except Wrong as exc:
        outcome, detail = "wrong", str(exc)
    except _clear_types() as exc:
        detail = f"{type(exc).__name__}: {exc}"
        outcome = "clear_error" if any(n in str(exc) for n in prep.names) else "unnamed_error"
        if outcome == "clear_error" and prep.rerun is not None:
            try:
                with time_limit(case.limit_s):
                    outcome = prep.rerun()
            except CaseTimeout as exc2:
                outcome, detail = "hang", f"rerun: {exc2}"
            except Exception:  # noqa: BLE001 - judged, not hidden: the traceback is the detail
                outcome, detail = "raw_error", "rerun: " + traceback.format_exc(limit=-3)
    except Exception:  # noqa: BLE001 - a raw traceback is the outcome being looked for
        outcome, detail = "raw_error", traceback.format_exc(limit=-3)
    finally:
        logging.disable(logging.NOTSET)
    return Result(case, outcome, detail, time.monotonic() - t0)


def run_corpus(cases: list[Case], folder: Path) -> list[Result]:
    """Every case in a subfolder of ``folder`` of its own, in order."""
    return [run_case(c, folder / f"{i:03d}-{c.kind}") for i, c in enumerate(cases)]


def summary(results: list[Result]) -> str:
    """The outcome counts per kind, as a Markdown table (quoted in docs/RELIABILITY.md)."""
    kinds = sorted({r.case.kind for r in results})
    outcomes = [o for o in GOOD + BAD if any(r.outcome == o for r in results)]
    counts = Counter((r.case.kind, r.outcome) for r in results)
    head = "| kind | cases | " + " | ".join(outcomes) + " |"
    rows = [head, "|" + "---|" * (len(outcomes) + 2)]
    for k in kinds + ["all"]:
        n = sum(1 for r in results if k in ("all", r.case.kind))
        cells = [
            str(sum(v for (kk, o), v in counts.items() if o == out and k in ("all", kk)))
            for out in outcomes
        ]
        rows.append(f"| {k} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


# -------------------------------------------------------------------------------- FITS patches
_CARDS = {
    "HARPNUM": 377,
    "T_REC": "2011.02.15_02:00:00_TAI",
    "NOAA_ARS": "11158",
    "QUALITY": 0,
    "USFLUXL": 2.1e22,
    "MEANGBL": 80.0,
    "R_VALUE": 3.5,
    "AREA": 900.0,
}
_FITS_NAME = "hmi.sharp_cea_720s.377.20110215_020000_TAI.magnetogram.fits"


def _image(rng: np.random.Generator, shape=(24, 40)) -> np.ndarray:
    from flarepipe.io.fitsio import quantise

    return quantise(rng.normal(0, 300, shape).astype(np.float32))


def _valid_fits(path: Path, rng: np.random.Generator, compress=True, **cards) -> bytes:
    from flarepipe.io.fitsio import write_patch

    write_patch(path, _image(rng), {**_CARDS, **cards}, compress=compress)
    return path.read_bytes()


def _raw_card(path: Path, key: str, text: str) -> None:
    """Write ``text`` as the raw value of card ``key`` (astropy refuses to write NaN/inf cards,
    which older exports carry as the bare word ``nan``)."""
    blob = bytearray(path.read_bytes())
    at = blob.find(key.ljust(8).encode() + b"= ")
    assert at >= 0, key
    value = text if text.startswith("'") else text.rjust(20)  # strings start in column 11
    blob[at + 10 : at + 80] = value.ljust(70).encode()
    path.write_bytes(bytes(blob))


def _read_fits(path: Path) -> Prepared:
    from flarepipe.io.fitsio import header_to_record, read_patch

    def call():
        data, header = read_patch(path)
        return data, header_to_record(header, path)

    def check(value) -> str:
        data, rec = value
        if data.ndim != 2 or data.dtype != np.float32:
            raise Wrong(f"{path}: read as {data.dtype} {data.shape}")
        if not isinstance(rec["region"], int) or rec["region"] <= 0:
            raise Wrong(f"{path}: region {rec['region']!r}")
        return "accepted"

    return Prepared(call, (str(path),), check)


def _fits_cases(rng: random.Random) -> list[Case]:
    out: list[Case] = []

    def add(name: str, make: Callable[[Path, np.random.Generator], None]) -> None:
        seed = rng.randrange(2**31)

        def build(folder: Path, make=make, seed=seed) -> Prepared:
            path = folder / _FITS_NAME
            make(path, np.random.default_rng(seed))
            return _read_fits(path)

        out.append(Case("fits", name, build))

    add("valid RICE", lambda p, g: _valid_fits(p, g))
    add("valid uncompressed", lambda p, g: _valid_fits(p, g, compress=False))
    add("empty file", lambda p, g: p.write_bytes(b""))
    add("random bytes", lambda p, g: p.write_bytes(g.bytes(5000)))
    add("text file", lambda p, g: p.write_text("SIMPLE = T\nnot really\n"))
    for frac in sorted({round(rng.uniform(0.05, 0.97), 3) for _ in range(6)}):

        def truncated(p, g, frac=frac):
            blob = _valid_fits(p, g)
            p.write_bytes(blob[: int(len(blob) * frac)])

        add(f"RICE truncated at {frac:.0%}", truncated)
    for k in range(5):

        def flipped(p, g, k=k):
            blob = bytearray(_valid_fits(p, g))
            start = 2 * 2880  # past the primary and the compressed table's header blocks
            for i in g.integers(start, len(blob), size=8 * (k + 1)):
                blob[int(i)] ^= 0xFF
            p.write_bytes(bytes(blob))

        add(f"RICE with {8 * (k + 1)} flipped data bytes", flipped)

    def header_only(p, g):
        from astropy.io import fits

        fits.HDUList([fits.PrimaryHDU()]).writeto(p)

    add("primary HDU without an image", header_only)

    def shaped(shape):
        def make(p, g):
            from astropy.io import fits

            fits.HDUList([fits.PrimaryHDU(np.zeros(shape, np.float32))]).writeto(p)

        return make

    add("1-D image", shaped((40,)))
    add("3-D cube", shaped((2, 8, 8)))
    for key, value in [
        ("T_REC", "'yesterday'"),
        ("T_REC", "'2011.13.45_99:00:00_TAI'"),
        ("T_REC", "''"),
        ("HARPNUM", "nan"),
        ("HARPNUM", "'three'"),
        ("HARPNUM", "-5"),
        ("QUALITY", "'bad'"),
        ("QUALITY", "nan"),
        ("NOAA_ARS", "'MISSING'"),
        ("USFLUXL", "'nan'"),
        ("USFLUXL", "nan"),
        ("R_VALUE", "inf"),
        ("NAXIS1", "-3"),
        ("ZNAXIS1", "'wide'"),
    ]:

        def card(p, g, k=key, v=value):
            _valid_fits(p, g)
            _raw_card(p, k, v)

        add(f"header {key}={value}", card)

    def no_region(p, g):
        cards = {k: v for k, v in _CARDS.items() if k != "HARPNUM"}
        from flarepipe.io.fitsio import write_patch

        write_patch(p, _image(g), cards)

    add("no HARPNUM, JSOC file name", no_region)
    return out


def _fits_no_name_case() -> Case:
    def build(folder: Path) -> Prepared:
        from flarepipe.io.fitsio import write_patch

        path = folder / "anonymous.fits"
        cards = {k: v for k, v in _CARDS.items() if k != "HARPNUM"}
        write_patch(path, _image(np.random.default_rng(1)), cards)
        return _read_fits(path)

    return Case("fits", "no HARPNUM, no JSOC file name", build)


# ---------------------------------------------------------------------------------- flare lists
_GOES_TXT = [
    "2011-02-15T01:44:00;2011-02-15T01:56:00;2011-02-15T02:06:00;AR11158;X2.2;S20W10",
    "2011-02-13T17:28:00;2011-02-13T17:38:00;2011-02-13T17:47:00;AR11158;M6.6;S20E05",
    "2011-02-14T17:20:00;2011-02-14T17:26:00;2011-02-14T17:32:00;AR11158;M2.2;S20W04",
]


def _flare_mutations() -> list[tuple[str, Callable[[list[str]], str]]]:
    """(name, field edit) pairs for one ';'-separated goes_txt line."""

    def field(i, value):
        return lambda f: ";".join(f[:i] + [value] + f[i + 1 :])

    return [
        ("class 'Z9.9'", field(4, "Z9.9")),
        ("class ''", field(4, "")),
        ("class 'M-1'", field(4, "M-1")),
        ("class 'M1.2.3'", field(4, "M1.2.3")),
        ("class 'X' (bare letter)", field(4, "X")),
        ("class 'm5,5' (decimal comma)", field(4, "m5,5")),
        ("class 'M1e400'", field(4, "M1e400")),
        ("class 'X' and 400 nines", field(4, "X" + "9" * 400)),
        ("region 'AR-12'", field(3, "AR-12")),
        ("region 'inf'", field(3, "inf")),
        ("region 'AR1e400'", field(3, "AR1e400")),
        ("region 'ARxyz'", field(3, "ARxyz")),
        ("region '1158' (offset lost)", field(3, "1158")),
        ("region '0'", field(3, "0")),
        ("region '11158.5'", field(3, "11158.5")),
        ("start 'soon'", field(0, "soon")),
        ("start ''", field(0, "")),
        ("peak before start by two days", field(1, "2011-02-11T00:00:00")),
        ("end before peak by two days", field(2, "2011-02-10T00:00:00")),
        ("peak 00:00 (midnight roll)", field(1, "2011-02-15T00:00:00")),
        ("start 2011-02-30", field(0, "2011-02-30T01:00:00")),
        ("start 25:61", field(0, "2011-02-15T25:61:00")),
        ("start year 99999", field(0, "99999-01-01T00:00:00")),
        ("seven fields", lambda f: ";".join([*f, "extra"])),
        ("five fields", lambda f: ";".join(f[:5])),
        ("NUL byte", lambda f: ";".join(f).replace("AR", "A\0R")),
        ("duplicate", lambda f: ";".join(f) + "\n" + ";".join(f)),
    ]


def _flares_check(path: Path, n_rows: int) -> Callable[[Any], str]:
    def check(res) -> str:
        n_read, n_rej = len(res.flares), len(res.rejected)
        if n_read + n_rej != n_rows:
            raise LostRows(f"{path}: {n_rows} rows given, {n_read} read + {n_rej} rejected")
        for r in res.rejected.itertuples():
            if not str(r.reason).strip() or int(r.line) < 1:
                raise Wrong(f"{path}: rejected row without line or reason: {r}")
        fl = res.flares
        if len(fl) and not (
            (fl["start_utc"] <= fl["peak_utc"]).all() and (fl["peak_utc"] <= fl["end_utc"]).all()
        ):
            raise Wrong(f"{path}: a flare read out of time order")
        if len(fl) and not (fl["peak_flux_wm2"] > 0).all():
            raise Wrong(f"{path}: a flare read with a flux <= 0")
        return "rejected" if n_rej else "accepted"

    return check


def _flare_cases(rng: random.Random) -> list[Case]:
    from flarepipe.archive.catalogues.flares import read_flare_file

    out: list[Case] = []
    for name, edit in _flare_mutations():
        target = rng.randrange(len(_GOES_TXT))

        def build(folder: Path, edit=edit, target=target) -> Prepared:
            lines = list(_GOES_TXT)
            lines[target] = edit(lines[target].split(";"))
            text = "\n".join(lines) + "\n"
            path = folder / "goes_events.txt"
            path.write_text(text)
            n = sum(1 for ln in text.splitlines() if ln.strip() and not ln.startswith("#"))
            return Prepared(
                lambda: read_flare_file(path, "goes_txt"), (str(path),), _flares_check(path, n)
            )

        out.append(Case("flares", f"goes_txt: {name}", build))

    def whole(name: str, text: bytes | str | None, fmt: str, n_rows: int | None = None) -> None:
        def build(folder: Path) -> Prepared:
            path = folder / "flares.list"
            if isinstance(text, bytes):
                path.write_bytes(text)
            elif text is not None:  # None: the file does not exist
                path.write_text(text)
            check = _flares_check(path, n_rows) if n_rows is not None else (lambda v: "accepted")
            return Prepared(lambda: read_flare_file(path, fmt), (str(path),), check)

        out.append(Case("flares", name, build))

    whole("empty file, auto format", "", "auto")
    whole("empty file, goes_txt", "", "goes_txt", 0)
    whole("empty file, swpc_csv", "", "swpc_csv")
    whole("empty file, sc24_csv", "", "sc24_csv")
    whole("empty file, flares_csv", "", "flares_csv")
    whole("binary garbage, auto", bytes(rng.randrange(256) for _ in range(600)), "auto")
    whole("latin-1 bytes, goes_txt", "é;".encode("latin-1") * 40, "goes_txt")
    whole("unknown header, auto", "when,what,where\n1,2,3\n", "auto")
    swpc_head = (
        "date,event_no,start_time,max_time,end_time,goes_sat,goes_channel,goes_class_ind,"
        "goes_class,integrated_flux,noaa_ar,ts\n"
    )
    swpc_row = (
        "0,20110215,1,2011-02-15 01:44:00,{max},2011-02-15 02:06:00,GO15,1-8A,X,{cls},1,{ar},1\n"
    )
    whole(
        "swpc_csv: bad max_time, class, region",
        swpc_head
        + swpc_row.format(max="0156", cls="X2.2", ar="11158")
        + swpc_row.format(max="9999", cls="X2.2", ar="11158")
        + swpc_row.format(max="////", cls="M1.0", ar="0")
        + swpc_row.format(max="0150", cls="Q1", ar="11158")
        + swpc_row.format(max="0150", cls="M1.0", ar="eleven"),
        "swpc_csv",
        5,
    )
    whole("swpc_csv: header only", swpc_head, "swpc_csv", 0)
    whole("swpc_csv: missing columns", "date,start_time\n0,2011-01-01\n", "swpc_csv")
    whole(
        "swpc_csv: short row",
        swpc_head + swpc_row.format(max="0156", cls="X2.2", ar="11158") + "1,2,3\n",
        "swpc_csv",
        2,
    )
    sc24_head = "event_starttime,event_peaktime,event_endtime,goes_class,noaa_ar\n"
    whole(
        "sc24_csv: bad cells",
        sc24_head
        + "0,2011-02-15 01:44:00,2011-02-15 01:56:00,2011-02-15 02:06:00,X2.2,11158\n"
        + "1,not a time,2011-02-15 01:56:00,2011-02-15 02:06:00,X2.2,11158\n"
        + "2,2011-02-15 01:44:00,2011-02-15 01:56:00,2011-02-15 02:06:00,X2.2,     \n"
        + "3,2011-02-15 01:44:00,2011-02-15 01:56:00,2011-02-15 02:06:00,,11158\n",
        "sc24_csv",
        4,
    )
    whole("sc24_csv: missing columns", "a,b\n0,1,2\n", "sc24_csv")
    fl_head = "start_utc,peak_utc,end_utc,goes_class,peak_flux_wm2,noaa_ar,region_missing\n"
    whole("flares_csv: missing columns", "start_utc,peak_utc\n2011-01-01,2011-01-01\n", "auto")
    whole(
        "flares_csv: unreadable time",
        fl_head + "never,2011-01-01,2011-01-01,M1.0,1e-5,11158,False\n",
        "flares_csv",
    )
    whole(
        "flares_csv: region 'abc'",
        fl_head + "2011-01-01,2011-01-01,2011-01-01,M1.0,1e-5,abc,False\n",
        "flares_csv",
    )
    whole(
        "flares_csv: flux 'high'",
        fl_head + "2011-01-01,2011-01-01,2011-01-01,M1.0,high,11158,False\n",
        "flares_csv",
    )
    whole("flares_csv: header only", fl_head, "flares_csv", 0)
    whole("missing file", None, "auto")
    return out


# ------------------------------------------------------------------------------- keyword tables
_KW_HEAD = "prefix,arpnum,t_start,t_end,label,flares,FLARE_INDEX,AREA,USFLUX,MEANGBZ,R_VALUE"
_KW_ROWS = [
    "HARP,377,2011-02-14 00:00:00,2011-02-15 00:00:00,True,M2.2,10.0,900.0,2.1e+22,80.0,3.5",
    "HARP,377,2011-02-14 01:36:00,2011-02-15 01:36:00,True,X2.2,12.0,910.0,2.2e+22,81.0,3.6",
    "TARP,13520,2010-07-14 00:00:00,2010-07-15 00:00:00,False,,0.0,500.0,1e+22,60.0,2.0",
]


def _kw_cases(rng: random.Random) -> list[Case]:
    from flarepipe.archive.catalogues.keyword_tables import (
        keyword_tables_to_records,
        load_keyword_tables,
    )

    def cell(i, value):
        return lambda row: ",".join(
            (row.split(",")[:i] + [value] + row.split(",")[i + 1 :])
            if i < len(row.split(","))
            else row.split(",")
        )

    edits: list[tuple[str, Callable[[str], str]]] = [
        ("prefix 'NOAA'", cell(0, "NOAA")),
        ("prefix ''", cell(0, "")),
        ("region 'x'", cell(1, "x")),
        ("region ''", cell(1, "")),
        ("region 3.5", cell(1, "3.5")),
        ("t_end 'noon'", cell(3, "noon")),
        ("t_end ''", cell(3, "")),
        ("t_end 2011-02-30", cell(3, "2011-02-30 00:00:00")),
        ("AREA 'big'", cell(7, "big")),
        ("USFLUX 'nan'", cell(8, "nan")),
        ("R_VALUE 'inf'", cell(10, "inf")),
        ("label 'maybe'", cell(4, "maybe")),
        ("one cell short", lambda row: row.rsplit(",", 1)[0]),
        ("one cell more", lambda row: row + ",42"),
        ("conflicting duplicate", lambda row: row + "\n" + row.replace(",900.0,", ",999.0,")),
    ]
    out: list[Case] = []

    def build_table(folder: Path, text: str) -> Prepared:
        path = folder / "sharp_0.csv"
        path.write_text(text)
        n = len({tuple(r.split(",")[:4:3]) for r in text.splitlines()[1:] if r.strip()})

        def call():
            table = load_keyword_tables([path])
            return keyword_tables_to_records(table)

        def check(value) -> str:
            rec, rej = value
            if len(rec) + len(rej) < n:
                raise LostRows(f"{path}: {n} records given, {len(rec)} read + {len(rej)} rejected")
            return "rejected" if len(rej) else "accepted"

        return Prepared(call, (str(path),), check)

    for name, edit in edits:
        target = rng.randrange(len(_KW_ROWS))

        def build(folder: Path, edit=edit, target=target) -> Prepared:
            rows = list(_KW_ROWS)
            rows[target] = edit(rows[target])
            return build_table(folder, _KW_HEAD + "\n" + "\n".join(rows) + "\n")

        out.append(Case("keywords", f"sharp_0.csv: {name}", build))
    for name, text in [
        ("empty file", ""),
        ("header only", _KW_HEAD + "\n"),
        ("no arpnum column", _KW_HEAD.replace("arpnum", "harp") + "\n" + _KW_ROWS[0] + "\n"),
        ("binary garbage", "".join(chr(rng.randrange(1, 256)) for _ in range(400))),
        ("one column", "prefix\nHARP\n"),
    ]:
        out.append(Case("keywords", f"sharp_0.csv: {name}", lambda f, t=text: build_table(f, t)))

    from flarepipe.archive.catalogues.flares import read_harp_noaa_map

    for name, text in [
        ("valid", "HARPNUM NOAA_ARS\n377 11158\n401 11161,11162\n"),
        ("NOAA 'abc'", "377 abc\n"),
        ("three fields", "377 11158 11159\n"),
        ("negative HARP", "-1 11158\n"),
        ("empty", ""),
        ("binary", "\x00\x01\x02 \xff\n"),
    ]:

        def build_map(folder: Path, text=text) -> Prepared:
            path = folder / "harp_noaa_map.txt"
            path.write_text(text)
            return Prepared(lambda: read_harp_noaa_map(path), (str(path),))

        out.append(Case("keywords", f"harp_noaa_map.txt: {name}", build_map))
    return out


# -------------------------------------------------------------------------------------- configs
_MUTATIONS: list[tuple[str, Any]] = [
    ("null", None),
    ("empty string", ""),
    ("-1", -1),
    ("0", 0),
    ("1e12", 1e12),
    ("nan", float("nan")),
    ("text", "not-a-value"),
    ("list", [1, "two"]),
    ("mapping", {"unexpected": 1}),
    ("true", True),
]


def _leaves(d: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    if isinstance(d, dict):
        for k, v in d.items():
            yield from _leaves(v, (*path, k))
    else:
        yield path, d


def _set(d: dict, path: tuple, value: Any) -> dict:
    out = copy.deepcopy(d)
    cur = out
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return out


def _nested(path: tuple, value: Any) -> dict:
    for k in reversed(path):
        value = {k: value}
    return value


def _config_cases(rng: random.Random, n: int = 44) -> list[Case]:
    base = yaml.safe_load((REPO / "config.yaml").read_text())
    leaves = [p for p, _ in _leaves(base)]
    picks = [(rng.choice(leaves), rng.choice(_MUTATIONS)) for _ in range(n)]
    picks = [(p, m, False) for p, m in picks]
    # conflicts every field allows alone: each must be refused before any job
    refuse = [
        (("results",), ("root", "/")),
        (("labels", "strong_class"), ("zero flux", "X0")),
        (("split", "method"), ("no test split", "region_kfold")),
        (("archive", "synthetic", "instruments"), ("HMI only for FUSED datasets", ["HMI"])),
        (("archive", "synthetic", "n_regions"), ("100000 regions (terabytes)", 100000)),
        (("features", "image_size"), ("too small for the CNN", 16)),
    ]
    picks += [(p, m, True) for p, m in refuse]
    picks += [(("no_such_section",), ("text", "x"), True)]
    picks += [(("archive", "sourcee"), ("text", "jsoc"), True)]
    out: list[Case] = []
    for path, (mname, value), must in picks:

        def build(folder: Path, path=path, value=value, must=must) -> Prepared:
            from flarepipe.config import validate_config

            mine = folder / "mine.yaml"
            mine.write_text(yaml.safe_dump(_nested(path, value)))
            cfg = _set(base, path, value)
            return Prepared(
                lambda: validate_config(cfg, source=[REPO / "config.yaml", mine]),
                (str(mine),),
                must_refuse=must,
            )

        out.append(Case("config", f"{'.'.join(path)} = {mname}", build))

    def jsoc_terabytes(folder: Path) -> Prepared:
        from flarepipe.config import validate_config

        mine = folder / "mine.yaml"
        over = {
            "archive": {
                "source": "jsoc",
                "jsoc": {"series": ["hmi.sharp_cea_720s"], "cadence": None, "end": "2024-01-01"},
                "catalogue": {"source": "file", "path": "flares.csv"},
            },
            "experiments": {"datasets": ["SHARP_ONLY"], "models": ["lstm"], "runs": 1},
        }
        mine.write_text(yaml.safe_dump(over))
        cfg = copy.deepcopy(base)
        cfg["archive"] = over["archive"]
        cfg["experiments"] = {**cfg["experiments"], **over["experiments"]}
        return Prepared(
            lambda: validate_config(cfg, source=[REPO / "config.yaml", mine]),
            (str(mine),),
            must_refuse=True,
        )

    out.append(Case("config", "jsoc: whole SHARP mission at native cadence", jsoc_terabytes))
    return out


# ------------------------------------------------------------------------ verified intermediates
def _integrity_cases() -> list[Case]:
    import pandas as pd

    from flarepipe.io.atomic import record_integrity, verify_integrity, write_csv

    def make(name: str, spoil: Callable[[Path], None]) -> Case:
        def build(folder: Path) -> Prepared:
            path = folder / "table.csv"
            df = pd.DataFrame({"a": range(50), "b": [f"r{i}" for i in range(50)]})
            write_csv(df, path)
            record_integrity(path, rows=len(df))
            spoil(path)

            def call():
                n = len(pd.read_csv(path))
                verify_integrity(path, rows=n)
                raise Wrong(f"{path}: a spoiled output passed its integrity check")

            return Prepared(call, (str(path),))

        return Case("intermediate", name, build)

    def cut_line(p: Path):
        lines = p.read_text().splitlines(keepends=True)
        p.write_text("".join(lines[:-7]))

    def edit_cell(p: Path):
        p.write_text(p.read_text().replace("r17", "r71"))

    def append(p: Path):
        with open(p, "a") as fh:
            fh.write("50,r50\n")

    return [
        make("cut at a line boundary", cut_line),
        make("one cell edited, same size", edit_cell),
        make("a row appended", append),
    ]


# ------------------------------------------------------------------------------------ JSOC unit
_JSOC_FAULTS: list[tuple[str, str, dict]] = [
    ("series_struct", "http_500", {}),
    ("rs_list", "http_503", {}),
    ("rs_list", "truncate", {"fraction": 0.5}),
    ("exp_request", "http_500", {}),
    ("exp_status", "failed", {}),
    ("exp_status", "notfound", {}),
    ("exp_status", "bad_filename", {"name": "../../evil.fits"}),
    ("file", "corrupt", {}),
    ("file", "truncate", {"fraction": 0.4}),
    ("file", "swap", {}),
    ("file", "stall", {"fraction": 0.3, "seconds": 1}),
    ("file", "trickle", {"bytes": 64, "interval": 0.05}),
]
_JSOC_SERIES = "hmi.sharp_cea_720s"
_JSOC_UNIT = "hmi.sharp_cea_720s.20110214-20110215"
_CLEAN: dict = {}  # the records.csv and file checksums of a clean run


def _jsoc_case(endpoint: str, kind: str, params: dict) -> Case:
    def build(folder: Path) -> Prepared:
        if str(Path(__file__).parent) not in sys.path:  # run as a script: the tests' helpers
            sys.path.insert(0, str(Path(__file__).parent))
        from archive_config import jsoc_section
        from flarepipe.archive.sources import jsoc
        from jsoc_server import FakeJsoc, make_records

        records = [
            r
            for r in make_records()
            if r.series == _JSOC_SERIES and r.region == 377 and r.t < np.datetime64("2011-02-14T05")
        ]
        server = FakeJsoc(records).start()

        def fetch(archive: Path):
            cfg = jsoc_section(
                {
                    "server": server.url,
                    "series": [_JSOC_SERIES],
                    "start": "2011-02-14",
                    "end": "2011-02-15",
                    "chunk_days": 1,
                    "poll_interval_s": 0,
                    "timeout_s": 0.4,
                    "export_timeout_s": 0.5,
                    "pending_export_wait_s": 0.5,
                    "progress": False,
                    "retry": {
                        "max_attempts": 2,
                        "base_delay_s": 0.01,
                        "max_delay_s": 0.02,
                        "jitter": 0,
                        "budget_s": 0.6,
                    },
                }
            )
            settings = jsoc.JsocSettings.from_section(cfg)
            (unit,) = jsoc.plan_units(settings)
            return jsoc.fetch_unit(
                unit, jsoc.make_client(settings), archive, settings=settings, email="t@example.org"
            )

        def call():
            server.add_fault(endpoint, kind, times=10_000, **params)
            try:
                fetch(folder / "archive")
            finally:
                server.faults.clear()
            raise Wrong(f"unit {_JSOC_UNIT} finished against a server that never recovers")

        def rerun() -> str:
            import pandas as pd

            from flarepipe.io.atomic import sha256_file

            try:
                out = fetch(folder / "archive")
                if "clean" not in _CLEAN:  # one clean run serves every case (same records)
                    clean = fetch(folder / "clean")
                    want = pd.read_csv(clean.parent / "records.csv", keep_default_na=False)
                    sums = {p: sha256_file(folder / "clean" / p) for p in want["path"] if p}
                    _CLEAN["clean"] = (want, sums)
            finally:
                server.stop()
            want, sums = _CLEAN["clean"]
            got = pd.read_csv(out.parent / "records.csv", keep_default_na=False)
            if not got.equals(want):
                raise Wrong(f"{out.parent}: records.csv after the rerun differ from a clean run")
            for rel in got["path"][got["path"] != ""]:
                if sha256_file(folder / "archive" / rel) != sums.get(rel):
                    raise Wrong(f"{rel}: differs from a clean run's file after the rerun")
            return "recovered"

        return Prepared(call, (_JSOC_UNIT,), rerun=rerun)

    return Case("jsoc", f"{endpoint}: {kind} forever", build, limit_s=20.0)


# --------------------------------------------------------------------------------------- corpus
def corpus(seed: int = SEED) -> list[Case]:
    """Every case, generated from ``seed`` (the same list on every machine)."""
    rng = random.Random(seed)
    return [
        *_fits_cases(rng),
        _fits_no_name_case(),
        *_flare_cases(rng),
        *_kw_cases(rng),
        *_config_cases(rng),
        *_integrity_cases(),
        *(_jsoc_case(e, k, p) for e, k, p in _JSOC_FAULTS),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the corpus in a temporary folder; print the counts and every bad outcome."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="flarepipe-hostile-") as tmp:
        results = run_corpus(corpus(), Path(tmp))
    print(summary(results))
    slow = sorted(results, key=lambda r: -r.seconds)[:5]
    print("slowest:", ", ".join(f"{r.case.kind}: {r.case.name} {r.seconds:.1f} s" for r in slow))
    per_kind = Counter()
    for r in results:
        per_kind[r.case.kind] += r.seconds
    print("seconds per kind:", {k: round(v, 1) for k, v in per_kind.items()})
    bad = [r for r in results if r.outcome in BAD]
    for r in bad:
        print(f"\n{r.outcome}: {r.case.kind}: {r.case.name}\n{r.detail}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
