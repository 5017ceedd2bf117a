"""The JSOC source: pure query/parse layers, and the real drms.Client against a loopback JSOC.

No test touches the network: every HTTP request goes to ``tests/jsoc_server.py`` on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import drms
import numpy as np
import pandas as pd
import pytest

from archive_config import jsoc_section
from flarepipe.archive.layout import RECORD_COLUMNS, load_archive
from flarepipe.archive.sources import jsoc
from flarepipe.archive.sources.jsoc.fetch import _progress_bar
from flarepipe.config import ConfigError
from flarepipe.core.keywords import KEYWORD_COLUMNS
from flarepipe.io.atomic import sha256_file
from flarepipe.io.download import (
    PermanentError,
    RetryBudgetExceeded,
    RetryPolicy,
    UnsafeFilenameError,
    call_with_retry,
    redact,
    safe_filename,
)
from flarepipe.io.fitsio import read_patch
from jsoc_server import FakeJsoc, kill_mid_file, make_records

EMAIL = "solar.tester+flares@example.org"
SERIES = "hmi.sharp_cea_720s"


# ----------------------------------------------------------------------------- query layer (pure)


def test_build_recordset_region_time_cadence_segment():
    rs = jsoc.build_recordset(
        SERIES,
        regions=[377],
        start="2011-02-14",
        end="2011-02-16",
        cadence="96m",
        segments=["magnetogram"],
    )
    assert rs == "hmi.sharp_cea_720s[377][2011.02.14_00:00:00_TAI/2d@96m]{magnetogram}"


def test_build_recordset_all_regions_where_and_minutes():
    rs = jsoc.build_recordset(
        "mdi.smarp_cea_96m",
        regions=[13520, 4780],
        start="2010.07.14_00:00:00_TAI",
        end="2010.07.14_03:12:00_TAI",
        where="QUALITY<65536",
    )
    assert rs == "mdi.smarp_cea_96m[4780,13520][2010.07.14_00:00:00_TAI/192m][? QUALITY<65536 ?]"
    assert (
        jsoc.build_recordset(SERIES, where="QUALITY=0") == "hmi.sharp_cea_720s[][][? QUALITY=0 ?]"
    )
    assert jsoc.build_recordset(SERIES, regions=[1]) == "hmi.sharp_cea_720s[1]"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"cadence": "96m"}, "cadence needs a time interval"),
        ({"start": "2011-02-02", "end": "2011-02-01"}, "empty time interval"),
        ({"start": "2011-02-01"}, "both start and end"),
        ({"where": "QUALITY=0 ?][? 1=1"}, "must not contain"),
        ({"segments": ["magnetogram}{x"]}, "not a segment"),
        ({"regions": [-3]}, "positive"),
        (
            {"start": "2011-02-01", "end": "2011-02-02", "cadence": "96 minutes"},
            "cadence must look like",
        ),
    ],
)
def test_build_recordset_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jsoc.build_recordset(SERIES, **kwargs)
    with pytest.raises(ValueError, match="not a DRMS series"):
        jsoc.build_recordset("hmi.sharp[377]")


def test_format_duration():
    assert jsoc.format_duration(pd.Timedelta(days=30)) == "30d"
    assert jsoc.format_duration(pd.Timedelta(minutes=96)) == "96m"
    assert jsoc.format_duration(pd.Timedelta(seconds=90)) == "90s"
    with pytest.raises(ValueError):
        jsoc.format_duration(pd.Timedelta(0))


def test_plan_units_chunks_cover_range_without_overlap_and_clip_to_mission():
    cfg = jsoc_section({"start": "2010-09-01", "end": "2011-01-01", "chunk_days": 30})
    units = jsoc.plan_units(cfg)
    for series in ("hmi.sharp_cea_720s", "mdi.smarp_cea_96m"):
        us = [u for u in units if u.series == series]
        assert us[0].start == "2010.09.01_00:00:00_TAI"
        for a, b in zip(us, us[1:], strict=False):
            assert a.end == b.start  # contiguous, half-open: no gaps, no overlaps
    assert [u for u in units if u.series == SERIES][-1].end == "2011.01.01_00:00:00_TAI"
    assert [u for u in units if u.series == "mdi.smarp_cea_96m"][
        -1
    ].end == "2010.10.29_00:00:00_TAI"
    ids = [u.unit_id for u in units]
    assert len(ids) == len(set(ids)) and all(jsoc.UNIT_ID_PATTERN.match(i) for i in ids)
    assert "hmi.sharp_cea_720s.20100901-20101001" in ids
    assert (
        jsoc.plan_units(
            jsoc_section(
                {"start": "2012-01-01", "end": "2012-02-01", "series": ["mdi.smarp_cea_96m"]}
            )
        )
        == []
    )


def test_plan_units_grid_alignment_and_regions():
    u = jsoc.plan_units(
        jsoc_section({"start": "2011-02-14T05:00", "end": "2011-02-15", "series": [SERIES]})
    )
    assert u[0].start == "2011.02.14_04:48:00_TAI"  # floored to the 96-minute grid from midnight
    u = jsoc.plan_units(
        jsoc_section(
            {
                "start": "2011-02-14",
                "end": "2011-02-16",
                "regions": {SERIES: [401, 377]},
                "series": [SERIES],
            }
        )
    )
    assert [x.unit_id for x in u] == ["hmi.sharp_cea_720s.HARP377", "hmi.sharp_cea_720s.HARP401"]
    assert (
        u[0].recordset(True)
        == "hmi.sharp_cea_720s[377][2011.02.14_00:00:00_TAI/2d@96m]{magnetogram}"
    )
    assert (
        jsoc.get_unit(
            jsoc_section(
                {
                    "start": "2011-02-14",
                    "end": "2011-02-16",
                    "regions": {SERIES: [377]},
                    "series": [SERIES],
                }
            ),
            "hmi.sharp_cea_720s.HARP377",
        )
        == u[0]
    )
    assert jsoc.Unit.from_dict(json.loads(json.dumps(u[0].to_dict()))) == u[0]
    with pytest.raises(KeyError, match="no unit"):
        jsoc.get_unit(
            jsoc_section({"series": [SERIES], "start": "2011-01-01", "end": "2011-01-02"}), "nope"
        )


@pytest.mark.parametrize(
    "section, match",
    [
        ({"chunk_days": -1}, r"archive\.jsoc\.chunk_days must be > 0 .*got -1"),
        ({"series": ["aia.lev1"]}, r"archive\.jsoc\.series\.0 must be one of .*got 'aia.lev1'"),
        ({"bogus": 1}, r"archive\.jsoc: Additional properties .*'bogus' was unexpected"),
        ({"retry": {"max_attempts": 0}}, r"archive\.jsoc\.retry\.max_attempts must be >= 1"),
        ({"cadence": "fast"}, r"archive\.jsoc\.cadence must match .* got 'fast'"),
        ({"keywords": {"usflux": ["USFLUX"]}}, r"archive\.jsoc\.keywords must be one of"),
        ({"where": "QUALITY=0 ?][? 1=1"}, r"archive\.jsoc\.where"),
        ({"regions": {SERIES: [0]}}, r"archive\.jsoc\.regions\.hmi\.sharp_cea_720s\.0"),
        ({"max_quality": "lots"}, r"archive\.jsoc\.max_quality"),
        ({"server": "nowhere"}, r"archive\.jsoc\.server"),
        ({"start": 2011}, r"archive\.jsoc\.start"),
    ],
)
def test_schema_errors_name_the_key(section, match):
    """The schema checks the section before any job runs (no hand validation in the source)."""
    with pytest.raises(ConfigError, match=match):
        jsoc_section(section)


def test_settings_checks_what_the_schema_cannot():
    with pytest.raises(ValueError, match="archive.jsoc.start must be before archive.jsoc.end"):
        jsoc.JsocSettings.from_section(jsoc_section({"start": "2011-02-02", "end": "2011-02-01"}))
    with pytest.raises(ValueError, match=r"archive\.jsoc\.end must be a date/time"):
        jsoc.JsocSettings.from_section(jsoc_section({"end": "2011-13-45"}))
    # a section that did not go through the schema is refused, naming what is missing
    with pytest.raises(ValueError, match=r"archive\.jsoc: missing keys \[.*'chunk_days'"):
        jsoc.JsocSettings.from_section({"start": "2011-01-01"})
    with pytest.raises(ValueError) as err:
        jsoc.JsocSettings.from_section({**jsoc_section({}), "bogus": 1})
    assert "unknown keys ['bogus']" in str(err.value) and "config.yaml" not in str(err.value)


def test_settings_convert_the_validated_section():
    import datetime

    s = jsoc.JsocSettings.from_section(
        jsoc_section(
            {
                "start": datetime.date(2011, 2, 14),  # YAML reads an unquoted date as a date
                "end": "2011.02.16_00:00:00_TAI",
                "max_quality": "0x10000",
                "regions": {SERIES: [401, 377, 377]},
                "keywords": {"usfluxl_mx": ["USFLUXL", "USFLUX"], "area_uhem": "AREA"},
            }
        )
    )
    assert s.start == "2011-02-14" and s.max_quality == 65536
    assert s.regions == {SERIES: (377, 401)}
    assert s.keywords["usfluxl_mx"] == ("USFLUXL", "USFLUX") and s.keywords["area_uhem"] == (
        "AREA",
    )
    assert s.keywords["r_value"] == ("R_VALUE",)  # unconfigured columns keep the registry names
    assert list(s.keywords) == list(KEYWORD_COLUMNS)


def test_schema_defaults_are_the_settings_defaults():
    """One truth: the schema's defaults, read through from_section, equal the dataclass's."""
    assert jsoc.JsocSettings.from_section(jsoc_section({})) == jsoc.JsocSettings()


def test_settings_never_hold_the_email():
    s = jsoc.JsocSettings.from_section(
        jsoc_section({"email": EMAIL, "server": "http://127.0.0.1:1/"})
    )
    assert EMAIL not in json.dumps(s.to_dict()) and EMAIL not in repr(s)


def test_resolve_email_env_wins(monkeypatch):
    monkeypatch.delenv(jsoc.EMAIL_ENV, raising=False)
    assert jsoc.resolve_email(jsoc_section({})) is None
    assert jsoc.resolve_email(jsoc_section({"email": "a@b.org"})) == "a@b.org"
    monkeypatch.setenv(jsoc.EMAIL_ENV, "env@b.org")
    assert jsoc.resolve_email(jsoc_section({"email": "a@b.org"})) == "env@b.org"


def test_make_client_names_and_urls():
    assert jsoc.make_client(jsoc.JsocSettings(server="jsoc"))._server.name == "JSOC"
    c = jsoc.make_client(jsoc_section({"server": "http://127.0.0.1:9/"}))
    assert c._server.url_jsoc_info == "http://127.0.0.1:9/cgi-bin/ajax/jsoc_info"
    assert c._server.http_download_baseurl == "http://127.0.0.1:9/"
    with pytest.raises(ValueError, match="neither a drms server name"):
        jsoc.make_client(jsoc.JsocSettings(server="nowhere"))


# ----------------------------------------------------------------------------- parse layer (pure)


def test_keywords_to_records_converts_tai_once_and_rejects_bad_rows():
    kdf = pd.DataFrame(
        {
            "HARPNUM": [377, 377, 377, None],
            "T_REC": [
                "2011.02.15_02:00:00_TAI",
                "MISSING",
                "2011.02.15_03:36:00_TAI",
                "2011.02.15_05:12:00_TAI",
            ],
            "QUALITY": ["0x00000400", "0x0", "0x00000000", "0x0"],
            "NOAA_ARS": ["11158", "11158", "11158, 11159 0", ""],
            "LAT_FWT": [-20.2, 1, 2, 3],
            "LON_FWT": [12.8, 1, 2, 3],
            "OBS_VR": [3047.6, 1, 2, 3],
            "USFLUX": [2.7e22, 1, 2, 3],
            "MEANGBL": [36.0, 1, 2, 3],
            "R_VALUE": [4.8, 1, 2, 3],
            "AREA": [5452.7, 1, 2, 3],
        }
    )
    cols = list(KEYWORD_COLUMNS)
    kw = {
        cols[0]: ("USFLUXL", "USFLUX"),
        cols[1]: ("MEANGBL",),
        cols[2]: ("R_VALUE",),
        cols[3]: ("AREA",),
    }
    rec, rej = jsoc.keywords_to_records(kdf, SERIES, kw)
    assert list(rec.columns) == RECORD_COLUMNS
    assert rec["t_rec"].tolist() == [
        "2011-02-15T01:59:26.000",
        "2011-02-15T03:35:26.000",
    ]  # TAI - 34 s
    assert rec["t_rec_tai"].tolist() == ["2011.02.15_02:00:00_TAI", "2011.02.15_03:36:00_TAI"]
    assert rec["quality"].tolist() == [1024, 0]
    assert rec["noaa_ars"].tolist() == ["11158", "11158,11159"]
    assert rec["region_id"].tolist() == ["HARP377", "HARP377"]
    assert rec[cols[0]].iloc[0] == 2.7e22  # fell back to the second keyword name
    assert rec["path"].tolist() == ["", ""] and rec["nx"].tolist() == [0, 0]
    assert sorted(rej["reason"]) == ["bad HARPNUM nan", "bad T_REC 'MISSING'"]
    assert set(rej["row"]) == {1, 3}


def test_choose_keywords_takes_what_the_series_has():
    from flarepipe.archive.sources.jsoc.parse import choose_keywords

    kw = {
        "usfluxl_mx": ("USFLUXL", "USFLUX"),
        "meangbl_g_per_px": ("MEANGBL",),
        "r_value": ("R_VALUE",),
        "area_uhem": ("AREA",),
    }
    available = {"HARPNUM", "T_REC", "QUALITY", "NOAA_ARS", "USFLUX", "R_VALUE", "AREA"}
    wanted, chosen, missing = choose_keywords(SERIES, available, kw)
    assert wanted == ["HARPNUM", "T_REC", "NOAA_ARS", "QUALITY", "USFLUX", "R_VALUE", "AREA"]
    assert chosen["usfluxl_mx"] == ("USFLUX",) and chosen["meangbl_g_per_px"] == ()
    assert missing == ["meangbl_g_per_px (none of ['MEANGBL'])"]


class _StubRequest:
    """An export request whose status runs through ``statuses`` (one step per status poll)."""

    def __init__(self, rid, statuses):
        self.id, self._statuses = rid, list(statuses)

    @property
    def status(self):
        return self._statuses[0]

    def has_finished(self):
        if len(self._statuses) > 1:
            self._statuses.pop(0)
        return self.status == 0


class _StubClient:
    """Answers export requests from a script: the send layer without any server."""

    def __init__(self, submits):
        self.submits, self.calls = list(submits), []

    def export(self, rs, method, protocol, email):
        self.calls.append((rs, method, protocol, email))
        return self.submits.pop(0)

    def export_from_id(self, rid):
        raise AssertionError("no saved export in this test")


def test_session_export_lifecycle_without_a_server(tmp_path):
    """Pending-export limit (7), a failed export (4) resubmitted, then queued -> done."""
    from flarepipe.archive.sources.jsoc.client import JsocSession

    client = _StubClient(
        [
            _StubRequest("A", [7]),
            _StubRequest("B", [2, 4]),
            _StubRequest("C", [2, 1, 0]),
        ]
    )
    slept = []
    settings = jsoc.JsocSettings.from_section(
        jsoc_section({"poll_interval_s": 1, "retry": {"base_delay_s": 0, "jitter": 0}})
    )
    session = JsocSession(
        client, "U", settings, EMAIL, tmp_path / "export.json", slept.append, lambda: 0.0
    )
    req = session.export("hmi.sharp_cea_720s[377]{magnetogram}")
    assert req.id == "C" and [c[3] for c in client.calls] == [EMAIL] * 3
    assert session.stats["pending_limit_waits"] == 1 and session.stats["export_requests"] == 3
    assert session.stats["retries"] == 1 and session.stats["status_polls"] == 3
    state = json.loads((tmp_path / "export.json").read_text())
    assert state["requestid"] == "C" and EMAIL not in json.dumps(state)
    assert slept and all(s >= 0 for s in slept)


def test_parse_export_record():
    assert jsoc.parse_export_record(
        "hmi.sharp_cea_720s[377][2011.02.15_02:00:00_TAI]{magnetogram}"
    ) == (SERIES, 377, "2011.02.15_02:00:00_TAI")
    assert jsoc.parse_export_record("garbage") is None


@pytest.mark.parametrize(
    "name",
    [
        "../evil.fits",
        "..",
        "/etc/passwd",
        "a/b.fits",
        "a\\b.fits",
        ".hidden",
        "",
        " x.fits",
        "C:evil.fits",
        "x\x00.fits",
        "ok..fits",
    ],
)
def test_safe_filename_refuses(name):
    with pytest.raises(UnsafeFilenameError):
        safe_filename(name)


def test_safe_filename_accepts_jsoc_names():
    n = "hmi.sharp_cea_720s.377.20110215_020000_TAI.magnetogram.fits"
    assert safe_filename(n) == n


def test_redact_covers_encoded_forms_and_requester():
    from urllib.parse import quote_plus, urlencode

    url = "http://x/jsoc_fetch?" + urlencode(
        {"notify": EMAIL, "requester": EMAIL.split("@")[0], "ds": "a"}
    )
    out = redact(f"{url} and {EMAIL} and {quote_plus(EMAIL)}", EMAIL)
    assert EMAIL not in out and quote_plus(EMAIL) not in out and "solar.tester" not in out
    assert "ds=a" in out


def test_call_with_retry_budget_and_permanent_errors():
    calls = []

    def flaky():
        calls.append(1)
        raise TimeoutError("timed out")

    with pytest.raises(
        RetryBudgetExceeded, match=r"unit U1: step failed 3 time\(s\).*TimeoutError"
    ):
        call_with_retry(
            flaky,
            policy=RetryPolicy(max_attempts=3, base_delay_s=0),
            what="step",
            unit_id="U1",
            sleep=lambda s: None,
        )
    assert len(calls) == 3

    def bad():
        raise KeyError("nope")

    with pytest.raises(PermanentError, match="unit U2: x failed: KeyError"):
        call_with_retry(bad, policy=RetryPolicy(), what="x", unit_id="U2", sleep=lambda s: None)


# --------------------------------------------------------------------- against the loopback JSOC


def _small_records():
    return [r for r in make_records() if r.series == SERIES and r.region == 377]


def _cfg(url: str, **over) -> dict:
    """The validated archive.jsoc section of a unit against the loopback server."""
    sec = {
        "server": url,
        "series": [SERIES],
        "start": "2011-02-14",
        "end": "2011-02-15",
        "chunk_days": 1,
        "poll_interval_s": 0,
        "timeout_s": 5,
        "progress": False,
        "retry": {"max_attempts": 4, "base_delay_s": 0.01, "max_delay_s": 0.05, "jitter": 0},
    }
    sec.update(over)
    return jsoc_section(sec)


@pytest.fixture
def server():
    with FakeJsoc(_small_records()) as srv:
        yield srv


def _fetch(srv, archive, email=EMAIL, **over):
    cfg = _cfg(srv.url, **over)
    settings = jsoc.JsocSettings.from_section(cfg)
    (unit,) = jsoc.plan_units(settings)
    return jsoc.fetch_unit(
        unit, jsoc.make_client(settings), archive, settings=settings, email=email
    ), unit


def _summary(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def _assert_pixels_as_read(archive, rec):
    """The source's pixels.csv holds what reading each file gives (quality then reads none)."""
    from flarepipe.archive.layout import read_pixels
    from flarepipe.samples.quality import scan_fits

    known = read_pixels(archive / "pixels.csv")
    cols = ["n_nan_pixels", "nx", "ny"]
    measured = scan_fits(rec, archive)
    assert len(measured) == len(known) > 0
    for rid, row in measured.iterrows():
        assert known.loc[rec.at[rid, "path"], cols].tolist() == row[cols].tolist()
    pd.testing.assert_frame_equal(scan_fits(rec, archive, known=known), measured)


def test_fetch_unit_then_merge_writes_archive_layout(server, tmp_path):
    archive = tmp_path / "archive"
    out, unit = _fetch(server, archive)
    s = _summary(out)
    assert s["counts"]["records"] == 15 and s["counts"]["files"] == 15  # 1 day @96m
    rec = pd.read_csv(out.parent / "records.csv", keep_default_na=False)
    assert (rec["path"] != "").all()
    assert rec["t_rec"].iloc[0] == "2011-02-13T23:59:26.000"
    assert (
        rec["quality"].max() == 1024
    )  # hex QUALITY from JSOC parsed (drms leaves NaN with pandas 3)
    first = archive / rec["path"].iloc[0]
    data, header = read_patch(first)
    assert data.shape == (40, 64) and np.isnan(data[0, :3]).all() and header["HARPNUM"] == 377
    assert (rec["nx"] == 64).all() and (rec["ny"] == 40).all()
    for rel, meta in s["files"].items():
        assert (
            sha256_file(archive / rel) == meta["sha256"]
            and (archive / rel).stat().st_size == meta["size"]
        )
    # the keyword query asked for the cadence-sampled unit record set
    (q,) = [h for h in server.hits if h.endpoint == "rs_list"]
    assert q.params["ds"] == "hmi.sharp_cea_720s[][2011.02.14_00:00:00_TAI/1d@96m]"
    manifest = jsoc.merge_units(
        [out],
        archive,
        pd.DataFrame(
            columns=[
                "start_utc",
                "peak_utc",
                "end_utc",
                "goes_class",
                "peak_flux_wm2",
                "noaa_ar",
                "region_missing",
            ]
        ),
    )
    merged = pd.read_csv(archive / "records.csv", keep_default_na=False)
    assert list(merged.columns) == RECORD_COLUMNS and len(merged) == 15
    assert manifest["counts"]["files"] == 15 and manifest["source"] == "jsoc"
    assert manifest["files"]["records.csv"] == sha256_file(archive / "records.csv")
    assert not list(archive.rglob("*.part"))
    loaded = load_archive(archive)  # downstream reads it like any other source
    assert len(loaded.records) == 15 and loaded.manifest["source"] == "jsoc"
    read_patch(loaded.fits_path(0))
    assert np.isnan(data).sum() > 0  # NaN pixels counted when downloaded, not read again
    _assert_pixels_as_read(archive, merged)


def test_rerun_fetches_nothing_again(server, tmp_path):
    _fetch(server, tmp_path)
    n_hits = len(server.hits)
    out, _ = _fetch(server, tmp_path)
    new = server.hits[n_hits:]
    assert [h.endpoint for h in new] == ["series_struct", "rs_list"]  # no export, no file request
    assert _summary(out)["stats"]["files_skipped"] == 15


def test_email_never_written_or_logged(server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    server.add_fault("exp_request", "pending_limit", times=1)  # JSOC's answer quotes the address
    _fetch(server, tmp_path)
    assert any("pending" in r.getMessage() for r in caplog.records)
    assert any(
        EMAIL in h.params.get("notify", "") for h in server.hits
    )  # it was sent to the server...
    from urllib.parse import quote, quote_plus

    forms = [EMAIL, quote_plus(EMAIL), quote(EMAIL, safe=""), "solar.tester"]
    for p in tmp_path.rglob("*"):
        if p.is_file():
            blob = p.read_bytes()
            assert not any(f.encode() in blob for f in forms), p  # ...but never written
    assert not any(
        f in caplog.text for f in forms
    )  # ...nor logged (drms logs request URLs at DEBUG)
    # error path: the pending-export error text names the user; our error must not
    server.add_fault("exp_request", "pending_limit", times=50)
    (tmp_path / "b").mkdir()
    with pytest.raises(RetryBudgetExceeded) as err:
        _fetch(
            server,
            tmp_path / "b",
            start="2011-02-14T12:00",
            end="2011-02-15",
            pending_export_wait_s=0,
        )
    assert EMAIL not in str(err.value) and "pending export" in str(err.value)


def test_missing_email_is_a_clear_error(server, tmp_path, monkeypatch):
    monkeypatch.delenv(jsoc.EMAIL_ENV, raising=False)
    with pytest.raises(jsoc.UnitError, match="FLAREPIPE_JSOC_EMAIL"):
        _fetch(server, tmp_path, email=None)
    out, _ = _fetch(server, tmp_path, email=None, download_images=False)  # keywords need no e-mail
    assert _summary(out)["counts"] == {**_summary(out)["counts"], "records": 15, "files": 0}


def test_truncated_download_resumes_with_range(server, tmp_path):
    server.add_fault("file", "truncate", times=1, fraction=0.4)
    out, _ = _fetch(server, tmp_path)
    s = _summary(out)
    assert s["counts"]["files"] == 15 and s["stats"]["retries"] == 1
    cut = server.file_hits()[0]
    name = cut.name
    hits = server.file_hits(name)
    assert len(hits) == 2 and hits[0].range is None
    assert hits[1].range == f"bytes={hits[0].bytes_sent}-" and hits[1].status == 206
    size = (tmp_path / "fits" / SERIES / name).stat().st_size
    assert server.bytes_served(name) == size  # nothing fetched twice
    assert all(len(server.file_hits(h.name)) == 1 for h in server.file_hits() if h.name != name)
    read_patch(tmp_path / "fits" / SERIES / name)


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    server.add_fault("file", "truncate", times=1, fraction=0.5)
    server.add_fault("file", "ignore_range", times=1)
    out, _ = _fetch(server, tmp_path)
    name = server.file_hits()[0].name
    path = tmp_path / "fits" / SERIES / name
    assert _summary(out)["files"][f"fits/{SERIES}/{name}"]["sha256"] == sha256_file(path)
    read_patch(path)


def test_corrupt_file_is_refetched(server, tmp_path):
    server.add_fault("file", "corrupt", times=1)
    out, _ = _fetch(server, tmp_path)
    name = server.file_hits()[0].name
    assert len(server.file_hits(name)) == 2 and server.file_hits(name)[1].range is None
    read_patch(tmp_path / "fits" / SERIES / name)


_KILL_SCRIPT = """
import sys, json
from flarepipe.archive.sources import jsoc
from flarepipe.archive.layout import load_archive
s = jsoc.JsocSettings.from_section(json.loads(sys.argv[1]))
(unit,) = jsoc.plan_units(s)
jsoc.fetch_unit(unit, jsoc.make_client(s), sys.argv[2], settings=s, email=sys.argv[3])
"""


def test_killed_job_resumes_without_loss_or_refetch(server, tmp_path):
    """SIGKILL a job mid-download; the rerun finishes, re-requests no complete file, and the cut
    file resumes from its .part (bytes served for it = its size: nothing fetched twice)."""
    cfg = _cfg(server.url, timeout_s=60)
    fits_dir = tmp_path / "fits" / SERIES
    stalled_hit, err = kill_mid_file(  # three clean files, then a stall mid-body
        server, _KILL_SCRIPT, [json.dumps(cfg), str(tmp_path), EMAIL], fits_dir, 3
    )
    part = fits_dir / f"{stalled_hit.name}.part"
    assert EMAIL.encode() not in err
    stalled = stalled_hit.name
    done_before = [h.name for h in server.file_hits()[:3]]
    assert not (fits_dir / stalled).exists()  # no partial file under its final name
    assert part.stat().st_size == stalled_hit.bytes_sent > 0
    assert all((fits_dir / n).exists() for n in done_before)
    n_before = len(server.file_hits())

    out, _ = _fetch(server, tmp_path, timeout_s=5)
    rerun = server.file_hits()[n_before:]
    assert not any(h.name in done_before for h in rerun)  # complete files are not fetched again
    (resumed,) = [h for h in rerun if h.name == stalled]
    assert resumed.range == f"bytes={stalled_hit.bytes_sent}-" and resumed.status == 206
    assert server.bytes_served(stalled) == (fits_dir / stalled).stat().st_size
    s = _summary(out)
    assert s["counts"]["files"] == 15 and not list(tmp_path.rglob("*.part"))
    for rel, meta in s["files"].items():
        assert sha256_file(tmp_path / rel) == meta["sha256"]
        read_patch(tmp_path / rel)
    counts = pd.Series([h.name for h in server.file_hits()]).value_counts()
    assert counts.drop(stalled).eq(1).all() and counts[stalled] == 2


@pytest.mark.parametrize("bad", ["../../evil.fits", "/tmp/flarepipe-evil.fits", "sub/evil.fits"])
def test_malicious_file_name_is_refused(server, tmp_path, bad):
    server.add_fault("exp_status", "bad_filename", times=50, name=bad)
    archive = tmp_path / "a" / "b"
    with pytest.raises(UnsafeFilenameError, match="refusing file name") as err:
        _fetch(server, archive)
    assert "hmi.sharp_cea_720s.20110214-20110215" in str(err.value)
    assert not server.file_hits()  # nothing downloaded at all
    assert not list(tmp_path.rglob("evil.fits")) and not Path("/tmp/flarepipe-evil.fits").exists()


def test_retry_budget_exhausted_names_the_unit(server, tmp_path):
    server.add_fault("rs_list", "http_500", times=100)
    with pytest.raises(RetryBudgetExceeded) as err:
        _fetch(server, tmp_path)
    msg = str(err.value)
    assert "unit hmi.sharp_cea_720s.20110214-20110215" in msg and "failed 4 time(s)" in msg
    assert "HTTP Error 500" in msg and "rerun" in msg
    assert len(server.hits_for("rs_list")) == 4
    assert not (tmp_path / "units" / "hmi.sharp_cea_720s.20110214-20110215" / "unit.json").exists()


def test_transient_http_errors_and_stalled_json_are_retried(server, tmp_path):
    server.add_fault("series_struct", "http_503", times=1)
    server.add_fault("rs_list", "stall", times=1, seconds=3)
    server.add_fault("exp_status", "truncate", times=1, fraction=0.5)
    server.add_fault("file", "http_500", times=2)
    out, _ = _fetch(server, tmp_path, timeout_s=0.5)
    s = _summary(out)
    assert s["counts"]["files"] == 15 and s["stats"]["retries"] >= 4


def test_failed_export_is_resubmitted(server, tmp_path):
    server.add_fault("exp_status", "failed", times=1)
    out, _ = _fetch(server, tmp_path)
    s = _summary(out)
    assert s["stats"]["export_requests"] == 2 and s["counts"]["files"] == 15
    assert len(server.hits_for("exp_request")) == 2


def test_pending_export_limit_waits_then_succeeds(server, tmp_path):
    server.add_fault("exp_request", "pending_limit", times=2)
    out, _ = _fetch(server, tmp_path)
    assert _summary(out)["stats"]["pending_limit_waits"] == 2


def test_slow_export_times_out_then_rerun_reuses_the_request(tmp_path):
    with FakeJsoc(_small_records(), slow_polls=10_000) as srv:
        with pytest.raises(RetryBudgetExceeded, match="still pending"):
            _fetch(srv, tmp_path, export_timeout_s=0.05, poll_interval_s=0.01)
        rid = json.loads(
            (
                tmp_path / "units" / "hmi.sharp_cea_720s.20110214-20110215" / "export.json"
            ).read_text()
        )
        assert EMAIL not in json.dumps(rid)
        srv.exports[rid["requestid"]].polls_left = 2
        out, _ = _fetch(srv, tmp_path, poll_interval_s=0.01)
        assert len(srv.hits_for("exp_request")) == 1  # the saved request was reused
        assert _summary(out)["export_requestid"] == rid["requestid"]


def test_expired_export_and_lost_file_refetch_only_that_file(server, tmp_path):
    out, _ = _fetch(server, tmp_path)
    name = sorted(_summary(out)["files"])[3]
    (tmp_path / name).unlink()
    for e in server.exports.values():
        e.status = 5  # the export expired on the server
    n_files = len(server.file_hits())
    out, _ = _fetch(server, tmp_path)
    assert len(server.hits_for("exp_request")) == 2
    assert [h.name for h in server.file_hits()[n_files:]] == [Path(name).name]
    assert sha256_file(tmp_path / name) == _summary(out)["files"][name]["sha256"]


def test_records_without_data_file_and_missing_keywords(tmp_path):
    recs = _small_records()
    nodata = {recs[8].filename()}
    with FakeJsoc(recs, nodata=nodata, missing_keywords={SERIES: ["USFLUXL"]}) as srv:
        out, _ = _fetch(srv, tmp_path)
        s = _summary(out)
        rec = pd.read_csv(out.parent / "records.csv", keep_default_na=False)
        assert (rec["path"] == "").sum() == 1 and s["counts"]["files"] == 14
        col = KEYWORD_COLUMNS[0]
        assert rec[col].eq("").all() and any("USFLUXL" in m for m in s["missing_keywords"])
        n = len(srv.hits)
        _fetch(srv, tmp_path)
        assert [h.endpoint for h in srv.hits[n:]] == [
            "series_struct",
            "rs_list",
        ]  # nodata remembered


def test_server_without_exports_is_a_clear_error(server, tmp_path):
    cfg = _cfg(server.url)
    sc = jsoc.make_server_config(server.url)
    d = dict(sc.to_dict())
    d.pop("cgi_jsoc_fetch")
    d.pop("url_jsoc_fetch")
    client = drms.Client(server=drms.ServerConfig(d))
    (unit,) = jsoc.plan_units(cfg)
    with pytest.raises(jsoc.UnitError, match="does not support exports"):
        jsoc.fetch_unit(
            unit, client, tmp_path, settings=jsoc.JsocSettings.from_section(cfg), email=EMAIL
        )


def test_merge_units_detects_lost_files(server, tmp_path):
    out, _ = _fetch(server, tmp_path)
    rel = sorted(_summary(out)["files"])[0]
    (tmp_path / rel).unlink()
    with pytest.raises(ValueError, match="missing or has the wrong size; rerun that unit"):
        jsoc.merge_units([out], tmp_path, pd.DataFrame(columns=["start_utc"]))


def test_empty_unit_and_merge_keeps_missing_values(server, tmp_path):
    empty, _ = _fetch(server, tmp_path, start="2011-03-01", end="2011-03-02")
    assert _summary(empty)["counts"]["records"] == 0 and not server.hits_for("exp_request")
    full, _ = _fetch(server, tmp_path, download_images=False)
    flares = pd.DataFrame(
        columns=[
            "start_utc",
            "peak_utc",
            "end_utc",
            "goes_class",
            "peak_flux_wm2",
            "noaa_ar",
            "region_missing",
        ]
    )
    m = jsoc.merge_units([empty, full], tmp_path, flares)
    assert m["counts"]["records"] == 15 and m["counts"]["files"] == 0
    rec = pd.read_csv(tmp_path / "records.csv", dtype={"noaa_ars": str})
    assert rec["path"].isna().all() and rec["noaa_ars"].eq("11158").all()
    assert rec["lat_fwt"].dtype == float and rec["quality"].dtype == "int64"


def test_quality_clause_and_query_filter(server, tmp_path):
    assert jsoc.quality_clause(65536, "LON_FWT<70") == "QUALITY<65536 AND (LON_FWT<70)"
    assert jsoc.quality_clause(None, None) is None
    out, unit = _fetch(server, tmp_path, max_quality=1024)
    assert (
        unit.recordset() == "hmi.sharp_cea_720s[][2011.02.14_00:00:00_TAI/1d@96m][? QUALITY<1024 ?]"
    )
    rec = pd.read_csv(out.parent / "records.csv")
    assert (
        len(rec) == 14 and rec["quality"].max() == 0
    )  # the QUALITY=0x400 record was not asked for
    assert _summary(out)["counts"]["files"] == 14


def test_smarp_unit_with_fractional_trec(tmp_path):
    recs = [r for r in make_records() if r.series == "mdi.smarp_cea_96m"]
    with FakeJsoc(recs) as srv:
        cfg = _cfg(srv.url, series=["mdi.smarp_cea_96m"], start="2010-07-14", end="2010-07-15")
        (unit,) = jsoc.plan_units(cfg)
        client = jsoc.make_client(cfg)
        settings = jsoc.JsocSettings.from_section(cfg)
        out = jsoc.fetch_unit(unit, client, tmp_path, settings=settings, email=EMAIL)
        rec = pd.read_csv(out.parent / "records.csv", keep_default_na=False)
        assert (
            len(rec) == 15 and (rec["path"] != "").all() and rec["region_id"].eq("TARP13520").all()
        )
        assert rec["t_rec_tai"].iloc[0] == "2010.07.14_00:00:00.000_TAI"
        assert rec["t_rec"].iloc[0] == "2010-07-13T23:59:26.000"
        n = len(srv.hits)
        jsoc.fetch_unit(unit, client, tmp_path, settings=settings, email=EMAIL)
        assert [h.endpoint for h in srv.hits[n:]] == ["rs_list"]  # series info cached by the client


def test_progress_bar_off_without_tty():
    assert _progress_bar(3, "u", None).disable  # pytest's stderr is not a terminal
    assert _progress_bar(3, "u", False).disable


def test_run_unit_reads_everything_from_config(server, tmp_path, monkeypatch):
    monkeypatch.setenv(jsoc.EMAIL_ENV, EMAIL)
    section = _cfg(server.url)  # config['archive']['jsoc'] as the workflow validated it
    uid = jsoc.plan_units(section)[0].unit_id
    out = jsoc.run_unit(section, uid, tmp_path)
    assert _summary(out)["counts"]["files"] == 15
    assert any(h.params.get("notify") == EMAIL for h in server.hits_for("exp_request"))


def test_file_without_keyword_row_is_described_from_its_header(tmp_path):
    recs = _small_records()
    hidden = recs[16].filename()  # a 96-minute grid record (index 16 = 03:12)
    with FakeJsoc(recs, hidden={hidden}) as srv:
        out, _ = _fetch(srv, tmp_path)
    rec = pd.read_csv(out.parent / "records.csv", keep_default_na=False)
    assert len(rec) == 15 and rec["t_rec"].is_monotonic_increasing
    row = rec[rec["path"].str.endswith(hidden)].iloc[0]
    assert row["t_rec_tai"] == recs[16].trec and row["nx"] == 64 and row["region_id"] == "HARP377"
    assert _summary(out)["counts"]["unmatched_files"] == 1


def test_resume_refetches_a_corrupt_rice_file_left_without_ledger_entry(server, tmp_path):
    """A file renamed into place by a job killed before its ledger entry, whose compressed tiles
    do not decompress (cfitsio's CfitsioException): the resume refetches it and goes on."""
    out, _ = _fetch(server, tmp_path)
    name = sorted(_summary(out)["files"])[2]
    path = tmp_path / name
    b = bytearray(path.read_bytes())
    for i in range(len(b) // 2, len(b) - 10):
        b[i] = (b[i] * 7 + 13) % 256
    path.write_bytes(bytes(b))
    (ledger,) = tmp_path.rglob("files.jsonl")
    ledger.write_text(
        "".join(
            line + "\n" for line in ledger.read_text().splitlines() if Path(name).name not in line
        )
    )
    n_files = len(server.file_hits())
    out, _ = _fetch(server, tmp_path)
    assert [h.name for h in server.file_hits()[n_files:]] == [Path(name).name]
    assert sha256_file(path) == _summary(out)["files"][name]["sha256"]
    read_patch(path)


def test_move_email_to_env_strips_the_config_and_the_environment_wins(monkeypatch):
    from flarepipe.archive.sources.jsoc import move_email_to_env

    monkeypatch.delenv(jsoc.EMAIL_ENV, raising=False)
    cfg = {"archive": {"jsoc": {"email": " a@b.org ", "server": "jsoc"}}}
    move_email_to_env(cfg)
    assert cfg == {"archive": {"jsoc": {"server": "jsoc"}}}
    assert jsoc.resolve_email(cfg["archive"]["jsoc"]) == "a@b.org"
    monkeypatch.setenv(jsoc.EMAIL_ENV, "env@b.org")
    cfg = {"archive": {"jsoc": {"email": "a@b.org"}}}
    move_email_to_env(cfg)
    assert "email" not in cfg["archive"]["jsoc"] and jsoc.resolve_email({}) == "env@b.org"
    move_email_to_env({"archive": {"source": "synthetic"}})  # no jsoc section: nothing to do


def test_verify_existing_rehashes_complete_files_and_refetches_a_changed_one(server, tmp_path):
    """A complete file altered in place (same size): with verify_existing the rerun re-hashes it,
    fetches it again, and unit.json holds the checksum of the file on disk."""
    out, _ = _fetch(server, tmp_path)
    name = sorted(_summary(out)["files"])[4]
    path = tmp_path / name
    b = bytearray(path.read_bytes())
    b[-100] ^= 0xFF
    path.write_bytes(bytes(b))
    n_files = len(server.file_hits())
    out, _ = _fetch(server, tmp_path)  # sizes only (the default): nothing fetched
    assert len(server.file_hits()) == n_files
    out, _ = _fetch(server, tmp_path, verify_existing=True)
    assert [h.name for h in server.file_hits()[n_files:]] == [Path(name).name]
    assert sha256_file(path) == _summary(out)["files"][name]["sha256"]


def test_a_permanently_missing_file_is_recorded_and_the_unit_finishes(server, tmp_path):
    """HTTP 404 for one listed file: the unit finishes with that record's path empty and the
    miss counted; a rerun asks the server for no file (the ledger records it as missing)."""
    server.add_fault("file", "http_404", times=1)
    out, _ = _fetch(server, tmp_path)
    s = _summary(out)
    assert s["counts"]["records"] == 15 and s["counts"]["files"] == 14
    assert s["stats"]["files_missing"] == 1
    rec = pd.read_csv(out.parent / "records.csv", keep_default_na=False)
    assert (rec["path"] == "").sum() == 1
    n_files = len(server.file_hits())
    out, _ = _fetch(server, tmp_path)
    assert len(server.file_hits()) == n_files and _summary(out)["counts"]["files"] == 14


def test_a_trickling_server_cannot_hold_a_download_past_its_budget(server, tmp_path):
    """64 bytes every 50 ms never trips the 5 s read timeout; the step's budget (1.5 s) still ends
    the transfer, keeping what arrived, and the rerun resumes it with a Range request."""

    server.add_fault("file", "trickle", bytes=64, interval=0.05)
    retry = {"max_attempts": 4, "base_delay_s": 0.01, "max_delay_s": 0.05, "jitter": 0}
    t0 = time.monotonic()
    with pytest.raises(RetryBudgetExceeded, match=r"budget_s=1\.5.*wall-clock budget"):
        _fetch(server, tmp_path, retry={**retry, "budget_s": 1.5})
    assert time.monotonic() - t0 < 1.5 + 5 + 2  # the budget, at most one read timeout, setup
    (part,) = tmp_path.rglob("*.part")
    kept = part.stat().st_size
    assert kept > 0
    out, _ = _fetch(server, tmp_path)
    # the server logs a hit when its response ends, so the cut trickle may be logged after the
    # rerun's requests (or not at all): look for the resume among the file's hits
    name = part.name.removesuffix(".part")
    ranges = [h.range for h in server.file_hits(name)]
    assert f"bytes={kept}-" in ranges, ranges
    assert _summary(out)["counts"]["files"] == 15


def test_a_file_holding_another_record_is_refused_and_fetched_again(server, tmp_path):
    """The server sends another record's bytes under a file's name once: the header (HARPNUM,
    T_REC) disagrees with the export record, the file is refused and fetched again."""
    server.add_fault("file", "swap", times=1)
    out, _ = _fetch(server, tmp_path)
    name = server.file_hits()[0].name
    assert len(server.file_hits(name)) == 2 and server.file_hits(name)[1].range is None
    rec = pd.read_csv(out.parent / "records.csv", keep_default_na=False)
    for _, r in rec.iterrows():
        _, header = read_patch(tmp_path / r["path"])
        assert header["T_REC"] == r["t_rec_tai"] and header["HARPNUM"] == r["region"]
