"""NOAA Solar Region Summaries: the raw-text and CSV readers, Mt. Wilson classes, and region boxes
projected onto full-disk frames through their WCS."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits

from conftest import real_path
from flarepipe.archive.catalogues import srs


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ALPHA", ("alpha", False)),
        ("Beta", ("beta", False)),
        ("BETA-GAMMA", ("beta-gamma", False)),
        ("Beta-Gamma-Delta", ("beta-gamma", True)),
        ("BETA-DELTA", ("beta", True)),
        ("GAMMA-DELTA", ("gamma", True)),
        ("bgd", ("beta-gamma", True)),
        (" gamma ", ("gamma", False)),
    ],
)
def test_mag_type_is_canonical(text, expected):
    assert srs.parse_mag_type(text) == expected


@pytest.mark.parametrize(
    "text", ["", "DELTA", "ALPHA-DELTA", "BETA-BETA", "EKO", "Beta-Omega", None]
)
def test_mag_type_refuses_what_is_no_class(text):
    with pytest.raises(ValueError, match="class"):
        srs.parse_mag_type(text)


def test_location_signs_and_errors():
    assert srs.parse_location("N11W06") == (11.0, 6.0)
    assert srs.parse_location("S09E49") == (-9.0, -49.0)
    assert srs.parse_location("s05e105") == (-5.0, -105.0)
    for bad in ["N11", "X11W06", "N95W10", "11W06", ""]:
        with pytest.raises(ValueError):
            srs.parse_location(bad)


def test_class_label_treats_delta_as_flag_or_class():
    assert srs.class_label("beta-gamma", True) == "beta-gamma"
    assert srs.class_label("beta-gamma", True, delta_as_class=True) == "delta"
    with pytest.raises(ValueError, match="Mt. Wilson"):
        srs.class_label("omega", False)


CSV_HEADER = (
    "ar_noaanum,LOCATION,Carrington_long,AREA,Z,Longitude_extent,No_sunspots,MAGTYPE,date\n"
)


def test_csv_reader_lists_every_bad_row(tmp_path):
    path = tmp_path / "srs.csv"
    path.write_text(
        CSV_HEADER
        + "7935,N11W06,205,0010,BXO,08,004,BETA,1996-01-02 00:30\n"
        + "7937,S09E49,150,0000,AXX,01,001,OMEGA,1996-01-02 00:30\n"  # unknown class
        + "7938,N11Q06,205,0010,BXO,08,004,BETA,1996-01-02 00:30\n"  # bad position
        + "abc,N11W06,205,0010,BXO,08,004,BETA,1996-01-02 00:30\n"  # bad number
        + "7939,N12W41,187,0270,DSI,09,026,BETA-GAMMA-DELTA,not a date\n"  # bad date
        + "7940,N12W41,187,0270,DSI,09,026,Beta-Gamma,1996-01-03 00:30\n"
    )
    result = srs.read_srs_csv(path)
    assert list(result.regions["noaa_ar"]) == [7935, 7940]
    assert list(result.regions["mw_class"]) == ["beta", "beta-gamma"]
    # positions are valid at 24:00 UT before the issue time
    assert result.regions["date"].iloc[1] == pd.Timestamp("1996-01-03")
    reasons = dict(zip(result.rejected["line"], result.rejected["reason"], strict=True))
    assert set(reasons) == {3, 4, 5, 6}
    assert "OMEGA" in reasons[3] and "location" in reasons[4]
    assert "region number" in reasons[5] and "date" in reasons[6]
    assert (result.rejected["source"] == str(path)).all()


def test_csv_reader_names_missing_columns(tmp_path):
    path = tmp_path / "srs.csv"
    path.write_text("ar_noaanum,LOCATION\n7935,N11W06\n")
    with pytest.raises(ValueError, match=r"srs\.csv.*MAGTYPE"):
        srs.read_srs_csv(path)


def test_real_csv_reads_whole_and_matches_its_class_counts():
    path = real_path("srs", "srs_regions_1996_2018.csv")
    result = srs.read_srs(path)
    raw = pd.read_csv(path)
    assert len(result.regions) + len(result.rejected) == len(raw)
    assert len(result.rejected) == 0
    # every MAGTYPE string maps to a class; counts per string survive the mapping
    counts = result.regions.groupby(["mw_class", "delta"]).size()
    assert counts[("beta-gamma", True)] == (raw["MAGTYPE"] == "BETA-GAMMA-DELTA").sum()
    assert counts[("beta", True)] == (raw["MAGTYPE"] == "BETA-DELTA").sum()
    freq = srs.class_frequencies(result.regions)
    assert freq.sum() == pytest.approx(1.0)
    assert freq.idxmax() == "beta"


def test_raw_reports_through_sunpy():
    folder = real_path("srs", "raw")
    result = srs.read_srs(folder)
    assert len(result.rejected) == 0
    # part I rows only; the plage (IA) and return (II) parts are counted, not read as regions
    assert set(result.skipped) <= {"part IA", "part II"} and sum(result.skipped.values()) > 0
    one = srs.read_srs_text(folder / "20000922SRS.txt").regions
    assert list(one["noaa_ar"]) == [9165, 9166, 9167, 9169, 9170]
    row = one.set_index("noaa_ar").loc[9169]
    assert (row["mw_class"], row["delta"]) == ("beta-gamma", True)
    assert (row["latitude_deg"], row["longitude_deg"], row["area_ush"]) == (9.0, -32.0, 1910.0)
    assert row["date"] == pd.Timestamp("2000-09-22")


def test_raw_report_rows_with_an_unknown_class_or_position_are_listed(tmp_path):
    """A raw report whose part I has an unknown class string and an unreadable position: those
    rows are rejected with their reasons (the class string named plainly), the rest read."""
    text = real_path("srs", "raw", "19960106SRS.txt").read_text()
    good, cls, pos = (
        "7938  N12W41  187  0270 DSI  09  026 BETA",
        "7939  N03W08  154  0140 CSI  08  023 BETA",
        "7940  S05E10  154  0140 CSI  08  023 BETA",
    )
    assert good in text and cls in text
    bad = text.replace(cls, cls.replace("BETA", "OMEGA") + "\n" + pos.replace("S05E10", "S05Q10"))
    path = tmp_path / "19960106SRS.txt"
    path.write_text(bad)
    result = srs.read_srs_text(path)
    assert list(result.regions["noaa_ar"]) == [7938]
    reasons = dict(zip(result.rejected["line"], result.rejected["reason"], strict=True))
    assert reasons == {1: "unknown magnetic class 'OMEGA'", 2: "no position"}
    assert (
        "7939" in result.rejected["raw"].iloc[0] and (result.rejected["source"] == str(path)).all()
    )
    # through the folder reader too, beside the good reports
    (tmp_path / "19960430SRS.txt").write_text(
        real_path("srs", "raw", "19960430SRS.txt").read_text()
    )
    both = srs.read_srs(tmp_path)
    other = srs.read_srs_text(tmp_path / "19960430SRS.txt")
    assert len(both.rejected) == 2 and len(both.regions) == 1 + len(other.regions)


def test_unreadable_report_is_a_rejected_file(tmp_path):
    bad = tmp_path / "19990101SRS.txt"
    bad.write_text("not an SRS report\n")
    result = srs.read_srs_text(bad)
    assert len(result.regions) == 0
    assert "unreadable SRS report" in result.rejected["reason"].iloc[0]


def _disk_map(n=256, crota=0.0):
    """A blank full-disk frame with an HMI-like header (the Sun centred, north up)."""
    import sunpy.map

    header = {
        "NAXIS": 2,
        "NAXIS1": n,
        "NAXIS2": n,
        "CTYPE1": "HPLN-TAN",
        "CTYPE2": "HPLT-TAN",
        "CUNIT1": "arcsec",
        "CUNIT2": "arcsec",
        "CDELT1": 2048 / n * 0.504,
        "CDELT2": 2048 / n * 0.504,
        "CRPIX1": (n + 1) / 2,
        "CRPIX2": (n + 1) / 2,
        "CRVAL1": 0.0,
        "CRVAL2": 0.0,
        "CROTA2": crota,
        "DATE-OBS": "2016-07-07T00:00:00",
        "DSUN_OBS": 1.52e11,
        "HGLN_OBS": 0.0,
        "HGLT_OBS": 0.0,
        "RSUN_REF": 696000000.0,
    }
    return sunpy.map.Map(np.zeros((n, n)), fits.Header(header))


def _regions(rows):
    return pd.DataFrame(
        [
            {
                "date": pd.Timestamp("2016-07-07"),
                "noaa_ar": 12000 + i,
                "latitude_deg": lat,
                "longitude_deg": lon,
                "carrington_longitude_deg": np.nan,
                "area_ush": area,
                "longitudinal_extent_deg": np.nan,
                "mcintosh": "",
                "mag_type": "BETA",
                "mw_class": "beta",
                "delta": False,
            }
            for i, (lat, lon, area) in enumerate(rows)
        ]
    )


def test_boxes_land_where_the_wcs_says():
    smap = _disk_map()
    boxes, rejected = srs.region_boxes(
        _regions([(0.0, 0.0, 500.0), (30.0, 0.0, 100.0), (0.0, 95.0, 100.0)]), smap, rotate=False
    )
    # the region beyond the west limb is rejected with its reason
    assert list(rejected["reason"]) == ["behind the limb at the frame's time"]
    centre = boxes.iloc[0]
    assert centre["x"] == pytest.approx(127.5, abs=0.01) and centre["y"] == pytest.approx(
        127.5, abs=0.01
    )
    # north is up (increasing y): 30 degrees north lands at R sin(30) above the centre
    rsun_px = smap.rsun_obs.to_value("arcsec") / smap.scale.axis1.to_value("arcsec / pix")
    north = boxes.iloc[1]
    assert north["y"] - 127.5 == pytest.approx(rsun_px * np.sin(np.radians(30)), abs=0.5)
    # box of a 500 uSH region: a disc of radius R sqrt(1e-3) ~ 1.8 deg, widened to min_half_deg 2
    half = np.radians(2.0) * rsun_px
    assert centre["x1"] - centre["x0"] == pytest.approx(2 * half, rel=0.02)
    # a frame rotated by 180 degrees puts the northern region below the centre
    flipped, _ = srs.region_boxes(
        _regions([(30.0, 0.0, 100.0)]), _disk_map(crota=180.0), rotate=False
    )
    assert 127.5 - flipped["y"].iloc[0] == pytest.approx(rsun_px * 0.5, abs=0.5)


def test_region_outside_the_image_is_rejected():
    """A frame whose image holds only the western half of the disk: an eastern region on the disk
    falls outside the image and is listed with that reason; a western one gets its box."""
    smap = _disk_map()
    header = smap.fits_header
    header["CRPIX1"] = 1.0  # disk centre on the left edge: the eastern hemisphere is off the image
    import sunpy.map

    half = sunpy.map.Map(np.zeros((256, 256)), header)
    boxes, rejected = srs.region_boxes(
        _regions([(0.0, -45.0, 100.0), (0.0, 30.0, 100.0)]), half, rotate=False
    )
    assert list(rejected["reason"]) == ["outside the image"]
    assert len(boxes) == 1 and boxes["x"].iloc[0] > 0


def test_differential_rotation_moves_regions_west():
    smap = _disk_map()
    regions = _regions([(0.0, 0.0, 100.0)]).assign(date=pd.Timestamp("2016-07-06"))
    still, _ = srs.region_boxes(regions, smap, rotate=False)
    moved, _ = srs.region_boxes(regions, smap, rotate=True)
    rsun_px = smap.rsun_obs.to_value("arcsec") / smap.scale.axis1.to_value("arcsec / pix")
    # ~14.4 deg/day synodic-ish at the equator (sidereal 14.7 less Earth's ~1 deg/day)
    dlon = np.degrees(np.arcsin((moved["x"].iloc[0] - still["x"].iloc[0]) / rsun_px))
    assert 12.5 < dlon < 14.5


def test_real_frame_boxes_lie_on_strong_field():
    """The SRS regions of 2016-07-07 on the real HMI frame (CROTA2 = 180): every box on the disk,
    and its mean |B| far above the disk's median."""
    import sunpy.map

    frame = real_path("fulldisk", "hmi.M_720s.20160707_010000_TAI.magnetogram.fits")
    table = real_path("srs", "srs_regions_1996_2018.csv")
    smap = sunpy.map.Map(str(frame))
    regions = srs.read_srs_csv(table).regions
    day = regions[regions["date"] == pd.Timestamp("2016-07-07")]
    assert len(day) >= 1
    boxes, rejected = srs.region_boxes(day, smap)
    assert len(rejected) == 0 and len(boxes) == len(day)
    data = np.abs(smap.data)
    median = np.nanmedian(data)
    for box in boxes.itertuples():
        patch = data[int(box.y0) : int(box.y1) + 1, int(box.x0) : int(box.x1) + 1]
        assert np.isfinite(patch).all(), "a box reaches off the disk"
        assert np.nanmean(patch) > 4 * median, f"NOAA {box.noaa_ar}: no strong field in its box"
