"""TSS by method and lead time of S4 forecasts (light: no torch), and its bound at chance."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["tss_table", "null_tss_sd"]


def _tss(y: np.ndarray, pred: np.ndarray) -> float:
    pos, neg = y == 1, y == 0
    if not pos.any() or not neg.any():
        return math.nan
    return float(pred[pos].mean() - pred[neg].mean())


def null_tss_sd(n_pos: int, n_neg: int) -> float:
    """Largest standard deviation of a TSS on ``n_pos`` positives and ``n_neg`` negatives when the
    forecast is independent of the label: ``sqrt(1/(4 n_pos) + 1/(4 n_neg))`` (binomial, p = ½).
    """
    return math.sqrt(0.25 / n_pos + 0.25 / n_neg)


def tss_table(pred: pd.DataFrame) -> pd.DataFrame:
    """TSS by method and lead time: pooled over folds, per-fold mean and sd, and the null sd."""
    rows = []
    for (method, lead), g in pred.groupby(["method", "lead_h"], sort=True):
        y, p = g["label"].to_numpy(), g["pred"].to_numpy()
        per_fold = [_tss(f["label"].to_numpy(), f["pred"].to_numpy()) for _, f in g.groupby("fold")]
        n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
        rows.append(
            {
                "method": method,
                "lead_h": float(lead),
                "tss": _tss(y, p),
                "tss_fold_mean": float(np.nanmean(per_fold)),
                "tss_fold_sd": float(np.nanstd(per_fold)),
                "n_pos": n_pos,
                "n_neg": n_neg,
                "null_sd": null_tss_sd(n_pos, n_neg),
            }
        )
    return pd.DataFrame(rows)
