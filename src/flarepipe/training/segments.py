"""Fit the S4 network (``dhuri_fcn``) on pre-emergence segments, as Dhuri et al. 2020 did.

The network is trained by the project's Lightning task
(:class:`~flarepipe.tasks.classification.FlareTask`: one logit, binary cross-entropy, minibatch
SGD with momentum; the learning rate is configurable, the paper's 1e-7 was for unscaled gauss
inputs), in mini-batches of 32, from
Glorot initialisation (the network's own), inputs standardised by one mean and standard
deviation over all training pixels; the unsigned variant feeds ``|B|``.

Training batches are augmented (``augment``, default all of
:data:`flarepipe.tasks.classification.AUGMENTATIONS`): mirrors left-right and up-down and, for
the signed field, a reversed sign. They preserve the label: the planted bipoles have random
orientations and polarities and the quiet Sun is isotropic. Without them the network learns the
textures around the centres of its few training regions (each gives 100 overlapping PE
segments): at the shortest lead (30 pairs, seed 0, depth 2) its training TSS reached 0.85-0.93
in four of five folds, above the oracle's test TSS (0.84), while its test TSS (0.32) fell below
the flux-only KDE's (0.48); README, "Pre-emergence signatures".
``sign`` is left out for the unsigned variant, whose input does not change sign.

Deterministic from ``seed`` on the CPU: the weights, the shuffling (a seeded generator) and the
augmentations are drawn from seeded generators, Lightning runs with deterministic algorithms,
and the caller fixes the thread count.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from flarepipe.tasks.classification import AUGMENTATIONS

__all__ = ["SegmentTrainSettings", "SegmentNetwork", "fit_segment_network"]

_QUIET_WARNINGS = (
    r".*does not have many workers.*",
    r".*number of training batches.*is smaller than the logging interval.*",
    r".*isinstance\(treespec, LeafSpec\)` is deprecated.*",
    r".*defined a `validation_step` but have no `val_dataloader`.*",
)


@dataclasses.dataclass(frozen=True)
class SegmentTrainSettings:
    """Training settings of the S4 network (``network``/``train`` of the study's config)."""

    lr: float = 0.01
    momentum: float = 0.9
    epochs: int = 5
    batch_size: int = 32
    unsigned: bool = False
    augment: tuple[str, ...] = AUGMENTATIONS
    network: dict = dataclasses.field(default_factory=dict)  # dhuri_fcn constructor parameters

    def __post_init__(self) -> None:
        """Check the bounds (the study config is validated before; this guards direct use)."""
        if self.lr <= 0 or self.epochs < 1 or self.batch_size < 1 or not 0 <= self.momentum < 1:
            raise ValueError(
                f"segment training: need lr > 0, epochs >= 1, batch_size >= 1, "
                f"0 <= momentum < 1; got {self}"
            )
        bad = sorted(set(self.augment) - set(AUGMENTATIONS))
        if bad:
            raise ValueError(
                f"segment training: unknown augmentation(s) {bad}; accepted {list(AUGMENTATIONS)}"
            )

    @property
    def batch_augment(self) -> tuple[str, ...]:
        """The augmentations applied: ``sign`` only for the signed field."""
        return tuple(a for a in self.augment if not (self.unsigned and a == "sign"))


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


class _Segments(Dataset):
    """Standardised segments and labels as the task's batch dicts (``image``, ``label``)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"image": self.x[i], "label": self.y[i]}


def fit_segment_network(
    seg: np.ndarray, y: np.ndarray, settings: SegmentTrainSettings, seed: int = 0
) -> SegmentNetwork:
    """Train ``dhuri_fcn`` on segments ``seg`` [n, S, S] (G) with labels ``y`` (0/1).

    ``settings.epochs`` passes of :class:`~flarepipe.tasks.classification.FlareTask` under a
    CPU Lightning trainer (no validation, checkpoint or logger: the study's test is the held-out
    pairs' evaluation grid); returns the network after the last epoch.
    """
    import pytorch_lightning as pl

    from flarepipe.tasks.classification import FlareTask

    y = np.asarray(y, dtype=np.float32)
    if len(seg) != len(y) or len(np.unique(y)) < 2:
        raise ValueError("segment training needs as many labels as segments and both classes")
    x = np.abs(seg) if settings.unsigned else seg
    mean, std = float(np.mean(x, dtype=np.float64)), float(np.std(x, dtype=np.float64)) or 1.0
    torch.manual_seed(seed)  # the weights and the augmentations' draws
    task = FlareTask(
        "dhuri_fcn",
        dict(settings.network),
        lr=settings.lr,
        optimizer="sgd",
        momentum=settings.momentum,
        augment=settings.batch_augment,
        channels_last=False,
    )
    net = SegmentNetwork(task.network, mean, std, settings.unsigned)
    loader = DataLoader(
        _Segments(net.inputs(seg), torch.from_numpy(y)),
        batch_size=settings.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    lightning_log = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    was_level = lightning_log.level
    lightning_log.setLevel(logging.WARNING)  # "GPU available: False ..." for every fold
    try:
        with warnings.catch_warnings():
            for pattern in _QUIET_WARNINGS:
                warnings.filterwarnings("ignore", message=pattern)
            trainer = pl.Trainer(
                accelerator="cpu",
                devices=1,
                max_epochs=settings.epochs,
                deterministic=True,
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
                num_sanity_val_steps=0,
                limit_val_batches=0,
            )
            trainer.fit(task, train_dataloaders=loader)
    finally:
        torch.use_deterministic_algorithms(was_deterministic)
        lightning_log.setLevel(was_level)
    net.model.eval()
    return net
