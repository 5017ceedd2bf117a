"""The study's three experiments on one frame split: the classical detector, the learned detector
(CenterNet through Lightning) and the Mt. Wilson crop classifier (GoogLeNet-style through
Lightning), each scored on the test frames.

Every function takes the :class:`~flarepipe.studies.deoliveira2020.data.Frames` and the split, and
returns a dict of scores (and tables where the report draws them). Training is seeded and runs on
``threads`` CPU threads (deterministic) or on a GPU when ``accelerator`` asks for one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from flarepipe.detection.classical import DetectorSettings, detect_regions
from flarepipe.detection.metrics import detection_scores
from flarepipe.studies.deoliveira2020.data import Frames, region_crops

__all__ = ["run_classical", "run_classifier", "run_learned"]

#: field scale of the networks' inputs: B / FIELD_SCALE clipped to +-CLIP
FIELD_SCALE, CLIP = 500.0, 4.0


def _net_input(images: np.ndarray) -> np.ndarray:
    return np.clip(images / FIELD_SCALE, -CLIP, CLIP).astype(np.float32)


def run_classical(frames: Frames, split: np.ndarray, settings: Mapping[str, Any]) -> dict:
    """The classical detector on the test frames (it has nothing to train), with the scores and
    one row per detection.
    """
    det = DetectorSettings(**dict(settings))
    test = np.flatnonzero(split == "test")
    found = [detect_regions(frames.images[i], det) for i in test]
    scores = detection_scores(
        [frames.boxes[i] for i in test],
        [f[["x0", "y0", "x1", "y1"]].to_numpy() for f in found],
        [f["score"].to_numpy() for f in found],
    )
    rows = pd.concat(
        [f.assign(frame=frames.records["t_rec"].iloc[i]) for i, f in zip(test, found, strict=True)],
        ignore_index=True,
    )
    return {"scores": scores, "detections": rows}


def _trainer(max_epochs: int, root, accelerator: str, threads: int):
    import pytorch_lightning as pl
    import torch
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


def _loader(batches: Sequence[dict]):
    import torch

    return torch.utils.data.DataLoader(list(batches), batch_size=None, collate_fn=lambda b: b)


def _curves(root) -> pd.DataFrame:
    from pathlib import Path

    path = Path(root) / "metrics.csv"
    if not path.exists():
        return pd.DataFrame()
    log = pd.read_csv(path)
    return log.groupby("epoch", sort=True).agg("last").reset_index() if "epoch" in log else log


def run_learned(
    frames: Frames, split: np.ndarray, settings: Mapping[str, Any], root, seed: int = 0
) -> dict:
    """CenterNet trained on the train frames (val mAP50 logged per epoch), scored on test."""
    import pytorch_lightning as pl
    import torch

    from flarepipe.tasks.detection import DetectionTask

    pl.seed_everything(seed, verbose=False)
    x = torch.from_numpy(_net_input(frames.images)).unsqueeze(1)

    def batches(part: str, shuffle: bool) -> list[dict]:
        idx = np.flatnonzero(split == part)
        if shuffle:
            idx = np.random.default_rng(seed).permutation(idx)
        b = int(settings["batch_size"])
        return [
            {
                "image": x[idx[i : i + b]],
                "boxes": [
                    {
                        "boxes": torch.from_numpy(frames.boxes[j]),
                        "labels": torch.zeros(len(frames.boxes[j]), dtype=torch.long),
                    }
                    for j in idx[i : i + b]
                ],
            }
            for i in range(0, len(idx), b)
        ]

    task = DetectionTask(
        {"width": int(settings["width"]), "stride": int(settings["stride"])},
        lr=float(settings["lr"]),
    )
    trainer = _trainer(settings["epochs"], root, settings["accelerator"], settings["threads"])
    trainer.fit(
        task,
        train_dataloaders=_loader(batches("train", True)),
        val_dataloaders=_loader(batches("val", False)),
    )
    task.eval()
    test = np.flatnonzero(split == "test")
    with torch.no_grad():
        pred = [p for b in batches("test", False) for p in task.predict_step(b, 0)]
    scores = detection_scores(
        [frames.boxes[i] for i in test], [p["boxes"] for p in pred], [p["scores"] for p in pred]
    )
    return {"scores": scores, "curves": _curves(root), "task": task}


def run_classifier(
    frames: Frames,
    split: np.ndarray,
    settings: Mapping[str, Any],
    classes: tuple[str, ...],
    root,
    seed: int = 0,
) -> dict:
    """The crop classifier trained on the train frames' regions, scored on the test frames'."""
    import pytorch_lightning as pl
    import torch

    from flarepipe.models.googlenet import InceptionClassifier
    from flarepipe.tasks.multiclass import ClassTask

    pl.seed_everything(seed, verbose=False)
    crops, labels, frame = region_crops(
        frames, int(settings["crop_px"]), bool(settings["delta_as_class"]), classes
    )
    part = split[frame] if len(frame) else np.array([], dtype=object)
    counts = {p: int((part == p).sum()) for p in ("train", "val", "test")}
    if counts["train"] == 0 or counts["test"] == 0:
        raise ValueError(
            f"the split leaves {counts} classified region crops: the classifier needs crops in "
            "train and test (more frames: detection.synthetic.days)"
        )
    x = torch.from_numpy(_net_input(crops)).unsqueeze(1)
    y = torch.from_numpy(labels)

    def batches(p: str, shuffle: bool) -> list[dict]:
        idx = np.flatnonzero(part == p)
        if shuffle:
            idx = np.random.default_rng(seed).permutation(idx)
        b = int(settings["batch_size"])
        return [
            {"image": x[idx[i : i + b]], "mw_class": y[idx[i : i + b]]}
            for i in range(0, len(idx), b)
        ]

    task = ClassTask(
        InceptionClassifier,
        {"n_classes": len(classes), "width": int(settings["width"])},
        classes,
        lr=float(settings["lr"]),
    )
    trainer = _trainer(settings["epochs"], root, settings["accelerator"], settings["threads"])
    val = batches("val", False) or batches("train", False)
    trainer.fit(
        task, train_dataloaders=_loader(batches("train", True)), val_dataloaders=_loader(val)
    )
    task.eval()
    test = np.flatnonzero(part == "test")
    with torch.no_grad():
        pred = task(x[test]).argmax(1).numpy()
    matrix = task.confusion(labels[test], pred)
    return {
        "scores": {
            "accuracy": float((pred == labels[test]).mean()),
            **{f"n_{k}": v for k, v in counts.items()},
        },
        "confusion": pd.DataFrame(matrix, index=list(classes), columns=list(classes)),
        "curves": _curves(root),
        "task": task,
    }
