"""The Lightning task: loss, metrics and optimiser around a plain network from :mod:`.models`.

One :meth:`FlareTask._shared_step` serves training, validation and test. Losses and validation
and test predictions are accumulated over the epoch; at its end the task logs the mean
``<stage>_loss``, the true skill statistic ``<stage>_tss`` = TPR - FPR at probability threshold
0.5 (the quantity early stopping and checkpointing monitor), and ``<stage>_acc``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from flarepipe.evaluation import metrics as _metrics
from flarepipe.models.registry import build_model, network_input
from flarepipe.tasks.losses import LOSSES, cross_entropy_loss, skill_weighted_mse

__all__ = ["FlareTask", "tss", "AUGMENTATIONS", "augment_images"]

#: Label-preserving image augmentations (training batches only): mirror left-right, mirror
#: up-down, reverse the field's sign. Flare productivity depends on flux, gradients, the bipole's
#: tilt magnitude and delta spots, which none of these changes; a mirror or a sign flip only swaps
#: hemisphere/cycle (Hale) orientation.
AUGMENTATIONS: tuple[str, ...] = ("hflip", "vflip", "sign")


def augment_images(
    x: torch.Tensor, kinds: Sequence[str], generator: torch.Generator | None = None
) -> torch.Tensor:
    """Apply each of ``kinds`` to a random half of the image batch ``x`` [B, C, H, W].

    Each sample draws independently; runs on the batch's device (GPU-resident data included).
    """
    unknown = sorted(set(kinds) - set(AUGMENTATIONS))
    if unknown:
        raise ValueError(f"unknown augmentation(s) {unknown}; accepted: {list(AUGMENTATIONS)}")
    if x.dim() != 4 or not kinds:
        return x
    for kind in kinds:
        pick = torch.rand(x.shape[0], generator=generator, device="cpu").to(x.device) < 0.5
        pick = pick.view(-1, 1, 1, 1)
        if kind == "hflip":
            x = torch.where(pick, x.flip(-1), x)
        elif kind == "vflip":
            x = torch.where(pick, x.flip(-2), x)
        else:
            x = torch.where(pick, -x, x)
    return x


def tss(labels: torch.Tensor, probs: torch.Tensor, threshold: float = 0.5) -> float:
    """True skill statistic TPR - FPR of ``probs >= threshold`` against 0/1 ``labels``.

    Tensor front end of :func:`flarepipe.evaluation.metrics.tss` (one implementation of the
    score); NaN when either class is absent (the statistic is undefined).
    """
    y = labels.detach().cpu().numpy().astype("int64")
    p = probs.detach().float().cpu().numpy()
    return _metrics.tss(_metrics.contingency(y, p, threshold))


class FlareTask(pl.LightningModule):
    """Binary flare classifier: network + loss + metrics + optimiser (Adam or SGD).

    Parameters
    ----------
    model
        Registry name of the network (``"lstm"``, ``"cnn"``, ``"cnn2"`` or a plug-in's), see
        :mod:`flarepipe.models.registry`; the batch entry it reads is registered with it.
    model_params
        Constructor parameters of the network.
    lr
        Adam learning rate (S1: 1e-3).
    weight_decay
        Adam weight decay.
    class_weight
        For 2-score networks: cross-entropy weights ``[w_negative, w_positive]`` (None: equal).
    pos_weight
        For 1-logit networks: BCE weight of positives (S2: 4.5; None: 1).
    threshold
        Probability threshold of the logged TSS/accuracy.
    channels_last
        Use the channels-last memory format for image networks: ``"auto"`` (on CUDA only),
        True or False.
    augment
        Image augmentations of training batches, a subset of :data:`AUGMENTATIONS` (S1: none).
    loss
        ``"log_loss"`` (cross-entropy, BCE) or ``"skill_weighted_mse"`` (S2 Appendix A,
        C = ``pos_weight``), see :mod:`flarepipe.tasks.losses`.
    optimizer
        ``"adam"`` or ``"sgd"`` (minibatch SGD, S2).
    momentum
        Momentum of SGD.

    Notes
    -----
    Batches are dicts keyed by the shard's names (:mod:`flarepipe.data.datamodule`): the
    network's ``input_key`` (``"image"`` or ``"sequence"``) and the binary target
    :attr:`TARGET_KEY`. Hyperparameters are saved in checkpoints, so
    ``FlareTask.load_from_checkpoint(path)`` rebuilds the network.
    """

    #: The shard target this task trains on: the binary flare label.
    TARGET_KEY: str = "label"

    def __init__(
        self,
        model: str,
        model_params: Mapping[str, Any] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        class_weight: Sequence[float] | None = None,
        pos_weight: float | None = None,
        threshold: float = 0.5,
        channels_last: bool | str = "auto",
        augment: Sequence[str] = (),
        loss: str = "log_loss",
        optimizer: str = "adam",
        momentum: float = 0.0,
    ) -> None:
        super().__init__()
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {list(LOSSES)}, got {loss!r}")
        if optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
        augment = list(augment or [])
        unknown = sorted(set(augment) - set(AUGMENTATIONS))
        if unknown:
            raise ValueError(f"unknown augmentation(s) {unknown}; accepted: {list(AUGMENTATIONS)}")
        self.save_hyperparameters()
        self.network: nn.Module = build_model(model, **dict(model_params or {}))
        self.input_key: str = network_input(model)
        self.target_key: str = self.TARGET_KEY
        self.n_outputs: int = int(self.network.n_outputs)
        if self.n_outputs not in (1, 2):
            raise ValueError(f"FlareTask needs a network with 1 or 2 outputs, got {self.n_outputs}")
        if class_weight is not None and len(class_weight) != 2:
            raise ValueError(f"class_weight must be [w_negative, w_positive], got {class_weight}")
        self.register_buffer(
            "class_weight",
            torch.tensor(class_weight, dtype=torch.float32) if class_weight is not None else None,
            persistent=False,
        )
        self.register_buffer(
            "pos_weight",
            torch.tensor([pos_weight], dtype=torch.float32) if pos_weight is not None else None,
            persistent=False,
        )
        self.threshold = threshold
        self.channels_last = channels_last
        self.augment = augment
        self.loss_name = loss
        self._use_channels_last = False
        self._outputs: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {"val": [], "test": []}
        # Per stage: (sum of loss x batch size, samples) of the epoch so far (see _add_loss).
        self._loss_sums: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        # training_step steps the optimiser itself (no gradient clipping or accumulation here)
        self.automatic_optimization = False

    # -- network ---------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        """Switch image networks to channels-last on CUDA (or when asked)."""
        want = self.channels_last
        if want == "auto":
            trainer = self._trainer  # the public property raises when not attached
            want = self.device.type == "cuda" or (
                trainer is not None and trainer.strategy.root_device.type == "cuda"
            )
        self._use_channels_last = bool(want) and self.input_key == "image"
        if self._use_channels_last:
            self.network.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw network scores for the input ``x`` (image or sequence batch)."""
        if self._use_channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.network(x)

    def probability(self, logits: torch.Tensor) -> torch.Tensor:
        """Positive-class probability [B] from scores [B, 2] or a logit [B, 1] (in float32)."""
        logits = logits.float()
        if self.n_outputs == 1:
            return torch.sigmoid(logits[:, 0])
        return torch.softmax(logits, dim=1)[:, 1]

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The configured loss (cross-entropy / BCE, or S2's skill-weighted squared error)."""
        if self.loss_name == "skill_weighted_mse":
            c = None if self.pos_weight is None else float(self.pos_weight[0])
            return skill_weighted_mse(labels, self.probability(logits), c, self.threshold)
        return cross_entropy_loss(logits, labels, self.pos_weight, self.class_weight)

    # -- steps -----------------------------------------------------------------------------
    def _shared_step(self, batch: Mapping[str, torch.Tensor], stage: str) -> torch.Tensor:
        labels = batch[self.target_key]
        x = batch[self.input_key]
        if stage == "train" and self.augment and self.input_key == "image":
            x = augment_images(x, self.augment)
        logits = self(x)
        loss = self.loss(logits, labels)
        self._add_loss(stage, loss, labels.shape[0])
        if stage in self._outputs:
            self._outputs[stage].append((labels.detach(), self.probability(logits.detach())))
        return loss

    def training_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """One training batch: forward, zero the gradients, backward, optimiser step.

        The order of Lightning's automatic optimisation (the closure runs the forward pass, then
        ``zero_grad``, then ``backward``; then the step), so the numbers are the same, written out
        (:attr:`automatic_optimization` is False): the closure machinery cost about a millisecond
        a step, a tenth of an LSTM step on one CPU core.
        """
        opt = self.optimizers()
        loss = self._shared_step(batch, "train")
        opt.zero_grad()
        self.manual_backward(loss)
        opt.step()
        return loss

    def validation_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> None:
        """One validation batch (predictions kept for the epoch's TSS)."""
        self._shared_step(batch, "val")

    def test_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> None:
        """One test batch (predictions kept for the epoch's TSS)."""
        self._shared_step(batch, "test")

    def predict_step(
        self, batch: Mapping[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> torch.Tensor:
        """Positive-class probability [B] (float32, on CPU)."""
        return self.probability(self(batch[self.input_key])).cpu()

    # -- epoch metrics ---------------------------------------------------------------------
    def _add_loss(self, stage: str, loss: torch.Tensor, batch_size: int) -> None:
        """Add a batch's loss to the epoch's batch-size-weighted mean ``<stage>_loss``.

        The arithmetic of ``self.log(..., on_epoch=True, batch_size=...)`` (a float32 sum of
        ``loss * batch_size`` and an int64 count), so the logged mean is the same to the bit, but
        without Lightning's bookkeeping of a logged value at every step; :meth:`_log_loss` logs
        the mean once per epoch.
        """
        value = loss.detach().squeeze()
        if value.dtype not in (torch.float32, torch.float64):
            value = value.to(torch.float32)
        total, count = self._loss_sums.get(stage) or (
            torch.zeros((), dtype=torch.float32, device=value.device),
            torch.zeros((), dtype=torch.int64, device=value.device),
        )
        self._loss_sums[stage] = (total + value * batch_size, count + batch_size)

    def _log_loss(self, stage: str) -> None:
        sums = self._loss_sums.pop(stage, None)
        if sums is not None:
            # x * 1 / 1 == x: logging the mean with batch size 1 leaves it unchanged
            self.log(f"{stage}_loss", sums[0] / sums[1], on_step=False, on_epoch=True, batch_size=1)

    def _epoch_end(self, stage: str) -> None:
        self._log_loss(stage)
        outputs = self._outputs[stage]
        if not outputs:
            return
        labels = torch.cat([o[0] for o in outputs]).cpu()
        probs = torch.cat([o[1] for o in outputs]).cpu()
        outputs.clear()
        acc = float(((probs >= self.threshold).long() == labels.long()).float().mean())
        self.log(f"{stage}_tss", tss(labels, probs, self.threshold), sync_dist=True)
        self.log(f"{stage}_acc", acc, sync_dist=True)

    def on_train_epoch_start(self) -> None:
        """Forget the losses of an interrupted epoch."""
        self._loss_sums.pop("train", None)

    def on_train_epoch_end(self) -> None:
        """Log ``train_loss``, the epoch's mean."""
        self._log_loss("train")

    def on_validation_epoch_start(self) -> None:
        """Forget predictions of an interrupted epoch."""
        self._loss_sums.pop("val", None)
        self._outputs["val"].clear()

    def on_validation_epoch_end(self) -> None:
        """Log ``val_tss`` and ``val_acc`` over the whole validation set."""
        self._epoch_end("val")

    def on_test_epoch_start(self) -> None:
        """Forget predictions of an interrupted epoch."""
        self._loss_sums.pop("test", None)
        self._outputs["test"].clear()

    def on_test_epoch_end(self) -> None:
        """Log ``test_tss`` and ``test_acc`` over the whole test set."""
        self._epoch_end("test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam or minibatch SGD with the task's learning rate and weight decay."""
        hp = self.hparams
        if hp.get("optimizer", "adam") == "sgd":
            return torch.optim.SGD(
                self.network.parameters(),
                lr=hp.lr,
                momentum=hp.get("momentum", 0.0),
                weight_decay=hp.weight_decay,
            )
        return torch.optim.Adam(self.network.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
