"""A compact one-stage detector: CenterNet-style centre heatmap, box size and offset heads.

Zhou, Wang & Krähenbühl 2019 ("Objects as Points"): every object is the peak of a per-class
heatmap at its box centre, with the box's width and height and the sub-pixel offset of the centre
regressed at that peak. On plain torch (torchvision's compiled ops do not load beside the CPU
torch build this project tests with): a small strided backbone, three 1x1 heads, and the decoding
in :mod:`flarepipe.tasks.detection`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["CenterNet"]


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class CenterNet(nn.Module):
    """Centre-heatmap detector on single-channel magnetograms.

    Parameters
    ----------
    in_channels
        Input channels (1: the line-of-sight field).
    n_classes
        Heatmap channels: object classes (1: "active region").
    width
        Channels of the first stage; each of the ``log2(stride)`` strided stages doubles them.
    stride
        Output stride, a power of 2 (4: a 512^2 frame gives a 128^2 heatmap).

    Returns (``forward``)
    ---------------------
    dict with ``heatmap`` logits [B, n_classes, H/s, W/s], ``size`` [B, 2, H/s, W/s] (box width,
    height in output cells, log scale) and ``offset`` [B, 2, H/s, W/s] (centre offset in cells).
    """

    input_key = "image"

    def __init__(self, in_channels: int = 1, n_classes: int = 1, width: int = 16, stride: int = 4):
        super().__init__()
        if stride < 1 or stride & (stride - 1):
            raise ValueError(f"stride must be a power of 2, got {stride}")
        if n_classes < 1 or width < 1 or in_channels < 1:
            raise ValueError("in_channels, n_classes and width must be >= 1")
        self.stride = stride
        self.n_classes = n_classes
        layers = [_conv(in_channels, width)]
        c = width
        for _ in range(int(math.log2(stride))):
            layers += [_conv(c, 2 * c, stride=2), _conv(2 * c, 2 * c)]
            c *= 2
        self.backbone = nn.Sequential(*layers)
        self.heatmap = nn.Sequential(_conv(c, c), nn.Conv2d(c, n_classes, 1))
        self.size = nn.Sequential(_conv(c, c), nn.Conv2d(c, 2, 1))
        self.offset = nn.Sequential(_conv(c, c), nn.Conv2d(c, 2, 1))
        # Focal-loss prior: every cell starts at p = 0.1 of an object (CenterNet's -2.19).
        nn.init.constant_(self.heatmap[-1].bias, -math.log((1 - 0.1) / 0.1))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:  # noqa: D102
        if x.dim() == 3:
            x = x.unsqueeze(1)
        h, w = x.shape[-2:]
        if h % self.stride or w % self.stride:
            raise ValueError(f"image size {h}x{w} is not a multiple of the stride {self.stride}")
        f = self.backbone(x)
        return {"heatmap": self.heatmap(f), "size": self.size(f), "offset": self.offset(f)}
