"""A loopback JSOC server for tests: enough of the DRMS/JSOC protocol that ``drms.Client`` 0.9 uses.

Endpoints (as drms builds them from a ``ServerConfig`` with ``cgi_baseurl=<base>/cgi-bin/ajax/``):

* ``jsoc_info?op=series_struct&ds=<series>``: prime keys, keyword types, segments;
* ``jsoc_info?op=rs_list&ds=<record set>&key=a,b,...``: keyword values as strings (QUALITY in hex,
  as JSOC writes it);
* ``jsoc_fetch?op=exp_request&ds=...&notify=...&method=url&protocol=fits&filenamefmt=...``: status 2
  and a request id; status 7 ("User ... has 1 pending export requests") while the same user has an
  unfinished export, like the real server;
* ``jsoc_fetch?op=exp_status&requestid=...``: status 1 for ``slow_polls`` polls, then 0 with ``dir``
  and ``data`` (record, filename); 6 for an unknown id;
* ``checkAddress.sh``: always "registered" (status 2);
* ``<dir>/<filename>``: the export files, with HTTP ``Range`` support.

Record sets are parsed for
``series[regions][start/duration@cadence | start-end@cadence][? KEY op value ?]{segments}``, and
for the full-disk series (``hmi.M_720s``, ``mdi.fd_M_96m_lev182``: ``T_REC`` is their only prime
key) ``series[start/duration | t1,t2,... | t]{segment}``; names are case-insensitive, as DRMS's.

Full-disk records (:class:`FakeFrame`, :func:`make_frames`) are small frames with the header
geometry of :func:`flarepipe.archive.sources.synthetic.fulldisk.frame_header` (the ephemeris, WCS
and observer cards of a real export), RICE_1-compressed in HDU 1 with the series' ``BSCALE``.

The archive is generated from a seed: tiny SHARP/SMARP patches written with
:func:`flarepipe.io.fitsio.write_patch` (RICE_1-compressed int32 in HDU 1, ``BSCALE = 0.01``, as
JSOC exports them), generated on first request.

Fault injection (:meth:`FakeJsoc.add_fault`), consumed in order, per endpoint (``series_struct``,
``rs_list``, ``exp_request``, ``exp_status``, ``file``, ``check_address``):
``http_500``/``http_503``/``http_404``; ``stall`` (sleep ``seconds`` before answering; for files
send ``fraction`` of the body first, then stall); ``truncate`` (send ``fraction`` of the body
under the full ``Content-Length``, then close); ``ignore_range`` (files: answer 200 with the
full body); ``corrupt`` (files: same length, garbage bytes); ``pending_limit`` (exp_request:
status 7); ``failed`` / ``expired`` / ``notfound`` (exp_status: status 4 / 5 / 6); ``bad_filename``
(exp_status: the first file name replaced by ``name``); ``trickle`` (files: ``bytes`` bytes every
``interval`` seconds, each gap shorter than any read timeout, until the body is sent or the
client hangs up); ``swap`` (files: the body of the next record's file of the same export).

Every request is logged in :attr:`FakeJsoc.hits` for assertions (server hits, bytes served, Range).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pandas as pd

from flarepipe.io.fitsio import jsoc_filename, write_patch

__all__ = [
    "FakeRecord",
    "FakeFrame",
    "FakeJsoc",
    "Hit",
    "make_records",
    "make_frames",
    "kill_mid_file",
]

_REGKEY = {"hmi.sharp_cea_720s": "HARPNUM", "mdi.smarp_cea_96m": "TARPNUM"}
#: the full-disk series (lower-case name -> (name, instrument, segment)); T_REC is the prime key
_FULLDISK = {
    "hmi.m_720s": ("hmi.M_720s", "HMI", "magnetogram"),
    "mdi.fd_m_96m_lev182": ("mdi.fd_M_96m_lev182", "MDI", "data"),
}
_KEYWORD_TYPES = {
    "T_REC": "time",
    "QUALITY": "int",
    "NOAA_ARS": "string",
    "NOAA_AR": "int",
    "LAT_FWT": "float",
    "LON_FWT": "float",
    "OBS_VR": "double",
    "USFLUXL": "double",
    "MEANGBL": "float",
    "R_VALUE": "float",
    "AREA": "float",
    "USFLUX": "double",
    "MEANGBZ": "float",
}


@dataclass
class FakeRecord:
    """One record of the fake archive."""

    series: str
    region: int
    trec: str  # T_REC string as JSOC gives it (TAI)
    keywords: dict
    shape: tuple[int, int] = (40, 64)
    seed: int = 0

    @property
    def t(self) -> pd.Timestamp:
        return _parse_time(self.trec)

    def filename(self, segment: str = "magnetogram") -> str:
        return jsoc_filename(self.series, self.region, self.trec, segment)

    def record_name(self, segment: str = "magnetogram") -> str:
        return f"{self.series}[{self.region}][{self.trec}]{{{segment}}}"


@dataclass
class FakeFrame:
    """One full-disk record (``T_REC`` is its only prime key) of the fake archive."""

    series: str  # as JSOC spells it: hmi.M_720s, mdi.fd_M_96m_lev182
    trec: str
    quality: int = 0
    size: int = 64
    seed: int = 0
    path: Path | None = None  # a real export to serve instead of a rendered frame
    region = None  # full-disk series have no region key

    @property
    def t(self) -> pd.Timestamp:
        return _parse_time(self.trec)

    @property
    def keywords(self) -> dict:
        return {"QUALITY": self.quality}

    @property
    def instrument(self) -> str:
        return _FULLDISK[self.series.lower()][1]

    def filename(self, segment: str | None = None) -> str:
        seg = segment or _FULLDISK[self.series.lower()][2]
        return f"{self.series}.{self.t:%Y%m%d_%H%M%S}_TAI.{seg}.fits"

    def record_name(self, segment: str | None = None) -> str:
        return f"{self.series}[{self.trec}]{{{segment or _FULLDISK[self.series.lower()][2]}}}"


def make_frames(
    series: str, times: list[str], quality: dict[str, int] | None = None, size: int = 64
) -> list[FakeFrame]:
    """Full-disk records of ``series`` at ``times`` (``T_REC`` strings, TAI); ``quality`` maps
    some of the times to their ``QUALITY`` (0 for the others).
    """
    quality = quality or {}
    return [FakeFrame(series, t, int(quality.get(t, 0)), size, seed=k) for k, t in enumerate(times)]


def make_records(seed: int = 0) -> list[FakeRecord]:
    """A small seeded archive: HARP 377 (2 days, 12-min cadence), HARP 401 (1 day), TARP 13520."""
    rng = np.random.default_rng(seed)
    out: list[FakeRecord] = []

    def add(series, region, t0, n, step_min, noaa, trec_fmt):
        for k in range(n):
            t = pd.Timestamp(t0) + pd.Timedelta(minutes=step_min * k)
            kw = {
                "QUALITY": 0 if k % 17 else 0x400,
                "NOAA_ARS": noaa,
                "LAT_FWT": float(rng.uniform(-30, 30)),
                "LON_FWT": float(-40 + 0.55 * k * step_min / 60),
                "OBS_VR": float(rng.uniform(-3000, 3000)),
                "USFLUXL": float(rng.uniform(1e21, 5e22)),
                "MEANGBL": float(rng.uniform(20, 120)),
                "R_VALUE": float(rng.uniform(0, 5)),
                "AREA": float(rng.uniform(100, 6000)),
            }
            out.append(
                FakeRecord(
                    series, region, t.strftime(trec_fmt), kw, seed=int(rng.integers(0, 2**31))
                )
            )

    add("hmi.sharp_cea_720s", 377, "2011-02-14", 240, 12, "11158", "%Y.%m.%d_%H:%M:%S_TAI")
    add("hmi.sharp_cea_720s", 401, "2011-02-15", 120, 12, "11161,11162", "%Y.%m.%d_%H:%M:%S_TAI")
    add("mdi.smarp_cea_96m", 13520, "2010-07-14", 15, 96, "11087", "%Y.%m.%d_%H:%M:%S.000_TAI")
    return out


def _parse_time(s: str) -> pd.Timestamp:
    m = re.match(
        r"^(\d{4})\.(\d{2})\.(\d{2})_(\d{2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?(?:_TAI)?$", s.strip()
    )
    if not m:
        raise ValueError(f"bad time {s!r}")
    y, mo, d, h, mi, sec = m.groups()
    return pd.Timestamp(f"{y}-{mo}-{d}T{h}:{mi}:{float(sec or 0):06.3f}")


def _parse_delta(s: str) -> pd.Timedelta:
    m = re.match(r"^(\d+(?:\.\d+)?)([smhd])$", s.strip())
    if not m:
        raise ValueError(f"bad duration {s!r}")
    return pd.Timedelta(
        float(m.group(1)), unit={"s": "s", "m": "min", "h": "h", "d": "D"}[m.group(2)]
    )


_BLOBS: dict[tuple, bytes] = {}  # generated files, shared by all server instances of a test run
_BLOBS_LOCK = threading.Lock()

_OPS = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "=": np.equal,
    "==": np.equal,
    "!=": np.not_equal,
    "<>": np.not_equal,
}


def select(records: list[FakeRecord], rs: str) -> tuple[str, list[FakeRecord], list[str]]:
    """Records matching a DRMS record-set string; ``(series, records, segments)``."""
    m = re.match(r"^\s*([\w.]+)(.*)$", rs)
    if not m:
        raise ValueError(f"bad record set {rs!r}")
    series, rest = m.group(1).lower(), m.group(2)
    fulldisk = series in _FULLDISK
    tokens = re.findall(r"\[\?(.*?)\?\]|\[([^\]]*)\]|\{([^}]*)\}", rest)
    plain, wheres, segs = [], [], []
    for where, br, seg in tokens:
        if where:
            wheres.append(where.strip())
        elif seg:
            segs = [x.strip() for x in seg.split(",") if x.strip()]
        else:
            plain.append(br.strip())
    sel = [r for r in records if r.series.lower() == series]
    if plain and plain[0] and not fulldisk:
        regs = {int(x) for x in plain[0].split(",")}
        sel = [r for r in sel if r.region in regs]
    it = 0 if fulldisk else 1  # the T_REC bracket
    if len(plain) > it and plain[it]:
        spec = plain[it]
        cad = None
        if "," in spec:  # a list of T_RECs
            wanted = {_parse_time(x) for x in spec.split(",")}
            sel = [r for r in sel if r.t in wanted]
            spec = ""
        if "@" in spec:
            spec, cad_s = spec.split("@", 1)
            cad = _parse_delta(cad_s)
        if not spec:
            pass
        elif "/" in spec:
            a, dur = spec.split("/", 1)
            t0 = _parse_time(a)
            t1 = t0 + _parse_delta(dur)
            sel = [r for r in sel if t0 <= r.t < t1]
        elif re.match(r"^.+_TAI-\d{4}\..+$", spec):
            a, b = spec.split("_TAI-", 1)
            t0, t1 = _parse_time(a + "_TAI"), _parse_time(b)
            sel = [r for r in sel if t0 <= r.t <= t1]
        else:
            t0 = _parse_time(spec)
            sel = [r for r in sel if r.t == t0]
        if cad is not None:
            sel = [r for r in sel if ((r.t - t0) / cad) % 1 == 0]
    for w in [
        c.strip().strip("()") for w0 in wheres for c in re.split(r"\s+AND\s+", w0, flags=re.I)
    ]:
        wm = re.match(r"^(\w+)\s*(<=|>=|<>|!=|==|=|<|>)\s*(\S+)$", w)
        if not wm:
            raise ValueError(f"cannot parse where clause {w!r}")
        key, op, val = wm.groups()
        sel = [r for r in sel if _OPS[op](float(r.keywords.get(key.upper(), np.nan)), float(val))]
    sel.sort(key=lambda r: (r.region or 0, r.t))
    return series, sel, segs


@dataclass
class Hit:
    """One request the server answered."""

    endpoint: str
    path: str
    params: dict
    range: str | None = None
    status: int = 200
    bytes_sent: int = 0
    name: str | None = None


@dataclass
class _Fault:
    endpoint: str
    kind: str
    times: int
    params: dict = field(default_factory=dict)


@dataclass
class _Export:
    rid: str
    notify: str
    series: str
    records: list
    segment: str
    status: int = 2
    polls_left: int = 1
    dir: str = ""


class FakeJsoc:
    """Threaded JSOC stand-in on 127.0.0.1 (random port). Use as a context manager."""

    def __init__(
        self,
        records: list[FakeRecord] | None = None,
        *,
        slow_polls: int = 1,
        missing_keywords: dict[str, list[str]] | None = None,
        nodata: set[str] | None = None,
        hidden: set[str] | None = None,
    ):
        self.records = records if records is not None else make_records()
        self.slow_polls = slow_polls
        self.missing_keywords = missing_keywords or {}
        self.nodata = nodata or set()
        self.hidden = hidden or set()  # file names whose records the keyword query does not list
        self.hits: list[Hit] = []
        self.exports: dict[str, _Export] = {}
        self.faults: list[_Fault] = []
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self._tmp = tempfile.TemporaryDirectory(prefix="fakejsoc-")
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._n = 0

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> FakeJsoc:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
        self._tmp.cleanup()

    def __enter__(self) -> FakeJsoc:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/"

    # ---------------------------------------------------------------- test helpers
    def add_fault(self, endpoint: str, kind: str, times: int = 1, **params) -> None:
        """Queue a fault for the next ``times`` requests to ``endpoint``."""
        with self.lock:
            self.faults.append(_Fault(endpoint, kind, times, params))

    def _take_fault(self, endpoint: str) -> _Fault | None:
        with self.lock:
            for f in self.faults:
                if f.endpoint == endpoint and f.times > 0:
                    f.times -= 1
                    return f
        return None

    def file_bytes(self, rec: FakeRecord | FakeFrame, segment: str = "magnetogram") -> bytes:
        if isinstance(rec, FakeFrame):
            return self._frame_bytes(rec, segment)
        name = rec.filename(segment)
        key = (name, rec.seed, rec.shape, tuple(sorted(rec.keywords.items())))
        with _BLOBS_LOCK:
            if key in _BLOBS:
                return _BLOBS[key]
        rng = np.random.default_rng(rec.seed)
        data = np.round(rng.normal(0, 300, rec.shape), 2)
        data[0, :3] = np.nan
        cards = {
            "T_REC": rec.trec,
            _REGKEY[rec.series]: rec.region,
            "BUNIT": "Mx/cm^2",
            "CONTENT": "MAGNETOGRAM",
        }
        cards.update({k: v for k, v in rec.keywords.items() if k != "NOAA_ARS"})
        cards["NOAA_ARS"] = rec.keywords["NOAA_ARS"]
        path = Path(self._tmp.name) / name
        write_patch(path, data, cards)
        blob = path.read_bytes()
        with _BLOBS_LOCK:
            _BLOBS[key] = blob
        return blob

    def _frame_bytes(self, rec: FakeFrame, segment: str) -> bytes:
        """A small full-disk frame: the real geometry cards, noise times mu, NaN off the disk."""
        from flarepipe.archive.sources.synthetic.fulldisk import frame_header
        from flarepipe.core.disk import FULLDISK_SERIES, disk_coordinates

        if rec.path is not None:
            return Path(rec.path).read_bytes()
        name = rec.filename(segment)
        key = (name, rec.seed, rec.size, rec.quality)
        with _BLOBS_LOCK:
            if key in _BLOBS:
                return _BLOBS[key]
        cards = frame_header(rec.instrument, rec.t, rec.size)
        cards.update(T_REC=rec.trec, QUALITY=rec.quality, ORIGIN="flarepipe tests/jsoc_server.py")
        _, _, mu = disk_coordinates(cards, (rec.size, rec.size))
        rng = np.random.default_rng(rec.seed)
        data = np.where(np.isfinite(mu), rng.normal(0, 20, mu.shape) * np.nan_to_num(mu), np.nan)
        path = Path(self._tmp.name) / name
        write_patch(path, data, cards, bscale=FULLDISK_SERIES[rec.series].bscale)
        blob = path.read_bytes()
        with _BLOBS_LOCK:
            _BLOBS[key] = blob
        return blob

    def hits_for(self, endpoint: str) -> list[Hit]:
        return [h for h in self.hits if h.endpoint == endpoint]

    def file_hits(self, name: str | None = None) -> list[Hit]:
        return [h for h in self.hits if h.endpoint == "file" and (name is None or h.name == name)]

    def bytes_served(self, name: str) -> int:
        return sum(h.bytes_sent for h in self.file_hits(name))

    def keywords_for(self, series: str) -> list[str]:
        return [k for k in _KEYWORD_TYPES if k not in self.missing_keywords.get(series, [])]

    # ---------------------------------------------------------------- protocol
    def _fulldisk_struct(self, series: str) -> dict:
        name, _, segment = _FULLDISK[series]
        kws = [
            {"name": k, "type": t, "recscope": "variable", "defval": "", "units": "", "note": k}
            for k, t in (("T_REC", "time"), ("QUALITY", "int"), ("T_OBS", "time"))
        ]
        seg = {
            "name": segment,
            "type": "int",
            "units": "Gauss",
            "protocol": "fits",
            "dims": "VARxVAR",
            "note": "LOS magnetogram",
        }
        return {
            "name": name,
            "primekeys": ["T_REC"],
            "dbindex": ["T_REC"],
            "keywords": kws,
            "links": [],
            "segments": [seg],
            "retention": 60,
            "unitsize": 1,
            "archive": 1,
            "tapegroup": 1,
            "note": "fake full-disk series",
            "status": 0,
        }

    def series_struct(self, ds: str) -> dict:
        series = ds.lower()
        if series in _FULLDISK:
            return self._fulldisk_struct(series)
        if series not in _REGKEY:
            return {"status": 1, "error": f"series {ds} does not exist"}
        keys = [_REGKEY[series], *self.keywords_for(series)]
        kws = [
            {
                "name": k,
                "type": "int" if k == _REGKEY[series] else _KEYWORD_TYPES[k],
                "recscope": "variable",
                "defval": "",
                "units": "",
                "note": k,
            }
            for k in keys
        ]
        return {
            "name": series,
            "primekeys": [_REGKEY[series], "T_REC"],
            "dbindex": [_REGKEY[series], "T_REC"],
            "keywords": kws,
            "links": [],
            "segments": [
                {
                    "name": "magnetogram",
                    "type": "int",
                    "units": "Mx/cm^2",
                    "protocol": "fits",
                    "dims": "VARxVAR",
                    "note": "LOS magnetogram",
                },
                {
                    "name": "bitmap",
                    "type": "char",
                    "units": "",
                    "protocol": "fits",
                    "dims": "VARxVAR",
                    "note": "mask",
                },
            ],
            "retention": 60,
            "unitsize": 1,
            "archive": 1,
            "tapegroup": 1,
            "note": "fake",
            "status": 0,
        }

    def rs_list(self, ds: str, keys: list[str]) -> dict:
        try:
            series, sel, _ = select(self.records, ds)
        except ValueError as exc:
            return {"status": 1, "error": f"Can't open records: {exc}"}
        if series not in _REGKEY and series not in _FULLDISK:
            return {"status": 1, "error": f"series {series} does not exist"}
        sel = [r for r in sel if r.filename() not in self.hidden]
        if series in _FULLDISK:
            allowed = {"T_REC", "QUALITY", "T_OBS"}
        else:
            allowed = {_REGKEY[series], *self.keywords_for(series)}
        out = []
        for k in keys:
            if k not in allowed:
                return {"status": 1, "error": f"invalid keyword {k}"}
            vals = []
            for r in sel:
                if k == _REGKEY.get(series):
                    vals.append(str(r.region))
                elif k in ("T_REC", "T_OBS"):
                    vals.append(r.trec)
                elif k == "QUALITY":
                    vals.append(f"0x{int(r.keywords['QUALITY']):08x}")
                elif k == "NOAA_ARS":
                    vals.append(r.keywords["NOAA_ARS"])
                elif k == "NOAA_AR":
                    vals.append(r.keywords["NOAA_ARS"].split(",")[0])
                else:
                    vals.append(repr(float(r.keywords.get(k, float("nan")))))
            out.append({"name": k, "values": vals})
        return {"keywords": out, "count": len(sel), "runtime": 0.001, "status": 0}

    def exp_request(self, params: dict, fault: _Fault | None) -> dict:
        notify = params.get("notify", "")
        ds = params.get("ds", "")
        if not notify:
            return {"status": 4, "error": "Requires a notify address"}
        with self.lock:
            pending = [
                e for e in self.exports.values() if e.notify == notify and e.status in (1, 2)
            ]
        if (fault and fault.kind == "pending_limit") or pending:
            rid = pending[0].rid if pending else "JSOC_20240101_999"
            return {
                "status": 7,
                "error": f"User {notify} has 1 pending export requests ({rid}), please "
                "wait until it completes before submitting a new one.",
            }
        try:
            series, sel, segs = select(self.records, ds)
        except ValueError as exc:
            return {"status": 4, "error": f"bad record set: {exc}"}
        with self.lock:
            self._n += 1
            rid = f"JSOC_20240101_{self._n:03d}"
            self.exports[rid] = _Export(
                rid,
                notify,
                series,
                sel,
                (segs or ["magnetogram"])[0],
                polls_left=self.slow_polls,
                dir=f"/SUM9/D{1000 + self._n}/S00000",
            )
        return {
            "status": 2,
            "requestid": rid,
            "method": params.get("method"),
            "protocol": params.get("protocol"),
            "wait": 0,
            "size": 0,
            "rcount": len(sel),
        }

    def exp_status(self, rid: str, fault: _Fault | None) -> dict:
        with self.lock:
            e = self.exports.get(rid)
        if e is None or (fault and fault.kind == "notfound"):
            return {"status": 6, "error": f"Request {rid} not found"}
        if fault and fault.kind == "failed":
            e.status = 4
            return {"status": 4, "requestid": rid, "error": "export failed: could not stage data"}
        if fault and fault.kind == "expired":
            e.status = 5
        if e.status == 5:
            return {"status": 5, "requestid": rid, "error": "Request expired, files deleted"}
        if e.status == 4:
            return {"status": 4, "requestid": rid, "error": "export failed"}
        if e.status in (1, 2):
            if e.polls_left > 0:
                e.polls_left -= 1
                e.status = 1
                return {"status": 1, "requestid": rid, "wait": 0, "error": None}
            e.status = 0
        data = []
        for r in e.records:
            name = "NoDataFile" if r.filename(e.segment) in self.nodata else r.filename(e.segment)
            data.append({"record": r.record_name(e.segment), "filename": name})
        if fault and fault.kind == "bad_filename" and data:
            data[0] = dict(data[0], filename=fault.params.get("name", "../../evil.fits"))
        return {
            "status": 0,
            "requestid": rid,
            "method": "url",
            "protocol": "FITS",
            "dir": e.dir,
            "data": data,
            "count": len(data),
            "size": 1,
            "tarfile": "",
            "keywords": "",
            "wait": 0,
        }

    def find_file(self, path: str) -> tuple[str, FakeRecord, str] | None:
        d, _, name = path.rpartition("/")
        with self.lock:
            exports = list(self.exports.values())
        for e in exports:
            if e.dir == d and e.status == 0:
                for r in e.records:
                    if r.filename(e.segment) == name:
                        return name, r, e.segment
        return None


class _Handler(BaseHTTPRequestHandler):
    fake: FakeJsoc

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def _json(self, obj: dict, hit: Hit, fault: _Fault | None) -> None:
        body = json.dumps(obj).encode("latin1", errors="replace")
        if fault and fault.kind == "stall":
            self.fake.stop_event.wait(float(fault.params.get("seconds", 5)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault and fault.kind == "truncate":
            body = body[: int(len(body) * float(fault.params.get("fraction", 0.5)))]
        self.wfile.write(body)
        hit.bytes_sent = len(body)
        self.fake.hits.append(hit)

    def _error(self, code: int, hit: Hit) -> None:
        hit.status = code
        self.fake.hits.append(hit)
        self.send_error(code)

    def do_GET(self):  # noqa: N802 - http.server API
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        path = unquote(parts.path)
        if path.endswith("/jsoc_info"):
            endpoint = params.get("op", "")
        elif path.endswith("/jsoc_fetch"):
            endpoint = params.get("op", "")
        elif path.endswith("/checkAddress.sh"):
            endpoint = "check_address"
        else:
            endpoint = "file"
        hit = Hit(endpoint, path, params, self.headers.get("Range"))
        fault = self.fake._take_fault(endpoint)
        if fault and fault.kind.startswith("http_"):
            return self._error(int(fault.kind[5:]), hit)
        if endpoint == "series_struct":
            return self._json(self.fake.series_struct(params.get("ds", "")), hit, fault)
        if endpoint == "rs_list":
            keys = [k for k in re.split(r"[\s,]+", params.get("key", "")) if k]
            return self._json(self.fake.rs_list(params.get("ds", ""), keys), hit, fault)
        if endpoint == "exp_request":
            return self._json(self.fake.exp_request(params, fault), hit, fault)
        if endpoint == "exp_status":
            return self._json(self.fake.exp_status(params.get("requestid", ""), fault), hit, fault)
        if endpoint == "check_address":
            return self._json({"status": 2, "msg": "Address is registered"}, hit, fault)
        found = self.fake.find_file(path)
        if not found:
            return self._error(404, hit)
        name, rec, segment = found
        hit.name = name
        if fault and fault.kind == "swap":
            same = [r for r in self.fake.records if r.series == rec.series and r is not rec]
            rec = same[0]
        return self._file(self.fake.file_bytes(rec, segment), hit, fault)

    def _file(self, blob: bytes, hit: Hit, fault: _Fault | None) -> None:
        total = len(blob)
        start = 0
        rng = self.headers.get("Range")
        partial = False
        if rng and not (fault and fault.kind == "ignore_range"):
            m = re.match(r"^bytes=(\d+)-$", rng.strip())
            if m:
                start = int(m.group(1))
                if start >= total:
                    hit.status = 416
                    self.fake.hits.append(hit)
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{total}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                partial = True
        body = blob[start:]
        if fault and fault.kind == "corrupt":
            body = bytes((b ^ 0x5A) for b in body)
        self.send_response(206 if partial else 200)
        hit.status = 206 if partial else 200
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if fault and fault.kind == "trickle":
            step, gap = int(fault.params.get("bytes", 64)), float(fault.params.get("interval", 0.1))
            sent = 0
            try:
                while sent < len(body) and not self.fake.stop_event.is_set():
                    self.wfile.write(body[sent : sent + step])
                    self.wfile.flush()
                    sent += step
                    self.fake.stop_event.wait(gap)
            except (BrokenPipeError, ConnectionResetError):
                pass
            hit.bytes_sent = min(sent, len(body))
            self.fake.hits.append(hit)
            self.close_connection = True
            return
        if fault and fault.kind in ("truncate", "stall"):
            cut = int(len(body) * float(fault.params.get("fraction", 0.5)))
            self.wfile.write(body[:cut])
            self.wfile.flush()
            hit.bytes_sent = cut
            self.fake.hits.append(hit)
            if fault.kind == "stall":
                self.fake.stop_event.wait(float(fault.params.get("seconds", 5)))
            self.close_connection = True
            return
        try:
            self.wfile.write(body)
            hit.bytes_sent = len(body)
        finally:
            self.fake.hits.append(hit)


def kill_mid_file(
    server: FakeJsoc, script: str, args: list[str], fits_dir: Path, n_clean: int, timeout=60.0
) -> tuple[Hit, bytes]:
    """Run ``python -c script *args``, let it download ``n_clean`` files, stall the next one
    mid-body and SIGKILL the job once its ``.part`` holds what was sent; ``(stalled hit, stderr)``.
    """
    for _ in range(n_clean):
        server.add_fault("file", "none", times=1)
    server.add_fault("file", "stall", times=1, fraction=0.5, seconds=60)
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.time() + timeout
    while time.time() < deadline and len(server.file_hits()) <= n_clean:
        time.sleep(0.05)
    stalled = server.file_hits()[n_clean]
    part = fits_dir / f"{stalled.name}.part"
    while time.time() < deadline and not (
        part.exists() and part.stat().st_size == stalled.bytes_sent
    ):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=10)
    return stalled, err
