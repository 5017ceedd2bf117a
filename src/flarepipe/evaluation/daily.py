"""Table 1 of Yi et al. 2021: categorical scores of daily forecasts at the natural event rate.

Columns: ``ACC``, ``HSS``, ``ApSS``, ``TSS``, frequency bias ``FB``, ``event_rate`` (share of
flaring days among those forecast) and ``N`` (days), from :func:`flarepipe.evaluation.metrics.
all_metrics` with a forecast "yes" at ``prob >= threshold``; no undersampling (the operational
evaluation). :func:`with_published` appends the paper's row (empty where it gives no figure).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from flarepipe.evaluation.metrics import all_metrics

__all__ = ["TABLE1_COLUMNS", "table1", "with_published"]

TABLE1_COLUMNS = ("ACC", "HSS", "ApSS", "TSS", "FB", "event_rate", "N")


def table1(predictions: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """One row per ``model`` of ``predictions`` (``model, label, prob``): :data:`TABLE1_COLUMNS`."""
    missing = [c for c in ("model", "label", "prob") if c not in predictions.columns]
    if missing:
        raise ValueError(f"predictions: missing column(s) {missing}")
    rows = []
    for model, g in predictions.groupby("model", sort=False):
        m = all_metrics(
            g["label"].astype(int).to_numpy(), g["prob"].astype(float).to_numpy(), threshold
        )
        rows.append({"model": model, **{k: m[k] for k in TABLE1_COLUMNS}})
    return pd.DataFrame(rows, columns=["model", *TABLE1_COLUMNS])


def with_published(table: pd.DataFrame, published: Mapping[str, float], label: str) -> pd.DataFrame:
    """``table`` with the published figures as one more row named ``label`` (NaN elsewhere)."""
    unknown = sorted(set(published) - set(TABLE1_COLUMNS))
    if unknown:
        raise ValueError(f"published figures {unknown} are no Table 1 column {TABLE1_COLUMNS}")
    row = {"model": label, **{k: float(published.get(k, np.nan)) for k in TABLE1_COLUMNS}}
    return pd.concat([table, pd.DataFrame([row])], ignore_index=True)
