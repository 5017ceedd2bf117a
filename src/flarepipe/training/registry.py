"""The baseline registry: models fitted without the network trainer (light to import).

A baseline is a function ``fit(shard_paths, out_dir, *, seed, **params) -> summary`` that reads
the ``train``/``val``/``test`` shards of one dataset run and writes ``predictions.csv``
(``sample_id, split, label, prob`` for val and test, ``docs/FILES.md``) into ``out_dir``. Its
``params`` are the ``models.<name>`` block of the configuration, checked against the registered
JSON schema before any job runs.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flarepipe.core.keywords import AREA_FLUX_COLUMNS, KEYWORD_COLUMNS
from flarepipe.core.registry import Registry, call_or_decorate, resolve

__all__ = [
    "BASELINES",
    "BaselineSpec",
    "baseline_names",
    "fit_baseline",
    "register_baseline",
]


@dataclass(frozen=True)
class BaselineSpec:
    """A registered baseline.

    Attributes
    ----------
    name : str
        The name ``experiments.models`` uses.
    target : str or callable
        ``"package.module:function"`` or the fitting function.
    input : str
        What it reads of the shards (``"sequence"``: the keywords).
    params_schema : dict
        JSON schema of its ``models.<name>`` block.
    description : str
        One line.
    """

    name: str
    target: Any
    input: str = "sequence"
    params_schema: dict = field(default_factory=lambda: {"type": "object"})
    description: str = ""

    def function(self) -> Callable[..., dict]:
        """The fitting function (imports its module on first use)."""
        return resolve(self.target, f"baseline {self.name!r}")


BASELINES: Registry[BaselineSpec] = Registry(
    "baseline", "flarepipe.training.registry.register_baseline"
)


def register_baseline(
    name: str,
    target: Any = None,
    *,
    input: str = "sequence",
    params_schema: Mapping[str, Any] | None = None,
    description: str = "",
    replace: bool = False,
) -> Any:
    """Register a baseline; without ``target``, return a function decorator.

    Parameters
    ----------
    name
        Registry name.
    target
        ``"package.module:function"`` or the function
        ``fit(shard_paths, out_dir, *, seed, **params) -> dict``.
    input
        What it reads (``"sequence"`` or ``"image"``); paired tests by default compare it with
        the networks reading the same input.
    params_schema
        JSON schema of the ``models.<name>`` block (``properties`` without
        ``additionalProperties`` rejects unknown keys).
    description
        One line.
    replace
        Override a baseline registered under the same name.
    """
    schema = copy.deepcopy(dict(params_schema or {}))
    schema.setdefault("type", "object")
    if "properties" in schema:
        schema.setdefault("additionalProperties", False)

    def make(tgt: Any) -> BaselineSpec:
        spec = BaselineSpec(name, tgt, input, schema, description)
        return BASELINES.register(name, spec, replace=replace)

    return call_or_decorate(make, target)


def baseline_names() -> tuple[str, ...]:
    """Registered baselines."""
    return BASELINES.names()


def fit_baseline(
    name: str,
    shard_paths: Mapping[str, str | os.PathLike],
    out_dir: str | os.PathLike,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> dict:
    """Fit baseline ``name`` with its ``models.<name>`` params; return its summary."""
    fit = BASELINES[name].function()
    return fit(dict(shard_paths), out_dir, seed=int(seed), **dict(params or {}))


register_baseline(
    "logreg",
    "flarepipe.training.baselines:train_logreg",
    input="sequence",
    description="logistic regression on the last record's keywords (scikit-learn)",
    params_schema={
        "properties": {
            "C": {"type": "number", "exclusiveMinimum": 0, "description": "inverse regularisation"},
            "class_weight": {"enum": ["balanced", None], "description": "class weighting"},
        }
    },
)

# --- S2 (Bhattacharjee et al. 2020) Fig 5: SVMs on the region's keywords ---------------------
_KEYWORD_LIST = {
    "type": ["array", "null"],
    "items": {"enum": list(KEYWORD_COLUMNS)},
    "minItems": 1,
    "uniqueItems": True,
}
_SVM_PARAMS = {
    "C": {"type": "number", "exclusiveMinimum": 0, "description": "SVM regularisation"},
    "kernel": {"enum": ["rbf", "linear"], "description": "SVM kernel"},
    "class_weight": {"enum": ["balanced", None], "description": "class weighting"},
}
register_baseline(
    "svm",
    "flarepipe.training.svm:train_svm",
    input="sequence",
    description="S2 SVM on the last record's keywords (scikit-learn)",
    params_schema={
        "default": {},
        "properties": {
            **_SVM_PARAMS,
            "keywords": {**_KEYWORD_LIST, "default": None, "description": "null: all"},
        },
    },
)
register_baseline(
    "svm_area_flux",
    "flarepipe.training.svm:train_svm_area_flux",
    input="sequence",
    description="S2 SVM on the region's area and total unsigned flux (scikit-learn)",
    params_schema={
        "default": {},
        "properties": {
            **_SVM_PARAMS,
            "keywords": {
                **_KEYWORD_LIST,
                "default": list(AREA_FLUX_COLUMNS),
                "description": "keywords used",
            },
        },
    },
)
