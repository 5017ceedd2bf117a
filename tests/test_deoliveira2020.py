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
    crops, labels, frame = data.region_crops(frames, 16, False, ("alpha", "beta", "beta-gamma"))
    assert list(labels) == [1, 2] and list(frame) == [0, 0] and crops.shape == (2, 16, 16)
    assert crops[0].max() == 1000.0  # centred on its region
    # delta as its own class, which this study's classes leave out
    _, labels, _ = data.region_crops(frames, 16, True, ("alpha", "beta", "beta-gamma"))
    assert list(labels) == [1]


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
    rejected = pd.read_csv(out / "random" / "rejected_frames.csv")
    assert list(rejected.columns) == ["t_rec", "path", "reasons"]
    assert len(rejected) + sum(scores["frames"].values()) > 0 and rejected["reasons"].ne("").all()
    if not real.exists():
        pytest.skip(f"real data not available: {real} (the study itself ran)")
    name = real.stem.replace(".", "_")
    regions = pd.read_csv(out / "annotated" / name / "regions.csv")
    assert len(regions) >= 1 and set(regions["mw_class"]) <= {"alpha", "beta", "beta-gamma"}
    r = np.hypot(regions[["x0", "x1"]].to_numpy() - 2038, regions[["y0", "y1"]].to_numpy() - 2051)
    assert (r < 1872).all() and regions["confidence"].between(0, 1).all()
    assert (out / "annotated" / name / "annotated.png").stat().st_size > 10_000
