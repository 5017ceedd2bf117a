"""Time conversions, GOES classes, atomic writes."""

import pandas as pd
import pytest

from flarepipe.core.flareclass import class_to_flux, flux_to_class
from flarepipe.core.timeutil import format_trec, parse_trec, tai_to_utc, to_iso_utc, utc_to_tai
from flarepipe.io.atomic import atomic_path, write_csv


def test_trec_tai_to_utc_leap_seconds():
    # TAI-UTC was 34 s in 2011 and 32 s in 2001 (IERS leap-second table)
    assert parse_trec("2011.02.15_02:00:00_TAI") == pd.Timestamp("2011-02-15 01:59:26")
    assert parse_trec("2001.01.01_00:00:00_TAI") == pd.Timestamp("2000-12-31 23:59:28")
    assert parse_trec("2010.07.14_12:48:00.000_TAI") == pd.Timestamp("2010-07-14 12:47:26")
    idx = parse_trec(["2017.01.01_00:00:37_TAI", "2016.12.31_23:59:00_UTC"])
    assert list(idx) == [pd.Timestamp("2017-01-01 00:00:00"), pd.Timestamp("2016-12-31 23:59:00")]


def test_trec_round_trip_and_errors():
    t = pd.Timestamp("2014-06-01 12:00:00")
    assert tai_to_utc(utc_to_tai(t)) == t
    assert format_trec(pd.Timestamp("2011-02-15 02:00:00")) == "2011.02.15_02:00:00_TAI"
    assert to_iso_utc(pd.Timestamp("2011-02-15 01:59:26.5")) == "2011-02-15T01:59:26.500"
    with pytest.raises(ValueError, match="not a JSOC T_REC"):
        parse_trec("2011-02-15 02:00")


@pytest.mark.parametrize(
    "cls,flux", [("M1.2", 1.2e-5), ("X10", 1e-3), ("C1.0", 1e-6), ("B9.4", 9.4e-7), ("m", 1e-5)]
)
def test_class_to_flux(cls, flux):
    assert class_to_flux(cls) == pytest.approx(flux)


@pytest.mark.parametrize(
    "flux,cls",
    [
        (1.2e-5, "M1.2"),
        (9.99e-6, "C9.9"),
        (9.6e-6, "C9.6"),
        (2.2e-4, "X2.2"),
        (1.5e-3, "X15.0"),
        (1e-7, "B1.0"),
        (1e-5, "M1.0"),
        (1.1e-5, "M1.1"),
    ],
)
def test_flux_to_class(flux, cls):
    assert flux_to_class(flux) == cls
    assert class_to_flux(cls) <= flux * (1 + 1e-9)  # never reads above its flux (C9.99 is not M1.0)
    assert class_to_flux(cls) == pytest.approx(flux, rel=0.011)


def test_class_errors():
    with pytest.raises(ValueError, match="not a GOES class"):
        class_to_flux("Q1.0")
    with pytest.raises(ValueError):
        flux_to_class(-1)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("killed")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    write_csv(pd.DataFrame({"a": [1]}), target)
    assert target.read_text() == "a\n1\n"


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_atomic_outputs_honour_the_umask(tmp_path, umask):
    """mkstemp makes 0600 files; an atomic output gets what open() would give: 0666 & ~umask."""
    import os
    import stat

    from flarepipe.io.atomic import write_json

    old = os.umask(umask)
    try:
        write_csv(pd.DataFrame({"a": [1]}), tmp_path / "a.csv")
        write_json({"a": 1}, tmp_path / "b.json")
        with atomic_path(tmp_path / "c.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    for name in ("a.csv", "b.json", "c.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name


def test_stale_temporaries_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    """A writer killed inside atomic_path (SIGKILL: no cleanup) leaves its temporary file; the
    next write of the same target removes it, and leaves other targets' temporaries alone."""
    import subprocess
    import sys

    from flarepipe.io.atomic import stale_temporaries

    target = tmp_path / "features.h5"
    code = (
        "import os, signal, sys\n"
        "from flarepipe.io.atomic import atomic_path\n"
        "with atomic_path(sys.argv[1], suffix='.h5.part') as tmp:\n"
        "    tmp.write_bytes(b'x' * 1000)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    other = tmp_path / ".other.h5.abcdefgh.h5.part"
    other.write_bytes(b"y")
    seen = []
    for _ in range(2):  # the second killed writer removes the first one's file before its own
        subprocess.run([sys.executable, "-c", code, str(target)], check=False)
        seen.append(stale_temporaries(target, ".h5.part"))
    assert len(seen[0]) == len(seen[1]) == 1 and seen[0] != seen[1] and not target.exists()
    with atomic_path(target, suffix=".h5.part") as tmp:
        tmp.write_bytes(b"done")
    assert stale_temporaries(target, ".h5.part") == [] and target.read_bytes() == b"done"
    assert other.exists()


def test_too_little_disk_space_is_a_clear_error_before_a_shard_is_written(tmp_path, monkeypatch):
    import errno
    import shutil
    from collections import namedtuple

    import numpy as np

    from flarepipe.data.shards import write_shard

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 1000, 1000))
    meta = pd.DataFrame(
        {"sample_id": ["a"], "region_id": ["HARP1"], "instrument": ["HMI"], "t_end": ["2011"]}
    )
    with pytest.raises(OSError, match=r"shard .*s.h5: needs about .* MB, only 0.0 MB free") as e:
        write_shard(
            tmp_path / "s.h5",
            meta=meta,
            inputs={"sequence": np.zeros((1, 4, 2), np.float32), "image": np.zeros((1, 1, 64, 64))},
            targets={"label": np.array([1])},
        )
    assert e.value.errno == errno.ENOSPC and list(tmp_path.iterdir()) == []


def test_map_chunked_keeps_order_in_processes():
    import math

    from flarepipe.io.parallel import map_chunked

    items = list(range(1, 2001))
    serial = map_chunked(math.sqrt, items)
    assert serial == [math.sqrt(x) for x in items]
    assert map_chunked(math.sqrt, items, workers=2, min_items=0) == serial
    assert map_chunked(math.sqrt, [], workers=2, min_items=0) == []


def test_a_synthetic_archive_the_disk_cannot_take_fails_before_its_first_file(
    tmp_path, monkeypatch
):
    """The archive build checks its estimated size (flarepipe.archive.size) against the free
    space, as shards do, instead of filling the disk file by file."""
    import errno
    import shutil
    from collections import namedtuple

    from flarepipe.archive.build import build_archive

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 10**6, 10**6))
    out = tmp_path / "archive"
    with pytest.raises(
        OSError, match=r"synthetic archive .*archive.synthetic, estimated about 4"
    ) as e:
        build_archive({"source": "synthetic", "synthetic": {"scale": "tiny"}}, out)
    assert e.value.errno == errno.ENOSPC and "only 1.0 MB free" in str(e.value)
    assert not [p for p in out.rglob("*") if p.is_file()]


def test_write_npz_checks_the_disk_first_and_writes_atomically(tmp_path, monkeypatch):
    """Attribution maps go through write_npz: a full disk is ENOSPC naming them, before writing."""
    import errno
    import shutil
    from collections import namedtuple

    import numpy as np

    from flarepipe.io.atomic import write_npz

    arrays = {"maps": np.ones((4, 64, 64), np.float32), "ids": np.array(["a", "b"])}
    write_npz(tmp_path / "ok.npz", arrays)
    with np.load(tmp_path / "ok.npz") as back:
        assert back["maps"].shape == (4, 64, 64) and list(back["ids"]) == ["a", "b"]
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(OSError, match=r"attribution maps m.npz: needs about 0.1 MB") as e:
        write_npz(tmp_path / "m.npz", arrays, "attribution maps m.npz")
    assert e.value.errno == errno.ENOSPC and sorted(p.name for p in tmp_path.iterdir()) == [
        "ok.npz"
    ]


def test_a_download_that_cannot_fit_fails_before_writing_naming_the_file(tmp_path, monkeypatch):
    """The Content-Length still to come is checked against the disk's free space first: a full
    disk would otherwise leave a torn .part; ENOSPC is not retried (no errno-less OSError)."""
    import errno
    import io
    import shutil
    from collections import namedtuple

    from flarepipe.io.download import download_file, is_transient

    class Response(io.BytesIO):
        status = 200
        headers = {"Content-Length": str(10_000_000)}

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(10**9, 10**9, 1_000_000))
    with pytest.raises(OSError, match=r"download of a\.bin: needs about 11\.0 MB") as err:
        download_file("http://x/a.bin", tmp_path / "a.bin", opener=lambda *a, **k: Response(b"x"))
    assert err.value.errno == errno.ENOSPC and not is_transient(err.value)
    assert not list(tmp_path.iterdir())
