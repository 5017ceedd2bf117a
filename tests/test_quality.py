"""Record quality flags: each rejection reason fires alone, combinations join their reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flarepipe.config import ConfigError, settings
from flarepipe.samples.quality import (
    MM2_PER_UHEM,
    REASONS,
    flag_records,
    parse_noaa_ars,
    region_noaa,
    scan_fits,
    summarise,
    write_flagged,
)


def Q(cfg: dict):  # noqa: N802 - the quality settings, schema defaults for what cfg leaves out
    return settings("quality", cfg)


# every check enabled, S1/S2-like thresholds
CFG = {
    "quality_mask": 0x3,
    "max_quality": "0x10000",
    "max_abs_obs_vr": 3500.0,
    "max_cm_distance_deg": 70.0,
    "require_noaa": True,
    "min_area_mm2": 25.0,
    "max_nan_pixels": 0,
    "max_size_deviation_px": 2,
    "check_nan_keywords": True,
    "require_file": True,
}


def _good(i: int, region: str = "HARP377") -> dict:
    return {
        "series": "hmi.sharp_cea_720s",
        "instrument": "HMI",
        "region": int(region[4:]),
        "region_id": region,
        "t_rec": pd.Timestamp("2011-02-15T01:59:26") + pd.Timedelta(minutes=96 * i),
        "t_rec_tai": "",
        "noaa_ars": "11158",
        "quality": 0,
        "lat_fwt": -20.0,
        "lon_fwt": 10.0,
        "obs_vr": 1000.0,
        "usfluxl_mx": 2.3e22,
        "meangbl_g_per_px": 36.0,
        "r_value": 4.5,
        "area_uhem": 1500.0,
        "nx": 744,
        "ny": 377,
        "path": f"fits/hmi/{i}.fits",
    }


# one modification per reason that trips that reason and nothing else
BREAK = {
    "bad_quality": {"quality": 0x2},
    "high_obs_vr": {"obs_vr": -3500.0},
    "far_from_cm": {"lon_fwt": -70.5},
    "no_noaa": {"noaa_ars": ""},
    "small_area": {"area_uhem": 24.9 / MM2_PER_UHEM},
    "size_deviation": {"nx": 747},
    "nan_keyword": {"r_value": np.nan},
    "missing_file": {"path": ""},
}


def _records(mods: list[dict]) -> pd.DataFrame:
    rows = [_good(i) for i in range(5)]  # five good records fix the region's median size
    for j, m in enumerate(mods):
        rows.append({**_good(10 + j), **m})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("reason", sorted(BREAK))
def test_each_reason_fires_alone(reason):
    flagged = flag_records(_records([BREAK[reason]]), Q(CFG))
    assert flagged.loc[:4, "keep"].all() and (flagged.loc[:4, "reasons"] == "").all()
    last = flagged.iloc[-1]
    assert not last["keep"]
    assert last["reasons"] == reason
    assert [r for r in REASONS if last[r]] == [reason]


def test_nan_pixels_from_pixel_checks_alone():
    recs = _records([{}])
    pix = pd.DataFrame({"n_nan_pixels": [0, 3]}, index=[0, 5])  # a subset of the records
    flagged = flag_records(recs, Q(CFG), pixel_checks=pix)
    assert flagged["reasons"].tolist() == [""] * 5 + ["nan_pixels"]
    # without pixel checks the reason never fires
    assert not flag_records(recs, Q(CFG))["nan_pixels"].any()


def test_combination_joins_reasons_in_order():
    mods = {**BREAK["missing_file"], **BREAK["far_from_cm"], **BREAK["bad_quality"]}
    last = flag_records(_records([mods]), Q(CFG)).iloc[-1]
    assert last["reasons"] == "bad_quality;far_from_cm;missing_file"
    assert not last["keep"]


def test_output_keeps_rows_and_adds_columns():
    recs = _records([BREAK["no_noaa"]])
    flagged = flag_records(recs, Q(CFG))
    assert len(flagged) == len(recs) and flagged.index.equals(recs.index)
    assert list(flagged.columns) == [*recs.columns, *REASONS, "reasons", "keep", "read_error"]
    assert flagged["keep"].dtype == bool


def test_disabled_checks_never_fire():
    off = {
        k: None
        for k in (
            "quality_mask",
            "max_quality",
            "max_abs_obs_vr",
            "max_cm_distance_deg",
            "min_area_mm2",
            "max_size_deviation_px",
            "max_nan_pixels",
        )
    }
    off.update(require_noaa=False, check_nan_keywords=False, require_file=False)
    every = {k: v for m in BREAK.values() for k, v in m.items()}
    flagged = flag_records(_records([every]), Q(off))
    assert flagged["keep"].all()


def test_quality_rules_s1_mask_and_s2_threshold():
    recs = _records([{"quality": 0x4}, {"quality": 0x10000}, {"quality": 0xFFFF}])
    s1 = flag_records(recs, Q({"quality_mask": 0x4}))["bad_quality"].tolist()[-3:]
    assert s1 == [True, False, True]  # 0xFFFF has bit 2 set
    s2 = flag_records(recs, Q({"max_quality": 0x10000}))["bad_quality"].tolist()[-3:]
    assert s2 == [False, True, False]


def test_quality_mask_per_instrument():
    recs = _records([{"quality": 512, "instrument": "MDI"}, {"quality": 512}])
    cfg = {"quality_mask": {"HMI": 0xFFFFFFFF, "MDI": 0x1}}
    assert flag_records(recs, Q(cfg))["bad_quality"].tolist()[-2:] == [False, True]
    with pytest.raises(ValueError, match="quality_mask.*MDI"):
        flag_records(recs, Q({"quality_mask": {"HMI": 1}}))


def test_threshold_edges():
    recs = _records([{"obs_vr": 3499.9}, {"lon_fwt": 70.0}, {"area_uhem": 25.0 / MM2_PER_UHEM}])
    flagged = flag_records(recs, Q(CFG))
    assert flagged["keep"].all()  # |vr| < 3500, |lon| <= 70, area >= 25 Mm² are all fine


def test_area_region_max_scope():
    rows = [{**_good(i, "HARP1"), "area_uhem": a} for i, a in enumerate([1.0, 2.0, 30.0])]
    rows += [{**_good(i, "HARP2"), "area_uhem": 1.0} for i in range(3)]
    recs = pd.DataFrame(rows)
    cfg = {"min_area_mm2": 25.0, "area_scope": "region_max"}
    assert flag_records(recs, Q(cfg))["small_area"].tolist() == [False] * 3 + [True] * 3
    assert flag_records(recs, Q({"min_area_mm2": 25.0}))["small_area"].tolist() == [
        True,
        True,
        False,
        True,
        True,
        True,
    ]


def test_size_deviation_uses_region_median_and_measured_sizes():
    rows = [_good(i, "HARP1") for i in range(5)] + [
        {**_good(i, "HARP2"), "nx": 300} for i in range(3)
    ]
    recs = pd.DataFrame(rows)
    assert not flag_records(recs, Q({}))["size_deviation"].any()  # medians are per region
    pix = pd.DataFrame({"n_nan_pixels": [0], "ny": [380]}, index=[2])
    flagged = flag_records(recs, Q({}), pixel_checks=pix)
    assert flagged["size_deviation"].tolist() == [False, False, True] + [False] * 5


def test_missing_file_checks_archive_dir(tmp_path):
    recs = _records([])
    (tmp_path / "fits" / "hmi").mkdir(parents=True)
    for i in (0, 1, 2):
        (tmp_path / "fits" / "hmi" / f"{i}.fits").write_bytes(b"")
    flagged = flag_records(recs, Q({}), archive_dir=tmp_path)
    assert flagged["missing_file"].tolist() == [False, False, False, True, True]
    assert not flag_records(recs, Q({}))["missing_file"].any()


def test_region_noaa_is_the_union_over_records():
    recs = pd.DataFrame(
        {
            "region_id": ["HARP1", "HARP1", "HARP2", "HARP3"],
            "noaa_ars": ["11158", "11160,11158", "", None],
        }
    )
    assert region_noaa(recs) == {"HARP1": (11158, 11160), "HARP2": (), "HARP3": ()}


def test_noaa_parsing():
    assert parse_noaa_ars("11158,11159") == (11158, 11159)
    assert parse_noaa_ars(11158.0) == (11158,)
    for empty in ("", " ", None, np.nan, pd.NA, "0"):
        assert parse_noaa_ars(empty) == ()
    with pytest.raises(ValueError, match="'abc'"):
        parse_noaa_ars("11158,abc")


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="quality: .*'min_area_uhem' was unexpected"):
        Q({"min_area_uhem": 10})
    with pytest.raises(ConfigError, match=r"quality\.max_abs_obs_vr must be > 0"):
        Q({"max_abs_obs_vr": -1})
    with pytest.raises(ConfigError, match=r"quality\.max_quality must be an integer, a hex"):
        Q({"max_quality": "high"})


def test_settings_are_converted_and_errors_of_records_are_named():
    s = Q({"max_quality": "0x10000", "quality_mask": {"HMI": "0x3", "MDI": None}})
    assert s.max_quality == 0x10000 and s.quality_mask == {"HMI": 3, "MDI": None}
    assert s.keywords == ("usfluxl_mx", "meangbl_g_per_px", "r_value", "area_uhem")  # schema
    recs = _records([])
    with pytest.raises(ValueError, match="pixel_checks.*99"):
        flag_records(recs, Q({}), pixel_checks=pd.DataFrame({"n_nan_pixels": [1]}, index=[99]))
    with pytest.raises(ValueError, match=r"missing column.*obs_vr"):
        flag_records(recs.drop(columns="obs_vr"), Q({"max_abs_obs_vr": 10}))


def test_summarise_counts_every_reason_and_totals():
    recs = _records([BREAK["no_noaa"], {**BREAK["no_noaa"], **BREAK["nan_keyword"]}])
    recs.loc[0, ["series", "instrument"]] = ["mdi.smarp_cea_96m", "MDI"]
    summary = summarise(flag_records(recs, Q(CFG)))
    assert list(summary.columns) == ["series", "reason", "count"]
    hmi = summary[summary["series"] == "hmi.sharp_cea_720s"].set_index("reason")["count"]
    assert hmi["total"] == 6 and hmi["kept"] == 4
    assert hmi["no_noaa"] == 2 and hmi["nan_keyword"] == 1 and hmi["bad_quality"] == 0
    assert list(hmi.index) == ["total", "kept", *REASONS]
    mdi = summary[summary["series"] == "mdi.smarp_cea_96m"].set_index("reason")["count"]
    assert mdi["total"] == 1 and mdi["kept"] == 1


def test_scan_fits_counts_nan_pixels(tmp_path):
    from astropy.io import fits

    data = np.zeros((4, 6), dtype="float32")
    data[1, 2] = np.nan
    data[3, 5] = np.nan
    (tmp_path / "a").mkdir()
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data)]).writeto(tmp_path / "a" / "m.fits")
    recs = pd.DataFrame({"path": ["a/m.fits", "", "a/absent.fits"]})
    pix = scan_fits(recs, tmp_path)
    assert pix.index.tolist() == [0]
    assert pix.loc[0].tolist() == [2, 6, 4, ""]


def test_write_flagged_iso_times(tmp_path):
    flagged = flag_records(_records([BREAK["no_noaa"]]), Q(CFG))
    write_flagged(flagged, tmp_path / "q" / "records_flagged.csv")
    back = pd.read_csv(tmp_path / "q" / "records_flagged.csv", keep_default_na=False)
    assert back.loc[0, "t_rec"] == "2011-02-15T01:59:26.000"
    assert back["reasons"].tolist()[-1] == "no_noaa" and len(back) == len(flagged)


def test_scan_fits_parallel_equals_serial(tiny_archive, monkeypatch):
    import flarepipe.samples.quality as q
    from flarepipe.archive.layout import load_archive

    arc = load_archive(tiny_archive[0])
    recs = arc.records.iloc[::3]
    serial = scan_fits(recs, arc.root)
    monkeypatch.setattr(q, "_PARALLEL_MIN_FILES", 0)
    parallel = scan_fits(recs, arc.root, workers=2)
    pd.testing.assert_frame_equal(serial, parallel)
    assert len(serial) == len(recs) and (serial["n_nan_pixels"] >= 0).all()


def _corrupt_rice(path):
    """A RICE-compressed patch whose tile bytes are scrambled (cfitsio cannot decompress it)."""
    from flarepipe.io.fitsio import write_patch

    write_patch(path, np.ones((40, 60), np.float32), {"HARPNUM": 1, "T_REC": "2011.02.15_TAI"})
    b = bytearray(path.read_bytes())
    for i in range(2 * 2880 + 200, len(b) - 10):
        b[i] = (b[i] * 7 + 13) % 256
    path.write_bytes(bytes(b))


def test_scan_fits_rejects_unreadable_files_with_the_reason_and_goes_on(tmp_path):
    """A file without an image, an empty file and a corrupt RICE file each become a rejected
    record (``unreadable_file``, the message naming the file); the good file is still scanned."""
    from astropy.io import fits

    fits.PrimaryHDU().writeto(tmp_path / "noimage.fits")
    (tmp_path / "empty.fits").write_bytes(b"")
    _corrupt_rice(tmp_path / "rice.fits")
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(np.zeros((4, 6), "f4"))]).writeto(
        tmp_path / "good.fits"
    )
    names = ["noimage.fits", "empty.fits", "rice.fits", "good.fits"]
    pix = scan_fits(pd.DataFrame({"path": names}), tmp_path)
    for i, name in enumerate(names[:3]):
        assert str(tmp_path / name) in pix.loc[i, "read_error"]
    assert pix.loc[3].tolist() == [0, 6, 4, ""]
    recs = pd.DataFrame([{**_good(i), "path": name} for i, name in enumerate(names)])
    cfg = {**CFG, "max_size_deviation_px": None}  # the good file is 6x4, the keywords say 744x377
    flagged = flag_records(recs, Q(cfg), pixel_checks=pix, archive_dir=tmp_path)
    assert flagged["unreadable_file"].tolist() == [True, True, True, False]
    assert flagged["reasons"].tolist()[:3] == ["unreadable_file"] * 3
    assert "empty.fits" in flagged.loc[1, "read_error"] and flagged.loc[3, "read_error"] == ""


def test_scan_fits_takes_the_archives_pixel_stats_and_rereads_changed_files(
    tiny_archive, tmp_path, monkeypatch
):
    """The synthetic source's pixels.csv equals what reading the files gives; with it quality reads
    no file, except one whose size or mtime changed since (read again, its new counts used)."""
    import shutil

    import flarepipe.samples.quality as q
    from flarepipe.archive.layout import load_archive, read_pixels
    from flarepipe.io.fitsio import read_patch, write_patch

    copy = tmp_path / "archive"
    shutil.copytree(tiny_archive[0], copy, copy_function=shutil.copy2)  # keeps mtimes
    arc = load_archive(copy)
    known = read_pixels(copy / "pixels.csv")
    assert sorted(known.index) == sorted(arc.records["path"])
    measured = scan_fits(arc.records, copy)
    reads, orig = [], q._scan_one
    monkeypatch.setattr(q, "_scan_one", lambda p: reads.append(p) or orig(p))
    pd.testing.assert_frame_equal(scan_fits(arc.records, copy, known=known), measured)
    assert reads == []
    # one file rewritten with a NaN row (as a user repairing or replacing a file would)
    row = 5
    path = copy / arc.records.at[row, "path"]
    data, header = read_patch(path)
    data[0, :] = np.nan
    cards = {k: header[k] for k in ("HARPNUM", "TARPNUM", "T_REC") if k in header}
    write_patch(path, data, cards, compress=False)
    again = scan_fits(arc.records, copy, known=known)
    assert reads == [str(path)]
    assert again.at[row, "n_nan_pixels"] == int(np.isnan(data).sum()) >= data.shape[1]
    pd.testing.assert_frame_equal(again.drop(index=row), measured.drop(index=row))
