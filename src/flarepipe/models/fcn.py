"""The fully convolutional VGG-like network of Dhuri et al. 2020 (S4); registered as ``dhuri_fcn``.

``depth`` blocks of (3x3 convolution, activation, 2x2 max-pool) with ``base_filters · 2^i``
filters in block ``i``, then the *final layer*: a 3x3 convolution with ``final_filters`` (256)
filters whose output maps ``O_i`` are max-pooled over the whole map (the paper's 6x6 max-pool: at
depth 3 with unpadded convolutions an 85x85 segment leaves exactly 6x6) and weighted by ``w_i``
into one logit (sigmoid in the loss):

``logit = Σ_i keep_i · F_i + b``,  ``F_i = max(O_i) · w_i``  (the filter contributions).

The activation is the identity by default (the paper's finding: it did best); all weights start
Glorot-uniform, biases at zero. :meth:`DhuriFCN.prune` keeps a given set of final filters
(``keep_i = 0`` for the others), as the paper's pruning from 256 to 4 filters.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["DhuriFCN"]

_ACTIVATIONS = {"identity": nn.Identity, "relu": nn.ReLU}


class DhuriFCN(nn.Module):
    """Fully convolutional VGG-like pre-emergence classifier (S4).

    Parameters
    ----------
    in_channels
        Input channels (1: the signed field, or its absolute value for the unsigned variant).
    depth
        Number of conv+pool blocks (1-5, the paper's Table 2).
    base_filters
        Filters of the first block; they double in every block.
    final_filters
        Filters of the final layer (256 in the paper).
    activation
        ``identity`` (the paper's) or ``relu``.
    padding
        Padding of the 3x3 convolutions: 0 (the paper's valid convolutions; depth <= 4 at 85 px)
        or 1 (any depth at 85 px).
    """

    n_outputs = 1

    def __init__(
        self,
        in_channels: int = 1,
        depth: int = 3,
        base_filters: int = 16,
        final_filters: int = 256,
        activation: str = "identity",
        padding: int = 0,
    ) -> None:
        super().__init__()
        if not 1 <= depth <= 5:
            raise ValueError(f"dhuri_fcn: depth must be 1-5, got {depth}")
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"dhuri_fcn: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}"
            )
        layers: list[nn.Module] = []
        c = in_channels
        for i in range(depth):
            out = base_filters * 2**i
            layers += [
                nn.Conv2d(c, out, 3, padding=padding),
                _ACTIVATIONS[activation](),
                nn.MaxPool2d(2),
            ]
            c = out
        self.features = nn.Sequential(*layers)
        self.final = nn.Sequential(
            nn.Conv2d(c, final_filters, 3, padding=padding), _ACTIVATIONS[activation]()
        )
        self.head = nn.Linear(final_filters, 1)
        self.register_buffer("keep", torch.ones(final_filters))
        self.depth, self.padding = depth, padding
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def min_size(self) -> int:
        """Smallest square input side that leaves a final map of at least 1x1."""
        s = 1
        if self.padding == 0:
            s += 2
        for _ in range(self.depth):
            s = 2 * s + (2 if self.padding == 0 else 0)
        return s

    def final_maps(self, x: torch.Tensor) -> torch.Tensor:
        """The final layer's output maps ``O`` [B, final_filters, h, w] of images ``x``."""
        if min(x.shape[-2:]) < self.min_size():
            raise ValueError(
                f"dhuri_fcn (depth {self.depth}, padding {self.padding}) needs images of at least "
                f"{self.min_size()}x{self.min_size()} px, got {tuple(x.shape[-2:])}"
            )
        return self.final(self.features(x))

    def contributions(self, x: torch.Tensor) -> torch.Tensor:
        """Filter contributions ``F_i = max(O_i) · w_i`` [B, final_filters] (pruned ones 0)."""
        pooled = torch.amax(self.final_maps(x), dim=(-2, -1))
        return pooled * self.head.weight[0] * self.keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One logit per image ``x`` [B, C, H, W] -> [B, 1]."""
        return self.contributions(x).sum(dim=1, keepdim=True) + self.head.bias

    def prune(self, keep: Sequence[int]) -> None:
        """Keep only the final filters ``keep`` (indices); the others contribute nothing."""
        idx = sorted({int(i) for i in keep})
        n = self.keep.numel()
        if not idx or idx[0] < 0 or idx[-1] >= n:
            raise ValueError(f"dhuri_fcn: filters to keep must be among 0..{n - 1}, got {keep}")
        mask = torch.zeros_like(self.keep)
        mask[idx] = 1.0
        self.keep.copy_(mask)
