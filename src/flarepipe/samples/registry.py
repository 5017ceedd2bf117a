"""Registries of label tasks and datasets (light: no pandas import until a task runs).

Label tasks (``labels.task`` in the configuration) turn the candidate windows of
:func:`flarepipe.samples.labels.label_windows` into labelled samples: a task is a pure function
``candidates -> samples`` with the ``label`` column set (see :mod:`flarepipe.samples.labels`).

Datasets (``experiments.datasets``) say which instrument's samples are split by region (the
*primary* one; validation and test come from it alone) and which instruments' samples are all
added to the training split (the *extra* ones, S1's fusion)::

    name            primary   extra (train only)   image transform
    SHARP_ONLY      HMI       -                    -
    SMARP_ONLY      MDI       -                    -
    FUSED_SHARP     HMI       MDI                  -
    FUSED_SMARP     MDI       HMI                  -
    SHARP_REVERSED  HMI       -                    reverse_polarity
    SHARP_HALE_JOY  HMI       -                    hale_joy

A dataset may transform every image of its shards (:data:`IMAGE_TRANSFORMS`; S2 Fig 11):
``reverse_polarity`` negates the field; ``hale_joy`` mirrors each southern-hemisphere image
north-south and negates it, so that every region shows the northern hemisphere's Hale polarity
order and Joy tilt sense of its cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flarepipe.core.registry import Registry, resolve

__all__ = [
    "DATASETS",
    "IMAGE_TRANSFORMS",
    "TASKS",
    "DatasetSpec",
    "LabelTask",
    "dataset_names",
    "register_dataset",
    "register_task",
    "task_names",
]


@dataclass(frozen=True)
class LabelTask:
    """A registered label task.

    Attributes
    ----------
    name : str
        The name ``labels.task`` uses.
    target : str or callable
        ``"package.module:function"`` or the function ``candidates -> samples``.
    description : str
        One line.
    """

    name: str
    target: Any
    description: str = ""

    def label(self, candidates: Any) -> Any:
        """Apply the task to a candidates frame."""
        fn: Callable = resolve(self.target, f"label task {self.name!r}")
        return fn(candidates)


#: image transforms a dataset may apply to its shards' images (module docstring)
IMAGE_TRANSFORMS = ("", "reverse_polarity", "hale_joy")


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: the instrument split by region and those added to training.

    Attributes
    ----------
    name : str
        The name ``experiments.datasets`` uses (and a results folder).
    primary : str
        Instrument whose samples are split into train/val/test by region.
    extra : tuple of str
        Instruments whose samples are all added to the training split.
    description : str
        One line.
    image_transform : str
        One of :data:`IMAGE_TRANSFORMS` ("": the images as the archive holds them).
    """

    name: str
    primary: str
    extra: tuple[str, ...] = ()
    description: str = ""
    image_transform: str = ""

    @property
    def instruments(self) -> tuple[str, ...]:
        """Primary then extra instruments."""
        return (self.primary, *self.extra)


TASKS: Registry[LabelTask] = Registry("label task", "flarepipe.samples.registry.register_task")
DATASETS: Registry[DatasetSpec] = Registry("dataset", "flarepipe.samples.registry.register_dataset")


def register_task(
    name: str, target: Any = None, *, description: str = "", replace: bool = False
) -> Any:
    """Register a label task; without ``target``, return a function decorator.

    Parameters
    ----------
    name
        The ``labels.task`` value.
    target
        ``"package.module:function"`` or the function ``candidates -> samples``.
    description
        One line.
    replace
        Override a task registered under the same name.
    """
    if target is None:

        def decorate(fn: Callable) -> Callable:
            TASKS.register(name, LabelTask(name, fn, description), replace=replace)
            return fn

        return decorate
    return TASKS.register(name, LabelTask(name, target, description), replace=replace)


def register_dataset(
    name: str,
    primary: str,
    extra: Sequence[str] = (),
    *,
    description: str = "",
    image_transform: str = "",
    replace: bool = False,
) -> DatasetSpec:
    """Register a dataset.

    Raises
    ------
    ValueError
        For an empty instrument, an extra instrument equal to the primary one, an unknown
        ``image_transform``, or a taken name.
    """
    if image_transform not in IMAGE_TRANSFORMS:
        raise ValueError(
            f"dataset {name!r}: image_transform must be one of {list(IMAGE_TRANSFORMS)}, "
            f"got {image_transform!r}"
        )
    extra = tuple(extra)
    if not isinstance(primary, str) or not primary:
        raise ValueError(f"dataset {name!r}: primary must be an instrument name, got {primary!r}")
    if primary in extra or len(set(extra)) != len(extra) or not all(extra):
        raise ValueError(
            f"dataset {name!r}: extra instruments {list(extra)} must be distinct, non-empty and "
            f"differ from the primary {primary!r}"
        )
    spec = DatasetSpec(name, primary, extra, description, image_transform)
    return DATASETS.register(name, spec, replace=replace)


def task_names() -> tuple[str, ...]:
    """Registered label tasks."""
    return TASKS.names()


def dataset_names() -> tuple[str, ...]:
    """Registered datasets."""
    return DATASETS.names()


register_task(
    "strong_vs_quiet",
    "flarepipe.samples.labels:strong_vs_quiet",
    description="S1: STRONG prediction window vs QUIET observation and prediction windows",
)
register_task(
    "flaring_region",
    "flarepipe.samples.labels:flaring_region",
    description="S2: region produced >= strong_class during its record span, one sample per "
    "good record",
)
register_dataset("SHARP_ONLY", "HMI", description="S1: SHARP (HMI) samples")
register_dataset("SMARP_ONLY", "MDI", description="S1: SMARP (MDI) samples")
register_dataset("FUSED_SHARP", "HMI", ("MDI",), description="S1: SHARP, SMARP added to train")
register_dataset("FUSED_SMARP", "MDI", ("HMI",), description="S1: SMARP, SHARP added to train")
register_dataset(
    "SHARP_REVERSED",
    "HMI",
    description="S2 Fig 11: SHARP (HMI) samples, every image's polarity reversed",
    image_transform="reverse_polarity",
)
register_dataset(
    "SHARP_HALE_JOY",
    "HMI",
    description="S2 Fig 11: SHARP (HMI) samples, southern regions mirrored N-S and reversed",
    image_transform="hale_joy",
)
