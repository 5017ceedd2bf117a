"""The learned detector: target encoding and decoding agree, the focal loss behaves, and a small
CenterNet trained on frames of planted bipoles finds them (deterministic on CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import cpu_trainer
from flarepipe.core.bipole import bipole_field
from flarepipe.detection.metrics import detection_scores
from flarepipe.models.centernet import CenterNet
from flarepipe.tasks.detection import DetectionTask, decode, detection_loss, encode_boxes

BOXES = [np.array([[8.0, 12.0, 24.0, 20.0], [40.0, 36.0, 60.0, 60.0]]), np.zeros((0, 4))]


def _perfect(targets):
    heat = targets["heatmap"].clamp(1e-6, 1 - 1e-6)
    return {
        "heatmap": torch.log(heat / (1 - heat)),
        "size": targets["size"],
        "offset": targets["offset"],
    }


def test_encode_then_decode_gives_the_boxes_back():
    t = encode_boxes(BOXES, None, (64, 64), stride=4)
    assert t["heatmap"].shape == (2, 1, 16, 16) and t["mask"].sum() == 2
    assert t["heatmap"].max() == 1.0 and t["heatmap"][1].max() == 0.0
    pred = decode(_perfect(t), stride=4, min_score=0.9)
    assert len(pred[1]["boxes"]) == 0
    got = pred[0]["boxes"][np.argsort(pred[0]["boxes"][:, 0])]
    np.testing.assert_allclose(got, BOXES[0], atol=1e-4)
    s = detection_scores(BOXES, [p["boxes"] for p in pred], [p["scores"] for p in pred])
    assert s["map"] == pytest.approx(1.0)


def test_focal_loss_is_lowest_for_the_truth():
    t = encode_boxes(BOXES, None, (64, 64), stride=4)
    perfect = detection_loss(_perfect(t), t)
    blank = {
        "heatmap": torch.full_like(t["heatmap"], -5.0),
        "size": torch.zeros_like(t["size"]),
        "offset": torch.zeros_like(t["offset"]),
    }
    assert perfect["loss"] < 0.05 < detection_loss(blank, t)["loss"]


def test_centernet_shapes_and_stride_checks():
    net = CenterNet(width=4, stride=4, n_classes=3)
    out = net(torch.zeros(2, 1, 32, 48))
    assert out["heatmap"].shape == (2, 3, 8, 12) and out["size"].shape == (2, 2, 8, 12)
    with pytest.raises(ValueError, match="multiple of the stride"):
        net(torch.zeros(1, 1, 30, 32))
    with pytest.raises(ValueError, match="power of 2"):
        CenterNet(stride=3)


def _frames(n, seed, size=64):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(float)
    images, boxes = [], []
    for _ in range(n):
        field = rng.normal(0, 20.0, (size, size))
        bx = []
        for _ in range(rng.integers(1, 3)):
            cx, cy = rng.uniform(12, size - 12, 2)
            rho = rng.uniform(0.10, 0.16)
            b = bipole_field((x - cx) * 0.01, (y - cy) * 0.01, rng.uniform(800, 2000), rho)
            field += b
            rows, cols = np.nonzero(np.abs(b) > 100)
            bx.append([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])
        images.append(field / 500.0)
        boxes.append(np.array(bx, np.float32))
    return torch.tensor(np.array(images), dtype=torch.float32).unsqueeze(1), boxes


def _batches(images, boxes, batch):
    """A DataLoader of ready batches (the shard layout's ``image`` and ``boxes`` entries)."""
    batches = [
        {
            "image": images[i : i + batch],
            "boxes": [
                {"boxes": torch.as_tensor(b), "labels": torch.zeros(len(b), dtype=torch.long)}
                for b in boxes[i : i + batch]
            ],
        }
        for i in range(0, len(images), batch)
    ]
    return torch.utils.data.DataLoader(batches, batch_size=None, collate_fn=lambda b: b)


def test_trained_detector_finds_planted_bipoles(tmp_path):
    """12 epochs on 96 frames: val mAP50 0.90-1.00 over five seeds of weights and frames (0.96 for
    this one); the bound 0.6 sits 0.3 below the worst. After 6 epochs it is still 0.0-0.42."""
    import pytorch_lightning as pl

    pl.seed_everything(0, verbose=False)
    train = _batches(*_frames(96, seed=1), batch=16)
    val = _batches(*_frames(32, seed=2), batch=16)
    task = DetectionTask({"width": 8, "stride": 4}, lr=3e-3)
    trainer = cpu_trainer(tmp_path, max_epochs=12)
    trainer.fit(task, train_dataloaders=train, val_dataloaders=val)
    assert trainer.callback_metrics["val_map50"] > 0.6
