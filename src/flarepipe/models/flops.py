"""Floating-point operation counts of a network (torch's FLOP counter)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_flops"]


def count_flops(model: nn.Module, input_shape: Sequence[int], backward: bool = False) -> int:
    """Floating-point operations of one pass on a zero input of ``input_shape`` (batch included).

    Counted by :class:`torch.utils.flop_counter.FlopCounterMode` (matrix multiplies and
    convolutions, 2 FLOPs per multiply-add; batch norm, activations and pooling are not counted).

    Parameters
    ----------
    model
        The network (left in the mode it was in).
    input_shape
        Input shape including the batch dimension, e.g. ``(1, 1, 128, 128)``.
    backward
        Also count the backward pass (model in training mode; needs a batch of >= 2 when the model
        has 1-d batch norm).

    Returns
    -------
    int
        FLOPs for the whole batch.
    """
    was_training = model.training
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = torch.zeros(tuple(input_shape), device=device)
    model.train(backward)
    try:
        with FlopCounterMode(display=False) as counter:
            if backward:
                model(x).float().sum().backward()
            else:
                with torch.no_grad():
                    model(x)
    finally:
        model.train(was_training)
        if backward:
            model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())
