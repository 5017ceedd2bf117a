"""The DenseNet-like full-disk network of Yi et al. 2021 (S3); registered as ``yi_densenet``."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["DenseBlock", "YiDenseNet"]


class DenseBlock(nn.Module):
    """One dense block of Yi et al. 2021, followed by its transition pool.

    BN, ReLU, 1x1 conv (``bottleneck`` features), BN, ReLU, 3x3 conv (``growth`` features),
    concatenation with the block's input on the channels, 2x2 average pool. Output channels:
    ``in_channels + growth``; the side is halved.
    """

    def __init__(self, in_channels: int, bottleneck: int, growth: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            OrderedDict(
                bn1=nn.BatchNorm2d(in_channels),
                relu1=nn.ReLU(inplace=False),
                conv1=nn.Conv2d(in_channels, bottleneck, 1, bias=False),
                bn2=nn.BatchNorm2d(bottleneck),
                relu2=nn.ReLU(inplace=False),  # captum's guided backprop hooks every ReLU
                conv3=nn.Conv2d(bottleneck, growth, 3, padding=1, bias=False),
            )
        )
        self.pool = nn.AvgPool2d(2)
        self.out_channels = in_channels + growth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W] -> [B, C + growth, H/2, W/2]``."""
        return self.pool(torch.cat([x, self.layers(x)], dim=1))


class YiDenseNet(nn.Module):
    """Yi et al. 2021's DenseNet-like classifier of full-disk magnetograms: 2 class scores.

    3x3 conv (``stem`` = 26 features) and 2x2 max-pool; five :class:`DenseBlock` (bottleneck
    ``13·n`` features in block ``n`` = 1…5 — our reading of the paper's "13·n" —, growth 39);
    then BN, ReLU, global average pool, linear to 2 scores. ``width`` scales every channel count
    (1: the paper's). Six halvings: the image side must be at least 64 (512 in the paper).

    Parameters
    ----------
    in_channels
        Input channels (1: the magnetogram).
    stem
        Features of the first convolution.
    bottleneck
        Features of each block's 1x1 convolution (five values).
    growth
        Features of each block's 3x3 convolution.
    width
        Multiplier on every channel count.
    n_classes
        Output scores.
    dropout
        Dropout before the linear layer (0: none).
    """

    n_outputs = 2

    def __init__(
        self,
        in_channels: int = 1,
        stem: int = 26,
        bottleneck: Sequence[int] = (13, 26, 39, 52, 65),
        growth: int = 39,
        width: float = 1.0,
        n_classes: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if len(bottleneck) != 5:
            raise ValueError(f"bottleneck: five block widths, got {list(bottleneck)}")
        if width <= 0:
            raise ValueError(f"width must be > 0, got {width}")

        def sc(c: int) -> int:
            return max(1, int(round(c * width)))

        self.stem = nn.Sequential(
            OrderedDict(
                conv=nn.Conv2d(in_channels, sc(stem), 3, padding=1, bias=False),
                pool=nn.MaxPool2d(2),
            )
        )
        blocks, c = [], sc(stem)
        for b in bottleneck:
            blk = DenseBlock(c, sc(b), sc(growth))
            blocks.append(blk)
            c = blk.out_channels
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(OrderedDict(bn=nn.BatchNorm2d(c), relu=nn.ReLU(inplace=False)))
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(c, n_classes)
        self.n_outputs = n_classes

    @property
    def last_conv(self) -> nn.Conv2d:
        """The last convolution (Grad-CAM's layer in the paper)."""
        return self.blocks[-1].layers.conv3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores ``[B, n_classes]`` for images ``x`` ``[B, C, H, W]``."""
        x = self.head(self.blocks(self.stem(x)))
        return self.linear(self.dropout(self.gap(x).flatten(1)))
