"""Fit the S4 network (``dhuri_fcn``) on pre-emergence segments, as Dhuri et al. 2020 did.

Binary cross-entropy on one logit, plain SGD (learning rate configurable; the paper's 1e-7 was for
unscaled gauss inputs), mini-batches of 32, Glorot initialisation (the network's own), inputs
standardised by one mean and standard deviation over all training pixels; the unsigned variant
feeds ``|B|``. Deterministic from ``seed`` on the CPU (torch's generator is seeded and passed to
the shuffling; the caller fixes the thread count).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from flarepipe.models.registry import build_model

__all__ = ["SegmentTrainSettings", "SegmentNetwork", "fit_segment_network"]


@dataclasses.dataclass(frozen=True)
class SegmentTrainSettings:
    """Training settings of the S4 network (``network``/``train`` of the study's config)."""

    lr: float = 0.01
    momentum: float = 0.9
    epochs: int = 5
    batch_size: int = 32
    unsigned: bool = False
    network: dict = dataclasses.field(default_factory=dict)  # dhuri_fcn constructor parameters

    def __post_init__(self) -> None:
        """Check the bounds (the study config is validated before; this guards direct use)."""
        if self.lr <= 0 or self.epochs < 1 or self.batch_size < 1 or not 0 <= self.momentum < 1:
            raise ValueError(
                f"segment training: need lr > 0, epochs >= 1, batch_size >= 1, "
                f"0 <= momentum < 1; got {self}"
            )


@dataclasses.dataclass
class SegmentNetwork:
    """A fitted network with its input standardisation."""

    model: nn.Module
    mean: float
    std: float
    unsigned: bool

    def inputs(self, seg: np.ndarray) -> torch.Tensor:
        """Standardised network input [B, 1, S, S] of segments ``seg`` [B, S, S] (G)."""
        x = np.abs(seg) if self.unsigned else seg
        return torch.from_numpy(((x - self.mean) / self.std).astype(np.float32)[:, None])

    @torch.no_grad()
    def prob(self, seg: np.ndarray, batch: int = 256) -> np.ndarray:
        """PE probability of every segment."""
        self.model.eval()
        out = [
            torch.sigmoid(self.model(self.inputs(seg[i : i + batch])))[:, 0]
            for i in range(0, len(seg), batch)
        ]
        return torch.cat(out).numpy().astype(np.float64) if out else np.zeros(0)

    @torch.no_grad()
    def contributions(self, seg: np.ndarray, batch: int = 256) -> np.ndarray:
        """Final-filter contributions ``F_i = max(O_i)·w_i`` [B, final_filters]."""
        self.model.eval()
        out = [
            self.model.contributions(self.inputs(seg[i : i + batch]))
            for i in range(0, len(seg), batch)
        ]
        return torch.cat(out).numpy().astype(np.float64)


def fit_segment_network(
    seg: np.ndarray, y: np.ndarray, settings: SegmentTrainSettings, seed: int = 0
) -> SegmentNetwork:
    """Train ``dhuri_fcn`` on segments ``seg`` [n, S, S] (G) with labels ``y`` (0/1)."""
    y = np.asarray(y, dtype=np.float32)
    if len(seg) != len(y) or len(np.unique(y)) < 2:
        raise ValueError("segment training needs as many labels as segments and both classes")
    torch.manual_seed(seed)
    x = np.abs(seg) if settings.unsigned else seg
    mean, std = float(np.mean(x, dtype=np.float64)), float(np.std(x, dtype=np.float64)) or 1.0
    net = SegmentNetwork(build_model("dhuri_fcn", **settings.network), mean, std, settings.unsigned)
    X, Y = net.inputs(seg), torch.from_numpy(y)
    opt = torch.optim.SGD(net.model.parameters(), lr=settings.lr, momentum=settings.momentum)
    loss_fn = nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(seed)
    net.model.train()
    for _ in range(settings.epochs):
        order = torch.randperm(len(Y), generator=gen)
        for i in range(0, len(Y), settings.batch_size):
            idx = order[i : i + settings.batch_size]
            opt.zero_grad()
            loss = loss_fn(net.model(X[idx])[:, 0], Y[idx])
            loss.backward()
            opt.step()
    net.model.eval()
    return net
