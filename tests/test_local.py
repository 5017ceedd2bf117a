"""The local source: keyword tables with a column map, real FITS exports, and the archive layout."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from archive_config import local_section
from flarepipe.archive.catalogues import keyword_tables
from flarepipe.archive.layout import RECORD_COLUMNS, load_archive
from flarepipe.archive.sources import local
from flarepipe.config import ConfigError
from flarepipe.core.keywords import KEYWORD_COLUMNS
from flarepipe.core.timeutil import tai_to_utc
from flarepipe.io.atomic import sha256_file
from flarepipe.io.fitsio import read_patch

REAL = Path(
    os.environ.get("FLAREPIPE_REAL_DATA", Path(__file__).resolve().parents[2] / "shared/data/real")
)
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f"real data folder {REAL} not present")
KW = list(KEYWORD_COLUMNS)  # usfluxl, meangbl, r_value, area (canonical names of docs/FILES.md)

FLARES_TXT = (
    "2011-02-15T01:44:00;2011-02-15T01:56:00;2011-02-15T02:06:00;AR11158;X2.2;S20W12\n"
    "2010-07-14T10:00:00;2010-07-14T10:05:00;2010-07-14T10:20:00;AR11087;C1.0;\n"
)


@needs_real
def test_load_real_keyword_tables():
    df = local.load_keyword_tables(
        [REAL / "keywords" / "sharp_2.csv", REAL / "keywords" / "smarp_0.csv"]
    )
    assert {"region_id", "instrument", "t_end", "t_end_tai", "label", "fold", *KW} <= set(
        df.columns
    )
    assert set(df["instrument"]) == {"HMI", "MDI"} and set(df["fold"].unique()) == {0, 2}
    assert df["region_id"].str.match(r"^(HARP|TARP)\d+$").all()
    row = df[
        (df["region_id"] == "HARP377") & (df["t_end_tai"] == pd.Timestamp("2011-02-15 01:36:00"))
    ].iloc[0]
    # the grid time is TAI: UTC is 34 s earlier in 2011
    assert row["t_end"] == pd.Timestamp("2011-02-15 01:35:26")
    assert row[KW[0]] == pytest.approx(2.312205e22) and row[KW[1]] == pytest.approx(
        36.157
    )  # USFLUX / MEANGBZ
    assert row[KW[2]] == pytest.approx(4.803) and row[KW[3]] == pytest.approx(5447.189453)
    assert bool(row["label"]) and "X2.2" in row["flares"]
    assert str(df["t_end"].dtype) == "datetime64[ns]" and df["label"].dtype == bool


def test_column_map_and_missing_column(tmp_path):
    p = tmp_path / "mine_7.csv"
    p.write_text(
        "kind,num,time,USFLUXL,MEANGBL,RV,AREA\n"
        "TARP,13520,2010-07-14 12:48:00,3.0e22,51.8,3.6,10682.3\n"
    )
    cmap = {
        "prefix": "kind",
        "region": "num",
        "t_end": "time",
        KW[0]: "USFLUXL",
        KW[1]: "MEANGBL",
        KW[2]: "RV",
        "t_start": None,
        "label": None,
        "flares": None,
        "flare_index": None,
    }
    df = local.load_keyword_tables([p], cmap)
    r = df.iloc[0]
    assert r["region_id"] == "TARP13520" and r["instrument"] == "MDI" and r["fold"] == 7
    assert r["t_end"] == pd.Timestamp("2010-07-14 12:47:26") and r[KW[2]] == 3.6
    with pytest.raises(ValueError, match=r"columns not found for .*'USFLUX'"):
        local.load_keyword_tables([p], {**cmap, KW[0]: "USFLUX"})
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "prefix,arpnum,t_end,USFLUX,MEANGBZ,R_VALUE,AREA\nXARP,1,2011-01-01 00:00:00,1,1,1,1\n"
    )
    with pytest.raises(ValueError, match=r"bad.csv:2: unknown region prefix 'XARP'"):
        local.load_keyword_tables([bad])


def test_tai_grid_conversion_matches_timeutil_and_handles_leap_seconds():
    idx = pd.DatetimeIndex(
        pd.date_range("2008-12-30", "2009-01-02", freq="96min").tolist()
        + [pd.Timestamp("2009-01-01 00:00:20"), pd.Timestamp("2009-01-01 00:00:40")]
    )
    fast = keyword_tables._tai_to_utc_grid(idx)
    assert (fast == pd.DatetimeIndex(tai_to_utc(idx))).all()
    assert fast[-2] == pd.Timestamp(
        "2008-12-31 23:59:47"
    )  # before the leap second: old offset (33 s)
    assert fast[-1] == pd.Timestamp("2009-01-01 00:00:06")  # after it: new offset (34 s)


@needs_real
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


def test_build_local_archive_from_real_fits_and_a_table(tmp_path):
    fits_in = tmp_path / "exports"
    fits_in.mkdir()
    for p in (REAL / "fits" / "sharp").glob("*.fits"):
        shutil.copy(p, fits_in / p.name)
    (fits_in / "sub").mkdir()
    shutil.copy(next((REAL / "fits" / "smarp").glob("*magnetogram.fits")), fits_in / "sub")
    broken = fits_in / "hmi.sharp_cea_720s.377.20110215_023600_TAI.magnetogram.fits"
    broken.write_bytes(
        next((REAL / "fits" / "sharp").glob("*magnetogram.fits")).read_bytes()[:5000]
    )
    table = tmp_path / "sharp_3.csv"
    table.write_text(
        "prefix,arpnum,t_start,t_end,label,flares,FLARE_INDEX,AREA,USFLUX,MEANGBZ,R_VALUE\n"
        "HARP,377,2011-02-14 02:00:00,2011-02-15 02:00:00,True,X2.2,68.9,5452.7,2.31e+22,36.2,4.8\n"
        "HARP,377,2011-02-14 03:36:00,2011-02-15 03:36:00,True,,68.9,5460.0,2.32e+22,36.0,4.8\n"
    )
    flares = tmp_path / "flares.txt"
    flares.write_text(FLARES_TXT)
    archive = tmp_path / "archive"
    manifest = local.build_local_archive(
        local_section(
            {
                "fits_dir": str(fits_in),
                "keyword_tables": [str(table)],
                "flares": str(flares),
                "harp_noaa_map": str(REAL / "keywords" / "harp_noaa_map.txt"),
            }
        ),
        archive,
    )

    rec = pd.read_csv(archive / "records.csv", keep_default_na=False, dtype={"noaa_ars": str})
    assert list(rec.columns) == RECORD_COLUMNS
    assert rec["region_id"].tolist() == [
        "HARP377",
        "HARP377",
        "TARP13520",
    ]  # sorted series, region, t_rec
    fits_row = rec.iloc[0]
    assert (
        fits_row["path"]
        == "fits/hmi.sharp_cea_720s/hmi.sharp_cea_720s.377.20110215_020000_TAI.magnetogram.fits"
    )
    assert fits_row["t_rec"] == "2011-02-15T01:59:26.000" and fits_row["noaa_ars"] == "11158"
    assert (fits_row["nx"], fits_row["ny"]) == (744, 377)
    assert float(fits_row[KW[0]]) == pytest.approx(
        2.31e22
    )  # keyword from the table (header lacks USFLUXL)
    assert float(fits_row["lat_fwt"]) == pytest.approx(-20.201988)  # position from the header
    table_only = rec.iloc[1]
    assert (
        table_only["path"] == ""
        and table_only["noaa_ars"] == "11158"
        and table_only["t_rec_tai"] == "2011.02.15_03:36:00_TAI"
    )
    tarp = rec.iloc[2]
    assert tarp["quality"] == 512 and tarp["path"].startswith("fits/mdi.smarp_cea_96m/")
    for p in rec["path"][rec["path"] != ""]:
        read_patch(archive / p)
        assert manifest["fits"][p] == sha256_file(archive / p)
    _assert_pixels_as_read(archive, rec)
    rej = pd.read_csv(archive / "rejected_records.csv")
    assert (
        len(rej) == 1
        and "023600" in rej["source"].iloc[0]
        and "cannot read" in rej["reason"].iloc[0]
    )
    fl = pd.read_csv(archive / "flares.csv")
    assert fl["goes_class"].tolist() == ["C1.0", "X2.2"]
    assert manifest["source"] == "local" and manifest["files"]["records.csv"] == sha256_file(
        archive / "records.csv"
    )
    assert json.loads((archive / "manifest.json").read_text())["counts"]["records"] == 3
    loaded = load_archive(archive)
    assert loaded.records["t_rec"].iloc[0] == pd.Timestamp("2011-02-15 01:59:26")
    assert loaded.flares["noaa_ar"].tolist() == [11087, 11158]
    assert (
        not list(archive.rglob("*.part"))
        and not (archive / "fits" / "hmi.sharp_cea_720s" / broken.name).exists()
    )


def test_build_local_archive_config_errors(tmp_path):
    # the schema: a flare list is required, keys are spelled as documented
    with pytest.raises(ConfigError, match=r"archive\.local: 'flares' is a required property"):
        local_section({"fits_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match=r"archive\.local: .*'fitsdir' was unexpected"):
        local_section({"flares": "x", "fitsdir": "x"})
    with pytest.raises(ConfigError, match=r"archive\.local\.link must be one of"):
        local_section({"flares": "x", "fits_dir": "x", "link": "move"})
    with pytest.raises(ConfigError, match=r"archive\.local\.column_map must be one of"):
        local_section({"flares": "x", "keyword_tables": "t.csv", "column_map": {"USFLUX": "x"}})
    with pytest.raises(ConfigError, match=r"archive: 'local' is a required property"):
        from archive_config import validated_archive

        validated_archive({"source": "local"})
    # the settings: what a schema cannot say
    with pytest.raises(ValueError, match=r"archive\.local needs fits_dir and/or keyword_tables"):
        local.build_local_archive(local_section({"flares": "x"}), tmp_path / "a")
    with pytest.raises(ValueError, match=r"archive\.local\.keyword_tables: no file matches"):
        local.build_local_archive(
            local_section({"flares": "x", "keyword_tables": [str(tmp_path / "none*.csv")]}),
            tmp_path / "a",
        )
    with pytest.raises(ValueError, match=r"archive\.local: missing keys"):
        local.build_local_archive({"flares": "x", "fits_dir": str(tmp_path)}, tmp_path / "a")


def test_local_settings_defaults_and_conversion():
    s = local.LocalSettings.from_section(
        local_section({"flares": "f.txt", "keyword_tables": "a*.csv"})
    )
    assert s == local.LocalSettings(flares="f.txt", keyword_tables=("a*.csv",))
    assert set(local.TABLE_NAMES) == {
        "prefix",
        "region",
        "t_start",
        "t_end",
        "label",
        "flares",
        "flare_index",
        *KW,
        *keyword_tables.LAYOUT_NAMES,
    }


def _patch(path: Path, trec: str, region: int = 377) -> Path:
    """A small RICE-compressed SHARP-like patch (HARPNUM, T_REC) written by flarepipe's writer."""
    from flarepipe.io.fitsio import write_patch

    write_patch(path, np.ones((20, 30), np.float32), {"HARPNUM": region, "T_REC": trec})
    return path


def _scramble_tiles(path: Path) -> None:
    """Scramble the compressed tile bytes so that cfitsio cannot decompress them."""
    b = bytearray(path.read_bytes())
    for i in range(2 * 2880 + 200, len(b) - 10):
        b[i] = (b[i] * 7 + 13) % 256
    path.write_bytes(bytes(b))


def _local_archive(tmp_path: Path, fits_in: Path) -> dict:
    flares = tmp_path / "flares.txt"
    flares.write_text(FLARES_TXT)
    return local.build_local_archive(
        local_section({"fits_dir": str(fits_in), "flares": str(flares)}), tmp_path / "archive"
    )


def test_unreadable_fits_files_are_rejected_with_the_path_and_the_archive_goes_on(tmp_path):
    """An empty file and a corrupt RICE file (cfitsio's CfitsioException, no OSError) become
    rejected records naming the file; the readable file is still archived."""
    fits_in = tmp_path / "exports"
    fits_in.mkdir()
    name = "hmi.sharp_cea_720s.377.20110215_{}_TAI.magnetogram.fits"
    _patch(fits_in / name.format("020000"), "2011.02.15_02:00:00_TAI")
    _scramble_tiles(_patch(fits_in / name.format("021200"), "2011.02.15_02:12:00_TAI"))
    (fits_in / name.format("022400")).write_bytes(b"")
    _local_archive(tmp_path, fits_in)
    archive = tmp_path / "archive"
    rec = pd.read_csv(archive / "records.csv", keep_default_na=False)
    assert rec["t_rec_tai"].tolist() == ["2011.02.15_02:00:00_TAI"]
    rej = pd.read_csv(archive / "rejected_records.csv").set_index("source")
    for t in ("021200", "022400"):
        assert str(fits_in / name.format(t)) in rej.index
        assert str(fits_in / name.format(t)) in rej.loc[str(fits_in / name.format(t)), "reason"]
    assert "CfitsioException" in rej.loc[str(fits_in / name.format("021200")), "reason"]


def test_two_files_of_one_archive_name_never_overwrite_each_other(tmp_path):
    """Two exports mapping to one archive name (the same record in two folders, or a renamed file
    whose header names that record): the first in sorted path order is placed, the later ones are
    rejected naming both files; the placed file's bytes are the first file's."""
    fits_in = tmp_path / "exports"
    (fits_in / "a").mkdir(parents=True)
    (fits_in / "b").mkdir()
    name = "hmi.sharp_cea_720s.377.20110215_020000_TAI.magnetogram.fits"
    first = _patch(fits_in / "a" / name, "2011.02.15_02:00:00_TAI")
    second = fits_in / "b" / name
    from flarepipe.io.fitsio import write_patch

    write_patch(
        second, np.zeros((20, 30), np.float32), {"HARPNUM": 377, "T_REC": "2011.02.15_02:00:00_TAI"}
    )
    renamed = _patch(fits_in / "b" / "x.magnetogram.fits", "2011.02.15_02:00:00_TAI")
    other = _patch(
        fits_in / "b" / "hmi.sharp_cea_720s.377.copy.magnetogram.fits", "2011.02.15_02:00:00_TAI"
    )
    _local_archive(tmp_path, fits_in)
    archive = tmp_path / "archive"
    rec = pd.read_csv(archive / "records.csv", keep_default_na=False)
    assert len(rec) == 1
    assert sha256_file(archive / rec["path"].iloc[0]) == sha256_file(first)
    rej = pd.read_csv(archive / "rejected_records.csv").set_index("source")
    assert sorted(rej.index) == sorted([str(second), str(renamed), str(other)])
    assert (
        str(first) in rej.loc[str(second), "reason"]
        and "already taken" in rej.loc[str(renamed), "reason"]
    )


def test_every_file_an_archive_source_reads_is_listed_for_the_rules(tmp_path):
    """The archive/catalogue rules declare these as inputs (globs expanded; a path matching
    nothing stays, so Snakemake names it as a missing input before any job)."""
    from flarepipe.archive.build import catalogue_files, fits_listing, source_files

    for n in ("t1.csv", "t2.csv", "flares.txt", "map.txt"):
        (tmp_path / n).write_text("x")
    loc = {"keyword_tables": [str(tmp_path / "t*.csv")], "flares": str(tmp_path / "flares.txt")}
    loc["harp_noaa_map"] = str(tmp_path / "map.txt")
    assert source_files({"source": "local", "local": loc}) == [
        str(tmp_path / n) for n in ("t1.csv", "t2.csv", "flares.txt", "map.txt")
    ]
    tab = {"data_dir": str(tmp_path), "keyword_tables": "t2.csv", "flares": "absent.txt"}
    assert source_files({"source": "tables", "tables": tab}) == [
        str(tmp_path / "t2.csv"),
        str(tmp_path / "absent.txt"),
    ]
    assert source_files({"source": "synthetic"}) == []
    assert catalogue_files({"source": "file", "path": str(tmp_path / "flares.txt")}) == [
        str(tmp_path / "flares.txt")
    ]
    assert catalogue_files({"source": "hek"}) == []
    fits_in = tmp_path / "exports"
    _patch(fits_in / "a.magnetogram.fits", "2011.02.15_02:00:00_TAI")
    arc = {"source": "local", "local": {"fits_dir": str(fits_in), "flares": "f"}}
    before = fits_listing(arc)
    _patch(fits_in / "b.magnetogram.fits", "2011.02.15_02:12:00_TAI")
    assert fits_listing(arc) != before and len(before) == 64
