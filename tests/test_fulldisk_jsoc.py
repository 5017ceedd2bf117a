"""The JSOC full-disk source (``fulldisk.source: jsoc``): the daily rule, units against the
loopback JSOC of ``tests/jsoc_server.py`` (drms' own client), resume, errors, the workflow's DAG.

No test touches the network: every request goes to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from archive_config import jsoc_section
from flarepipe.archive.catalogues.flares import finalise_events, write_flares
from flarepipe.archive.sources import jsoc
from flarepipe.archive.sources.jsoc.fulldisk import (
    FullDiskJsocSettings,
    choose_daily_records,
    fetch_fulldisk_unit,
    plan_fulldisk_units,
)
from flarepipe.archive.sources.jsoc.query import build_fulldisk_recordset
from flarepipe.config.load import section
from flarepipe.core.timeutil import parse_trec
from flarepipe.io.atomic import sha256_file
from flarepipe.io.fulldisk import read_fulldisk
from flarepipe.stages.fulldisk import run_fulldisk_jsoc_archive, run_fulldisk_samples
from jsoc_server import FakeFrame, FakeJsoc, kill_mid_file, make_frames

REPO = Path(__file__).resolve().parents[1]
EMAIL = "solar.tester+fulldisk@example.org"
HMI = "hmi.M_720s"

#: four days of HMI records, one case of the daily rule each (the days 2011-01-02 ... 01-05)
TIMES = [
    "2011.01.01_23:48:00_TAI",  # D1: an earlier record, but 00:00 is there and good
    "2011.01.02_00:00:00_TAI",  # D1: chosen
    "2011.01.02_22:00:00_TAI",  # D2: chosen (00:00 is flagged): nearest earlier good record
    "2011.01.03_00:00:00_TAI",  # D2: QUALITY 0x400
    "2011.01.03_12:00:00_TAI",  # D3: 12 h before, beyond max_lag_h
    "2011.01.04_00:12:00_TAI",  # D3: after 00:00 UT: never taken -> D3 has no record
    "2011.01.05_00:00:00_TAI",  # D4: QUALITY 0x400, nothing else -> bad quality
]
QUALITY = {"2011.01.03_00:00:00_TAI": 0x400, "2011.01.05_00:00:00_TAI": 0x400}
CHOSEN = {"2011-01-02": "2011.01.02_00:00:00_TAI", "2011-01-03": "2011.01.02_22:00:00_TAI"}


def _fd_section(**jsoc_over) -> dict:
    """The validated ``fulldisk`` section of a 4-day HMI download."""
    j = {"instruments": ["HMI"], "start": "2011-01-02", "end": "2011-01-06", "chunk_days": 4}
    return section("fulldisk", {"source": "jsoc", "jsoc": {**j, **jsoc_over}})


def _jsoc_cfg(url: str, **over) -> dict:
    sec = {
        "server": url,
        # the patch keys are not read by full-disk units (a small patch range: no size warning)
        "series": ["hmi.sharp_cea_720s"],
        "start": "2011-01-01",
        "end": "2011-01-02",
        "poll_interval_s": 0,
        "timeout_s": 5,
        "progress": False,
        "retry": {"max_attempts": 4, "base_delay_s": 0.01, "max_delay_s": 0.05, "jitter": 0},
        **over,
    }
    return jsoc_section(sec)


@pytest.fixture
def server():
    with FakeJsoc(make_frames(HMI, TIMES, QUALITY)) as srv:
        yield srv


def _fetch(srv, out, email=EMAIL, jsoc_over=None, **fd_over):
    settings = jsoc.JsocSettings.from_section(_jsoc_cfg(srv.url, **(jsoc_over or {})))
    fd = FullDiskJsocSettings.from_section(_fd_section(**fd_over))
    (unit,) = plan_fulldisk_units(fd)
    return fetch_fulldisk_unit(
        unit, jsoc.make_client(settings), out, settings=settings, fd=fd, email=email
    )


# ----------------------------------------------------------------------------- pure layers


def test_daily_rule_truth_table():
    """00:00 present; only an earlier record that day; none in the window; only bad quality."""
    listed = pd.DataFrame(
        {
            "t_rec_tai": TIMES,
            "t_rec": list(parse_trec(TIMES)),
            "quality": [QUALITY.get(t, 0) for t in TIMES],
        }
    )
    days = pd.date_range("2011-01-02", periods=4, freq="D")
    chosen, rejected = choose_daily_records(listed, days, 0xFFFFFDFF, 6.0)
    assert dict(zip(chosen["day"], chosen["t_rec_tai"], strict=True)) == CHOSEN
    # JSOC's 00:00:00_TAI is 23:59:26 UTC of the day before (TAI - UTC = 34 s in 2011)
    assert chosen["lag_h"].iloc[0] == pytest.approx(34 / 3600)
    assert chosen["lag_h"].iloc[1] == pytest.approx(2 + 34 / 3600)
    assert rejected["day"].tolist() == ["2011-01-04", "2011-01-05"]
    assert rejected["reason"].tolist() == ["no record", "bad quality"]
    assert "2011.01.05_00:00:00_TAI (QUALITY 0x00000400)" in rejected["detail"].iloc[1]
    # a mask that lets 0x400 through takes the flagged 00:00 records
    chosen, rejected = choose_daily_records(listed, days, 0, 6.0)
    assert chosen["t_rec_tai"].tolist()[1:] == [
        "2011.01.03_00:00:00_TAI",
        "2011.01.05_00:00:00_TAI",
    ]
    assert rejected["day"].tolist() == ["2011-01-04"]


def test_unreadable_rows_of_the_keyword_answer_are_listed_not_dropped():
    from flarepipe.archive.sources.jsoc.fulldisk import _listed_records

    kdf = pd.DataFrame(
        {"T_REC": [TIMES[1], "MISSING", TIMES[2]], "QUALITY": ["0x00000000", "0x0", "zz"]}
    )
    listed, rejected = _listed_records(kdf, HMI)
    assert listed["t_rec_tai"].tolist() == [TIMES[1]] and listed["quality"].tolist() == [0]
    assert rejected == [
        {"file": f"{HMI} row 1", "reason": "bad T_REC 'MISSING'"},
        {"file": f"{HMI}[{TIMES[2]}]", "reason": "bad QUALITY 'zz'"},
    ]


def test_units_cut_each_instrument_and_record_sets():
    fd = FullDiskJsocSettings.from_section(
        section(
            "fulldisk",
            {"source": "jsoc", "jsoc": {"start": "2011-01-01", "end": "2011-03-01"}},
        )
    )
    units = plan_fulldisk_units(fd)
    # MDI ends 2011-04-12, HMI starts 2010-04-30: both serve Jan-Feb 2011
    assert [u.unit_id for u in units] == [
        "mdi.fd_M_96m_lev182.20110101-20110131",
        "mdi.fd_M_96m_lev182.20110131-20110301",
        "hmi.M_720s.20110101-20110131",
        "hmi.M_720s.20110131-20110301",
    ]
    assert units[0].segment == "data" and units[2].segment == "magnetogram"
    # the days' records from max_lag_h before the first 00:00 UT to the last one, +-1 min
    assert units[2].query_recordset(6.0) == "hmi.M_720s[2010.12.31_17:59:00_TAI/42122m]"
    export = build_fulldisk_recordset(HMI, trecs=TIMES[1:3], segments=["magnetogram"])
    assert export == f"{HMI}[{TIMES[1]},{TIMES[2]}]{{magnetogram}}"
    with pytest.raises(ValueError, match="not both"):
        build_fulldisk_recordset(HMI, start="2011-01-01", end="2011-01-02", trecs=[TIMES[0]])
    with pytest.raises(ValueError, match="not a JSOC T_REC"):
        build_fulldisk_recordset(HMI, trecs=["2011-01-01 00:00"])


def test_settings_defaults_equal_the_schemas():
    assert FullDiskJsocSettings.from_section(section("fulldisk", {})) == FullDiskJsocSettings()


def test_download_size_is_estimated_and_limited_before_any_job():
    from flarepipe.archive.size import FULLDISK_FILE_BYTES, fulldisk_jsoc_estimate
    from flarepipe.config import ConfigError, validate_config

    j = {"instruments": ["MDI", "HMI"], "start": "2011-01-01", "end": "2012-01-01"}
    est = fulldisk_jsoc_estimate(j)
    # MDI ends 2011-04-12 (102 days), HMI serves the year
    assert est.records == 102 + 365
    assert est.bytes == 102 * FULLDISK_FILE_BYTES["MDI"] + 365 * FULLDISK_FILE_BYTES["HMI"]
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["fulldisk"] = {"enabled": True, "source": "jsoc", "jsoc": j}
    cfg["archive"].update(jsoc={}, catalogue={"source": "file", "path": "flares.csv"})
    cfg["archive"]["size_limit_gb"] = 5
    with pytest.raises(ConfigError, match=r"jsoc full-disk download is estimated at about 5\.1 GB"):
        validate_config(cfg)
    cfg["archive"].update(size_limit_gb=None, size_warn_gb=5)
    with pytest.warns(UserWarning, match="fulldisk.jsoc.start/end/instruments"):
        validate_config(cfg)


def test_config_refuses_jsoc_without_archive_sections():
    from flarepipe.config import ConfigError, validate_config

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["fulldisk"] = {"enabled": True, "source": "jsoc"}
    with pytest.raises(ConfigError, match="archive.jsoc is not set"):
        validate_config(cfg)
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["fulldisk"] = {
        "enabled": True,
        "source": "jsoc",
        "jsoc": {"start": "2011-02-01", "end": "2011-01-01"},
    }
    cfg["archive"].update(jsoc={}, catalogue={"source": "file", "path": "flares.csv"})
    with pytest.raises(ConfigError, match="fulldisk.jsoc.start"):
        validate_config(cfg)


# ----------------------------------------------------------------------------- against the server


def _unit_dir(out: Path) -> Path:
    return out.parent


def test_unit_exports_only_the_chosen_records_and_merges_into_the_archive(server, tmp_path):
    done = _fetch(server, tmp_path / "jsoc")
    s = json.loads(done.read_text())
    assert (
        s["counts"] | {"days": 4, "days_chosen": 2, "days_rejected": 2, "files": 2} == s["counts"]
    )
    # one export, of the chosen records' segment only
    (req,) = server.hits_for("exp_request")
    assert (
        req.params["ds"] == f"{HMI}[{CHOSEN['2011-01-02']},{CHOSEN['2011-01-03']}]{{magnetogram}}"
    )
    assert sorted(h.name for h in server.file_hits()) == [
        "hmi.M_720s.20110102_000000_TAI.magnetogram.fits",
        "hmi.M_720s.20110102_220000_TAI.magnetogram.fits",
    ]
    days = pd.read_csv(_unit_dir(done) / "rejected_days.csv")
    assert days[["day", "reason"]].values.tolist() == [
        ["2011-01-04", "no record"],
        ["2011-01-05", "bad quality"],
    ]
    assert EMAIL not in "".join(p.read_text() for p in _unit_dir(done).iterdir())

    archive = tmp_path / "archive"
    flares = tmp_path / "flares.csv"
    raw = {"line": [1], "raw": ["test"], "start": ["2011-01-02T10:00:00"]}
    raw |= {"peak": ["2011-01-02T10:05:00"], "end": ["2011-01-02T10:20:00"]}
    write_flares(
        finalise_events(
            pd.DataFrame(raw | {"goes_class": ["M1.0"], "noaa": [11140]}), "test"
        ).flares,
        flares,
    )
    counts = run_fulldisk_jsoc_archive([str(done)], flares, _fd_section(), archive)  # the rule's
    assert counts["records_with_file"] == 2 and counts["rejected_days"] == 2
    assert not list(tmp_path.glob("archive.*.part"))  # built beside, renamed onto archive/
    manifest = json.loads((archive / "fulldisk" / "manifest.json").read_text())
    assert manifest["units"][0]["export_recordset"].endswith("{magnetogram}")
    rec = pd.read_csv(archive / "fulldisk" / "records.csv")
    for path, trec in zip(rec["path"], rec["t_rec_tai"], strict=True):
        frame = read_fulldisk(archive / path)  # RICE, the header's WCS: the one reader
        assert frame.instrument == "HMI" and frame.header["T_REC"] == trec
        assert frame.on_disk.any() and frame.disk_fraction_nan() == 0.0
        assert sha256_file(archive / path) == s["files"][f"fits/{HMI}/{Path(path).name}"]["sha256"]

    # the sampler downstream takes the same frame for each day; its rejected days hold the
    # download's (the sampler itself sees only the chosen records)

    labels = tmp_path / "labels"
    cfg = _fd_section()
    run_fulldisk_samples(archive, cfg, labels / "s.csv", labels / "f.csv", labels / "r.csv")
    samples = pd.read_csv(labels / "s.csv")
    assert dict(zip(samples["day"], samples["t_rec_tai"], strict=True)) == CHOSEN
    assert samples["label"].tolist() == [1, 0]  # the M1.0 of 2011-01-02
    days = pd.read_csv(labels / "r.csv")
    assert days[["day", "instrument", "reason"]].values.tolist() == [
        ["2011-01-04", "HMI", "missing"],
        ["2011-01-05", "HMI", "missing"],
    ]
    assert days["detail"].str.startswith("at download: ").all()
    assert "bad quality (2011.01.05_00:00:00_TAI (QUALITY 0x00000400))" in days["detail"][1]

    # a rerun with everything complete asks for no export and no file
    n_req, n_files = len(server.hits_for("exp_request")), len(server.file_hits())
    _fetch(server, tmp_path / "jsoc")
    assert len(server.hits_for("exp_request")) == n_req and len(server.file_hits()) == n_files

    # a unit whose file went missing since is refused by name; the earlier archive stays whole
    (tmp_path / "jsoc" / "fits" / HMI / server.file_hits()[0].name).unlink()
    with pytest.raises(ValueError, match=r"unit hmi\.M_720s\.20110102-20110106: .* rerun it"):
        run_fulldisk_jsoc_archive([str(done)], flares, _fd_section(), archive)
    assert pd.read_csv(archive / "fulldisk" / "records.csv").equals(rec)
    assert not list(tmp_path.glob("archive.*.part"))


def test_bad_series_name_and_missing_segment_name_the_key(server, tmp_path):
    with pytest.raises(jsoc.UnitError, match=r"fulldisk\.jsoc\.series\.HMI: .*hmi\.M_nope"):
        _fetch(server, tmp_path, series={"HMI": "hmi.M_nope"})
    with pytest.raises(jsoc.UnitError, match=r"fulldisk\.jsoc\.segments\.HMI: .*'bitmap'"):
        _fetch(server, tmp_path, segments={"HMI": "bitmap"})
    assert not server.hits_for("exp_request")
    assert not list(tmp_path.rglob("unit.json"))


def test_missing_file_on_the_server_is_a_rejected_record(tmp_path):
    frames = make_frames(HMI, TIMES, QUALITY)
    with FakeJsoc(frames, nodata={frames[2].filename()}) as srv:
        done = _fetch(srv, tmp_path)
    rec = pd.read_csv(done.parent / "records.csv", dtype={"path": str}).fillna({"path": ""})
    assert rec["path"].tolist()[1] == "" and rec["path"].tolist()[0] != ""
    rej = pd.read_csv(done.parent / "rejected.csv")
    assert rej.values.tolist() == [[f"{HMI}[{TIMES[2]}]", "NoDataFile"]]


_KILL_SCRIPT = """
import json, sys
from flarepipe.archive.sources import jsoc
from flarepipe.archive.sources.jsoc.fulldisk import (
    FullDiskJsocSettings, fetch_fulldisk_unit, plan_fulldisk_units)
s = jsoc.JsocSettings.from_section(json.loads(sys.argv[1]))
fd = FullDiskJsocSettings.from_section(json.loads(sys.argv[2]))
(unit,) = plan_fulldisk_units(fd)
fetch_fulldisk_unit(unit, jsoc.make_client(s), sys.argv[3], settings=s, fd=fd, email=sys.argv[4])
"""


def test_killed_download_resumes_from_its_part_file(server, tmp_path):
    """SIGKILL the job mid-file: no unit.json, the file only as .part; the rerun resumes it with
    an HTTP Range request and fetches no complete file again."""
    args = [json.dumps(_jsoc_cfg(server.url, timeout_s=60)), json.dumps(_fd_section())]
    fits_dir = tmp_path / "fits" / HMI
    # one clean file, then a stall mid-body
    stalled, err = kill_mid_file(server, _KILL_SCRIPT, [*args, str(tmp_path), EMAIL], fits_dir, 1)
    part = fits_dir / f"{stalled.name}.part"
    assert EMAIL.encode() not in err
    assert not (fits_dir / stalled.name).exists() and part.stat().st_size == stalled.bytes_sent
    assert not list(tmp_path.rglob("unit.json"))  # no job output: Snakemake reruns the unit
    first = server.file_hits()[0].name
    n_before = len(server.file_hits())

    done = _fetch(server, tmp_path)
    rerun = server.file_hits()[n_before:]
    assert [h.name for h in rerun] == [stalled.name]  # the complete file is not fetched again
    assert rerun[0].range == f"bytes={stalled.bytes_sent}-" and rerun[0].status == 206
    assert server.bytes_served(stalled.name) == (fits_dir / stalled.name).stat().st_size
    s = json.loads(done.read_text())
    assert s["counts"]["files"] == 2 and not list(tmp_path.rglob("*.part"))
    for name in (first, stalled.name):
        read_fulldisk(fits_dir / name)


def test_yi2021_dry_run_with_jsoc_full_disk(tmp_path):
    """The study's DAG with fulldisk.source jsoc: one job per unit, the catalogue, the archive
    merge, and fulldisk_samples onwards as with the other sources (no request is sent)."""
    (tmp_path / "flares.csv").write_text("start_utc,peak_utc,end_utc,goes_class\n")
    overlay = {
        "archive": {
            "jsoc": {"server": "http://127.0.0.1:9/"},
            "catalogue": {"source": "file", "path": "flares.csv"},
        },
        "fulldisk": {
            "source": "jsoc",
            "jsoc": {"start": "2010-12-01", "end": "2011-03-01", "chunk_days": 30},
        },
    }
    (tmp_path / "overlay.yaml").write_text(yaml.safe_dump(overlay))
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
    cmd += ["--directory", str(tmp_path), "-n", "--cores", "2", "--configfile"]
    cmd += [str(REPO / "config" / "studies" / "yi2021.yaml"), str(tmp_path / "overlay.yaml")]
    env = {**__import__("os").environ, "PYTHONPATH": str(REPO / "src")}
    res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout + res.stderr
    jobs = {
        w[0]: int(w[1]) for w in map(str.split, out.splitlines()) if len(w) == 2 and w[1].isdigit()
    }
    # 90 days in 30-day units: MDI and HMI both serve Dec 2010 - Feb 2011
    assert jobs["fulldisk_jsoc_unit"] == 6 and jobs["catalogue"] == 1
    for rule in ("fulldisk_archive", "fulldisk_samples", "fulldisk_split", "fulldisk_evaluate"):
        assert jobs[rule] == 1, rule
    assert "unit=hmi.M_720s.20101231-20110130" in out
    assert "unit=mdi.fd_M_96m_lev182.20110130-20110301" in out


def test_sources_doc_example_is_a_valid_config_and_plan():
    """docs/SOURCES.md's full-disk yaml block validates and plans the units it describes."""
    import re

    from flarepipe.config import validate_config

    text = (REPO / "docs" / "SOURCES.md").read_text()
    part = text.split("## jsoc full disk (`fulldisk.source: jsoc`)\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"^```yaml\n(.*?)^```$", part, flags=re.S | re.M)
    doc = yaml.safe_load(block)
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["archive"].update(doc["archive"])
    cfg["fulldisk"] = doc["fulldisk"]
    fd = validate_config(cfg)["fulldisk"]
    units = plan_fulldisk_units(FullDiskJsocSettings.from_section(fd))
    # 365 days in 30-day units; MDI ends 2011-04-12
    assert [u.unit_id for u in units][-1] == "hmi.M_720s.20110426-20110501"
    assert len([u for u in units if u.instrument == "HMI"]) == 13
    assert units[-1 - 13].end_day == "2011-04-13"
    # the record sets the text quotes are the ones the code builds
    jan = plan_fulldisk_units(FullDiskJsocSettings(("HMI",), start="2011-01-01", end="2011-01-31"))
    assert f"`{jan[0].query_recordset(6.0)}`" in part
    export = build_fulldisk_recordset(HMI, trecs=CHOSEN.values(), segments=["magnetogram"])
    assert f"`{export.removesuffix(']{magnetogram}')},...]{{magnetogram}}`" in part


def test_workflow_builds_the_archive_from_the_loopback_jsoc(server, tmp_path):
    """The rules themselves (catalogue, fulldisk_jsoc_unit per unit, fulldisk_archive) against the
    loopback server; a second run has nothing to do."""
    from flarepipe.archive.catalogues.flares import finalise_events

    raw = {"line": [1], "raw": ["t"], "start": ["2011-01-02T10:00"], "peak": ["2011-01-02T10:05"]}
    raw |= {"end": ["2011-01-02T10:20"], "goes_class": ["M1.0"], "noaa": [11140]}
    write_flares(finalise_events(pd.DataFrame(raw), "test").flares, tmp_path / "flares.csv")
    overlay = {
        "archive": {
            "jsoc": {k: v for k, v in _jsoc_cfg(server.url).items() if k != "email"},
            "catalogue": {"source": "file", "path": "flares.csv"},
        },
        "fulldisk": {
            "source": "jsoc",
            "jsoc": {
                "instruments": ["HMI"],
                "start": "2011-01-02",
                "end": "2011-01-06",
                "chunk_days": 2,
            },
            "split": {"test_start": "2011-01-04"},  # one instrument: a split by date
        },
    }
    (tmp_path / "overlay.yaml").write_text(yaml.safe_dump(overlay))
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
    cmd += ["--directory", str(tmp_path), "--cores", "2", "--resources", "jsoc_export=1"]
    cmd += ["--configfile", str(REPO / "config" / "studies" / "yi2021.yaml")]
    cmd += [str(tmp_path / "overlay.yaml"), "--", "results/yi2021/fulldisk/archive"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), jsoc.EMAIL_ENV: EMAIL}

    def run() -> subprocess.CompletedProcess:
        return subprocess.run(
            cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )

    res = run()
    assert res.returncode == 0, res.stderr[-3000:]
    fd = tmp_path / "results" / "yi2021" / "fulldisk"
    assert sorted(p.name for p in (fd / "jsoc" / "units").iterdir()) == [
        "hmi.M_720s.20110102-20110104",
        "hmi.M_720s.20110104-20110106",
    ]
    rec = pd.read_csv(fd / "archive" / "fulldisk" / "records.csv")
    assert rec["t_rec_tai"].tolist() == list(CHOSEN.values())
    assert all((fd / "archive" / p).is_file() for p in rec["path"])
    assert len(server.hits_for("exp_request")) == 1  # the second unit's days have no record
    res = run()
    assert res.returncode == 0 and "Nothing to be done" in res.stdout + res.stderr


def test_another_records_file_is_refused_and_fetched_again(server, tmp_path):
    """The server answers the body of another frame for one file: its header's T_REC is not the
    record's, so the download is retried rather than filed under the wrong day."""
    server.add_fault("file", "swap", times=1)
    done = _fetch(server, tmp_path)
    s = json.loads(done.read_text())
    assert s["stats"]["retries"] == 1 and s["counts"]["files"] == 2
    rec = pd.read_csv(done.parent / "records.csv")
    for path, trec in zip(rec["path"], rec["t_rec_tai"], strict=True):
        assert read_fulldisk(tmp_path / path).header["T_REC"] == trec


def test_the_real_hmi_export_goes_through_the_download_and_the_reader(tmp_path):
    """The shared real hmi.M_720s file (4096 px, RICE), served as its record: the unit's header
    check, the archive and the one full-disk reader take it, its header's WCS as it is."""
    from conftest import real_path

    real = real_path("fulldisk", "hmi.M_720s.20160707_010000_TAI.magnetogram.fits")
    frame = FakeFrame(HMI, "2016.07.07_01:00:00.000_TAI", path=real)
    with FakeJsoc([frame]) as srv:
        settings = jsoc.JsocSettings.from_section(_jsoc_cfg(srv.url, timeout_s=30))
        # the record is 23 h before 2016-07-08 00:00 UT: served with max_lag_h 24
        cfg = section(
            "fulldisk",
            {
                "source": "jsoc",
                "jsoc": {"instruments": ["HMI"], "start": "2016-07-08", "end": "2016-07-09"},
                "daily": {"max_lag_h": 24.0},
            },
        )
        fd = FullDiskJsocSettings.from_section(cfg)
        (unit,) = plan_fulldisk_units(fd)
        client = jsoc.make_client(settings)
        done = fetch_fulldisk_unit(unit, client, tmp_path, settings=settings, fd=fd, email=EMAIL)
    rec = pd.read_csv(done.parent / "records.csv")
    assert rec[["day", "t_rec_tai", "nx", "ny"]].values.tolist() == [
        ["2016-07-08", "2016.07.07_01:00:00.000_TAI", 4096, 4096]
    ]
    assert rec["lag_h"].iloc[0] == pytest.approx(23 + 36 / 3600)  # TAI - UTC = 36 s in 2016
    got = tmp_path / rec["path"].iloc[0]
    assert sha256_file(got) == sha256_file(real)
    f = read_fulldisk(got)
    assert f.instrument == "HMI" and f.data.shape == (4096, 4096)
    r_px = f.header["RSUN_OBS"] / f.header["CDELT1"]  # the disk's radius from the header's WCS
    assert f.on_disk.mean() == pytest.approx(3.14159 * r_px**2 / 4096**2, rel=0.01)
    assert f.disk_fraction_nan() < 0.01
