"""Training losses of the flare task, by name (``models.<name>.train.loss``).

``log_loss``
    Cross-entropy of 2-score networks (``class_weight``), BCE of one-logit networks with the
    positives weighted by ``pos_weight`` (S2: C = 4.5).
``skill_weighted_mse``
    The custom loss of Bhattacharjee et al. 2020 (S2), their Appendix A: the squared error of the
    predicted probability, the positives' errors weighted by the batch's skill factor

        lambda = C * exp(HSS) * exp(TSS),

    where HSS and TSS are those of the batch's predictions at the task's threshold and
    C = ``pos_weight`` (1 when unset)::

        L = mean_i( w_i * (p_i - y_i)^2 ),   w_i = lambda if y_i = 1 else 1.

    lambda is a number computed from the thresholded predictions, so no gradient flows through
    it; a skill score a batch leaves undefined (a batch of one class) counts as 0. Our reading of
    the appendix: it weights the squared errors by lambda and the positives by C; we apply
    lambda to the positives only, as C is a positive-class weight.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from flarepipe.evaluation import metrics as _metrics

__all__ = ["LOSSES", "batch_skill_factor", "cross_entropy_loss", "skill_weighted_mse"]

#: Loss names ``models.<name>.train.loss`` accepts (the schema's enum).
LOSSES: tuple[str, ...] = ("log_loss", "skill_weighted_mse")


def _finite_or_zero(x: float) -> float:
    return x if math.isfinite(x) else 0.0


def batch_skill_factor(
    labels: torch.Tensor, probs: torch.Tensor, c: float = 1.0, threshold: float = 0.5
) -> float:
    """``C * exp(HSS) * exp(TSS)`` of a batch's ``probs >= threshold`` against 0/1 ``labels``.

    An undefined score (a batch without one of the classes) counts as 0.
    """
    y = labels.detach().cpu().numpy().astype("int64")
    p = probs.detach().float().cpu().numpy()
    table = _metrics.contingency(y, p, threshold)
    hss = _finite_or_zero(_metrics.hss(table))
    tss = _finite_or_zero(_metrics.tss(table))
    return float(c) * math.exp(hss) * math.exp(tss)


def skill_weighted_mse(
    labels: torch.Tensor, probs: torch.Tensor, c: float | None = None, threshold: float = 0.5
) -> torch.Tensor:
    """S2 Appendix A loss: mean squared error, positives weighted by :func:`batch_skill_factor`.

    Parameters
    ----------
    labels
        0/1 targets [B].
    probs
        Predicted positive-class probabilities [B] (differentiable).
    c
        The positive-class constant C (S2: 4.5); None: 1.
    threshold
        Probability threshold of the batch's HSS and TSS.
    """
    y = labels.float()
    lam = batch_skill_factor(labels, probs, 1.0 if c is None else float(c), threshold)
    weights = torch.where(y > 0.5, torch.full_like(y, lam), torch.ones_like(y))
    return (weights * (probs.float() - y) ** 2).mean()


def cross_entropy_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    pos_weight: torch.Tensor | None = None,
    class_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cross-entropy of scores [B, 2] (``class_weight``) or BCE of a logit [B, 1]."""
    logits = logits.float()
    if logits.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(
            logits[:, 0], labels.float(), pos_weight=pos_weight
        )
    return F.cross_entropy(logits, labels.long(), weight=class_weight)
