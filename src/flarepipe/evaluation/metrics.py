"""Skill scores for binary flare forecasts, from labels and probabilities.

Every score is a pure function of the labels ``y`` (0/1) and the forecast probabilities ``p`` of
the positive class. Categorical scores use the contingency table at a probability threshold:
a sample is *forecast positive* iff ``p >= threshold`` (default 0.5).

Contingency table (rows: forecast, columns: observed)::

                     observed +   observed -
    forecast +          TP           FP
    forecast -          FN           TN

with ``N = TP + FN + FP + TN``, ``P = TP + FN`` (events) and ``Q = FP + TN`` (non-events).

Scores (names are the keys of :func:`all_metrics` and the ``metric`` column downstream):

========== ==================================================================================
``ACC``    accuracy ``(TP + TN) / N``
``TSS``    true skill statistic ``TP/P - FP/Q`` (= TPR - FPR = 2 * balanced accuracy - 1)
``HSS``    Heidke skill score ``2 (TP*TN - FN*FP) / (P (FN + TN) + (TP + FP) Q)``
``ApSS``   Appleman skill score: accuracy gain over always forecasting the majority class,
           ``(TP + TN - max(P, Q)) / (N - max(P, Q))``, i.e. ``(TP - FP) / P`` when events are
           the minority and ``(TN - FN) / Q`` otherwise
``FB``     frequency bias ``(TP + FP) / P``
``precision`` ``TP / (TP + FP)``
``recall`` ``TP / P`` (true-positive rate, probability of detection)
``AUC``    area under the ROC curve (:func:`sklearn.metrics.roc_auc_score`; threshold-free)
``BS``     Brier score ``mean((p - y)^2)``
``BSS``    Brier skill score ``1 - BS / BS_clim`` with ``BS_clim = f (1 - f)``, the Brier score
           of the constant forecast ``f`` = event rate *of the evaluated set itself* (so BSS
           measures skill over that set's climatology; on an undersampled, balanced set
           ``f = 0.5`` and ``BS_clim = 0.25``)
``CE``     cross-entropy (log loss) ``-mean(y log p + (1 - y) log(1 - p))``, ``p`` clipped to
           ``[eps, 1 - eps]`` with ``eps`` the float64 machine epsilon (as scikit-learn does)
========== ==================================================================================

The table counts ``TP``, ``FN``, ``FP``, ``TN``, the size ``N`` and the event rate ``event_rate``
are returned too.

Degenerate cases never raise: a score whose denominator is zero (e.g. TSS on a set with a single
class, precision with no positive forecast) is NaN, and :func:`metrics_with_reasons` says why.
:func:`all_metrics` also emits a :class:`DegenerateMetricWarning` naming the NaN scores.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics import roc_auc_score

__all__ = [
    "METRIC_NAMES",
    "SCORE_NAMES",
    "HIGHER_IS_BETTER",
    "DegenerateMetricWarning",
    "MetricsResult",
    "Contingency",
    "contingency",
    "check_inputs",
    "tss",
    "hss",
    "apss",
    "brier_score",
    "brier_skill_score",
    "cross_entropy",
    "auc",
    "metrics_with_reasons",
    "all_metrics",
    "skill_profile",
]

#: Skill scores returned by :func:`all_metrics`, in display order.
SCORE_NAMES: tuple[str, ...] = (
    "ACC",
    "TSS",
    "HSS",
    "ApSS",
    "FB",
    "precision",
    "recall",
    "AUC",
    "BS",
    "BSS",
    "CE",
)
#: Every key of :func:`all_metrics`: the scores, then the contingency counts.
METRIC_NAMES: tuple[str, ...] = SCORE_NAMES + ("TP", "FN", "FP", "TN", "N", "event_rate")

#: Direction of each score (``False``: lower is better; ``None``: not a skill, e.g. FB, counts).
HIGHER_IS_BETTER: dict[str, bool | None] = {
    "ACC": True,
    "TSS": True,
    "HSS": True,
    "ApSS": True,
    "FB": None,
    "precision": True,
    "recall": True,
    "AUC": True,
    "BS": False,
    "BSS": True,
    "CE": False,
    "TP": None,
    "FN": None,
    "FP": None,
    "TN": None,
    "N": None,
    "event_rate": None,
}

_EPS = float(np.finfo(np.float64).eps)


class DegenerateMetricWarning(UserWarning):
    """A score is undefined (NaN) for the data given, e.g. a set with a single class."""


@dataclass(frozen=True)
class Contingency:
    """Counts of the 2x2 contingency table (see the module docstring)."""

    tp: int
    fn: int
    fp: int
    tn: int

    @property
    def n(self) -> int:
        """Total number of samples."""
        return self.tp + self.fn + self.fp + self.tn

    @property
    def pos(self) -> int:
        """Observed events ``P = TP + FN``."""
        return self.tp + self.fn

    @property
    def neg(self) -> int:
        """Observed non-events ``Q = FP + TN``."""
        return self.fp + self.tn


@dataclass
class MetricsResult:
    """Scores and, for each NaN score, the reason it is undefined."""

    values: dict[str, float]
    reasons: dict[str, str] = field(default_factory=dict)


def check_inputs(y: ArrayLike, p: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert labels and probabilities.

    Parameters
    ----------
    y : array_like
        Labels, each 0 or 1 (bool or integer-valued).
    p : array_like
        Probabilities of the positive class, each finite and within ``[0, 1]``.

    Returns
    -------
    y, p : numpy.ndarray
        ``y`` as int64, ``p`` as float64, both 1-D.

    Raises
    ------
    ValueError
        On different lengths, labels other than 0/1, or probabilities that are NaN or outside
        ``[0, 1]``; the message names the first offending value.
    """
    y_arr = np.asarray(y).ravel()
    p_arr = np.asarray(p, dtype=np.float64).ravel()
    if y_arr.shape != p_arr.shape:
        raise ValueError(f"labels and probabilities differ in length: {y_arr.size} vs {p_arr.size}")
    if y_arr.size:
        yf = y_arr.astype(np.float64)
        bad = ~np.isin(yf, (0.0, 1.0))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"labels must be 0 or 1; got {y_arr[i]!r} at position {i}")
        badp = ~np.isfinite(p_arr) | (p_arr < 0.0) | (p_arr > 1.0)
        if badp.any():
            i = int(np.argmax(badp))
            raise ValueError(
                f"probabilities must be finite and within [0, 1]; got {p_arr[i]!r} at position {i}"
            )
    return y_arr.astype(np.int64), p_arr


def contingency(y: ArrayLike, p: ArrayLike, threshold: float = 0.5) -> Contingency:
    """Contingency table of the forecast ``p >= threshold`` against the labels ``y``.

    Parameters
    ----------
    y : array_like
        Labels (0/1).
    p : array_like
        Probabilities of the positive class.
    threshold : float, default 0.5
        Forecast positive iff ``p >= threshold``.

    Returns
    -------
    Contingency
    """
    y_arr, p_arr = check_inputs(y, p)
    f = p_arr >= threshold
    o = y_arr == 1
    return Contingency(
        tp=int(np.sum(f & o)),
        fn=int(np.sum(~f & o)),
        fp=int(np.sum(f & ~o)),
        tn=int(np.sum(~f & ~o)),
    )


def _div(num: float, den: float) -> float:
    return float(num) / float(den) if den != 0 else float("nan")


def tss(c: Contingency) -> float:
    """True skill statistic ``TP/(TP+FN) - FP/(FP+TN)``; NaN unless both classes occur."""
    if c.pos == 0 or c.neg == 0:
        return float("nan")
    return c.tp / c.pos - c.fp / c.neg


def hss(c: Contingency) -> float:
    """Heidke skill score ``2(TP TN - FN FP) / ((TP+FN)(FN+TN) + (TP+FP)(FP+TN))``."""
    num = 2.0 * (float(c.tp) * c.tn - float(c.fn) * c.fp)
    den = float(c.tp + c.fn) * (c.fn + c.tn) + float(c.tp + c.fp) * (c.fp + c.tn)
    return _div(num, den)


def apss(c: Contingency) -> float:
    """Appleman skill score: accuracy gain over always forecasting the majority class.

    ``(TP + TN - max(P, Q)) / (N - max(P, Q))``; NaN when one class is absent (``N = max``).
    """
    m = max(c.pos, c.neg)
    return _div(c.tp + c.tn - m, c.n - m)


def brier_score(y: ArrayLike, p: ArrayLike) -> float:
    """Brier score ``mean((p - y)^2)``; NaN on an empty set."""
    y_arr, p_arr = check_inputs(y, p)
    if y_arr.size == 0:
        return float("nan")
    return float(np.mean((p_arr - y_arr) ** 2))


def brier_skill_score(y: ArrayLike, p: ArrayLike) -> float:
    """Brier skill score against the evaluated set's own climatology.

    ``BSS = 1 - BS / (f (1 - f))`` with ``f`` the event rate of ``y``. NaN when ``y`` has a
    single class (the climatological forecast is then perfect, ``BS_clim = 0``).
    """
    y_arr, p_arr = check_inputs(y, p)
    if y_arr.size == 0:
        return float("nan")
    f = float(np.mean(y_arr))
    bs_clim = f * (1.0 - f)
    if bs_clim == 0.0:
        return float("nan")
    return 1.0 - brier_score(y_arr, p_arr) / bs_clim


def cross_entropy(y: ArrayLike, p: ArrayLike, eps: float = _EPS) -> float:
    """Mean binary cross-entropy with ``p`` clipped to ``[eps, 1 - eps]``; NaN when empty."""
    y_arr, p_arr = check_inputs(y, p)
    if y_arr.size == 0:
        return float("nan")
    q = np.clip(p_arr, eps, 1.0 - eps)
    return float(-np.mean(np.where(y_arr == 1, np.log(q), np.log1p(-q))))


def auc(y: ArrayLike, p: ArrayLike) -> float:
    """Area under the ROC curve (scikit-learn); NaN unless both classes occur."""
    y_arr, p_arr = check_inputs(y, p)
    if y_arr.size == 0 or np.unique(y_arr).size < 2:
        return float("nan")
    return float(roc_auc_score(y_arr, p_arr))


def metrics_with_reasons(y: ArrayLike, p: ArrayLike, threshold: float = 0.5) -> MetricsResult:
    """All scores and the reason for every NaN.

    Parameters
    ----------
    y : array_like
        Labels (0/1).
    p : array_like
        Probabilities of the positive class.
    threshold : float, default 0.5
        Forecast positive iff ``p >= threshold`` (categorical scores only).

    Returns
    -------
    MetricsResult
        ``values`` has every key of :data:`METRIC_NAMES`; ``reasons`` maps each NaN score to a
        sentence saying why it is undefined.
    """
    y_arr, p_arr = check_inputs(y, p)
    c = contingency(y_arr, p_arr, threshold)
    n = c.n
    vals: dict[str, float] = {
        "ACC": _div(c.tp + c.tn, n),
        "TSS": tss(c),
        "HSS": hss(c),
        "ApSS": apss(c),
        "FB": _div(c.tp + c.fp, c.pos),
        "precision": _div(c.tp, c.tp + c.fp),
        "recall": _div(c.tp, c.pos),
        "AUC": auc(y_arr, p_arr),
        "BS": brier_score(y_arr, p_arr),
        "BSS": brier_skill_score(y_arr, p_arr),
        "CE": cross_entropy(y_arr, p_arr),
        "TP": float(c.tp),
        "FN": float(c.fn),
        "FP": float(c.fp),
        "TN": float(c.tn),
        "N": float(n),
        "event_rate": _div(c.pos, n),
    }
    reasons: dict[str, str] = {}
    if n == 0:
        for k, v in vals.items():
            if np.isnan(v):
                reasons[k] = "empty set: no samples"
        return MetricsResult(vals, reasons)
    single = None
    if c.pos == 0:
        single = "only negatives (no events)"
    elif c.neg == 0:
        single = "only positives (no non-events)"
    for k, v in vals.items():
        if not np.isnan(v):
            continue
        if k == "precision":
            reasons[k] = f"no positive forecast at threshold {threshold}"
        elif k == "HSS":
            reasons[k] = (
                f"{single}, and all forecasts in one class at threshold {threshold}"
                if single
                else f"all forecasts in one class at threshold {threshold}"
            )
        elif single:
            reasons[k] = f"{single}: {k} needs both classes"
        else:  # pragma: no cover - every other NaN needs a single class
            reasons[k] = "undefined"
    return MetricsResult(vals, reasons)


def all_metrics(y: ArrayLike, p: ArrayLike, threshold: float = 0.5) -> dict[str, float]:
    """All scores of the module docstring, as ``{name: value}``.

    Parameters
    ----------
    y : array_like
        Labels (0/1).
    p : array_like
        Probabilities of the positive class.
    threshold : float, default 0.5
        Forecast positive iff ``p >= threshold``.

    Returns
    -------
    dict
        Keys :data:`METRIC_NAMES`, float values; undefined scores are NaN and a
        :class:`DegenerateMetricWarning` lists them with their reasons.

    Examples
    --------
    >>> m = all_metrics([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.9])
    >>> m["TSS"], m["ACC"]
    (0.5, 0.75)
    """
    res = metrics_with_reasons(y, p, threshold)
    if res.reasons:
        msg = "; ".join(f"{k}: {v}" for k, v in res.reasons.items())
        warnings.warn(f"undefined scores set to NaN: {msg}", DegenerateMetricWarning, stacklevel=2)
    return res.values


def skill_profile(y: ArrayLike, p: ArrayLike, thresholds: ArrayLike | None = None) -> pd.DataFrame:
    """Categorical scores as functions of the threshold, vectorised.

    Parameters
    ----------
    y : array_like
        Labels (0/1).
    p : array_like
        Probabilities of the positive class.
    thresholds : array_like, optional
        Thresholds to evaluate; default 101 points on ``[0, 1]``.

    Returns
    -------
    pandas.DataFrame
        Columns ``threshold, TP, FN, FP, TN, TSS, HSS, ACC`` (forecast positive iff
        ``p >= threshold``); NaN where a score is undefined.
    """
    y_arr, p_arr = check_inputs(y, p)
    thr = np.linspace(0.0, 1.0, 101) if thresholds is None else np.asarray(thresholds, float)
    pos_p = np.sort(p_arr[y_arr == 1])
    neg_p = np.sort(p_arr[y_arr == 0])
    # number of forecasts >= t among positives/negatives
    tp = (pos_p.size - np.searchsorted(pos_p, thr, side="left")).astype(np.float64)
    fp = (neg_p.size - np.searchsorted(neg_p, thr, side="left")).astype(np.float64)
    fn = pos_p.size - tp
    tn = neg_p.size - fp
    n_pos, n_neg = float(pos_p.size), float(neg_p.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        tss_v = (tp / n_pos - fp / n_neg) if (n_pos and n_neg) else np.full(thr.shape, np.nan)
        den = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)
        hss_v = np.where(den != 0, 2.0 * (tp * tn - fn * fp) / np.where(den == 0, 1, den), np.nan)
        n = n_pos + n_neg
        acc = (tp + tn) / n if n else np.full(thr.shape, np.nan)
    return pd.DataFrame(
        {
            "threshold": thr,
            "TP": tp,
            "FN": fn,
            "FP": fp,
            "TN": tn,
            "TSS": tss_v,
            "HSS": hss_v,
            "ACC": acc,
        }
    )
