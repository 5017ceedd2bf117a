"""A GoogLeNet-style (Inception v1) classifier for region crops (de Oliveira & Gradvohl 2020).

Szegedy et al. 2015: an inception module runs four branches side by side and concatenates them:
a 1x1 convolution; 1x1 reduction then 3x3; 1x1 reduction then 5x5; 3x3 max-pool then 1x1
projection. The network: a 7x7 stride-2 stem and max-pool, 1x1 and 3x3 convolutions and max-pool,
inception 3a and 3b, max-pool, inception 4a, global average pooling, dropout and a linear layer to
one score per class. Widths follow GoogLeNet's 3a/3b/4a proportions scaled by ``width`` (1/4 of
the original at ``width=16``: region crops are single-channel and small). Batch norm after every
convolution (Inception v2's choice; it trains from scratch on small sets where v1's auxiliary
heads would be needed otherwise).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Inception", "InceptionClassifier"]


def _cbr(c_in: int, c_out: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class Inception(nn.Module):
    """One inception module: ``c1`` (1x1), ``r3 -> c3`` (3x3), ``r5 -> c5`` (5x5), ``cp`` (pool
    projection) channels; output ``c1 + c3 + c5 + cp`` channels at the input's size.
    """

    def __init__(self, c_in: int, c1: int, r3: int, c3: int, r5: int, c5: int, cp: int):
        super().__init__()
        self.b1 = _cbr(c_in, c1, 1)
        self.b3 = nn.Sequential(_cbr(c_in, r3, 1), _cbr(r3, c3, 3))
        self.b5 = nn.Sequential(_cbr(c_in, r5, 1), _cbr(r5, c5, 5))
        self.bp = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), _cbr(c_in, cp, 1))
        self.out_channels = c1 + c3 + c5 + cp

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], dim=1)


class InceptionClassifier(nn.Module):
    """GoogLeNet-style classifier of region crops into ``n_classes`` (e.g. alpha, beta,
    beta-gamma, delta): scores [B, n_classes] (softmax in the loss).

    Parameters
    ----------
    n_classes
        Output scores.
    in_channels
        Input channels (1: line-of-sight field).
    width
        Channels of the stem (GoogLeNet: 64); every layer scales with it.
    dropout
        Dropout before the linear layer (GoogLeNet: 0.4).
    """

    input_key = "image"

    def __init__(self, n_classes: int, in_channels: int = 1, width: int = 16, dropout: float = 0.4):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"a classifier needs n_classes >= 2, got {n_classes}")
        w = width / 64  # GoogLeNet's channel counts at width 64

        def c(n: int) -> int:
            return max(1, round(n * w))

        self.n_classes = n_classes
        i3a = Inception(c(192), c(64), c(96), c(128), c(16), c(32), c(32))
        i3b = Inception(i3a.out_channels, c(128), c(128), c(192), c(32), c(96), c(64))
        i4a = Inception(i3b.out_channels, c(192), c(96), c(208), c(16), c(48), c(64))
        self.features = nn.Sequential(
            _cbr(in_channels, c(64), 7, stride=2),
            nn.MaxPool2d(3, stride=2, padding=1),
            _cbr(c(64), c(64), 1),
            _cbr(c(64), c(192), 3),
            nn.MaxPool2d(3, stride=2, padding=1),
            i3a,
            i3b,
            nn.MaxPool2d(3, stride=2, padding=1),
            i4a,
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(i4a.out_channels, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if x.dim() == 3:
            x = x.unsqueeze(1)
        return self.head(self.features(x))
