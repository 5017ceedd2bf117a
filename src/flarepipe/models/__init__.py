"""Plain ``nn.Module`` networks, one file per architecture, and the registry that names them.

``flarepipe.models.registry`` (re-exported here) is importable without torch; the classes and the
FLOP counter are imported on first access (``from flarepipe.models import CNNNet`` imports torch).

Networks return raw scores (logits); the softmax/sigmoid lives in the loss and in prediction.
Every network has ``n_outputs``: 2 for class scores, 1 for a single logit. The batch entry it
reads (``"sequence"`` [B, T, K] or ``"image"`` [B, C, H, W]) is registered with it.
"""

from __future__ import annotations

import importlib
from typing import Any

from flarepipe.models.registry import (
    INPUTS,
    NETWORKS,
    NetworkSpec,
    build_model,
    model_defaults,
    network_class,
    network_input,
    network_names,
    network_spec,
    register_network,
)

__all__ = [
    "INPUTS",
    "NETWORKS",
    "CNN1Net",
    "CNN2Net",
    "CNNNet",
    "InceptionBlock",
    "LSTMNet",
    "YiDenseNet",
    "NetworkSpec",
    "build_model",
    "count_flops",
    "model_defaults",
    "network_class",
    "network_input",
    "network_names",
    "network_spec",
    "register_network",
]

_LAZY = {
    "LSTMNet": "flarepipe.models.lstm",
    "CNNNet": "flarepipe.models.cnn",
    "CNN1Net": "flarepipe.models.cnn1",
    "CNN2Net": "flarepipe.models.cnn2",
    "InceptionBlock": "flarepipe.models.cnn2",
    "YiDenseNet": "flarepipe.models.densenet",
    "count_flops": "flarepipe.models.flops",
}


def __getattr__(name: str) -> Any:
    """Import the torch-backed classes on first access."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
