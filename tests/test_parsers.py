"""Property-based tests of the pure parsers (hypothesis, derandomized: the same examples always).

Every parser either returns a value of its documented kind or raises ``ValueError`` naming the
input; round trips (class <-> flux, T_REC <-> time, NOAA lists, record names) are exact.
"""

from __future__ import annotations

import math
import string

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from flarepipe.archive.sources.jsoc.parse import parse_export_record
from flarepipe.archive.sources.jsoc.query import build_recordset, format_duration
from flarepipe.core.flareclass import class_to_flux, flux_to_class
from flarepipe.core.noaa import noaa_number, normalise_noaa_ars, parse_noaa_ars
from flarepipe.core.timeutil import format_trec, parse_trec, tai_to_utc, utc_to_tai

FAST = settings(derandomize=True, max_examples=60, deadline=None, database=None)
TEXT = st.text(alphabet=string.printable + "éΩ\u00a0", max_size=24)
LETTERS = "ABCMX"


@FAST
@given(st.sampled_from(LETTERS), st.integers(10, 99))
def test_class_flux_round_trip(letter, tenths):
    cls = f"{letter}{tenths // 10}.{tenths % 10}"
    flux = class_to_flux(cls)
    assert flux > 0 and flux_to_class(flux) == cls
    assert class_to_flux(cls.lower()) == flux and class_to_flux(f" {cls} ") == flux


@FAST
@given(st.floats(1e-9, 1e-2, allow_nan=False))
def test_a_class_never_reads_above_its_flux(flux):
    cls = flux_to_class(flux)
    assert class_to_flux(cls) <= flux * (1 + 1e-9)
    assert class_to_flux(cls) > flux / 1.2 or flux < 1.1e-8  # truncated to 0.1 of its class


@FAST
@given(TEXT)
@example("X" + "9" * 400)  # was a flux of inf
def test_class_to_flux_returns_a_flux_or_names_the_text(text):
    try:
        flux = class_to_flux(text)
    except ValueError as exc:
        assert repr(text) in str(exc)
    else:
        assert math.isfinite(flux) and flux >= 0 and text.strip()[:1].upper() in LETTERS


@FAST
@given(st.integers(1, 99999), st.sampled_from(["{}", "AR{}", " AR {} ", "{}.0", "ar{}"]))
def test_noaa_number_reads_every_spelling_of_a_region(n, form):
    assert noaa_number(form.format(n)) == n


@FAST
@given(TEXT)
@example("inf")  # was a raw OverflowError
@example("1e400")
def test_noaa_number_returns_a_region_none_or_names_the_text(text):
    try:
        n = noaa_number(text)
    except ValueError as exc:
        assert repr(text) in str(exc)
    else:
        assert n is None or (isinstance(n, int) and n > 0)


@FAST
@given(st.lists(st.integers(1, 99999), max_size=5))
def test_noaa_ars_round_trip(nums):
    cell = normalise_noaa_ars(",".join(str(n) for n in nums))
    assert parse_noaa_ars(cell) == tuple(dict.fromkeys(nums))


@FAST
@given(TEXT)
def test_normalise_noaa_ars_never_fails_and_writes_a_clean_cell(text):
    cell = normalise_noaa_ars(text)
    assert cell == "" or all(tok.isdigit() and int(tok) > 0 for tok in cell.split(","))
    assert parse_noaa_ars(cell) == tuple(int(t) for t in cell.split(",") if t)


@FAST
@given(st.datetimes(pd.Timestamp("1996-01-01"), pd.Timestamp("2025-12-31")))
def test_trec_round_trip_through_tai(t):
    utc = pd.Timestamp(t).floor("s")
    trec = format_trec(utc_to_tai(utc))
    assert parse_trec(trec) == utc
    assert tai_to_utc(utc_to_tai(utc)) == utc


@FAST
@given(TEXT)
def test_parse_trec_returns_a_time_or_names_the_text(text):
    try:
        t = parse_trec(text)
    except ValueError as exc:
        assert repr(text) in str(exc) or repr(text.strip()) in str(exc)
    else:
        assert isinstance(t, pd.Timestamp)


@FAST
@given(
    st.sampled_from(["hmi.sharp_cea_720s", "mdi.smarp_cea_96m"]),
    st.integers(1, 20000),
    st.datetimes(pd.Timestamp("1996-01-01"), pd.Timestamp("2025-12-31")),
)
def test_export_record_names_round_trip(series, region, t):
    trec = format_trec(pd.Timestamp(t).floor("s"))
    assert parse_export_record(f"{series}[{region}][{trec}]{{magnetogram}}") == (
        series,
        region,
        trec,
    )


@FAST
@given(TEXT)
def test_parse_export_record_never_fails(text):
    out = parse_export_record(text)
    assert out is None or (isinstance(out[1], int) and out[1] >= 0)


@FAST
@given(
    st.lists(st.integers(1, 20000), max_size=4),
    st.datetimes(pd.Timestamp("2010-05-01"), pd.Timestamp("2030-01-01")),
    st.integers(1, 60 * 24 * 40),
    st.sampled_from([None, "96m", "12m", "1d", "720s"]),
)
def test_build_recordset_writes_the_interval_it_is_given(regions, start, minutes, cadence):
    t0 = pd.Timestamp(start).floor("min")
    t1 = t0 + pd.Timedelta(minutes=minutes)
    rs = build_recordset("hmi.sharp_cea_720s", regions=regions, start=t0, end=t1, cadence=cadence)
    regs = ",".join(str(r) for r in sorted(set(regions)))
    spec = f"{format_trec(t0)}/{format_duration(t1 - t0)}" + (f"@{cadence}" if cadence else "")
    assert rs == f"hmi.sharp_cea_720s[{regs}][{spec}]"


@FAST
@given(TEXT, TEXT)
def test_build_recordset_refuses_what_could_break_its_brackets(where, segment):
    try:
        rs = build_recordset("hmi.sharp_cea_720s", where=where or None, segments=[segment])
    except ValueError:
        return
    # accepted: one where clause at most, and the segment list is the last bracket
    assert rs.count("[?") <= 1 and rs.count("?]") <= 1
    assert rs.endswith("{" + segment + "}")
    assert not any(c in segment for c in "[]{}?, ")


@pytest.mark.parametrize("bad", ["", "M", "hmi", "hmi.sharp[1]", "HMI.SHARP", "a.b.c"])
def test_build_recordset_refuses_bad_series(bad):
    with pytest.raises(ValueError, match="not a DRMS series"):
        build_recordset(bad)
