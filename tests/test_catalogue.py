"""Flare catalogues: the three real GOES files, the shared rules, and the HEK through sunpy's real
client against a loopback HEK (never the network)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from archive_config import catalogue_section
from flarepipe.archive.catalogues import flares as cat
from flarepipe.config import ConfigError
from flarepipe.io.download import RetryBudgetExceeded, RetryPolicy
from hek_server import FakeHek, hek_event

REAL = Path(
    os.environ.get("FLAREPIPE_REAL_DATA", Path(__file__).resolve().parents[2] / "shared/data/real")
)
GOES = REAL / "goes"
needs_real = pytest.mark.skipif(not GOES.is_dir(), reason=f"real data folder {GOES} not present")
FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.02, jitter=0)


def _schema_ok(df: pd.DataFrame) -> None:
    assert list(df.columns) == cat.FLARE_COLUMNS
    for c in ("start_utc", "peak_utc", "end_utc"):
        assert str(df[c].dtype) == "datetime64[ns]"
    assert str(df["noaa_ar"].dtype) == "Int64" and df["region_missing"].dtype == bool
    assert (df["region_missing"] == df["noaa_ar"].isna()).all()
    assert (df["start_utc"] <= df["peak_utc"]).all() and (df["peak_utc"] <= df["end_utc"]).all()
    assert df["start_utc"].is_monotonic_increasing


def _x22(df):
    return df[(df["start_utc"] == "2011-02-15 01:44") & (df["goes_class"] == "X2.2")]


@needs_real
def test_real_goes_txt():
    res = cat.read_flare_file(GOES / "goes_events_1995_2024.txt")
    _schema_ok(res.flares)
    assert 24_100 < len(res.flares) <= 24_207 and len(res.flares) + len(res.rejected) == 24_207
    x = _x22(res.flares)
    assert (
        len(x) == 1
        and x["noaa_ar"].iloc[0] == 11158
        and x["peak_flux_wm2"].iloc[0] == pytest.approx(2.2e-4)
    )
    assert set(res.rejected["reason"].str.split().str[0]) <= {"duplicate", "peak"}
    assert res.rejected["line"].gt(0).all() and res.rejected["raw"].str.count(";").eq(5).all()
    # the 00:00 placeholder peaks on the start's date are moved into [start, end] and reported
    assert res.repaired["reason"].str.contains("peak moved").all() and len(res.repaired) >= 5
    assert res.flares["noaa_ar"].min() >= 7000  # pre-2002 4-digit numbers kept as they are


@needs_real
def test_real_swpc_csv_region_zero_and_time_rollovers():
    res = cat.read_flare_file(GOES / "swpc_events_1996_2018.csv")
    _schema_ok(res.flares)
    assert len(res.flares) + len(res.rejected) == 23_285
    assert res.flares["region_missing"].sum() > 6_000  # noaa_ar 0 = none: kept, flagged
    assert res.flares["goes_class"].str.match(r"^[CMX]\d+\.\d$").all()
    assert res.repaired["reason"].str.contains("end moved").any()
    assert res.repaired["reason"].str.contains("max_time").any()
    assert res.rejected["reason"].str.contains("before start|after end").all()
    assert len(_x22(res.flares)) == 1


@needs_real
def test_real_sc24_csv():
    res = cat.read_flare_file(GOES / "goes_events_sc24_with_positions.csv")
    _schema_ok(res.flares)
    assert len(res.flares) == 8_606 and res.rejected.empty
    assert res.flares["region_missing"].sum() == 937
    assert _x22(res.flares)["noaa_ar"].iloc[0] == 11158


def test_goes_txt_rules(tmp_path):
    p = tmp_path / "events.txt"
    lines = [
        # line 1 peak rollover, 2 leading 1 lost, 3 real 9997, 4 bare M1, 5 duplicate,
        # 6 peak after end, 7 bad class, 8 short line, 9 no region, 10 bad time
        "2003-07-13T23:48:00;2003-07-13T00:00:00;2003-07-14T00:04:00;AR10408;C1.4;N14E22",  # 1
        "2011-02-15T01:44:00;2011-02-15T01:56:00;2011-02-15T02:06:00;AR1158;X2.2;S20W12",  # 2
        "2002-06-20T10:00:00;2002-06-20T10:05:00;2002-06-20T10:10:00;AR9997;C1.0;",  # 3 real 9997
        "1999-01-01T10:00:00;1999-01-01T10:05:00;1999-01-01T10:10:00;AR8420;M1;",  # 4 bare M1
        "2011-02-15T01:44:00;2011-02-15T01:56:00;2011-02-15T02:06:00;AR11158;X2.2;S20W12",  # 5
        "2003-10-20T22:00:00;2003-10-20T23:18:00;2003-10-20T22:13:00;AR10484;C6.2;N03E42",  # 6
        "2005-01-01T10:00:00;2005-01-01T10:05:00;2005-01-01T10:10:00;AR10715;Z9.9;",  # 7 class
        "2005-01-01T10:00:00;2005-01-01T10:05:00;2005-01-01T10:10:00;AR10715",  # 8 short line
        "2005-01-02T10:00:00;2005-01-02T10:05:00;2005-01-02T10:10:00;;B5.0;",  # 9 no region
        "2005-01-03T10:00:00;not-a-time;2005-01-03T10:10:00;AR10720;B5.0;",  # 10 bad time
    ]
    p.write_text("\n".join(lines) + "\n")
    res = cat.read_goes_events_txt(p)
    f = res.flares
    _schema_ok(f)
    assert f["noaa_ar"].fillna(-1).tolist() == [8420, 9997, 10408, -1, 11158]
    assert f.loc[f["noaa_ar"] == 10408, "peak_utc"].iloc[0] == pd.Timestamp("2003-07-14 00:00")
    assert f.loc[f["noaa_ar"] == 8420, "goes_class"].iloc[0] == "M1.0"
    assert f["region_missing"].tolist() == [False, False, False, True, False]
    reasons = dict(zip(res.rejected["line"], res.rejected["reason"], strict=True))
    assert reasons[5] == "duplicate of line 2"
    assert reasons[6].startswith("peak 2003-10-20 23:18:00 after end")
    assert reasons[7] == "bad GOES class 'Z9.9'"
    assert reasons[8].startswith("expected 6")
    assert reasons[10].startswith("bad peak time")
    assert set(res.repaired["line"]) == {1, 2}
    assert "NOAA number +10000" in res.repaired.set_index("line").loc[2, "reason"]


def test_normalise_noaa():
    s = cat.normalise_noaa(
        [1158, "11158", 0, None, "  ", 9997, 7822, "AR1234"],
        [
            "2011-02-15",
            "2011-02-15",
            "2011-02-15",
            "2011-02-15",
            "2011-02-15",
            "2002-06-20",
            "1995-01-02",
            "2024-01-01",
        ],
    )
    assert s.tolist() == [11158, 11158, pd.NA, pd.NA, pd.NA, 9997, 7822, 11234]
    with pytest.raises(ValueError, match="not a NOAA region number"):
        cat.normalise_noaa(["x12"], ["2011-01-01"])


def test_flares_csv_roundtrip(tmp_path):
    res = cat.hek_events_to_flares(
        [
            {
                "event_starttime": "2011-02-15T01:44:00",
                "event_peaktime": "2011-02-15T01:56:00",
                "event_endtime": "2011-02-15T02:06:00",
                "fl_goescls": "X2.2",
                "ar_noaanum": 11158,
            },
            {
                "event_starttime": "2011-02-16T01:44:00",
                "event_peaktime": "2011-02-16T01:56:00",
                "event_endtime": "2011-02-16T02:06:00",
                "fl_goescls": "C1.0",
                "ar_noaanum": 0,
            },
        ]
    )
    cat.write_catalogue(res, tmp_path / "flares.csv", tmp_path / "rejected.csv")
    text = (tmp_path / "flares.csv").read_text().splitlines()
    assert text[0] == ",".join(cat.FLARE_COLUMNS)
    assert text[1].startswith("2011-02-15T01:44:00.000,2011-02-15T01:56:00.000,")
    assert text[2].endswith(",,True")
    back = cat.read_flares_csv(tmp_path / "flares.csv")
    pd.testing.assert_frame_equal(back, res.flares, check_dtype=False)
    assert cat.read_flare_file(tmp_path / "flares.csv").flares["noaa_ar"].tolist()[0] == 11158


@needs_real
def test_harp_noaa_map(tmp_path):
    m = cat.read_harp_noaa_map(REAL / "keywords" / "harp_noaa_map.txt")
    assert len(m) == 2268 and m[377] == [11158] and m[45] == [11073, 11077]
    bad = tmp_path / "map.txt"
    bad.write_text("1 11067\n2 11064 extra\n")
    with pytest.raises(ValueError, match=r"map.txt:2"):
        cat.read_harp_noaa_map(bad)


def test_build_catalogue_from_file_with_time_filter(tmp_path):
    p = tmp_path / "e.txt"
    p.write_text(
        "2011-02-15T01:44:00;2011-02-15T01:56:00;2011-02-15T02:06:00;AR11158;X2.2;\n"
        "2012-03-07T00:02:00;2012-03-07T00:24:00;2012-03-07T00:40:00;AR11429;X5.4;\n"
    )
    res = cat.build_catalogue(
        catalogue_section({"path": str(p), "start": "2012-01-01", "end": "2013-01-01"})
    )
    assert res.flares["goes_class"].tolist() == ["X5.4"]
    with pytest.raises(ValueError, match=r"archive\.catalogue\.path is required"):
        cat.build_catalogue(catalogue_section({"source": "file"}))
    with pytest.raises(ValueError, match=r"archive\.catalogue\.start and archive\.catalogue\.end"):
        cat.build_catalogue(catalogue_section({"source": "hek"}))
    with pytest.raises(ValueError, match=r"archive\.catalogue\.start must be before"):
        cat.build_catalogue(
            catalogue_section({"path": str(p), "start": "2013-01-01", "end": "2012-01-01"})
        )
    with pytest.raises(ConfigError, match=r"archive\.catalogue\.source must be one of"):
        catalogue_section({"source": "goes"})
    with pytest.raises(ConfigError, match=r"archive\.catalogue\.hek\.chunk_days must be > 0"):
        catalogue_section({"source": "hek", "hek": {"chunk_days": 0}})
    with pytest.raises(ValueError, match=r"archive\.catalogue: missing keys"):
        cat.build_catalogue({"path": str(p)})
    with pytest.raises(ValueError, match="unknown flare-list format"):
        q = tmp_path / "x.txt"
        q.write_text("hello\n")
        cat.read_flare_file(q)


# ----------------------------------------------------------------------------- HEK via sunpy


def _events():
    return [
        hek_event(
            "2011-02-15T01:44:00", "2011-02-15T01:56:00", "2011-02-15T02:06:00", "X2.2", 1158
        ),
        hek_event(
            "2011-01-31T23:50:00", "2011-02-01T00:05:00", "2011-02-01T00:20:00", "C1.0", 11149
        ),
        hek_event(
            "2011-02-10T23:50:00", "2011-02-11T00:05:00", "2011-02-11T00:20:00", "C2.0", 11153
        ),
        hek_event("2011-02-01T10:00:00", "2011-02-01T10:05:00", "2011-02-01T10:20:00", "M1.0", 0),
        hek_event(
            "2011-02-13T17:28:00", "2011-02-13T17:38:00", "2011-02-13T17:47:00", "M6.6", 11158
        ),
        hek_event("2011-02-20T10:00:00", "2011-02-20T10:05:00", "2011-02-20T10:20:00", "", None),
        hek_event(
            "2011-02-20T11:00:00",
            "2011-02-20T11:05:00",
            "2011-02-20T11:20:00",
            "B5.0",
            None,
            frm="SSW Latest Events",
            observatory="GOES",
        ),
    ]


def test_hek_chunked_paged_retried_and_normalised():
    with FakeHek(_events(), page_size=1) as hek:
        hek.add_fault("http_500", times=1)
        res = cat.query_hek(
            "2011-02-01", "2011-03-01", cat.make_hek_client(hek.url), chunk_days=10, retry=FAST
        )
        windows = {
            (h["event_starttime"], h["event_endtime"]) for h in hek.hits if "event_starttime" in h
        }
        assert windows == {
            ("2011-02-01T00:00:00", "2011-02-11T00:00:00"),
            ("2011-02-11T00:00:00", "2011-02-21T00:00:00"),
            ("2011-02-21T00:00:00", "2011-03-01T00:00:00"),
        }
        assert max(int(h["page"]) for h in hek.hits) >= 3  # paging followed
        assert all(h.get("value0") == "SWPC" and h.get("event_type") == "FL" for h in hek.hits)
    f = res.flares
    _schema_ok(f)
    # the edge event spanning two windows appears once; the Jan-31 start and the SSW event are out
    assert f["goes_class"].tolist() == ["M1.0", "C2.0", "M6.6", "X2.2"]
    assert f["noaa_ar"].tolist() == [pd.NA, 11153, 11158, 11158]  # 1158 -> 11158, 0 -> none
    assert res.rejected["reason"].tolist() == ["bad GOES class ''"]
    assert res.repaired["reason"].str.contains(r"\+10000").any()


def test_hek_observatory_filter_and_budget():
    with FakeHek(_events(), page_size=50) as hek:
        res = cat.query_hek(
            "2011-02-20",
            "2011-02-21",
            cat.make_hek_client(hek.url),
            frm_name=None,
            observatory="GOES",
            retry=FAST,
        )
        assert hek.hits[0]["param0"] == "OBS_Observatory" and hek.hits[0]["value0"] == "GOES"
        assert res.flares["goes_class"].tolist() == ["B5.0"]
        hek.add_fault("http_500", times=10)
        with pytest.raises(
            RetryBudgetExceeded, match=r"unit hek: HEK query 2011-02-20\.\.2011-02-21 failed 3"
        ):
            cat.query_hek("2011-02-20", "2011-02-21", cat.make_hek_client(hek.url), retry=FAST)


def test_hek_stall_times_out_and_is_retried():
    with FakeHek(_events(), page_size=50) as hek:
        hek.add_fault("stall", times=1, seconds=3)
        res = cat.query_hek(
            "2011-02-13", "2011-02-14", cat.make_hek_client(hek.url), timeout_s=0.5, retry=FAST
        )
        assert res.flares["goes_class"].tolist() == ["M6.6"] and len(hek.hits) == 2


def test_hek_windows():
    w = cat.hek_windows("2011-01-01", "2011-03-15", 30)
    assert [str(a.date()) for a, _ in w] == ["2011-01-01", "2011-01-31", "2011-03-02"]
    assert w[-1][1] == pd.Timestamp("2011-03-15")
    with pytest.raises(ValueError):
        cat.hek_windows("2011-02-01", "2011-01-01")


def test_catalogue_settings_defaults_are_the_schema_defaults():
    s = cat.CatalogueSettings.from_section(catalogue_section({"path": "f.txt"}))
    assert s == cat.CatalogueSettings(path="f.txt")
    assert s.hek == cat.HekSettings() and s.hek.retry == RetryPolicy()


def test_build_catalogue_from_the_hek_section():
    with FakeHek(_events(), page_size=50) as hek:
        section = catalogue_section(
            {
                "source": "hek",
                "start": "2011-02-13",
                "end": "2011-02-14",
                "hek": {"url": hek.url, "retry": {"max_attempts": 2, "base_delay_s": 0.01}},
            }
        )
        res = cat.build_catalogue(section)
    assert res.flares["goes_class"].tolist() == ["M6.6"]


@pytest.mark.parametrize(
    ("fmt", "content"),
    [
        ("swpc_csv", b""),
        ("sc24_csv", b""),
        ("flares_csv", b""),
        ("auto", bytes(range(128, 256)) * 4),
        ("goes_txt", "\u00e9;".encode("latin-1") * 40),
    ],
)
def test_a_flare_list_that_does_not_parse_is_an_error_naming_it(tmp_path, fmt, content):
    """Empty, undecodable or mistyped files were pandas/pyarrow/codec errors without a path."""
    path = tmp_path / "my_flares.list"
    path.write_bytes(content)
    with pytest.raises(ValueError) as err:
        cat.read_flare_file(path, fmt)
    assert str(path) in str(err.value)


def test_a_flares_csv_with_a_bad_cell_rejects_or_repairs_that_row(tmp_path):
    """An archive flares.csv goes through the same reader and repairs as any flare list: a region
    that is no number rejects its row with the reason; the flux comes from the class, so a flux
    cell that is no number costs nothing."""
    head = b"start_utc,peak_utc,end_utc,goes_class,peak_flux_wm2,noaa_ar,region_missing\n"
    bad_region = tmp_path / "a.csv"
    bad_region.write_bytes(head + b"2011-01-01,2011-01-01,2011-01-01,M1.0,1e-5,abc,False\n")
    res = cat.read_flare_file(bad_region, "flares_csv")
    assert res.flares.empty and res.rejected["reason"].tolist() == ["bad NOAA region 'abc'"]
    bad_flux = tmp_path / "b.csv"
    bad_flux.write_bytes(head + b"2011-01-01,2011-01-01,2011-01-01,M1.0,high,11158,False\n")
    res = cat.read_flare_file(bad_flux, "flares_csv")
    assert res.flares["peak_flux_wm2"].tolist() == [1e-5] and res.rejected.empty


def test_an_empty_keyword_table_is_an_error_naming_it(tmp_path):
    from flarepipe.archive.catalogues.keyword_tables import load_keyword_tables

    path = tmp_path / "sharp_0.csv"
    path.write_text("")
    with pytest.raises(ValueError, match=r"sharp_0.csv: empty table \(no header line\)"):
        load_keyword_tables([path])
    path.write_text("prefix,arpnum,t_end,USFLUX,MEANGBZ,R_VALUE,AREA\n")
    with pytest.raises(
        ValueError, match=r"sharp_0.csv: a header and no data row \(archive.local.keyword_tables\)"
    ):
        load_keyword_tables([path])
