"""A multi-class task: a network scoring C classes, cross-entropy, accuracy, confusion matrix.

For class targets of the shard layout (:class:`flarepipe.data.targets.ClassTarget`: values in
``[0, C)``, -1 unknown and left out of the loss), e.g. the Mt. Wilson class of a region crop.
Validation logs ``val_acc`` (the quantity to monitor); :meth:`ClassTask.confusion` of predicted
against true classes comes from scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.nn import functional as F

__all__ = ["ClassTask"]


class ClassTask(pl.LightningModule):
    """Cross-entropy training of ``network`` (a module mapping ``batch[input_key]`` to [B, C]).

    Parameters
    ----------
    network_factory
        Builds the network from ``network_params`` (a class such as
        :class:`flarepipe.models.googlenet.InceptionClassifier`).
    network_params
        Its constructor parameters (``n_classes`` among them).
    class_names
        Names of the C classes, in target order.
    lr, weight_decay
        Adam settings.
    class_weight
        Cross-entropy weights per class (None: equal).
    target_key, input_key
        Batch entries of the class target and the network input.
    """

    def __init__(
        self,
        network_factory: Callable[..., torch.nn.Module],
        network_params: Mapping[str, Any],
        class_names: Sequence[str],
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        class_weight: Sequence[float] | None = None,
        target_key: str = "mw_class",
        input_key: str = "image",
    ) -> None:
        super().__init__()
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        names = tuple(class_names)
        if class_weight is not None and len(class_weight) != len(names):
            raise ValueError(
                f"class_weight has {len(class_weight)} values for {len(names)} classes"
            )
        self.save_hyperparameters(ignore=["network_factory"])
        self.network = network_factory(**dict(network_params))
        self.class_names = names
        self.input_key, self.target_key = input_key, target_key
        weight = None if class_weight is None else torch.tensor(class_weight, dtype=torch.float32)
        self.register_buffer("class_weight", weight)
        self._val: list[tuple[np.ndarray, np.ndarray]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.network(x)

    def _step(self, batch: Mapping[str, Any], stage: str) -> tuple[torch.Tensor, torch.Tensor]:
        y = batch[self.target_key].long()
        scores = self(batch[self.input_key])
        known = y >= 0
        loss = F.cross_entropy(scores[known], y[known], weight=self.class_weight)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, batch_size=int(known.sum()))
        return loss, scores

    def training_step(self, batch, batch_idx):  # noqa: D102
        return self._step(batch, "train")[0]

    def validation_step(self, batch, batch_idx):  # noqa: D102
        _, scores = self._step(batch, "val")
        y = batch[self.target_key].long()
        self._val.append((y.cpu().numpy(), scores.argmax(1).cpu().numpy()))

    def on_validation_epoch_end(self) -> None:  # noqa: D102
        y = np.concatenate([a for a, _ in self._val]) if self._val else np.zeros(0, int)
        p = np.concatenate([b for _, b in self._val]) if self._val else np.zeros(0, int)
        self._val = []
        known = y >= 0
        self.log("val_acc", float((y[known] == p[known]).mean()) if known.any() else 0.0)

    def predict_step(self, batch, batch_idx):  # noqa: D102
        return torch.softmax(self(batch[self.input_key]).float(), dim=1)

    def confusion(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Confusion matrix [true, predicted] over the task's classes (scikit-learn)."""
        from sklearn.metrics import confusion_matrix

        return confusion_matrix(y_true, y_pred, labels=list(range(len(self.class_names))))

    def configure_optimizers(self):  # noqa: D102
        return torch.optim.Adam(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
