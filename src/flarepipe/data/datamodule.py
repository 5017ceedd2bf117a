"""PyTorch datasets and the Lightning DataModule over HDF5 shards.

Two ways to feed a model, chosen by ``FlareDataModule(preload=...)``:

* **lazy** (:class:`ShardDataset`): each batch is read from the shard when it is asked for
  (``__getitems__``: one direct chunk read per image, straight into the batch array) by a
  :class:`~flarepipe.data.shards.ShardReader` that opens the file in whichever worker process reads.
  Memory stays flat however big the shard (the small sequence array is cached); use
  ``num_workers > 0`` to overlap reading with training.
* **preload** (:class:`InMemoryDataset`): the whole shard is read once into tensors (optionally on
  the GPU) and batches are gathered with one indexing operation (``__getitems__``), no per-sample
  Python and no collation. The fast path for shards that fit in memory.

Both yield dicts keyed by the shard's names (layout v2, :mod:`flarepipe.data.shards`): the
requested inputs (``image`` float32 [C,H,W], ``sequence`` float32 [T,K], ...; batched [B,...]), the
requested targets (binary/class: int64; boxes: a dict ``{"boxes": [m,4], "labels": [m]}`` per
sample, a list of them per batch) and ``index`` (int64, position in the shard). Asking for an input
or target a shard lacks raises :class:`~flarepipe.data.shards.ShardContentError` naming the file
and what it holds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from flarepipe.data.shards import BoxTarget, ShardContentError, ShardReader

__all__ = [
    "INPUTS",
    "SPLITS",
    "FlareDataModule",
    "InMemoryDataset",
    "ShardDataset",
    "passthrough_collate",
]

#: Names of the well-known model inputs (a shard may hold others).
INPUTS: tuple[str, ...] = ("image", "sequence")
#: Split names, in the order shards are expected.
SPLITS: tuple[str, ...] = ("train", "val", "test")


def _names(names: Sequence[str] | None, what: str) -> tuple[str, ...] | None:
    if names is None:
        return None
    if isinstance(names, str):
        raise ValueError(f"{what} must be a sequence of names, got the string {names!r}")
    names = tuple(names)
    if what == "inputs" and not names:
        raise ValueError("inputs must name at least one input, e.g. ('image',)")
    return names


def _box_dicts(target: BoxTarget, device: torch.device | None = None) -> list[dict[str, Any]]:
    out = []
    for i in range(len(target)):
        boxes, labels = target.sample(i)
        out.append(
            {
                "boxes": torch.as_tensor(boxes, device=device),
                "labels": torch.as_tensor(labels, device=device),
            }
        )
    return out


def _reader(shard: str | os.PathLike | ShardReader) -> ShardReader:
    """``shard`` itself if it is a reader, else a reader of the file (checked on opening)."""
    return shard if isinstance(shard, ShardReader) else ShardReader(shard)


def _to_torch(arrays: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: _box_dicts(v) if isinstance(v, BoxTarget) else torch.from_numpy(v)
        for k, v in arrays.items()
    }


class ShardDataset(Dataset):
    """Lazy per-sample view of one shard.

    Parameters
    ----------
    path
        Shard file, or a :class:`~flarepipe.data.shards.ShardReader` of it (used as it is).
    inputs
        Which inputs to read, e.g. ``("image",)`` or ``("sequence",)``; ``None``: all the shard
        has.
    targets
        Which targets to read; ``None`` (default): all the shard has.

    Raises
    ------
    ShardContentError
        When the shard lacks an input or target asked for.

    Notes
    -----
    The underlying file is opened on the first ``__getitem__`` in each process, so the dataset
    pickles cleanly (spawned workers) and forked workers never share an HDF5 handle.
    """

    def __init__(
        self,
        path: str | os.PathLike | ShardReader,
        inputs: Sequence[str] | None = None,
        targets: Sequence[str] | None = None,
    ) -> None:
        self.reader = _reader(path)
        inputs = _names(inputs, "inputs")
        targets = _names(targets, "targets")
        self.inputs = self.reader.inputs if inputs is None else inputs
        self.targets = tuple(self.reader.targets) if targets is None else targets
        self.reader.require(self.inputs, self.targets)

    @property
    def path(self) -> Path:
        """The shard file."""
        return self.reader.path

    @property
    def labels(self) -> np.ndarray:
        """The binary ``label`` target (int64 [N]) without reading any sample."""
        return self.reader.labels

    def __len__(self) -> int:
        return len(self.reader)

    def __getitems__(self, indices: Sequence[int]) -> dict[str, Any]:
        """A whole batch as tensors (used by the DataLoader with :func:`passthrough_collate`)."""
        out = _to_torch(self.reader.read_batch(indices, self.inputs, self.targets))
        out["index"] = torch.as_tensor(indices, dtype=torch.int64)
        return out

    def __getitem__(self, i: int) -> dict[str, Any]:
        sample = self.reader.read(int(i), self.inputs, self.targets)
        out: dict[str, Any] = {}
        for key, value in sample.items():
            if isinstance(value, dict):
                out[key] = {k: torch.from_numpy(v) for k, v in value.items()}
            elif isinstance(value, int):
                out[key] = torch.tensor(value, dtype=torch.int64)
            else:
                out[key] = torch.from_numpy(value)
        out["index"] = torch.tensor(int(i), dtype=torch.int64)
        return out


class InMemoryDataset(Dataset):
    """A whole shard held as tensors; batches are gathered in one indexing step.

    Parameters
    ----------
    path
        Shard file, read completely once, or a :class:`~flarepipe.data.shards.ShardReader` of it.
    inputs
        Which inputs to load (only those are held in memory); ``None``: all the shard has.
    targets
        Which targets to load; ``None`` (default): all the shard has.
    device
        Where the tensors live (``"cpu"`` default; ``"cuda"`` keeps a GPU-resident copy, then use
        ``num_workers=0``).

    Raises
    ------
    ShardContentError
        When the shard lacks an input or target asked for.

    Notes
    -----
    Use with :func:`passthrough_collate`: ``__getitems__`` already returns a batched dict. Box
    targets stay on the host as a :class:`~flarepipe.data.shards.BoxTarget` and are gathered per
    batch.
    """

    def __init__(
        self,
        path: str | os.PathLike | ShardReader,
        inputs: Sequence[str] | None = None,
        targets: Sequence[str] | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        reader = _reader(path)
        self.path = reader.path
        inputs = _names(inputs, "inputs")
        targets = _names(targets, "targets")
        self.inputs = reader.inputs if inputs is None else inputs
        self.targets = tuple(reader.targets) if targets is None else targets
        arrays = reader.read_all(self.inputs, self.targets)
        self._n = len(reader)
        reader.close()
        self.device = torch.device(device)
        self.boxes: dict[str, BoxTarget] = {
            k: v for k, v in arrays.items() if isinstance(v, BoxTarget)
        }
        self.tensors: dict[str, torch.Tensor] = {
            k: torch.from_numpy(v).to(self.device) for k, v in arrays.items() if k not in self.boxes
        }

    @property
    def labels(self) -> np.ndarray:
        """The binary ``label`` target (int64 [N])."""
        if "label" not in self.tensors:
            raise ShardContentError(
                f"{self.path}: the target 'label' was not loaded (targets {list(self.targets)})"
            )
        return self.tensors["label"].cpu().numpy()

    def __len__(self) -> int:
        return self._n

    def __getitems__(self, indices: Sequence[int]) -> dict[str, Any]:
        idx = torch.as_tensor(indices, dtype=torch.int64, device=self.device)
        out: dict[str, Any] = {k: v.index_select(0, idx) for k, v in self.tensors.items()}
        for k, target in self.boxes.items():
            out[k] = _box_dicts(target.take(np.asarray(indices, dtype=np.int64)), self.device)
        out["index"] = idx
        return out

    def __getitem__(self, i: int) -> dict[str, Any]:
        out: dict[str, Any] = {k: v[int(i)] for k, v in self.tensors.items()}
        for k, target in self.boxes.items():
            out[k] = _box_dicts(target.take([int(i)]), self.device)[0]
        out["index"] = torch.tensor(int(i), dtype=torch.int64, device=self.device)
        return out


def passthrough_collate(batch: Any) -> Any:
    """Collate for datasets whose ``__getitems__`` already returns a batched dict."""
    if isinstance(batch, Mapping):
        return batch
    return torch.utils.data.default_collate(batch)


class FlareDataModule(pl.LightningDataModule):
    """Train/val/test loaders over the shards of one dataset run.

    Parameters
    ----------
    shards
        Either a folder holding ``train.h5``, ``val.h5``, ``test.h5`` (the shard stage's
        ``results/shards/<dataset>/run<run>/``) or a mapping ``split -> path`` (or ``split ->``
        :class:`~flarepipe.data.shards.ShardReader`, opened once by the caller and used for the
        checks and the datasets).
    batch_size
        Samples per batch (S1: 64).
    num_workers
        Loader worker processes; persistent between epochs when > 0.
    inputs
        Inputs to load: ``("sequence",)`` for the LSTM, ``("image",)`` for the CNNs; ``None``
        (default): all a shard has.
    targets
        Targets to load, e.g. ``("label",)``; ``None`` (default): all a shard has.
    preload
        Read each shard completely into memory once (:class:`InMemoryDataset`) instead of lazy
        per-sample reads (:class:`ShardDataset`).
    device
        With ``preload``, where the tensors live (``"cpu"`` or ``"cuda"``). GPU-resident data needs
        ``num_workers=0``.
    drop_last
        Drop the last incomplete training batch. ``None`` (default) drops it only when it would
        hold a single sample, which batch norm cannot train on.

    Raises
    ------
    FileNotFoundError
        When a split's shard is missing (at :meth:`setup` or :meth:`check`).
    ShardContentError
        When a shard lacks an input or target asked for (at :meth:`setup` or :meth:`check`).
    """

    def __init__(
        self,
        shards: str | os.PathLike | Mapping[str, str | os.PathLike | ShardReader],
        batch_size: int = 64,
        num_workers: int = 0,
        inputs: Sequence[str] | None = None,
        preload: bool = False,
        device: str = "cpu",
        drop_last: bool | None = None,
        targets: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self._readers: dict[str, ShardReader] = {}
        if isinstance(shards, Mapping):
            self._readers = {str(k): v for k, v in shards.items() if isinstance(v, ShardReader)}
            self.paths = {
                str(k): v.path if isinstance(v, ShardReader) else Path(v) for k, v in shards.items()
            }
        else:
            self.paths = {s: Path(shards) / f"{s}.h5" for s in SPLITS}
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.inputs = _names(inputs, "inputs")
        self.targets = _names(targets, "targets")
        self.preload = bool(preload)
        self.device = device
        if self.preload and torch.device(device).type != "cpu" and self.num_workers:
            raise ValueError("device-resident preloaded data needs num_workers=0")
        self.drop_last = drop_last
        self.datasets: dict[str, Dataset] = {}

    def reader(self, split: str) -> ShardReader:
        """The :class:`~flarepipe.data.shards.ShardReader` of ``split``'s shard (made once)."""
        if split not in self._readers:
            if split not in self.paths:
                raise KeyError(f"no shard given for split {split!r}; have {sorted(self.paths)}")
            self._readers[split] = ShardReader(self.paths[split])
        return self._readers[split]

    def dataset(self, split: str) -> Dataset:
        """The dataset of ``split``, made on first use."""
        if split not in self.datasets:
            reader = self.reader(split)
            if self.preload:
                self.datasets[split] = InMemoryDataset(
                    reader, self.inputs, self.targets, self.device
                )
            else:
                self.datasets[split] = ShardDataset(reader, self.inputs, self.targets)
        return self.datasets[split]

    def check(self, needed_by: str | None = None) -> None:
        """Check, without loading data, that every shard holds the inputs and targets asked for.

        Parameters
        ----------
        needed_by
            Who needs them (e.g. ``"model 'cnn'"``), for the message.

        Raises
        ------
        FileNotFoundError, ShardContentError, ShardLayoutError
            Naming the shard.
        """
        for split in self.paths:
            self.reader(split).require(self.inputs or (), self.targets or (), needed_by)

    def setup(self, stage: str | None = None) -> None:
        """Open the shards the stage needs (fit: train+val; validate: val; test; predict)."""
        wanted = {
            "fit": ("train", "val"),
            "validate": ("val",),
            "test": ("test",),
            "predict": ("val", "test"),
        }.get(stage or "", tuple(self.paths))
        for split in wanted:
            if split in self.paths:
                self.dataset(split)

    def _loader(self, split: str, shuffle: bool, drop_last: bool = False) -> DataLoader:
        ds = self.dataset(split)
        kwargs: dict[str, Any] = {
            "batch_size": self.batch_size,
            "shuffle": shuffle,
            "drop_last": drop_last,
            "num_workers": self.num_workers,
            "persistent_workers": self.num_workers > 0,
            # Pinned batches make the host-to-GPU copy asynchronous (not for GPU-resident data).
            "pin_memory": torch.cuda.is_available() and torch.device(self.device).type == "cpu",
            # Both datasets batch in __getitems__: no per-sample dicts, no stacking.
            "collate_fn": passthrough_collate,
        }
        return DataLoader(ds, **kwargs)

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches."""
        n = len(self.dataset("train"))
        drop = self.drop_last
        if drop is None:
            drop = n % self.batch_size == 1 and n > 1
        return self._loader("train", shuffle=True, drop_last=drop)

    def val_dataloader(self) -> DataLoader:
        """Validation batches in shard order."""
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        """Test batches in shard order."""
        return self._loader("test", shuffle=False)

    def predict_dataloader(self, split: str = "test") -> DataLoader:
        """Batches of ``split`` in shard order (predictions align with the shard's metadata)."""
        return self._loader(split, shuffle=False)
