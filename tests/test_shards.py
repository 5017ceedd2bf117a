"""Shard layout round trip, layout errors, atomic writes; datasets and datamodule over shards."""

from __future__ import annotations

import pickle
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from flarepipe.data.datamodule import FlareDataModule, InMemoryDataset, ShardDataset
from flarepipe.data.shards import LAYOUT_VERSION, ShardLayoutError, ShardReader, write_shard

N, H, W, T, K = 10, 8, 6, 5, 4


def _arrays(n: int = N, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((n, 1, H, W)).astype(np.float32)
    sequences = rng.standard_normal((n, T, K)).astype(np.float32)
    labels = np.arange(n) % 2
    meta = pd.DataFrame(
        {
            "sample_id": [f"HARP{i}_20110215T0159{i:02d}" for i in range(n)],
            "region_id": [f"HARP{i // 3}" for i in range(n)],
            "instrument": ["HMI" if i % 3 else "MDI" for i in range(n)],
            "t_end": pd.date_range("2011-02-15", periods=n, freq="96min", tz="UTC"),
        }
    )
    return images, sequences, labels, meta


@pytest.fixture()
def shard(tmp_path: Path) -> Path:
    images, sequences, labels, meta = _arrays()
    attrs = {"keywords": ["usflux", "meangbl", "r_value", "area"], "normalisation": {"a": 1.5}}
    return write_shard(tmp_path / "train.h5", images, sequences, labels, meta, attrs)


@pytest.mark.parametrize("compression", [None, "lzf"])
def test_round_trip(tmp_path: Path, compression: str | None) -> None:
    images, sequences, labels, meta = _arrays()
    path = write_shard(
        tmp_path / "s.h5", images, sequences, labels, meta, {"keywords": list("abcd")}, compression
    )
    r = ShardReader(path)
    assert len(r) == N
    for i in (0, 3, N - 1, -1):
        s = r.read(i)
        np.testing.assert_array_equal(s["image"], images[i])
        np.testing.assert_array_equal(s["sequence"], sequences[i])
        assert s["label"] == labels[i]
    np.testing.assert_array_equal(r.read_batch([3, 1])["images"], images[[3, 1]])
    all_ = r.read_all()
    np.testing.assert_array_equal(all_["images"], images)
    np.testing.assert_array_equal(all_["sequences"], sequences)
    np.testing.assert_array_equal(all_["labels"], labels)
    m = r.meta()
    assert list(m["sample_id"]) == list(meta["sample_id"])
    assert list(m["instrument"]) == list(meta["instrument"])
    assert m["t_end"].iloc[1].startswith("2011-02-15T01:36:00")
    assert r.attrs["layout_version"] == LAYOUT_VERSION
    assert r.attrs["keywords"] == list("abcd")
    assert r.attrs["image_size"] == [H, W]
    with pytest.raises(IndexError):
        r.read(N)


def test_layout_on_disk(shard: Path) -> None:
    with h5py.File(shard) as f:
        assert f["images"].dtype == np.float32 and f["images"].shape == (N, 1, H, W)
        assert f["images"].chunks == (1, 1, H, W)
        assert f["labels"].dtype == np.int64
        assert f["sequences"].shape == (N, T, K)
        assert set(f) == {
            "images",
            "sequences",
            "labels",
            "sample_id",
            "region_id",
            "instrument",
            "t_end",
        }
    assert ShardReader(shard).attrs["normalisation"] == {"a": 1.5}


def test_layout_version_error(shard: Path) -> None:
    with h5py.File(shard, "a") as f:
        f.attrs["layout_version"] = LAYOUT_VERSION + 1
    with pytest.raises(ShardLayoutError, match=r"train\.h5.*layout_version"):
        ShardReader(shard)


def test_missing_dataset_error(shard: Path) -> None:
    with h5py.File(shard, "a") as f:
        del f["sequences"]
    with pytest.raises(ShardLayoutError, match=r"train\.h5.*sequences"):
        ShardReader(shard)


def test_missing_file_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        ShardReader(tmp_path / "nope.h5")


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images, sequences, labels, meta = _arrays()
    target = tmp_path / "val.h5"

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(h5py.Group, "create_dataset", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_shard(target, images, sequences, labels, meta)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary left either


def test_write_rejects_bad_input(tmp_path: Path) -> None:
    images, sequences, labels, meta = _arrays()
    with pytest.raises(ValueError, match="sample counts"):
        write_shard(tmp_path / "a.h5", images[:-1], sequences, labels, meta)
    with pytest.raises(ValueError, match="0 or 1"):
        write_shard(tmp_path / "a.h5", images, sequences, labels + 1, meta)
    with pytest.raises(ValueError, match="t_end"):
        write_shard(tmp_path / "a.h5", images, sequences, labels, meta.drop(columns="t_end"))
    assert not (tmp_path / "a.h5").exists()


def test_reader_pickles_after_open(shard: Path) -> None:
    r = ShardReader(shard)
    r.read(0)  # opens the file in this process
    r2 = pickle.loads(pickle.dumps(r))
    np.testing.assert_array_equal(r2.read(2)["image"], r.read(2)["image"])


def test_shard_dataset(shard: Path) -> None:
    ds = ShardDataset(shard)
    s = ds[3]
    assert s["image"].shape == (1, H, W) and s["image"].dtype == torch.float32
    assert s["sequence"].shape == (T, K)
    assert s["label"].dtype == torch.int64 and int(s["label"]) == 1
    assert int(s["index"]) == 3
    only_seq = ShardDataset(shard, inputs=("sequence",))[0]
    assert "image" not in only_seq
    with pytest.raises(ValueError, match="inputs"):
        ShardDataset(shard, inputs=("magnetogram",))


def test_in_memory_dataset_matches_lazy(shard: Path) -> None:
    lazy, mem = ShardDataset(shard), InMemoryDataset(shard)
    batch = mem.__getitems__([4, 1, 7])
    assert batch["image"].shape == (3, 1, H, W)
    for j, i in enumerate([4, 1, 7]):
        torch.testing.assert_close(batch["image"][j], lazy[i]["image"])
        torch.testing.assert_close(batch["sequence"][j], lazy[i]["sequence"])
        assert int(batch["label"][j]) == int(lazy[i]["label"])
    assert batch["index"].tolist() == [4, 1, 7]


@pytest.mark.parametrize("preload", [False, True])
def test_datamodule_shapes(tmp_path: Path, preload: bool) -> None:
    for split, n in (("train", 9), ("val", 6), ("test", 4)):
        images, sequences, labels, meta = _arrays(n, seed=n)
        write_shard(tmp_path / f"{split}.h5", images, sequences, labels, meta)
    dm = FlareDataModule(tmp_path, batch_size=4, preload=preload)
    dm.setup("fit")
    train = list(dm.train_dataloader())
    # 9 % 4 == 1: the single-sample last batch (which batch norm cannot train on) is dropped.
    assert [b["label"].shape[0] for b in train] == [4, 4]
    assert train[0]["image"].shape == (4, 1, H, W)
    assert train[0]["sequence"].shape == (4, T, K)
    val = list(dm.val_dataloader())
    assert torch.cat([b["index"] for b in val]).tolist() == list(range(6))
    test = list(dm.predict_dataloader("test"))
    assert sum(b["label"].shape[0] for b in test) == 4


def test_datamodule_with_worker(tmp_path: Path) -> None:
    images, sequences, labels, meta = _arrays(12)
    for split in ("train", "val", "test"):
        write_shard(tmp_path / f"{split}.h5", images, sequences, labels, meta)
    dm = FlareDataModule(
        {s: tmp_path / f"{s}.h5" for s in ("train", "val", "test")},
        batch_size=5,
        num_workers=1,
        inputs=("image",),
    )
    dm.setup("fit")
    ds = dm.dataset("val")
    ds[0]  # open in the parent first: the worker must not reuse this handle
    pickle.loads(pickle.dumps(ds))  # what a spawned worker receives
    loader = dm.val_dataloader()
    assert loader.persistent_workers
    got = torch.cat([b["image"] for b in loader])
    np.testing.assert_array_equal(got.numpy(), images)


@pytest.mark.parametrize("cache", [True, False])
def test_read_batch_any_order(shard: Path, cache: bool) -> None:
    images, sequences, labels, _ = _arrays()
    r = ShardReader(shard, cache_sequences=cache)
    idx = [7, 2, 2, 9, 0]
    b = r.read_batch(idx)
    np.testing.assert_array_equal(b["images"], images[idx])
    np.testing.assert_array_equal(b["sequences"], sequences[idx])
    np.testing.assert_array_equal(b["labels"], labels[idx])
    assert r.read_batch([], ("sequence",))["sequences"].shape == (0, T, K)
    with pytest.raises(IndexError, match="train.h5"):
        r.read_batch([N])
