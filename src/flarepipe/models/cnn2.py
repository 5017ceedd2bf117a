"""CNN-2 of Bhattacharjee et al. 2020 (S2), inception-style; registered as ``cnn2``."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from flarepipe.models.blocks import conv_bn_act, scale_channels

__all__ = ["CNN2Net", "InceptionBlock"]


class InceptionBlock(nn.Module):
    """Parallel 3x3, 5x5 and 7x7 convolutions and a 3x3 max-pool, concatenated on channels.

    Output channels: ``3 * branch_channels + in_channels`` (the pool branch passes the input
    channels through).
    """

    def __init__(
        self,
        in_channels: int,
        branch_channels: int,
        slope: float = 0.01,
        activation: str = "leaky_relu",
    ) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [conv_bn_act(in_channels, branch_channels, k, slope, activation) for k in (3, 5, 7)]
        )
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)
        self.out_channels = 3 * branch_channels + in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Concatenate the branches of ``x`` [B, C, H, W] -> [B, out_channels, H, W]."""
        return torch.cat([b(x) for b in self.branches] + [self.pool(x)], dim=1)


class CNN2Net(nn.Module):
    """CNN-2 of Bhattacharjee et al. 2020 (S2): an inception-style flaring-region classifier.

    conv 7x7 -> pool -> conv 3x3 -> pool -> inception -> pool -> inception -> global average pool
    -> linear -> 1 logit (sigmoid in the loss). Batch norm and leaky ReLU after every convolution;
    pools are 3x3 max-pools with stride 2. The paper does not give channel widths: ``stem`` and
    ``branch_channels`` are our choice (scaled by ``width``).

    Parameters
    ----------
    in_channels
        Input channels.
    stem
        Output channels of the 7x7 and the 3x3 convolutions.
    branch_channels
        Channels of each convolutional branch of the inception blocks.
    width
        Multiplier on ``stem`` and ``branch_channels``.
    negative_slope
        Leaky ReLU slope.
    dropout
        Dropout before the output layer (0: none).
    activation
        ``"leaky_relu"`` (the paper's network) or ``"identity"`` (the linear variant of their
        appendix: batch norm and pooling only between the convolutions).
    """

    n_outputs = 1

    def __init__(
        self,
        in_channels: int = 1,
        stem: Sequence[int] = (32, 64),
        branch_channels: int = 32,
        width: float = 1.0,
        negative_slope: float = 0.01,
        dropout: float = 0.0,
        activation: str = "leaky_relu",
    ) -> None:
        super().__init__()
        c1, c2 = scale_channels(stem, width)
        (b,) = scale_channels([branch_channels], width)
        act = activation
        inc1 = InceptionBlock(c2, b, negative_slope, act)
        inc2 = InceptionBlock(inc1.out_channels, b, negative_slope, act)
        self.features = nn.Sequential(
            OrderedDict(
                conv1=conv_bn_act(in_channels, c1, 7, negative_slope, act),
                pool1=nn.MaxPool2d(3, stride=2, padding=1),
                conv2=conv_bn_act(c1, c2, 3, negative_slope, act),
                pool2=nn.MaxPool2d(3, stride=2, padding=1),
                inception1=inc1,
                pool3=nn.MaxPool2d(3, stride=2, padding=1),
                inception2=inc2,
            )
        )
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(inc2.out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One logit [B, 1] for images ``x`` [B, C, H, W]."""
        x = self.gap(self.features(x)).flatten(1)
        return self.linear(self.dropout(x))
