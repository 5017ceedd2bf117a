"""The CNN of Sun et al. 2022 (S1) on magnetograms; registered as ``cnn``."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from flarepipe.models.blocks import scale_channels

__all__ = ["CNNNet"]


class CNNNet(nn.Module):
    """The CNN of Sun et al. 2022 after Li et al. 2020 (``CNN_Li2020`` in their ``arnet`` code).

    Five convolutions (11x11, 11x11, 3x3, 3x3, 3x3; 'same' padding), each followed by batch norm,
    ReLU and 2x2 max-pooling; then linear layers (128, 64) each followed by batch norm and dropout
    0.5 with *no* activation (as in the published code), and a final linear layer to 2 scores.
    The published widths are 64 channels for every convolution: about 4.4 GFLOP forward per
    128x128 sample (~13 GFLOP per training sample with the backward pass).

    The published network flattens the 4x4 map left after five poolings of a 128x128 input. Here an
    adaptive average pool to ``pooled_size`` x ``pooled_size`` comes first, so at 128x128 the
    network is the published one (the pool is the identity) and any input of at least 32x32 works
    with the same linear layers.

    Parameters
    ----------
    in_channels
        Input channels (1: the magnetogram).
    channels
        Output channels of the five convolutions before ``width`` scaling (published: 64 each).
    kernels
        Kernel sizes of the convolutions (published: 11, 11, 3, 3, 3).
    width
        Multiplier on ``channels`` (e.g. 0.25 for a CPU-sized network).
    hidden
        Sizes of the hidden linear layers (published: 128, 64).
    dropout
        Dropout after each hidden linear layer (published: 0.5).
    pooled_size
        Side of the adaptive pool before the linear layers (4 reproduces the published 128x128
        network exactly).
    n_classes
        Output scores.
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: Sequence[int] = (64, 64, 64, 64, 64),
        kernels: Sequence[int] = (11, 11, 3, 3, 3),
        width: float = 1.0,
        hidden: Sequence[int] = (128, 64),
        dropout: float = 0.5,
        pooled_size: int = 4,
        n_classes: int = 2,
    ) -> None:
        super().__init__()
        if len(channels) != len(kernels):
            raise ValueError(
                f"channels {list(channels)} and kernels {list(kernels)} differ in length"
            )
        self.n_outputs = n_classes
        chans = scale_channels(channels, width)
        self.min_size = 2 ** len(chans)
        convs: OrderedDict[str, nn.Module] = OrderedDict()
        prev = in_channels
        for i, (c, k) in enumerate(zip(chans, kernels, strict=True), start=1):
            convs[f"conv{i}"] = nn.Conv2d(prev, c, k, padding=k // 2)
            convs[f"conv_bn{i}"] = nn.BatchNorm2d(c)
            convs[f"conv_relu{i}"] = nn.ReLU(inplace=True)
            convs[f"conv_pool{i}"] = nn.MaxPool2d(2)
            prev = c
        self.convs = nn.Sequential(convs)
        self.pool = nn.AdaptiveAvgPool2d(pooled_size)
        linears: OrderedDict[str, nn.Module] = OrderedDict()
        prev = prev * pooled_size * pooled_size
        for i, h in enumerate(hidden, start=1):
            linears[f"linear{i}"] = nn.Linear(prev, h)
            linears[f"linear_bn{i}"] = nn.BatchNorm1d(h)
            linears[f"linear_dropout{i}"] = nn.Dropout(dropout)
            prev = h
        linears[f"linear{len(hidden) + 1}"] = nn.Linear(prev, n_classes)
        self.linears = nn.Sequential(linears)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores [B, n_classes] for images ``x`` [B, C, H, W] with H, W >= 32."""
        if x.shape[-1] < self.min_size or x.shape[-2] < self.min_size:
            raise ValueError(
                f"CNNNet needs images of at least {self.min_size}x{self.min_size}, "
                f"got {tuple(x.shape[-2:])}"
            )
        x = self.pool(self.convs(x))
        return self.linears(torch.flatten(x, 1))
