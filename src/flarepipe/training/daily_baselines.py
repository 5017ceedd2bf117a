"""Baselines of the daily full-disk forecast (Yi et al. 2021): climatology, persistence, and a
logistic regression on the disk's total unsigned flux.

Each takes the training samples and the samples to forecast (DataFrames with ``sample_id``,
``label``; persistence also ``label_prev``; the regression ``usflux_mx``,
:func:`flarepipe.data.fulldisk.disk_flux`) and returns the probability of a flaring day:

- ``climatology``: the training event rate, every day;
- ``persistence``: yesterday's label (1 or 0); where yesterday is no sample, the climatology;
- ``logreg_flux``: ``P(label) = σ(a + b·log10 Φ)``, scikit-learn's logistic regression fitted on
  the training days (unweighted: the forecast is evaluated at the natural event rate).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

__all__ = ["BASELINES", "climatology", "persistence", "logreg_flux", "baseline_predictions"]


def _rate(train: pd.DataFrame) -> float:
    if train.empty:
        raise ValueError("daily baselines: the training split is empty")
    return float(train["label"].astype(float).mean())


def climatology(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """The training event rate for every test day."""
    return np.full(len(test), _rate(train))


def persistence(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """Yesterday's label; the training event rate where yesterday is unknown."""
    prev = pd.to_numeric(test["label_prev"], errors="coerce").astype(float).to_numpy()
    return np.where(np.isnan(prev), _rate(train), prev)


def logreg_flux(train: pd.DataFrame, test: pd.DataFrame, seed: int = 0) -> np.ndarray:
    """Logistic regression on ``log10(usflux_mx)``, fitted on ``train``."""
    y = train["label"].astype(int).to_numpy()
    if len(np.unique(y)) < 2:
        raise ValueError("daily baselines: the training split has a single class; cannot fit")

    def x(df):
        return np.log10(np.maximum(df["usflux_mx"].astype(float).to_numpy(), 1.0))[:, None]

    model = LogisticRegression(max_iter=1000, random_state=seed).fit(x(train), y)
    return model.predict_proba(x(test))[:, 1]


#: name -> baseline (the rows of the study's Table 1)
BASELINES = {"climatology": climatology, "persistence": persistence, "logreg_flux": logreg_flux}


def baseline_predictions(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """Every baseline's forecast of ``test``: ``model, sample_id, label, prob``."""
    frames = [
        pd.DataFrame(
            {
                "model": name,
                "sample_id": test["sample_id"].to_numpy(),
                "label": test["label"].astype(int).to_numpy(),
                "prob": fn(train, test),
            }
        )
        for name, fn in BASELINES.items()
    ]
    return pd.concat(frames, ignore_index=True)
