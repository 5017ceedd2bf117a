"""A loopback HEK (``/her?cmd=search``) for tests: the JSON that ``sunpy.net.hek.HEKClient`` reads.

Answers ``{"result": [...], "overmax": bool}`` pages of ``page_size`` events whose time interval
overlaps ``[event_starttime, event_endtime]`` (as the HEK does, so adjacent windows share edge
events), filtered by ``event_type`` and by ``paramN/opN/valueN`` equality (``FRM_Name``,
``OBS_Observatory``). Fault injection: ``add_fault('http_500' | 'stall', times, seconds=...)``.
Every request is logged in :attr:`FakeHek.hits`.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pandas as pd

__all__ = ["FakeHek", "hek_event"]


def hek_event(
    start: str,
    peak: str,
    end: str,
    goes_class: str,
    noaa: int | None,
    *,
    frm: str = "SWPC",
    observatory: str = "GOES",
    ident: str | None = None,
) -> dict:
    """A flare record with the fields and coordinate columns sunpy parses."""
    return {
        "event_type": "FL",
        "event_starttime": start,
        "event_peaktime": peak,
        "event_endtime": end,
        "fl_goescls": goes_class,
        "ar_noaanum": noaa,
        "frm_name": frm,
        "obs_observatory": observatory,
        "obs_instrument": "GOES",
        "kb_archivid": ident or f"ivo://helio-informatics.org/FL_{frm}_{start}_{goes_class}",
        "event_coordsys": "UTC-HGS-TOPO",
        "event_coordunit": "degrees",
        "event_coord1": 10.0,
        "event_coord2": -20.0,
        "event_coord3": None,
        "hpc_x": 100.0,
        "hpc_y": -300.0,
        "hgs_x": 10.0,
        "hgs_y": -20.0,
        "frm_institute": "NOAA",
        "fl_peakflux": None,
    }


class FakeHek:
    """Threaded HEK stand-in on 127.0.0.1; ``url`` is what ``HEKClient(url=...)`` takes."""

    def __init__(self, events: list[dict], page_size: int = 3):
        self.events = events
        self.page_size = page_size
        self.hits: list[dict] = []
        self.faults: list[list] = []
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None

    def __enter__(self) -> FakeHek:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/her?"

    def add_fault(self, kind: str, times: int = 1, **params) -> None:
        with self.lock:
            self.faults.append([kind, times, params])

    def take_fault(self):
        with self.lock:
            for f in self.faults:
                if f[1] > 0:
                    f[1] -= 1
                    return f[0], f[2]
        return None

    def search(self, params: dict) -> dict:
        t0 = pd.Timestamp(params["event_starttime"])
        t1 = pd.Timestamp(params["event_endtime"])
        sel = []
        for e in self.events:
            if params.get("event_type", "**") not in ("**", e["event_type"]):
                continue
            if pd.Timestamp(e["event_endtime"]) < t0 or pd.Timestamp(e["event_starttime"]) > t1:
                continue
            ok = True
            for k, v in params.items():
                if k.startswith("param"):
                    n = k[5:]
                    field = v.lower()
                    if params.get(f"op{n}", "=") == "=" and str(e.get(field)) != params.get(
                        f"value{n}"
                    ):
                        ok = False
            if ok:
                sel.append(e)
        page = int(params.get("page", 1))
        chunk = sel[(page - 1) * self.page_size : page * self.page_size]
        return {"result": chunk, "overmax": page * self.page_size < len(sel)}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHek

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):  # noqa: N802
        params = {
            k: v[-1] for k, v in parse_qs(urlsplit(self.path).query, keep_blank_values=True).items()
        }
        self.fake.hits.append(params)
        fault = self.fake.take_fault()
        if fault and fault[0] == "http_500":
            self.send_error(500)
            return
        if fault and fault[0] == "stall":
            self.fake.stop_event.wait(float(fault[1].get("seconds", 5)))
        body = json.dumps(self.fake.search(params)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
