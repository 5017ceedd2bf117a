"""Small building blocks shared by the architectures (no registration here)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

__all__ = ["conv_bn_act", "scale_channels"]


def scale_channels(channels: Sequence[int], width: float) -> list[int]:
    """``channels`` times ``width``, rounded, at least 1 each."""
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    return [max(1, int(round(c * width))) for c in channels]


def conv_bn_act(cin: int, cout: int, k: int, slope: float) -> nn.Sequential:
    """Convolution ('same' padding, no bias), batch norm, leaky ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.LeakyReLU(slope, inplace=True),
    )
