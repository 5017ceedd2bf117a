"""Registry of stacking criteria and the names of the ensembles built from a pair of models.

A criterion scores candidate combined forecasts on the validation split: ``grid(y, r)`` takes
labels ``y`` [n] and candidate probabilities ``r`` [n_alpha, n] and returns one score per row.
Registered with whether higher is better and whether it needs both classes (NaN otherwise).

Ensembles of one pair (``experiments.stacking``), see :mod:`flarepipe.evaluation.evaluate`:
``<prefix>stack_<criterion>`` per criterion, ``<prefix>avg`` and ``<prefix>best_<best>``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from flarepipe.core.registry import Registry, call_or_decorate

__all__ = [
    "CRITERIA",
    "Criterion",
    "criterion_names",
    "ensemble_names",
    "register_criterion",
]

_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class Criterion:
    """A registered stacking criterion.

    Attributes
    ----------
    name : str
        The name ``experiments.stacking`` uses.
    grid : callable
        ``grid(y, r) -> scores``: labels [n] (int 0/1), candidates [n_alpha, n] -> [n_alpha].
    higher_is_better : bool
        Direction of the optimisation.
    needs_both_classes : bool
        NaN (undefined) when the validation split holds a single class.
    description : str
        One line.
    """

    name: str
    grid: Callable[[np.ndarray, np.ndarray], np.ndarray]
    higher_is_better: bool
    needs_both_classes: bool = True
    description: str = ""


CRITERIA: Registry[Criterion] = Registry(
    "stacking criterion", "flarepipe.evaluation.criteria.register_criterion"
)


def register_criterion(
    name: str,
    grid: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    *,
    higher_is_better: bool,
    needs_both_classes: bool = True,
    description: str = "",
    replace: bool = False,
) -> Criterion | Callable:
    """Register a stacking criterion; without ``grid``, return a function decorator."""

    def make(fn: Callable) -> Criterion:
        spec = Criterion(name, fn, bool(higher_is_better), bool(needs_both_classes), description)
        return CRITERIA.register(name, spec, replace=replace)

    return call_or_decorate(make, grid)


def criterion_names() -> tuple[str, ...]:
    """Registered criteria."""
    return CRITERIA.names()


def ensemble_names(criteria: Iterable[str], prefix: str = "", best: str = "tss") -> list[str]:
    """Model names of the ensembles of one pair: ``stack_<c>`` per criterion, ``avg``, ``best_<b>``.

    Parameters
    ----------
    criteria
        Stacking criteria, in order.
    prefix
        Put before every name (to tell the ensembles of two configured pairs apart).
    best
        Criterion of the ``best_`` ensemble.
    """
    return [f"{prefix}stack_{c}" for c in criteria] + [f"{prefix}avg", f"{prefix}best_{best}"]


def _cross_entropy(y: np.ndarray, r: np.ndarray) -> np.ndarray:
    q = np.clip(r, _EPS, 1.0 - _EPS)
    return -np.mean(np.where(y[None, :] == 1, np.log(q), np.log1p(-q)), axis=1)


def _bss(y: np.ndarray, r: np.ndarray) -> np.ndarray:
    f = y.sum() / y.size
    return 1.0 - np.mean((r - y[None, :]) ** 2, axis=1) / (f * (1.0 - f))


def _tss(y: np.ndarray, r: np.ndarray) -> np.ndarray:
    f = r >= 0.5
    n_pos = int(y.sum())
    return f[:, y == 1].sum(axis=1) / n_pos - f[:, y == 0].sum(axis=1) / (y.size - n_pos)


def _auc(y: np.ndarray, r: np.ndarray) -> np.ndarray:
    from sklearn.metrics import roc_auc_score

    return np.array([roc_auc_score(y, row) for row in r])


register_criterion(
    "cross_entropy",
    _cross_entropy,
    higher_is_better=False,
    needs_both_classes=False,
    description="mean log loss (minimised)",
)
register_criterion("bss", _bss, higher_is_better=True, description="Brier skill score")
register_criterion("auc", _auc, higher_is_better=True, description="area under the ROC curve")
register_criterion("tss", _tss, higher_is_better=True, description="true skill statistic at 0.5")
