"""TSS by method and lead time of S4 forecasts (light: no torch), and its bound at chance."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["tss_table", "null_tss_sd", "output_bins", "mtot_correlations"]


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


def output_bins(pred: pd.DataFrame, method: str = "network", edges=None) -> pd.DataFrame:
    """Network-output bins (the paper's Figs 10-11): count, PE share and mean ``MTOT`` per bin.

    ``edges`` of the probability bins (default: 0, 0.2, …, 1; the last bin holds 1).
    """
    edges = np.linspace(0, 1, 6) if edges is None else np.asarray(edges, dtype=float)
    g = pred[pred["method"] == method]
    rows = []
    for lead, d in g.groupby("lead_h", sort=True):
        b = np.clip(np.digitize(d["score"], edges[1:-1]), 0, len(edges) - 2)
        for i in range(len(edges) - 1):
            m = b == i
            rows.append(
                {
                    "method": method,
                    "lead_h": float(lead),
                    "p_lo": edges[i],
                    "p_hi": edges[i + 1],
                    "n": int(m.sum()),
                    "pe_share": float(d.loc[m, "label"].mean()) if m.any() else math.nan,
                    "mean_mtot_mx": float(d.loc[m, "mtot_mx"].mean()) if m.any() else math.nan,
                }
            )
    return pd.DataFrame(rows)


def mtot_correlations(pred: pd.DataFrame) -> pd.DataFrame:
    """Spearman correlation with ``MTOT`` of the network output and of the pruned network's kept
    filter contributions ``F_i = max(O_i)·w_i`` (``contrib_<rank>``), per lead time.
    """
    from scipy.stats import spearmanr

    rows = []
    for (method, lead), d in pred.groupby(["method", "lead_h"], sort=True):
        if not method.startswith("network"):
            continue
        cols = ["score"] + sorted(
            c for c in d.columns if c.startswith("contrib_") and d[c].notna().any()
        )
        for c in cols:
            rho = spearmanr(d[c], d["mtot_mx"]).statistic if d[c].nunique() > 1 else math.nan
            rows.append(
                {
                    "method": method,
                    "lead_h": float(lead),
                    "quantity": c,
                    "spearman_mtot": float(rho),
                }
            )
    return pd.DataFrame(rows)
