"""The detection task: targets for a centre-heatmap detector, its loss, decoding, and training.

Targets (:func:`encode_boxes`): per class a heatmap with a Gaussian at every box centre (sigma a
sixth of the box's size in output cells, CenterNet's rule of thumb, at least ``min_sigma``), and
at each centre cell the box's log width/height and the centre's sub-cell offset. Loss
(:func:`detection_loss`): the penalty-reduced focal loss of CornerNet/CenterNet on the heatmap
plus L1 on size and offset at the centre cells. Decoding (:func:`decode`): peaks that are the
maximum of their 3x3 neighbourhood (CenterNet's max-pool "NMS"), the top ``k`` per image, boxes in
input pixels. :class:`DetectionTask` wraps it for Lightning; validation logs ``val_map50`` (COCO
AP at IoU 0.5, :func:`flarepipe.detection.metrics.detection_scores`), the quantity to monitor.

Box convention: pixel edges ``(x0, y0, x1, y1)`` of the input image (:mod:`flarepipe.detection`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.nn import functional as F

from flarepipe.detection.metrics import detection_scores
from flarepipe.models.centernet import CenterNet

__all__ = ["DetectionTask", "decode", "detection_loss", "encode_boxes"]


def encode_boxes(
    boxes: Sequence[np.ndarray | torch.Tensor],
    labels: Sequence[np.ndarray | torch.Tensor] | None,
    image_shape: tuple[int, int],
    stride: int,
    n_classes: int = 1,
    *,
    min_sigma: float = 0.5,
) -> dict[str, torch.Tensor]:
    """Training targets of a batch: ``heatmap`` [B, C, h, w], ``size`` and ``offset`` [B, 2, h, w],
    ``mask`` [B, 1, h, w] (1 at the centre cells). ``boxes[i]`` is [m_i, 4] in input pixels.
    """
    h, w = image_shape[0] // stride, image_shape[1] // stride
    b = len(boxes)
    heat = torch.zeros(b, n_classes, h, w)
    size = torch.zeros(b, 2, h, w)
    offset = torch.zeros(b, 2, h, w)
    mask = torch.zeros(b, 1, h, w)
    yy, xx = torch.meshgrid(
        torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij"
    )
    for i, bx in enumerate(boxes):
        bx = torch.as_tensor(bx, dtype=torch.float32).reshape(-1, 4)
        lab = (
            torch.zeros(len(bx), dtype=torch.long)
            if labels is None
            else torch.as_tensor(labels[i], dtype=torch.long).reshape(-1)
        )
        for (x0, y0, x1, y1), c in zip(bx.tolist(), lab.tolist(), strict=True):
            cx, cy = (x0 + x1) / 2 / stride, (y0 + y1) / 2 / stride
            bw, bh = max(x1 - x0, 1.0) / stride, max(y1 - y0, 1.0) / stride
            ix, iy = min(max(int(cx), 0), w - 1), min(max(int(cy), 0), h - 1)
            sx, sy = max(bw / 6, min_sigma), max(bh / 6, min_sigma)
            g = torch.exp(-((xx - ix) ** 2) / (2 * sx**2) - ((yy - iy) ** 2) / (2 * sy**2))
            heat[i, c] = torch.maximum(heat[i, c], g)
            size[i, :, iy, ix] = torch.tensor([math.log(bw), math.log(bh)])
            offset[i, :, iy, ix] = torch.tensor([cx - ix, cy - iy])
            mask[i, 0, iy, ix] = 1.0
    return {"heatmap": heat, "size": size, "offset": offset, "mask": mask}


def detection_loss(
    out: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor], size_weight: float = 0.1
) -> dict[str, torch.Tensor]:
    """Focal heatmap loss (alpha 2, beta 4, normalised by the number of objects) + L1 on size
    (weighted ``size_weight``) and offset at the centre cells.
    """
    logits = out["heatmap"].float()
    gt = target["heatmap"].to(logits)
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = gt.eq(1).float()
    n_pos = pos.sum().clamp(min=1.0)
    pos_loss = -(torch.log(p) * (1 - p) ** 2 * pos).sum()
    neg_loss = -(torch.log(1 - p) * p**2 * (1 - gt) ** 4 * (1 - pos)).sum()
    heat = (pos_loss + neg_loss) / n_pos
    mask = target["mask"].to(logits)
    n_obj = mask.sum().clamp(min=1.0)
    size = (
        F.l1_loss(out["size"].float(), target["size"].to(logits), reduction="none") * mask
    ).sum()
    off = F.l1_loss(out["offset"].float(), target["offset"].to(logits), reduction="none") * mask
    size, off = size / n_obj, off.sum() / n_obj
    return {"loss": heat + size_weight * size + off, "heatmap": heat, "size": size, "offset": off}


def decode(
    out: Mapping[str, torch.Tensor], stride: int, k: int = 20, min_score: float = 0.05
) -> list[dict[str, np.ndarray]]:
    """Boxes of every image: local maxima of the heatmap (3x3), top ``k`` above ``min_score``.

    Returns one dict per image with ``boxes`` [m, 4] (input pixels), ``scores`` [m] and
    ``labels`` [m].
    """
    heat = torch.sigmoid(out["heatmap"].detach().float())
    peaks = heat * (F.max_pool2d(heat, 3, stride=1, padding=1) == heat)
    b, c, h, w = peaks.shape
    scores, index = peaks.view(b, -1).topk(min(k, c * h * w))
    result = []
    for i in range(b):
        keep = scores[i] >= min_score
        idx = index[i][keep]
        cls, cell = idx // (h * w), idx % (h * w)
        iy, ix = cell // w, cell % w
        size = out["size"][i].detach().float()[:, iy, ix].exp()
        off = out["offset"][i].detach().float()[:, iy, ix]
        cx, cy = (ix.float() + off[0]) * stride, (iy.float() + off[1]) * stride
        bw, bh = size[0] * stride, size[1] * stride
        boxes = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], dim=1)
        result.append(
            {
                "boxes": boxes.cpu().numpy(),
                "scores": scores[i][keep].cpu().numpy(),
                "labels": cls.cpu().numpy(),
            }
        )
    return result


class DetectionTask(pl.LightningModule):
    """A centre-heatmap detector trained with Adam on batches of ``image`` and ``boxes``.

    Batches are the shard layout's: ``image`` [B, 1, H, W] and ``boxes`` a list of
    ``{"boxes": [m, 4], "labels": [m]}`` (:mod:`flarepipe.data.datamodule`).
    """

    input_key = "image"
    target_key = "boxes"

    def __init__(
        self,
        model_params: Mapping[str, Any] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        size_weight: float = 0.1,
        top_k: int = 20,
    ) -> None:
        super().__init__()
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        self.save_hyperparameters()
        self.network = CenterNet(**dict(model_params or {}))
        self._val: list[tuple[list, list]] = []

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:  # noqa: D102
        return self.network(x)

    def _loss(self, batch: Mapping[str, Any], stage: str) -> tuple[dict, dict]:
        """Loss of a batch, logged as ``<stage>_loss`` (epoch mean), and the network's output."""
        x = batch[self.input_key]
        out = self(x)
        boxes = [t["boxes"] for t in batch[self.target_key]]
        labels = [t["labels"] for t in batch[self.target_key]]
        target = encode_boxes(
            boxes, labels, tuple(x.shape[-2:]), self.network.stride, self.network.n_classes
        )
        target = {k: v.to(x.device) for k, v in target.items()}
        losses = detection_loss(out, target, self.hparams.size_weight)
        self.log(
            f"{stage}_loss", losses["loss"], on_step=False, on_epoch=True, batch_size=len(boxes)
        )
        return losses, out

    def training_step(self, batch, batch_idx):  # noqa: D102
        return self._loss(batch, "train")[0]["loss"]

    def validation_step(self, batch, batch_idx):  # noqa: D102
        _, out = self._loss(batch, "val")
        pred = decode(out, self.network.stride, k=self.hparams.top_k)
        truth = [t["boxes"].detach().cpu().numpy() for t in batch[self.target_key]]
        self._val.append((truth, pred))

    def on_validation_epoch_end(self) -> None:  # noqa: D102
        truth = [t for ts, _ in self._val for t in ts]
        pred = [p for _, ps in self._val for p in ps]
        self._val = []
        s = detection_scores(truth, [p["boxes"] for p in pred], [p["scores"] for p in pred])
        self.log("val_map50", 0.0 if math.isnan(s["map50"]) else s["map50"])
        self.log("val_map", 0.0 if math.isnan(s["map"]) else s["map"])

    def predict_step(self, batch, batch_idx):  # noqa: D102
        return decode(self(batch[self.input_key]), self.network.stride, k=self.hparams.top_k)

    def configure_optimizers(self):  # noqa: D102
        return torch.optim.Adam(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
