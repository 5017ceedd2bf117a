"""CNN-1 of Bhattacharjee et al. 2020 (S2), the smaller of their two networks (``cnn1``)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from flarepipe.models.blocks import conv_bn_act, scale_channels

__all__ = ["CNN1Net"]


class CNN1Net(nn.Module):
    """CNN-1 of Bhattacharjee et al. 2020 (S2): two convolutions and one fully connected layer.

    conv -> 2x2 max-pool -> conv -> flatten -> linear -> 1 logit (the sigmoid is applied in the
    loss and in prediction). Batch norm and leaky ReLU (or the identity) after each convolution.
    The paper gives the layer sequence, not the widths or kernels: ``channels`` and ``kernels``
    are our choice (``channels`` scaled by ``width``). The fully connected layer reads every
    pixel of the pooled map, so its size follows the image side (``image_size``, needed up front).

    Parameters
    ----------
    in_channels
        Input channels.
    channels
        Output channels of the two convolutions.
    kernels
        Kernel sides of the two convolutions (odd: 'same' padding).
    width
        Multiplier on ``channels``.
    image_size
        Side of the (square) input images, pixels.
    negative_slope
        Leaky ReLU slope.
    dropout
        Dropout before the fully connected layer (0: none).
    activation
        ``"leaky_relu"`` or ``"identity"`` (the linear variant of the paper's appendix).
    """

    n_outputs = 1

    def __init__(
        self,
        in_channels: int = 1,
        channels: Sequence[int] = (16, 32),
        kernels: Sequence[int] = (5, 3),
        width: float = 1.0,
        image_size: int = 128,
        negative_slope: float = 0.01,
        dropout: float = 0.0,
        activation: str = "leaky_relu",
    ) -> None:
        super().__init__()
        if len(channels) != 2 or len(kernels) != 2:
            raise ValueError(
                f"CNN-1 has two convolutions: channels and kernels need 2 entries, got "
                f"{list(channels)} and {list(kernels)}"
            )
        if image_size < 2:
            raise ValueError(f"image_size must be >= 2 (one 2x2 pooling), got {image_size}")
        c1, c2 = scale_channels(channels, width)
        k1, k2 = (int(k) for k in kernels)
        self.image_size = int(image_size)
        self.features = nn.Sequential(
            OrderedDict(
                conv1=conv_bn_act(in_channels, c1, k1, negative_slope, activation),
                pool1=nn.MaxPool2d(2),
                conv2=conv_bn_act(c1, c2, k2, negative_slope, activation),
            )
        )
        side = self.image_size // 2
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(c2 * side * side, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One logit [B, 1] for images ``x`` [B, C, image_size, image_size]."""
        if x.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(
                f"CNN-1 was built for {self.image_size}x{self.image_size} images "
                f"(network.image_size), got {tuple(x.shape[-2:])}"
            )
        return self.linear(self.dropout(self.features(x).flatten(1)))
