"""The study's three experiments on one frame split: the classical detector, the learned detector
(CenterNet through Lightning) and the Mt. Wilson crop classifier (GoogLeNet-style through
Lightning), each scored on the test frames.

Every experiment reads the split's shards (:func:`flarepipe.studies.deoliveira2020.data.
write_split_shards`: one file per part, ``train``/``val``/``test``): the detectors the frames'
shards (``image`` and the box target ``boxes``), the classifier the crops' (``image`` and the
class target ``mw_class``). The networks are fed by :class:`NetInputs`, a torch Dataset over
:class:`~flarepipe.data.shards.ShardReader` that scales the field and hands the tasks the shard
layout's batches (ragged boxes as a list of dicts). Each function returns a dict of scores (and
tables where the report draws them). Training is seeded and runs on ``threads`` CPU threads
(deterministic) or on a GPU when ``accelerator`` asks for one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from flarepipe.data.datamodule import ShardDataset, passthrough_collate
from flarepipe.data.shards import ShardReader
from flarepipe.detection.classical import DetectorSettings, detect_regions
from flarepipe.detection.metrics import detection_scores

__all__ = ["NetInputs", "run_classical", "run_classifier", "run_learned"]

#: field scale of the networks' inputs: B / FIELD_SCALE clipped to +-CLIP
FIELD_SCALE, CLIP = 500.0, 4.0


def _net_input(images: np.ndarray) -> np.ndarray:
    return np.clip(images / FIELD_SCALE, -CLIP, CLIP).astype(np.float32)


class NetInputs(Dataset):
    """One shard as the networks take it: ``image`` [B, 1, H, W] scaled as :func:`_net_input`,
    ``target`` as the shard layout gives it (a box target: a list of ``{"boxes", "labels"}``
    dicts; a class target: int64 [B]), and ``index``. Batches are read whole
    (``__getitems__``); use with :func:`~flarepipe.data.datamodule.passthrough_collate`.
    """

    def __init__(self, path: str | os.PathLike, target: str) -> None:
        self.data = ShardDataset(path, inputs=("image",), targets=(target,))

    def __len__(self) -> int:
        return len(self.data)

    def __getitems__(self, indices: Sequence[int]) -> dict[str, Any]:
        batch = self.data.__getitems__(list(indices))
        batch["image"] = torch.clamp(batch["image"] / FIELD_SCALE, -CLIP, CLIP)
        return batch

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.__getitems__([int(i)])


class _FixedPermutation(Sampler[int]):
    """The same seeded permutation of ``range(n)`` every epoch."""

    def __init__(self, n: int, seed: int) -> None:
        self.order = np.random.default_rng(seed).permutation(n).tolist()

    def __iter__(self) -> Iterator[int]:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)


def _loader(data: NetInputs, batch_size: int, shuffle_seed: int | None = None) -> DataLoader:
    sampler = None if shuffle_seed is None else _FixedPermutation(len(data), shuffle_seed)
    return DataLoader(
        data, batch_size=int(batch_size), sampler=sampler, collate_fn=passthrough_collate
    )


def _parts(paths: Sequence[str | os.PathLike]) -> dict[str, str | os.PathLike]:
    if len(paths) != 3:
        raise ValueError(f"a split has a train, a val and a test shard, got {list(paths)}")
    return dict(zip(("train", "val", "test"), paths, strict=True))


def run_classical(test_frames: str | os.PathLike, settings: Mapping[str, Any]) -> dict:
    """The classical detector on the test frames' shard (it has nothing to train), with the
    scores and one row per detection (``frame``: the frame's ``t_rec``).
    """
    det = DetectorSettings(**dict(settings))
    reader = ShardReader(test_frames)
    data = reader.read_all(inputs=("image",), targets=("boxes",))
    t_rec = reader.meta()["t_end"].tolist()
    reader.close()
    truth = [data["boxes"].sample(i)[0] for i in range(len(t_rec))]
    found = [detect_regions(img[0], det) for img in data["image"]]
    scores = detection_scores(
        truth,
        [f[["x0", "y0", "x1", "y1"]].to_numpy() for f in found],
        [f["score"].to_numpy() for f in found],
    )
    rows = pd.concat(
        [f.assign(frame=t) for t, f in zip(t_rec, found, strict=True)], ignore_index=True
    )
    return {"scores": scores, "detections": rows}


def _trainer(max_epochs: int, root, accelerator: str, threads: int):
    import pytorch_lightning as pl
    from pytorch_lightning.loggers import CSVLogger

    torch.set_num_threads(int(threads))
    return pl.Trainer(
        max_epochs=int(max_epochs),
        accelerator=accelerator,
        devices=1,
        deterministic=accelerator == "cpu",
        logger=CSVLogger(str(root), name="", version=""),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
        default_root_dir=str(root),
    )


def _curves(root) -> pd.DataFrame:
    from pathlib import Path

    path = Path(root) / "metrics.csv"
    if not path.exists():
        return pd.DataFrame()
    log = pd.read_csv(path)
    return log.groupby("epoch", sort=True).agg("last").reset_index() if "epoch" in log else log


def run_learned(
    frames: Sequence[str | os.PathLike], settings: Mapping[str, Any], root, seed: int = 0
) -> dict:
    """CenterNet trained on the train frames' shard (val mAP50 logged per epoch), scored on the
    test frames' shard. ``frames``: the train, val and test shards. ``predictions``: one row per
    box decoded on a test frame (``frame`` its ``t_rec``, the box, ``score``).
    """
    import pytorch_lightning as pl

    from flarepipe.tasks.detection import DetectionTask

    pl.seed_everything(seed, verbose=False)
    parts = {p: NetInputs(path, "boxes") for p, path in _parts(frames).items()}
    b = int(settings["batch_size"])
    task = DetectionTask(
        {"width": int(settings["width"]), "stride": int(settings["stride"])},
        lr=float(settings["lr"]),
    )
    trainer = _trainer(settings["epochs"], root, settings["accelerator"], settings["threads"])
    trainer.fit(
        task,
        train_dataloaders=_loader(parts["train"], b, shuffle_seed=seed),
        val_dataloaders=_loader(parts["val"], b),
    )
    task.eval()
    truth, pred = [], []
    with torch.no_grad():
        for batch in _loader(parts["test"], b):
            truth += [t["boxes"].numpy() for t in batch["boxes"]]
            pred += task.predict_step(batch, 0)
    scores = detection_scores(truth, [p["boxes"] for p in pred], [p["scores"] for p in pred])
    t_rec = ShardReader(_parts(frames)["test"]).meta()["t_end"].tolist()
    rows = pd.DataFrame(
        [
            {"frame": t, "x0": x0, "y0": y0, "x1": x1, "y1": y1, "score": float(c)}
            for t, p in zip(t_rec, pred, strict=True)
            for (x0, y0, x1, y1), c in zip(p["boxes"].tolist(), p["scores"], strict=True)
        ],
        columns=["frame", "x0", "y0", "x1", "y1", "score"],
    )
    return {"scores": scores, "curves": _curves(root), "task": task, "predictions": rows}


def run_classifier(
    crops: Sequence[str | os.PathLike],
    settings: Mapping[str, Any],
    classes: tuple[str, ...],
    root,
    seed: int = 0,
) -> dict:
    """The crop classifier trained on the train frames' crops, scored on the test frames'.
    ``crops``: the train, val and test shards of the crops.
    """
    import pytorch_lightning as pl

    from flarepipe.models.googlenet import InceptionClassifier
    from flarepipe.tasks.multiclass import ClassTask

    pl.seed_everything(seed, verbose=False)
    paths = _parts(crops)
    for path in paths.values():
        names = ShardReader(path).class_names("mw_class")
        if names != tuple(classes):
            raise ValueError(
                f"{path}: the crops' classes are {list(names)}, detection.classifier.classes "
                f"{list(classes)} (rerun detection_shard)"
            )
    parts = {p: NetInputs(path, "mw_class") for p, path in paths.items()}
    counts = {p: len(d) for p, d in parts.items()}
    if counts["train"] == 0 or counts["test"] == 0:
        raise ValueError(
            f"the split leaves {counts} classified region crops: the classifier needs crops in "
            "train and test (more frames: detection.synthetic.days)"
        )
    b = int(settings["batch_size"])
    task = ClassTask(
        InceptionClassifier,
        {"n_classes": len(classes), "width": int(settings["width"])},
        classes,
        lr=float(settings["lr"]),
    )
    trainer = _trainer(settings["epochs"], root, settings["accelerator"], settings["threads"])
    val = parts["val"] if counts["val"] else parts["train"]
    trainer.fit(
        task,
        train_dataloaders=_loader(parts["train"], b, shuffle_seed=seed),
        val_dataloaders=_loader(val, b),
    )
    task.eval()
    truth, pred = [], []
    with torch.no_grad():
        for batch in _loader(parts["test"], b):
            truth.append(batch["mw_class"].numpy())
            pred.append(task(batch["image"]).argmax(1).numpy())
    truth, pred = np.concatenate(truth), np.concatenate(pred)
    matrix = task.confusion(truth, pred)
    return {
        "scores": {
            "accuracy": float((pred == truth).mean()),
            **{f"n_{k}": v for k, v in counts.items()},
        },
        "confusion": pd.DataFrame(matrix, index=list(classes), columns=list(classes)),
        "curves": _curves(root),
        "task": task,
    }
