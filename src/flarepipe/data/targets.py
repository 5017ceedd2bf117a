"""Typed training targets a shard can hold: binary labels, classes, and ragged detection boxes.

Plain NumPy containers, checked when made, with no file access (the on-disk layout lives in
:mod:`flarepipe.data.shards`). Every target knows its ``kind`` (the value of the ``kind`` attribute
of its group in a shard) and its number of samples ``len(target)``.

================  ===================================  =====================================
kind              content                              rule
================  ===================================  =====================================
``binary``        int64 [N]                            every value 0 or 1
``class``         int64 [N] + ``names`` (C strings)    value in ``[0, C)``, or -1 = unknown
``boxes``         ``offsets`` int64 [N+1],             sample ``i`` owns boxes
                  ``boxes`` float32 [M,4],             ``offsets[i]:offsets[i+1]``; a box is
                  ``labels`` int64 [M] + ``names``     ``x0, y0, x1, y1`` in pixels of the
                                                       sample's image (x0 <= x1, y0 <= y1);
                                                       a label is in ``[0, C)``
================  ===================================  =====================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "TARGET_KINDS",
    "BinaryTarget",
    "BoxTarget",
    "ClassTarget",
    "Target",
    "as_target",
]


def _int_vector(values: Any, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-d [N], got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
            raise ValueError(f"{what} must be integers, got dtype {arr.dtype}")
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{what} must be integers, got non-integral values")
    return arr.astype(np.int64)


def _names(names: Sequence[str], what: str) -> tuple[str, ...]:
    if isinstance(names, str):
        raise ValueError(f"{what} must be a sequence of class names, got the string {names!r}")
    out = tuple(str(n) for n in names)
    if not out:
        raise ValueError(f"{what} must name at least one class")
    if len(set(out)) != len(out):
        raise ValueError(f"{what} has duplicate class names: {list(out)}")
    return out


@dataclass(frozen=True, eq=False)
class BinaryTarget:
    """A yes/no label per sample (e.g. a >= M1.0 flare within 24 h).

    Parameters
    ----------
    values
        int [N] of 0/1 (stored as int64).
    """

    values: np.ndarray
    kind: ClassVar[str] = "binary"

    def __post_init__(self) -> None:
        values = _int_vector(self.values, "binary target")
        if values.size and not np.isin(values, (0, 1)).all():
            raise ValueError(
                f"binary target values must be 0 or 1, got values {np.unique(values)[:10]}"
            )
        object.__setattr__(self, "values", values)

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def take(self, indices: Any) -> BinaryTarget:
        """The target of the samples ``indices`` (in that order)."""
        return BinaryTarget(self.values[np.asarray(indices, dtype=np.int64)])


@dataclass(frozen=True, eq=False)
class ClassTarget:
    """One of ``C`` named classes per sample (e.g. Mt. Wilson classes), -1 where unknown.

    Parameters
    ----------
    values
        int [N], each in ``[0, len(names))`` or -1.
    names
        The class names, index ``c`` naming class ``c``.
    """

    values: np.ndarray
    names: tuple[str, ...]
    kind: ClassVar[str] = "class"

    def __post_init__(self) -> None:
        values = _int_vector(self.values, "class target")
        names = _names(self.names, "class target names")
        bad = values[(values < -1) | (values >= len(names))]
        if bad.size:
            raise ValueError(
                f"class target values must be in [0, {len(names)}) (classes {list(names)}) "
                f"or -1 (unknown), got {np.unique(bad)[:10]}"
            )
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "names", names)

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def take(self, indices: Any) -> ClassTarget:
        """The target of the samples ``indices`` (in that order)."""
        return ClassTarget(self.values[np.asarray(indices, dtype=np.int64)], self.names)


@dataclass(frozen=True, eq=False)
class BoxTarget:
    """Detection boxes, any number per sample (zero included), stored ragged.

    Parameters
    ----------
    offsets
        int [N+1], non-decreasing from 0 to M: sample ``i`` owns rows
        ``offsets[i]:offsets[i+1]`` of ``boxes`` and ``labels``.
    boxes
        float [M,4], ``x0, y0, x1, y1`` in pixels of the sample's image, ``x0 <= x1``,
        ``y0 <= y1`` (stored as float32).
    labels
        int [M], the class of each box, in ``[0, len(names))``.
    names
        Class names of the boxes (e.g. ``("flare",)`` or Mt. Wilson classes).

    Notes
    -----
    Build from per-sample lists with :meth:`from_lists`; :meth:`sample` gives one sample's boxes.
    """

    offsets: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    names: tuple[str, ...]
    kind: ClassVar[str] = "boxes"
    #: Coordinate convention of :attr:`boxes` (stored as the ``box_format`` attribute).
    box_format: ClassVar[str] = "xyxy"

    def __post_init__(self) -> None:
        offsets = _int_vector(self.offsets, "box target offsets")
        boxes = np.asarray(self.boxes, dtype=np.float32)
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        labels = _int_vector(np.asarray(self.labels).reshape(-1), "box target labels")
        names = _names(self.names, "box target names")
        m = boxes.shape[0]
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"box target boxes must have shape [M,4], got {boxes.shape}")
        if labels.shape != (m,):
            raise ValueError(f"box target has {m} boxes but {labels.shape[0]} box labels")
        if offsets.size == 0 or offsets[0] != 0 or offsets[-1] != m:
            raise ValueError(
                f"box target offsets must run from 0 to the number of boxes ({m}), got "
                f"{offsets[:3].tolist()}...{offsets[-3:].tolist()}"
            )
        if np.any(np.diff(offsets) < 0):
            raise ValueError("box target offsets must be non-decreasing")
        if not np.all(np.isfinite(boxes)):
            raise ValueError("box target boxes must be finite")
        if np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1]):
            raise ValueError("box target boxes must be x0, y0, x1, y1 with x0 <= x1 and y0 <= y1")
        bad = labels[(labels < 0) | (labels >= len(names))]
        if bad.size:
            raise ValueError(
                f"box labels must be in [0, {len(names)}) (classes {list(names)}), "
                f"got {np.unique(bad)[:10]}"
            )
        object.__setattr__(self, "offsets", offsets)
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "names", names)

    @classmethod
    def from_lists(
        cls,
        boxes: Sequence[Any],
        labels: Sequence[Any] | None,
        names: Sequence[str],
    ) -> BoxTarget:
        """Build from one ``[m_i, 4]`` box array (and one ``[m_i]`` label array) per sample.

        Parameters
        ----------
        boxes
            Per sample, an array-like of shape ``[m_i, 4]`` (``m_i`` may be 0).
        labels
            Per sample, ``m_i`` class indices; ``None`` gives every box class 0.
        names
            Class names of the boxes.
        """
        per = [np.asarray(b, dtype=np.float32).reshape(-1, 4) for b in boxes]
        if labels is None:
            lab = [np.zeros(len(b), dtype=np.int64) for b in per]
        else:
            if len(labels) != len(per):
                raise ValueError(
                    f"box target: {len(per)} samples of boxes but {len(labels)} of labels"
                )
            lab = [np.asarray(x, dtype=np.int64).reshape(-1) for x in labels]
            for i, (b, x) in enumerate(zip(per, lab, strict=True)):
                if len(b) != len(x):
                    raise ValueError(f"box target sample {i}: {len(b)} boxes, {len(x)} labels")
        counts = np.array([len(b) for b in per], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        cat_boxes = np.concatenate(per) if per else np.zeros((0, 4), np.float32)
        cat_labels = np.concatenate(lab) if lab else np.zeros(0, np.int64)
        return cls(offsets, cat_boxes, cat_labels, tuple(names))

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def counts(self) -> np.ndarray:
        """Boxes per sample, int64 [N]."""
        return np.diff(self.offsets)

    def sample(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Boxes ``[m_i, 4]`` and labels ``[m_i]`` of sample ``i``."""
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"box target sample {i} out of range for {n} samples")
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.boxes[a:b], self.labels[a:b]

    def take(self, indices: Any) -> BoxTarget:
        """The boxes of the samples ``indices`` (in that order, repeats allowed)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        idx = np.where(idx < 0, idx + n, idx)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"box target indices out of range for {n} samples")
        counts = self.counts()[idx]
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        # Row r of the result is row (start of its sample) + (its place within the sample).
        rows = np.repeat(self.offsets[idx] - offsets[:-1], counts) + np.arange(offsets[-1])
        return BoxTarget(offsets, self.boxes[rows], self.labels[rows], self.names)


#: Any target type.
Target = BinaryTarget | ClassTarget | BoxTarget

#: Target kinds by the name stored in a shard's ``kind`` attribute.
TARGET_KINDS: dict[str, type] = {
    BinaryTarget.kind: BinaryTarget,
    ClassTarget.kind: ClassTarget,
    BoxTarget.kind: BoxTarget,
}


def as_target(name: str, value: Any) -> Target:
    """``value`` as a typed target: a target passes through; a plain array becomes binary.

    Parameters
    ----------
    name
        The target's name (used in error messages).
    value
        A :class:`BinaryTarget`, :class:`ClassTarget`, :class:`BoxTarget`, or an array of 0/1
        (read as a :class:`BinaryTarget`).
    """
    if isinstance(value, (BinaryTarget, ClassTarget, BoxTarget)):
        return value
    try:
        return BinaryTarget(np.asarray(value))
    except ValueError as exc:
        raise ValueError(
            f"target {name!r}: {exc}; pass a ClassTarget or BoxTarget for other kinds"
        ) from exc
