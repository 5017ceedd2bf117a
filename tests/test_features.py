"""Shards from the feature store: per-instrument keyword standardisation, image norm, log option."""

import numpy as np
import pandas as pd
import pytest

from flarepipe.data.features import build_shards, resize_image
from flarepipe.data.shards import ShardReader, write_shard


def _store(tmp_path, n=40):
    rng = np.random.default_rng(0)
    inst = np.array(["HMI"] * (n // 2) + ["MDI"] * (n // 2))
    seq = rng.lognormal(50, 1, size=(n, 16, 4)).astype(np.float32)
    seq[inst == "MDI"] *= 3.0  # another instrument, another scale
    img = rng.normal(0, 100, size=(n, 1, 8, 8)).astype(np.float32)
    meta = pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "region_id": [f"R{i // 4}" for i in range(n)],
                         "instrument": inst, "t_end": ["2011-01-01T00:00:00.000"] * n})
    path = tmp_path / "features.h5"
    write_shard(path, img, seq, np.arange(n) % 2, meta, {"keywords": ["usfluxl_mx", "meangbl_g_per_px", "r_value", "area_uhem"]})
    split = meta[["sample_id", "region_id", "instrument"]].copy()
    split["split"] = np.where(np.arange(n) % 5 == 0, "test", np.where(np.arange(n) % 5 == 1, "val", "train"))
    return path, split


def test_standardised_per_instrument_with_training_stats(tmp_path):
    path, split = _store(tmp_path)
    paths = build_shards(path, split, "FUSED_SHARP", tmp_path / "out")
    tr = ShardReader(paths["train"])
    seq = tr.read_all(inputs=("sequence",))["sequences"]
    inst = tr.meta()["instrument"].to_numpy()
    for i in ("HMI", "MDI"):
        flat = seq[inst == i].reshape(-1, 4)
        assert np.allclose(flat.mean(axis=0), 0, atol=1e-4) and np.allclose(flat.std(axis=0), 1, atol=1e-3)
    img = tr.read_all(inputs=("image",))["images"][inst == "HMI"]
    assert abs(img.mean()) < 1e-4  # images: training statistics of the primary instrument (HMI)
    norm = tr.attrs["normalisation"]
    assert norm["image"]["instrument"] == "HMI" and set(norm["sequences"]) == {"HMI", "MDI"}
    assert len(ShardReader(paths["test"])) == (split["split"] == "test").sum()


def test_log_keywords_and_errors(tmp_path):
    path, split = _store(tmp_path)
    paths = build_shards(path, split, "SHARP_ONLY", tmp_path / "out", log_keywords=["usfluxl_mx"])
    raw = ShardReader(path).read_all(inputs=("sequence",))["sequences"]
    seq = ShardReader(paths["train"]).read_all(inputs=("sequence",))["sequences"]
    # log-normal raw values become normal: the standardised log column is symmetric
    col = seq[..., 0].ravel()
    assert abs(np.mean(col**3)) < 0.5 and raw[..., 0].max() > 1e20
    with pytest.raises(ValueError, match="shard.log_keywords"):
        build_shards(path, split, "SHARP_ONLY", tmp_path / "o2", log_keywords=["usflux"])
    bad = split.copy()
    bad.loc[0, "sample_id"] = "nope"
    with pytest.raises(ValueError, match="not in"):
        build_shards(path, bad, "SHARP_ONLY", tmp_path / "o3")


def test_resize_bilinear_keeps_mean_and_blanks():
    img = np.full((40, 80), 5.0, np.float32)
    img[0, 0] = np.nan
    out = resize_image(img, 16)
    assert out.shape == (16, 16) and np.isfinite(out).all() and out.mean() == pytest.approx(5.0, abs=0.05)


def test_standardise_keywords_per_instrument_train_stats():
    from flarepipe.data.features import standardise_keywords

    rng = np.random.default_rng(0)
    seq = np.concatenate([rng.normal(5.0, 2.0, (40, 3, 2)), rng.normal(-1.0, 0.5, (20, 3, 2))])
    seq[:, :, 1] *= 1e22  # flux-sized values: statistics must not overflow
    inst = np.array(["HMI"] * 40 + ["MDI"] * 20)
    train = np.zeros(60, bool)
    train[:30] = True
    train[40:50] = True
    out, stats = standardise_keywords(seq, inst, train)
    for name, rows, tr in (("HMI", slice(0, 40), slice(0, 30)), ("MDI", slice(40, 60), slice(40, 50))):
        ref = seq[tr].reshape(-1, 2)
        np.testing.assert_allclose(stats[name]["mean"], ref.mean(axis=0))
        np.testing.assert_allclose(out[rows], (seq[rows] - ref.mean(axis=0)) / ref.std(axis=0))
    only_test = train.copy()
    only_test[40:] = False
    with pytest.raises(ValueError, match="MDI"):
        standardise_keywords(seq, inst, only_test)
    out2, stats2 = standardise_keywords(seq, inst, only_test, fallback_all=True)
    np.testing.assert_allclose(stats2["MDI"]["mean"], seq[40:].reshape(-1, 2).mean(axis=0))


def test_extract_features_same_with_worker_processes(tiny_archive, tmp_path, monkeypatch):
    import flarepipe.data.features as feat
    from flarepipe.archive.layout import load_archive
    from flarepipe.io.fitsio import read_patch
    from flarepipe.config import settings
    from flarepipe.samples.labels import label_windows

    arc = load_archive(tiny_archive[0])
    cand = label_windows(arc.records, arc.flares, settings("labels"))
    samples = cand[cand["dropped"].fillna("").eq("")] if "dropped" in cand else cand
    samples = samples.assign(label=0).head(40).reset_index(drop=True)
    assert len(samples) > 5
    one = feat.extract_features(arc.root, arc.records, samples, tmp_path / "one.h5", image_size=16, threads=1)
    monkeypatch.setattr(feat, "_PARALLEL_MIN", 0)
    two = feat.extract_features(arc.root, arc.records, samples, tmp_path / "two.h5", image_size=16, threads=2)
    a, b = ShardReader(one).read_all(), ShardReader(two).read_all()
    np.testing.assert_array_equal(a["images"], b["images"])
    np.testing.assert_array_equal(a["sequences"], b["sequences"])
    # the first image is the sample's last record, subsampled (HMI) and resized
    row = samples.iloc[0]
    data, _ = read_patch(arc.root / arc.records.at[int(row["last_record"]), "path"])
    if row["instrument"] == "HMI":
        data = data[::4, ::4]
    np.testing.assert_allclose(a["images"][0, 0], resize_image(data, 16), rtol=1e-6)
