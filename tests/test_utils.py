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


def test_map_chunked_keeps_order_in_processes():
    import math

    from flarepipe.io.parallel import map_chunked

    items = list(range(1, 2001))
    serial = map_chunked(math.sqrt, items)
    assert serial == [math.sqrt(x) for x in items]
    assert map_chunked(math.sqrt, items, workers=2, min_items=0) == serial
    assert map_chunked(math.sqrt, [], workers=2, min_items=0) == []
