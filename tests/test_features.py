"""Feature store and shards: per-instrument keyword standardisation, image norm, log option, and
archives without image files (features and shards without the image input)."""

import numpy as np
import pandas as pd
import pytest
import torch

from flarepipe.data.features import NO_IMAGE_REASON, build_shards, extract_features, resize_image
from flarepipe.data.shards import ShardContentError, ShardReader, write_shard

KEYWORD_NAMES = ["usfluxl_mx", "meangbl_g_per_px", "r_value", "area_uhem"]


def _store(tmp_path, n=40):
    rng = np.random.default_rng(0)
    inst = np.array(["HMI"] * (n // 2) + ["MDI"] * (n // 2))
    seq = rng.lognormal(50, 1, size=(n, 16, 4)).astype(np.float32)
    seq[inst == "MDI"] *= 3.0  # another instrument, another scale
    img = rng.normal(0, 100, size=(n, 1, 8, 8)).astype(np.float32)
    meta = pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(n)],
            "region_id": [f"R{i // 4}" for i in range(n)],
            "instrument": inst,
            "t_end": ["2011-01-01T00:00:00.000"] * n,
        }
    )
    path = tmp_path / "features.h5"
    write_shard(
        path,
        meta=meta,
        inputs={"image": img, "sequence": seq},
        targets={"label": np.arange(n) % 2},
        attrs={"keywords": KEYWORD_NAMES},
    )
    split = meta[["sample_id", "region_id", "instrument"]].copy()
    split["split"] = np.where(
        np.arange(n) % 5 == 0, "test", np.where(np.arange(n) % 5 == 1, "val", "train")
    )
    return path, split


def test_standardised_per_instrument_with_training_stats(tmp_path):
    path, split = _store(tmp_path)
    paths = build_shards(path, split, "FUSED_SHARP", tmp_path / "out")
    tr = ShardReader(paths["train"])
    seq = tr.read_all(inputs=("sequence",))["sequence"]
    inst = tr.meta()["instrument"].to_numpy()
    for i in ("HMI", "MDI"):
        flat = seq[inst == i].reshape(-1, 4)
        assert np.allclose(flat.mean(axis=0), 0, atol=1e-4) and np.allclose(
            flat.std(axis=0), 1, atol=1e-3
        )
    img = tr.read_all(inputs=("image",))["image"][inst == "HMI"]
    assert abs(img.mean()) < 1e-4  # images: training statistics of the primary instrument (HMI)
    norm = tr.attrs["normalisation"]
    assert norm["image"]["instrument"] == "HMI" and set(norm["sequences"]) == {"HMI", "MDI"}
    assert len(ShardReader(paths["test"])) == (split["split"] == "test").sum()


def test_log_keywords_and_errors(tmp_path):
    path, split = _store(tmp_path)
    paths = build_shards(path, split, "SHARP_ONLY", tmp_path / "out", log_keywords=["usfluxl_mx"])
    raw = ShardReader(path).read_all(inputs=("sequence",))["sequence"]
    seq = ShardReader(paths["train"]).read_all(inputs=("sequence",))["sequence"]
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
    assert (
        out.shape == (16, 16)
        and np.isfinite(out).all()
        and out.mean() == pytest.approx(5.0, abs=0.05)
    )


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
    for name, rows, tr in (
        ("HMI", slice(0, 40), slice(0, 30)),
        ("MDI", slice(40, 60), slice(40, 50)),
    ):
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
    from flarepipe.config import settings
    from flarepipe.io.fitsio import read_patch
    from flarepipe.samples.labels import label_windows

    arc = load_archive(tiny_archive[0])
    cand = label_windows(arc.records, arc.flares, settings("labels"))
    samples = cand[cand["dropped"].fillna("").eq("")] if "dropped" in cand else cand
    samples = samples.assign(label=0).head(40).reset_index(drop=True)
    assert len(samples) > 5
    one = feat.extract_features(
        arc.root, arc.records, samples, tmp_path / "one.h5", image_size=16, threads=1
    )
    monkeypatch.setattr(feat, "_PARALLEL_MIN", 0)
    two = feat.extract_features(
        arc.root, arc.records, samples, tmp_path / "two.h5", image_size=16, threads=2
    )
    a, b = ShardReader(one).read_all(), ShardReader(two).read_all()
    np.testing.assert_array_equal(a["image"], b["image"])
    np.testing.assert_array_equal(a["sequence"], b["sequence"])
    # the first image is the sample's last record, subsampled (HMI) and resized
    row = samples.iloc[0]
    data, _ = read_patch(arc.root / arc.records.at[int(row["last_record"]), "path"])
    if row["instrument"] == "HMI":
        data = data[::4, ::4]
    np.testing.assert_allclose(a["image"][0, 0], resize_image(data, 16), rtol=1e-6)
    assert ShardReader(one).input_attrs("image")["channels"] == ["magnetogram"]


def test_features_at_two_sides_are_each_resized_from_the_original_patch(tiny_archive, tmp_path):
    """Image size as an experiment axis: the store of each side (rules features and
    features_size) holds the original patches resized to that side, not one side resized to
    the other; the sequences and samples are the same, and each side's shards are standardised
    with their own images' statistics."""
    from flarepipe.io.fitsio import read_patch

    arc, samples, split = _samples(tiny_archive, n=20)
    stores = {
        size: extract_features(
            arc.root,
            arc.records,
            samples,
            tmp_path / f"f{size}.h5",
            image_size=size,
            threads=1,
            resize="bicubic",
        )
        for size in (16, 24)
    }
    data = {size: ShardReader(p).read_all() for size, p in stores.items()}
    for i, row in samples.iterrows():
        patch, _ = read_patch(arc.root / arc.records.at[int(row["last_record"]), "path"])
        if row["instrument"] == "HMI":
            patch = patch[::4, ::4]
        for size in (16, 24):
            want = resize_image(patch, size, "bicubic")
            np.testing.assert_allclose(data[size]["image"][i, 0], want, rtol=1e-6, atol=1e-6)
    assert data[16]["image"].shape[-2:] == (16, 16) and data[24]["image"].shape[-2:] == (24, 24)
    # from the patch, not from the other side: resizing 16 px images up differs
    up = resize_image(data[16]["image"][0, 0], 24, "bicubic")
    assert not np.allclose(up, data[24]["image"][0, 0], rtol=1e-3)
    np.testing.assert_array_equal(data[16]["sequence"], data[24]["sequence"])
    np.testing.assert_array_equal(data[16]["label"], data[24]["label"])
    shards = {
        size: build_shards(path, split, "SHARP_ONLY", tmp_path / f"sh{size}")
        for size, path in stores.items()
    }
    for size, paths in shards.items():
        tr = ShardReader(paths["train"])
        assert tr.image_shape[-1] == size
        img = tr.read_all(inputs=("image",))["image"]
        assert abs(float(img.mean())) < 1e-4  # z-scored with the statistics of this side
    np.testing.assert_array_equal(
        ShardReader(shards[16]["test"]).meta()["sample_id"],
        ShardReader(shards[24]["test"]).meta()["sample_id"],
    )


# -- archives whose records have no image files (e.g. the tables source) --------------------------
def _samples(tiny_archive, n=60):
    from flarepipe.archive.layout import load_archive
    from flarepipe.config import settings
    from flarepipe.samples.labels import label_windows

    arc = load_archive(tiny_archive[0])
    cand = label_windows(arc.records, arc.flares, settings("labels"))
    samples = cand[cand["dropped"].fillna("").eq("")] if "dropped" in cand else cand
    # labels planted by the test: both classes in every split whatever the tiny archive's flares
    samples = samples.head(n).reset_index(drop=True)
    samples = samples.assign(label=np.arange(len(samples)) % 2)
    split = samples[["sample_id", "region_id", "instrument"]].copy()
    k = np.arange(len(split)) % 5
    split["split"] = np.where(k == 0, "test", np.where(k == 1, "val", "train"))
    return arc, samples, split


@pytest.fixture(scope="module")
def imageless(tiny_archive, tmp_path_factory):
    """Feature stores of the same samples with and without image files, and image-less shards."""
    arc, samples, split = _samples(tiny_archive)
    d = tmp_path_factory.mktemp("imageless")
    with_images = extract_features(arc.root, arc.records, samples, d / "with.h5", image_size=16)
    no_files = arc.records.assign(path="")
    store = extract_features(arc.root, no_files, samples, d / "features.h5", image_size=16)
    shards = build_shards(store, split, "SHARP_ONLY", d / "shards")
    return {
        "with": with_images,
        "store": store,
        "shards": shards,
        "samples": samples,
        "split": split,
        "arc": arc,
    }


def test_archive_without_images_gives_image_less_features(imageless):
    full, store = ShardReader(imageless["with"]), ShardReader(imageless["store"])
    assert full.inputs == ("sequence", "image")
    assert store.inputs == ("sequence",) and store.attrs["no_image_reason"] == NO_IMAGE_REASON
    # the sequences and labels do not depend on whether the images exist
    np.testing.assert_array_equal(store.read_all()["sequence"], full.read_all()["sequence"])
    np.testing.assert_array_equal(store.labels, full.labels)
    assert list(store.meta()["sample_id"]) == list(imageless["samples"]["sample_id"])
    for split, path in imageless["shards"].items():
        r = ShardReader(path)
        assert r.inputs == ("sequence",) and r.attrs["split"] == split
        assert "image" not in r.attrs["normalisation"]
        with pytest.raises(ShardContentError, match="no input 'image'.*tables source"):
            r.require(("image",))
    # standardised exactly as the shards of the archive with images
    other = build_shards(
        imageless["with"],
        imageless["split"],
        "SHARP_ONLY",
        imageless["store"].parent / "full_shards",
    )
    for split in ("train", "val", "test"):
        a = ShardReader(other[split]).read_all(inputs=("sequence",))
        b = ShardReader(imageless["shards"][split]).read_all()
        np.testing.assert_array_equal(a["sequence"], b["sequence"])


def test_partly_missing_image_files_rejected(imageless, tmp_path):
    arc, samples = imageless["arc"], imageless["samples"]
    records = arc.records.copy()
    records.loc[int(samples["last_record"].iloc[3]), "path"] = ""
    assert len(samples) > 10
    match = rf"1 of {len(samples)} samples' last records\) have no magnetogram path"
    with pytest.raises(ValueError, match=match):
        extract_features(arc.root, records, samples, tmp_path / "f.h5", image_size=16)
    assert not (tmp_path / "f.h5").exists()


def test_image_less_shards_train_sequence_models_not_cnns(imageless, tmp_path):
    from flarepipe.config import train_settings
    from flarepipe.training.baselines import train_logreg
    from flarepipe.training.fit import train_one

    torch.set_num_threads(1)
    shards = imageless["shards"]
    info = train_one(
        shards,
        "lstm",
        {"hidden": 8, "layers": 1},
        train_settings("lstm", {"max_epochs": 1, "batch_size": 16}),
        tmp_path / "lstm",
    )
    preds = pd.read_csv(info["predictions"])
    assert info["n_train"] == len(ShardReader(shards["train"])) and len(preds) == sum(
        len(ShardReader(shards[s])) for s in ("val", "test")
    )
    assert preds["prob"].between(0, 1).all()
    summary = train_logreg(shards, tmp_path / "logreg")
    assert len(summary["coef"]) == 4 and (tmp_path / "logreg" / "predictions.csv").exists()
    with pytest.raises(
        ShardContentError, match=r"train\.h5 has no input 'image' that model 'cnn' needs.*tables"
    ):
        train_one(
            shards,
            "cnn",
            {"width": 0.125},
            train_settings("cnn", {"max_epochs": 1}),
            tmp_path / "cnn",
        )
    assert not (tmp_path / "cnn" / "predictions.csv").exists()


def test_unreadable_magnetogram_names_the_sample_and_the_file(imageless, tmp_path):
    """A magnetogram that no longer reads (emptied after quality ran) is a ValueError naming the
    sample and the file, not an astropy OSError without a path."""
    arc, samples = imageless["arc"], imageless["samples"]
    records = arc.records.copy()
    empty = tmp_path / "emptied.fits"
    empty.write_bytes(b"")
    records.loc[int(samples["last_record"].iloc[3]), "path"] = str(empty)  # absolute: root / abs
    with pytest.raises(ValueError, match=rf"sample {samples['sample_id'].iloc[3]}: .*emptied.fits"):
        extract_features(arc.root, records, samples, tmp_path / "f.h5", image_size=16)
    assert not (tmp_path / "f.h5").exists()


def test_dataset_image_transforms_reverse_and_hale_joy_correct():
    """S2 Fig 11's datasets: reversed polarity negates every image; the Hale/Joy correction
    mirrors southern images north-south and negates them, leaving northern ones alone."""
    from flarepipe.data.features import transform_images
    from flarepipe.samples.registry import DATASETS, register_dataset

    img = np.arange(2 * 1 * 3 * 2, dtype=np.float32).reshape(2, 1, 3, 2)
    meta = pd.DataFrame({"sample_id": ["n", "s"], "lat_fwt": [12.0, -8.0]})
    assert np.array_equal(transform_images(img, "reverse_polarity", meta), -img)
    hj = transform_images(img, "hale_joy", meta)
    assert np.array_equal(hj[0], img[0])  # north unchanged
    assert np.array_equal(hj[1, 0], -img[1, 0, ::-1, :])  # south: row 0 (south edge) -> top
    assert hj[1, 0, 0, 0] == -img[1, 0, 2, 0] and img[1, 0, 0, 0] == 6.0  # input unchanged
    with pytest.raises(ValueError, match=r"1 sample\(s\) have none .* e.g. s"):
        transform_images(img, "hale_joy", meta.assign(lat_fwt=[1.0, np.nan]), "SHARP_HALE_JOY")
    assert DATASETS["SHARP_REVERSED"].image_transform == "reverse_polarity"
    assert DATASETS["SHARP_HALE_JOY"].primary == "HMI"
    with pytest.raises(ValueError, match="image_transform must be one of"):
        register_dataset("X_FLIP", "HMI", image_transform="flip")
