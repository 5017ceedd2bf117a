"""De Oliveira & Gradvohl 2020: frame splits, region crops, and the tiny study end to end through
the workflow, with the integrated system on the real HMI frame."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flarepipe.studies.deoliveira2020 import data

REPO = Path(__file__).resolve().parents[1]


def _records(n):
    t = pd.date_range("2011-01-01", periods=n, freq="D")
    return pd.DataFrame({"t_rec": t.strftime("%Y-%m-%dT%H:%M:%S")[::-1]})  # newest first


def test_random_split_is_70_20_10_and_chronological_keeps_time_order():
    recs = _records(20)
    rand = data.split_frames(recs, "random", seed=1)
    assert [int((rand == p).sum()) for p in ("train", "val", "test")] == [14, 4, 2]
    assert not (data.split_frames(recs, "random", seed=2) == rand).all()  # the seed matters
    chron = data.split_frames(recs, "chronological")
    t = pd.to_datetime(recs["t_rec"])
    assert t[chron == "train"].max() < t[chron == "val"].min()
    assert t[chron == "val"].max() < t[chron == "test"].min()
    with pytest.raises(ValueError, match="split method"):
        data.split_frames(recs, "by_region")
    with pytest.raises(ValueError, match="2 good frames"):
        data.split_frames(recs.head(2), "random")


def test_crops_take_classified_regions_only():
    img = np.zeros((1, 64, 64), np.float32)
    img[0, 20:24, 30:34] = 1000.0
    boxes = [np.array([[30, 20, 34, 24], [0, 0, 4, 4], [50, 50, 60, 60]], np.float32)]
    frames = data.Frames(img, boxes, [["BETA", "", "BETA-GAMMA-DELTA"]], pd.DataFrame(), np.ones(1))
    crops, labels, frame, box = data.region_crops(
        frames, 16, False, ("alpha", "beta", "beta-gamma")
    )
    assert list(labels) == [1, 2] and list(frame) == [0, 0] and crops.shape == (2, 16, 16)
    assert list(box) == [0, 2]  # the spotless region (row 1) has no crop
    assert crops[0].max() == 1000.0  # centred on its region
    # delta as its own class, which this study's classes leave out
    _, labels, _, _ = data.region_crops(frames, 16, True, ("alpha", "beta", "beta-gamma"))
    assert list(labels) == [1]


CLASSES = ("alpha", "beta", "beta-gamma")


def _frames(n=8, size=32, seed=0):
    """``n`` frames of ``size`` px, each with one or two planted bipoles (boxes and classes)."""
    rng = np.random.default_rng(seed)
    images = rng.normal(0, 5, (n, size, size)).astype(np.float32)
    boxes, classes, ids = [], [], []
    for i in range(n):
        mine, cls, rid = [], [], []
        for k in range(1 + i % 2):
            x, y = 4 + 14 * k + i % 3, 6 + 2 * (i % 4)
            images[i, y : y + 4, x : x + 3] = 800.0
            images[i, y : y + 4, x + 3 : x + 6] = -800.0
            mine.append([x, y, x + 6, y + 4])
            cls.append(["ALPHA", "BETA", "BETA-GAMMA"][(i + k) % 3])
            rid.append(f"R{i}{k}")
        boxes.append(np.array(mine, np.float32))
        classes.append(cls)
        ids.append(rid)
    t = pd.date_range("2011-01-01", periods=n, freq="D").strftime("%Y-%m-%dT%H:%M:%S")
    records = pd.DataFrame({"t_rec": t, "instrument": "HMI"})
    return data.Frames(images, boxes, classes, records, np.ones(n), pd.DataFrame(), ids)


def _write(frames, tmp_path, method="random"):
    split = data.split_frames(frames.records, method, seed=0)
    out_f = [tmp_path / "frames" / f"{p}.h5" for p in data.PARTS]
    out_c = [tmp_path / "crops" / f"{p}.h5" for p in data.PARTS]
    counts = data.write_split_shards(
        frames,
        split,
        crop_px=16,
        delta_as_class=False,
        classes=CLASSES,
        out_frames=out_f,
        out_crops=out_c,
        attrs={"split_method": method},
    )
    return split, out_f, out_c, counts


def test_split_shards_hold_each_part_s_frames_with_boxes_and_crops_with_classes(tmp_path):
    from flarepipe.data.shards import ShardReader
    from flarepipe.studies.deoliveira2020 import experiment
    from flarepipe.studies.deoliveira2020.experiment import NetInputs

    frames = _frames()
    split, out_f, out_c, counts = _write(frames, tmp_path)
    assert counts["frames"] == {p: int((split == p).sum()) for p in data.PARTS}
    assert sum(counts["crops"].values()) == sum(len(b) for b in frames.boxes)
    for part, f_path, c_path in zip(data.PARTS, out_f, out_c, strict=True):
        idx = np.flatnonzero(split == part)
        r = ShardReader(f_path)
        assert r.attrs["part"] == part and r.attrs["split_method"] == "random"
        assert r.targets == {"boxes": "boxes"} and r.image_shape == (1, 32, 32)
        got = r.read_all()
        np.testing.assert_array_equal(got["image"][:, 0], frames.images[idx])
        for k, i in enumerate(idx):
            np.testing.assert_array_equal(got["boxes"].sample(k)[0], frames.boxes[i])
        meta = r.meta()
        assert list(meta["t_end"]) == list(frames.records["t_rec"].iloc[idx])
        assert list(meta["region_id"]) == [";".join(frames.region_ids[i]) for i in idx]
        c = ShardReader(c_path)
        assert c.class_names("mw_class") == CLASSES
        want = [data.parse_mag_type(x)[0] for i in idx for x in frames.classes[i]]
        assert [CLASSES[v] for v in c.meta()["mw_class"]] == want
        assert set(c.meta()["region_id"]) == {x for i in idx for x in frames.region_ids[i]}
    # what the networks are fed: the field scaled and clipped, ragged boxes as dicts
    ds = NetInputs(out_f[0], "boxes")
    batch = ds.__getitems__([1, 0])
    first = np.flatnonzero(split == "train")[:2]
    want = experiment._net_input(frames.images[first[::-1]])[:, None]
    np.testing.assert_array_equal(batch["image"].numpy(), want)  # as the in-memory path scaled it
    assert [len(b["boxes"]) for b in batch["boxes"]] == [len(frames.boxes[i]) for i in first[::-1]]
    assert batch["boxes"][0]["labels"].tolist() == [0] * len(frames.boxes[first[1]])


def test_every_experiment_trains_and_scores_from_the_shards(tmp_path):
    from flarepipe.studies.deoliveira2020 import experiment

    frames = _frames()
    split, out_f, out_c, counts = _write(frames, tmp_path)
    settings = {
        "threshold_g": 100.0,
        "smooth_px": 0.0,
        "closing_px": 0,
        "dilation_px": 1,
        "min_area_px": 2,
        "merge_px": 1.0,
        "min_mu": 0.0,
    }
    classical = experiment.run_classical(out_f[2], settings)
    assert classical["scores"]["n_true"] == sum(
        len(frames.boxes[i]) for i in np.flatnonzero(split == "test")
    )
    assert set(classical["detections"]["frame"]) <= set(frames.records["t_rec"])
    common = {"accelerator": "cpu", "threads": 1, "epochs": 1, "batch_size": 4, "lr": 1e-3}
    learned = experiment.run_learned(
        out_f, {**common, "width": 4, "stride": 4}, tmp_path / "learned", seed=0
    )
    assert learned["scores"]["n_true"] == classical["scores"]["n_true"]
    assert set(learned["predictions"]["frame"]) <= set(
        frames.records["t_rec"].iloc[split == "test"]
    )
    assert {"train_loss", "val_loss", "val_map50"} <= set(learned["curves"].columns)
    clf = experiment.run_classifier(
        out_c, {**common, "width": 4}, CLASSES, tmp_path / "classifier", seed=0
    )
    assert clf["confusion"].to_numpy().sum() == clf["scores"]["n_test"] == counts["crops"]["test"]
    assert 0 <= clf["scores"]["accuracy"] <= 1
    with pytest.raises(ValueError, match="detection.classifier.classes"):
        experiment.run_classifier(
            out_c, {**common, "width": 4}, ("alpha", "beta"), tmp_path / "c2", seed=0
        )


@pytest.mark.slow
def test_tiny_study_end_to_end_with_the_real_frame_annotated(tmp_path):
    """config/studies/deoliveira2020_tiny.yaml through snakemake: scores of all three experiments
    beside the published ones; with the real data present, the real HMI frame annotated by the
    trained classifier, every box on the disk."""
    from conftest import REAL, run_study

    real = REAL / "fulldisk" / "hmi.M_720s.20160707_010000_TAI.magnetogram.fits"
    overlay = tmp_path / "overlay.yaml"
    srs = REAL / "srs" / "srs_regions_1996_2018.csv"
    overlay.write_text(
        "detection:\n  annotate: ["
        + (json.dumps(str(real)) if real.exists() else "")
        + "]\n"
        + (f"  srs: {json.dumps(str(srs))}\n" if srs.exists() else "")
    )
    study = [
        REPO / "config/studies/deoliveira2020.yaml",
        REPO / "config/studies/deoliveira2020_tiny.yaml",
    ]
    res = run_study(tmp_path, [*study, overlay], "detection_all")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = tmp_path / "results" / "deoliveira2020_tiny" / "detection"
    table = pd.read_csv(out / "scores.csv")
    assert list(table["method"][:3]) == [
        "classical detector",
        "learned detector",
        "crop classifier",
    ]
    assert table.loc[3, "precision"] == 0.808 and table.loc[4, "accuracy"] == 0.88
    scores = json.loads((out / "random" / "scores.json").read_text())
    assert scores["frames"]["train"] > scores["frames"]["test"] > 0
    for part in ("classical", "learned"):
        assert 0 <= scores[part]["map50"] <= 1 and scores[part]["n_true"] > 0
    confusion = pd.read_csv(out / "random" / "confusion.csv", index_col=0)
    assert list(confusion.index) == list(confusion.columns) == ["alpha", "beta", "beta-gamma"]
    assert confusion.to_numpy().sum() == scores["classifier"]["n_test"]
    assert "| random | crop classifier |" in (out / "report.md").read_text()
    mix = pd.read_csv(out / "class_mix.csv").set_index("class")
    assert mix["synthetic"].sum() == pytest.approx(1.0) and mix["n_synthetic"].iloc[0] > 0
    if srs.exists():
        assert mix["srs"].sum() == pytest.approx(1.0) and mix.loc["beta", "srs"] > 0.5
    from flarepipe.data.shards import ShardReader

    shards = {p: ShardReader(out / "random/shards/frames" / f"{p}.h5") for p in data.PARTS}
    assert {p: len(r) for p, r in shards.items()} == scores["frames"]
    assert len(ShardReader(out / "random/shards/crops/test.h5")) == scores["classifier"]["n_test"]
    assert shards["test"].read_target("boxes").counts().sum() == scores["learned"]["n_true"]
    learned = pd.read_csv(out / "random" / "learned_detections.csv")
    assert len(learned) == scores["learned"]["n_predicted"]
    for name in ("example_frames.png", "confusion_and_curves.png"):
        assert (out / name).stat().st_size > 10_000 and f"]({name})" in (
            out / "report.md"
        ).read_text()
    rejected = pd.read_csv(out / "random" / "rejected_frames.csv")
    assert list(rejected.columns) == list(data.REJECTED_COLUMNS)
    assert len(rejected) + sum(scores["frames"].values()) > 0 and rejected["reasons"].ne("").all()
    if not real.exists():
        pytest.skip(f"real data not available: {real} (the study itself ran)")
    name = real.stem.replace(".", "_")
    regions = pd.read_csv(out / "annotated" / name / "regions.csv")
    assert len(regions) >= 1 and set(regions["mw_class"]) <= {"alpha", "beta", "beta-gamma"}
    r = np.hypot(regions[["x0", "x1"]].to_numpy() - 2038, regions[["y0", "y1"]].to_numpy() - 2051)
    assert (r < 1872).all() and regions["confidence"].between(0, 1).all()
    assert (out / "annotated" / name / "annotated.png").stat().st_size > 10_000


def test_bad_frames_and_boxes_are_listed_with_their_reasons(tmp_path):
    """Bad input of the study: a frame without WCS keywords and true boxes outside the image or
    off the disk are left out and listed with their reasons; the good frames still load."""
    from astropy.io import fits

    from flarepipe.archive.sources.synthetic import SyntheticParams
    from flarepipe.archive.sources.synthetic.fulldisk import FullDiskParams, generate_fulldisk

    params = SyntheticParams(scale="tiny", seed=3, days=4, instruments=("HMI",))
    fd = FullDiskParams(instruments=("HMI",), size_hmi=64, p_bad_quality=0, p_missing=0, p_nan=0)
    generate_fulldisk(tmp_path, params, fd)
    records = pd.read_csv(tmp_path / "fulldisk" / "records.csv")
    nowcs = records["path"].iloc[0]
    with fits.open(tmp_path / nowcs) as hdul:
        hdus = fits.HDUList([h.copy() for h in hdul])
    for h in hdus:
        for key in ("CDELT1", "CDELT2", "CRPIX1", "CRPIX2"):
            h.header.remove(key, ignore_missing=True)
    hdus.writeto(tmp_path / nowcs, overwrite=True)
    regions_csv = tmp_path / "truth" / "fulldisk_regions.csv"
    regions = pd.read_csv(regions_csv, dtype={"mtwilson": str})
    t_rec = records["t_rec"].iloc[1]
    template = regions[regions["t_rec"] == t_rec].iloc[0]
    fake = pd.DataFrame(
        [
            {**template, "region_id": "outside", "x_min": 70, "x_max": 80, "y_min": 5, "y_max": 9},
            {**template, "region_id": "corner", "x_min": 0, "x_max": 2, "y_min": 0, "y_max": 2},
        ]
    )
    pd.concat([regions, fake], ignore_index=True).to_csv(regions_csv, index=False)
    frames = data.load_frames(tmp_path / "fulldisk" / "records.csv", regions_csv, 64)
    rej = frames.rejected
    assert list(rej.columns) == list(data.REJECTED_COLUMNS)
    frame_row = rej[rej["path"] == nowcs].iloc[0]
    assert frame_row["region_id"] == "" and "unreadable_file" in frame_row["reasons"]
    assert "lacks the WCS card(s)" in frame_row["detail"] and "CDELT1" in frame_row["detail"]
    boxes = rej[rej["region_id"] != ""].set_index("region_id")
    assert boxes.loc["outside", "reasons"] == "box_outside_image"
    assert boxes.loc["corner", "reasons"] == "box_off_disk"
    assert (boxes["t_rec"] == t_rec).all() and boxes["detail"].str.contains("box x").all()
    assert len(frames.records) == len(records) - 1  # the other frames load
    kept = frames.region_ids[list(frames.records["t_rec"]).index(t_rec)]
    assert "outside" not in kept and "corner" not in kept and len(kept) >= 1
