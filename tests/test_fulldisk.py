"""Full-disk frames: synthetic rendering against the header's WCS, the reader on the real HMI file,
frame quality, the one-frame-a-day rule and the daily label's truth table."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import real_path

from flarepipe.archive.sources.synthetic import INSTRUMENTS, SyntheticParams
from flarepipe.archive.sources.synthetic.fulldisk import (
    REGION_COLUMNS,
    FullDiskParams,
    RegionPlan,
    frame_coarsening,
    generate_fulldisk,
    patch_to_heliographic,
    region_patch,
    render_frame,
)
from flarepipe.core.disk import disk_coordinates
from flarepipe.data.fulldisk import disk_flux, frame_input, write_daily_shard
from flarepipe.data.shards import ShardReader
from flarepipe.io.fitsio import write_patch
from flarepipe.io.fulldisk import read_fulldisk
from flarepipe.samples.fulldisk import (
    DailyLabelSettings,
    FullDiskQualitySettings,
    daily_frames,
    daily_labels,
    flag_frames,
    scan_frames,
)

PARAMS = SyntheticParams(scale="tiny", seed=5)
REAL_HMI = ("fulldisk", "hmi.M_720s.20160707_010000_TAI.magnetogram.fits")


@pytest.mark.parametrize(("instrument", "size"), [("MDI", 512), ("HMI", 256)])
def test_region_lands_where_the_header_wcs_says(tmp_path, instrument, size):
    """The flux centroid of each region drawn alone on a noise-free frame lies within a pixel of
    where astropy's WCS (with sunpy's frames) puts the patch's own flux centroid."""
    fd = FullDiskParams(
        size_mdi=size, size_hmi=size, instruments=(instrument,), network_g=0.0, noise_scale=0.0
    )
    regions = RegionPlan.all(PARAMS, instrument)
    t_days = 6.0
    t_tai = pd.Timestamp(INSTRUMENTS[instrument].start) + pd.Timedelta(days=t_days)
    _, _, table = render_frame(PARAMS, fd, instrument, t_tai, regions)
    assert len(table) >= 3
    for rid in table.sort_values("phi_mx")["region_id"].iloc[-2:]:
        rp = next(r for r in regions if r.region_id == rid)
        data, cards, one = render_frame(PARAMS, fd, instrument, t_tai, [rp])
        assert cards["CROTA2"] == (180.0 if instrument == "HMI" else 0.0)
        write_patch(tmp_path / "f.fits", data, cards, bscale=0.01, compress=True)
        frame = read_fulldisk(tmp_path / "f.fits")
        k = int(np.argmin(np.abs(rp.reg["t"] - t_days)))
        coarsen = frame_coarsening(instrument, cards)
        assert coarsen == (1 if instrument == "MDI" else 4)
        br, _, lon_c, lat_c, cd = region_patch(PARAMS, rp, k, t_days, coarsen=coarsen)
        ny, nx = br.shape
        w = np.abs(br.astype(np.float64))
        jj, ii = np.indices(br.shape)
        xc = float(((ii - (nx - 1) / 2) * cd * w).sum() / w.sum())
        yc = float(((jj - (ny - 1) / 2) * cd * w).sum() / w.sum())
        lon, lat = patch_to_heliographic(xc, yc, lon_c, lat_c)
        px, py = frame.world_to_pixel(lon, lat)
        # disk centroid on the sphere: |B_r| = |B_LOS|/μ, each pixel covering an area ∝ 1/μ
        _, _, mu = disk_coordinates(frame.header, frame.data.shape, dtype=np.float64)
        wd = np.nan_to_num(np.abs(frame.data) / mu**2)
        yy, xx = np.indices(wd.shape)
        assert abs(float(px) - (wd * xx).sum() / wd.sum()) < 1.0, rid
        assert abs(float(py) - (wd * yy).sum() / wd.sum()) < 1.0, rid
        # the recorded centre and box agree with the WCS too
        x0, y0 = frame.world_to_pixel(one["lon_c"].iloc[0], one["lat_c"].iloc[0])
        assert (
            abs(float(x0) - one["x_c"].iloc[0]) < 1.0 and abs(float(y0) - one["y_c"].iloc[0]) < 1.0
        )
        r = one.iloc[0]
        assert r.x_min <= x0 <= r.x_max and r.y_min <= y0 <= r.y_max
        # off disk is NaN, on disk finite; B_LOS = B_r μ (the field fades toward the limb)
        assert np.isnan(frame.data[0, 0]) and np.isfinite(frame.data[size // 2, size // 2])


@pytest.fixture(scope="module")
def fulldisk_archive(tmp_path_factory):
    """A tiny MDI+HMI full-disk archive (8 days each, 96/64 px, many planted bad days; a quieter
    Sun than the tiny preset's, so that about a third of the days flare)."""
    out = tmp_path_factory.mktemp("fulldisk")
    params = SyntheticParams(scale="tiny", seed=12, days=8, c0=-1.6, n_regions=12)
    fd = FullDiskParams(size_mdi=96, size_hmi=64, p_bad_quality=0.15, p_missing=0.1, p_nan=0.15)
    return out, generate_fulldisk(out, params, fd, write_flares=True)


def test_generated_frames_truth_and_quality(fulldisk_archive):
    """A tiny MDI+HMI run: frames, region boxes, daily truth, flares as the patch archive's, the
    quality flags and the daily-frame rule on the planted bad days."""
    tmp_path, manifest = fulldisk_archive
    rec = pd.read_csv(tmp_path / "fulldisk" / "records.csv")
    boxes = pd.read_csv(tmp_path / "truth" / "fulldisk_regions.csv")
    days = pd.read_csv(tmp_path / "truth" / "fulldisk_days.csv")
    assert manifest["counts"]["records"] == len(rec)
    assert list(boxes.columns) == REGION_COLUMNS
    assert set(rec["instrument"]) == {"MDI", "HMI"}
    assert set(rec["planted"].fillna("")) >= {"", "quality", "nan_block", "fallback"}
    # boxes lie on the frame; every frame's regions are in the table
    assert (boxes["x_min"] >= 0).all() and (boxes["x_max"] < 96).all()
    assert (boxes["x_min"] <= boxes["x_max"]).all() and (boxes["y_min"] <= boxes["y_max"]).all()
    assert boxes["t_rec_tai"].isin(rec["t_rec_tai"]).all()
    # the oracle's daily truth counts the catalogue's flares
    flares = pd.read_csv(tmp_path / "flares.csv")
    settings = DailyLabelSettings()
    for inst in ("MDI", "HMI"):
        d = days[days["instrument"] == inst]
        lab = daily_labels(pd.DataFrame({"t_end": d["day"]}), flares, settings)
        np.testing.assert_array_equal(lab["n_flares"].to_numpy(), d["n_flares_c"].to_numpy())
        assert ((d["p_c_planted"] >= 0) & (d["p_c_planted"] <= 1)).all()
    scan = scan_frames(rec, tmp_path)
    q = FullDiskQualitySettings()
    flagged = flag_frames(rec, q, scan, tmp_path)
    planted = rec["planted"].fillna("")
    np.testing.assert_array_equal(flagged["bad_quality"], planted == "quality")
    np.testing.assert_array_equal(flagged["nan_on_disk"], planted == "nan_block")
    assert (flagged.loc[~flagged["keep"], "reasons"] != "").all()
    chosen, rejected = daily_frames(flagged, q)
    assert chosen["t_end"].is_unique and (chosen["lag_h"] >= 0).all()
    assert (chosen["lag_h"] <= q.max_lag_h).all() and chosen["keep"].all()
    # a fallback record serves the day whose 00:00 record is bad or missing
    fb = chosen[chosen["planted"].fillna("") == "fallback"]
    assert len(fb) and (fb["lag_h"] > 0.1).all()  # 00:00 TAI is 0.01 h before 00:00 UT
    for inst in ("MDI", "HMI"):
        got = set(chosen.loc[chosen["instrument"] == inst, "day"])
        lost = set(rejected.loc[rejected["instrument"] == inst, "day"])
        assert not got & lost and len(lost) >= 1
        span = pd.date_range(min(got | lost), max(got | lost), freq="D").strftime("%Y-%m-%d")
        assert got | lost == set(span)
    clean = chosen[chosen["planted"].fillna("") == ""]
    assert (clean["lag_h"] < 0.1).all()
    # features: the chosen frames streamed into a shard (MDI and HMI in one input)
    samples = daily_labels(chosen, flares, settings)
    written, failed = write_daily_shard(samples, tmp_path, tmp_path / "s" / "daily.h5", size=64)
    assert failed.empty and len(written) == len(samples)
    reader = ShardReader(tmp_path / "s" / "daily.h5")
    data = reader.read_all(inputs=("image",), targets=("label",))
    assert data["image"].shape == (len(samples), 1, 64, 64)
    assert data["image"].min() >= 0.0 and data["image"].max() <= 255.0
    assert data["image"][:, 0, 0, 0].tolist() == [127.5] * len(samples)  # off disk: 0 G
    np.testing.assert_array_equal(data["label"], samples["label"].to_numpy())
    assert set(reader.meta()["instrument"]) == {"MDI", "HMI"}
    assert (written["usflux_mx"] > 1e21).all()
    assert set(rejected["reason"]) <= {"missing"} and rejected["detail"].str.len().gt(0).all()


def _flares(rows):
    return pd.DataFrame(rows, columns=["start_utc", "peak_utc", "goes_class", "peak_flux_wm2"])


def test_daily_label_truth_table():
    """The docstring's truth table: flares at the day's edges."""
    days = pd.DataFrame({"t_end": ["2011-03-01", "2011-03-02", "2011-03-03", "2011-03-05"]})
    fl = _flares(
        [
            ("2011-03-01T00:00:00", "2011-03-01T00:10:00", "C1.0", 1e-6),  # first instant of D
            ("2011-03-02T23:59:00", "2011-03-03T00:05:00", "C9.9", 9.9e-6),  # D's last minute
            ("2011-03-04T00:00:00", "2011-03-04T00:20:00", "M1.0", 1e-5),  # a non-sample day
            ("2011-03-03T12:00:00", "2011-03-03T12:10:00", "B9.9", 9.9e-7),  # too weak
            ("2011-03-04T23:50:00", "2011-03-05T00:10:00", "C2.0", 2e-6),  # peaks in D+1
        ]
    )
    out = daily_labels(days, fl, DailyLabelSettings())
    assert out["label"].tolist() == [1, 1, 0, 0]
    assert out["n_flares"].tolist() == [1, 1, 0, 0]
    assert out["label_prev"].tolist()[1:3] == [1, 1] and out["label_prev"].isna().tolist() == [
        True,
        False,
        False,
        True,
    ]
    peak = daily_labels(days, fl, DailyLabelSettings(time_column="peak_utc"))
    assert peak["label"].tolist() == [1, 0, 1, 1]
    m = daily_labels(days, fl, DailyLabelSettings(min_class="M1.0"))
    assert m["label"].tolist() == [0, 0, 0, 0]
    shifted = daily_labels(days, fl, DailyLabelSettings(start_h=-1.0, window_h=24.0))
    assert shifted["label"].tolist() == [1, 0, 1, 1]  # [D - 1 h, D + 23 h)
    with pytest.raises(ValueError, match="time_column"):
        DailyLabelSettings(time_column="end_utc")


def test_daily_frame_rule_nearest_earlier():
    """00:00 UT or the nearest earlier kept record within max_lag_h; never a later one."""
    rec = pd.DataFrame(
        {
            "instrument": "MDI",
            "t_rec": [
                "2001-01-01T23:59:28",  # 00:00 TAI of Jan 2: serves Jan 2
                "2001-01-02T22:23:28",  # good, 1.6 h early for Jan 3
                "2001-01-02T23:59:28",  # bad quality: Jan 3 falls back to the one above
                "2001-01-03T01:35:28",  # later than 00:00 of Jan 3: never used for it
                "2001-01-04T20:00:00",  # Jan 4 has nothing in [Jan 3 18:00, Jan 4 00:00]
            ],
            "quality": [0, 0, 0x10000, 0, 0],
            "path": ["a", "b", "c", "d", "e"],
        }
    )
    flagged = flag_frames(rec, FullDiskQualitySettings())
    chosen, rejected = daily_frames(flagged, FullDiskQualitySettings())
    assert chosen["day"].tolist() == ["2001-01-02", "2001-01-03", "2001-01-05"]
    assert chosen["path"].tolist() == ["a", "b", "e"]
    assert rejected["day"].tolist() == ["2001-01-04"]
    assert "no record" in rejected["detail"].iloc[0]
    chosen_wide, rejected_wide = daily_frames(flagged, FullDiskQualitySettings(max_lag_h=23.0))
    assert chosen_wide["path"].tolist() == ["a", "b", "d", "e"]
    # a day both instruments serve takes HMI's frame
    both = pd.concat(
        [
            rec,
            pd.DataFrame(
                {
                    "instrument": ["HMI"],
                    "t_rec": ["2001-01-02T23:00:00"],
                    "quality": [0],
                    "path": ["h"],
                }
            ),
        ],
        ignore_index=True,
    )
    chosen_both, _ = daily_frames(
        flag_frames(both, FullDiskQualitySettings()), FullDiskQualitySettings()
    )
    assert chosen_both.set_index("day").loc["2001-01-03", "path"] == "h"


def test_real_hmi_full_disk_reads_through_the_reader():
    """The real 4096² RICE file: header WCS used (CROTA2 ≈ 180), off-limb pixels masked, quality."""
    path = real_path(*REAL_HMI)
    frame = read_fulldisk(path)
    assert frame.instrument == "HMI" and frame.quality == 0
    assert frame.data.shape == (4096, 4096)
    assert frame.n_off_disk_finite > 0  # HMI keeps pixels beyond the limb; the reader masks them
    assert frame.disk_fraction_nan() < 0.001
    # disk centre (Tx, Ty) = (0, 0) at the header's CRPIX-derived pixel, not the image centre
    x, y = frame.world_to_pixel(0.0 + float(frame.header.get("HGLN_OBS", 0.0) or 0.0), 0.0)
    cx, cy = frame.header["CRPIX1"] - 1, frame.header["CRPIX2"] - 1
    b0 = math.radians(frame.header["CRLT_OBS"])
    r_px = frame.header["RSUN_OBS"] / frame.header["CDELT1"]
    # (lon, lat) = (0, 0) lies B0 below the disk centre; CROTA2 = 180 turns that upward
    assert abs(float(x) - cx) < 3.0
    assert abs(float(y) - (cy + r_px * math.sin(b0))) < 3.0
    rec = pd.DataFrame(
        {"instrument": ["HMI"], "t_rec": [str(frame.t_rec)], "quality": [0], "path": [str(path)]}
    )
    # the scan scan_frames would make (it reads the file again: 4096² RICE costs seconds)
    scan = pd.DataFrame(
        {
            "path": [str(path)],
            "nan_fraction": [frame.disk_fraction_nan()],
            "n_off_disk_finite": [frame.n_off_disk_finite],
            "read_error": [""],
        }
    )
    flagged = flag_frames(rec, FullDiskQualitySettings(), scan)
    assert flagged["keep"].tolist() == [True]
    assert not flag_frames(
        rec, FullDiskQualitySettings(max_nan_fraction=0.0), scan.assign(nan_fraction=0.5)
    )["keep"].iloc[0]
    # features: the paper's input and the raw-field variant, and the disk's unsigned flux
    img = frame_input(frame, 512)
    assert img.shape == (512, 512) and img.min() >= 0 and img.max() <= 255
    assert img[0, 0] == 127.5 and img[256, 256] != 127.5
    raw = frame_input(frame, 512, mode="raw")
    assert np.abs(raw).max() > 100.0  # unclipped
    assert 1e22 < disk_flux(frame, threshold_g=10.0) < 1e24


def test_daily_forecast_end_to_end(fulldisk_archive, tmp_path):
    """Daily samples -> chronological split -> streamed shards -> the DenseNet (MDI and HMI in one
    model, 1 epoch) and the three baselines -> Table 1 beside the published row."""
    from flarepipe.config import train_settings
    from flarepipe.evaluation.daily import TABLE1_COLUMNS, table1, with_published
    from flarepipe.samples.split import chronological_split
    from flarepipe.studies.yi2021 import PUBLISHED, PUBLISHED_LABEL
    from flarepipe.training.daily_baselines import baseline_predictions
    from flarepipe.training.fit import train_one

    root, _ = fulldisk_archive
    rec = pd.read_csv(root / "fulldisk" / "records.csv")
    q = FullDiskQualitySettings()
    chosen, _ = daily_frames(flag_frames(rec, q, scan_frames(rec, root), root), q)
    samples = daily_labels(chosen, pd.read_csv(root / "flares.csv"), DailyLabelSettings())
    # the paper's shape: train on MDI (cycle 23), validate and test on HMI (cycle 24)
    split = chronological_split(
        samples,
        {
            "train": ["2001-01-01", "2002-01-01"],
            "val": ["2011-01-01", "2011-01-06"],
            "test": ["2011-01-06", "2012-01-01"],
        },
        assign="sample",
    )
    assert set(split.loc[split["split"] == "train", "instrument"]) == {"MDI"}
    assert set(split.loc[split["split"] == "test", "instrument"]) == {"HMI"}
    parts = {}
    for name in ("train", "val", "test"):
        ids = split.loc[split["split"] == name, "sample_id"]
        part = samples[samples["sample_id"].isin(ids)]
        parts[name], failed = write_daily_shard(part, root, tmp_path / f"{name}.h5", size=64)
        assert failed.empty
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    settings = train_settings("yi_densenet", {"max_epochs": 1, "batch_size": 4, "cpu_threads": 1})
    shards = {name: tmp_path / f"{name}.h5" for name in parts}
    for name, part in parts.items():  # the seeded archive gives every split both classes
        assert part["label"].nunique() == 2, name
    summary = train_one(shards, "yi_densenet", {"width": 0.25}, settings, tmp_path / "m", seed=0)
    assert summary["epochs_run"] == 1
    pred = pd.read_csv(tmp_path / "m" / "predictions.csv")
    test = pred[pred["split"] == "test"].assign(model="yi_densenet")
    assert len(test) == len(parts["test"])
    base = baseline_predictions(parts["train"], parts["test"])
    table = with_published(table1(pd.concat([test, base])), PUBLISHED, PUBLISHED_LABEL)
    assert table["model"].tolist() == [
        "yi_densenet",
        "climatology",
        "persistence",
        "logreg_flux",
        PUBLISHED_LABEL,
    ]
    assert list(table.columns) == ["model", *TABLE1_COLUMNS]
    rate = parts["test"]["label"].mean()
    np.testing.assert_allclose(table.loc[:3, "event_rate"], rate)
    assert table.loc[4, "TSS"] == 0.65 and table.loc[4, "event_rate"] == 0.55
    # climatology forecasts one class every day: TSS 0 (by definition, whatever the rate)
    assert table.loc[1, "TSS"] == 0.0


def test_local_fulldisk_folder(tmp_path, fulldisk_archive):
    """A folder of full-disk FITS (the real HMI frame, a synthetic MDI frame, junk) -> records and
    rejections with reasons; the taken frames read back through the archive's paths."""
    from flarepipe.archive.sources.local_fulldisk import build_local_fulldisk

    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    real = real_path(*REAL_HMI)
    (src / real.name).symlink_to(real)
    root, _ = fulldisk_archive
    mdi = sorted((root / "fulldisk" / "mdi.fd_M_96m_lev182").glob("*.fits"))[0]
    (src / "sub" / mdi.name).symlink_to(mdi)
    (src / "sub" / "copy.fits").symlink_to(mdi)  # same series and T_REC: a duplicate
    (src / "empty.fits").write_bytes(b"")
    records, rejected = build_local_fulldisk(src, tmp_path / "archive")
    assert sorted(records["instrument"]) == ["HMI", "MDI"]
    assert (
        records.loc[records["instrument"] == "HMI", "t_rec_tai"]
        .iloc[0]
        .startswith("2016.07.07_01:00:00")
    )
    names = rejected["file"].map(lambda f: Path(f).name)
    reasons = dict(zip(names, rejected["reason"], strict=True))
    assert set(reasons) == {"empty.fits", mdi.name}  # sorted: sub/copy.fits is taken first
    assert "empty.fits" in reasons["empty.fits"] and "duplicate" in reasons[mdi.name]
    for path in records["path"]:
        assert (tmp_path / "archive" / path).exists()
    with pytest.raises(ValueError, match="not a folder"):
        build_local_fulldisk(tmp_path / "nope", tmp_path / "archive")
