"""Small building blocks shared by the architectures (no registration here)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

__all__ = ["ACTIVATIONS", "activation_layer", "conv_bn_act", "scale_channels"]

#: Activations a network may be built with: leaky ReLU, or none (the identity variant of S2
#: Appendix B, whose network is linear up to the output sigmoid).
ACTIVATIONS: tuple[str, ...] = ("leaky_relu", "identity")


def scale_channels(channels: Sequence[int], width: float) -> list[int]:
    """``channels`` times ``width``, rounded, at least 1 each."""
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")
    return [max(1, int(round(c * width))) for c in channels]


def activation_layer(name: str, slope: float = 0.01) -> nn.Module:
    """The activation ``name`` (one of :data:`ACTIVATIONS`) as a module."""
    if name == "leaky_relu":
        return nn.LeakyReLU(slope, inplace=True)
    if name == "identity":
        return nn.Identity()
    raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {name!r}")


def conv_bn_act(
    cin: int, cout: int, k: int, slope: float, activation: str = "leaky_relu"
) -> nn.Sequential:
    """Convolution ('same' padding, no bias), batch norm, leaky ReLU (or ``activation``)."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
        activation_layer(activation, slope),
    )
