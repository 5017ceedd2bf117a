"""Typed training parameters: what :func:`flarepipe.training.fit.train_one` reads.

Their defaults and bounds live in the configuration schema (``$defs/train`` of
``flarepipe/config/schema.yaml``), overlaid by each network's registered ``train_defaults``
(:func:`flarepipe.models.register_network`). A job gets them filled from ``models.<name>.train``;
code outside the workflow builds them with :func:`flarepipe.config.train_settings`, e.g.
``train_settings("cnn", {"max_epochs": 3})``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["TrainSettings"]


@dataclass(frozen=True)
class TrainSettings:
    """Training parameters of one network (see ``$defs/train`` in the schema for each field)."""

    max_epochs: int
    patience: int
    min_delta: float
    batch_size: int
    lr: float
    weight_decay: float
    class_weight: tuple[float, float] | None
    pos_weight: float | None
    num_workers: int
    cpu_threads: int
    preload: bool
    data_device: str
    precision: str
    accelerator: str
    deterministic: Any
    channels_last: Any
    augment: tuple[str, ...]
    loss: str
    optimizer: str
    momentum: float

    def __post_init__(self) -> None:
        if self.class_weight is not None:
            object.__setattr__(self, "class_weight", tuple(float(w) for w in self.class_weight))
        object.__setattr__(self, "augment", tuple(self.augment))

    @classmethod
    def of(cls, value: TrainSettings | Mapping[str, Any]) -> TrainSettings:
        """``value`` itself, or the settings of a complete mapping (a filled ``train`` block).

        Raises
        ------
        ValueError
            Naming the missing or unknown fields of an incomplete mapping.
        """
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(
                f"training parameters must be TrainSettings or a mapping, got {value!r}"
            )
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in value]
        unknown = sorted(set(value) - set(names))
        if missing or unknown:
            raise ValueError(
                "training parameters must be a filled models.<name>.train block "
                f"(missing {missing}, unknown {unknown}); build them with "
                "flarepipe.config.train_settings(model, values)"
            )
        return cls(**dict(value))

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict."""
        return dataclasses.asdict(self)
