"""The LSTM of Sun et al. 2022 (S1) on keyword sequences; registered as ``lstm``."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["LSTMNet"]


class LSTMNet(nn.Module):
    """Stacked LSTM on the keyword sequence; the last step's output goes to a linear layer.

    S1 (Sun et al. 2022): 2 layers of 64 units on the 16-step sequence of 4 keywords, last output
    -> linear(2) -> softmax (the softmax is applied by the loss / at prediction).

    Parameters
    ----------
    n_features
        Keywords per step, K.
    hidden
        LSTM units per layer.
    layers
        Stacked LSTM layers.
    n_classes
        Output scores.
    dropout
        Dropout between LSTM layers (S1: none).
    """

    def __init__(
        self,
        n_features: int = 4,
        hidden: int = 64,
        layers: int = 2,
        n_classes: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.n_outputs = n_classes
        self.lstm = nn.LSTM(
            input_size=n_features,
            hidden_size=hidden,
            num_layers=layers,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.linear = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores [B, n_classes] for sequences ``x`` [B, T, K]."""
        out, _ = self.lstm(x)
        return self.linear(out[:, -1, :])
