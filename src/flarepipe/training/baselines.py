"""Keyword-only logistic regression: what a user tries first (scikit-learn).

It sees the four keywords of each sample's last record, standardised exactly as the LSTM's inputs
(per instrument, training statistics), and is trained and evaluated on the same shards and splits.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from flarepipe.data.shards import ShardReader
from flarepipe.io.atomic import write_csv

__all__ = ["train_logreg", "write_predictions"]


def write_predictions(model, load, out_dir: str | os.PathLike) -> None:
    """``predictions.csv`` (val, test) of a fitted scikit-learn classifier into ``out_dir``.

    ``load(split)`` gives ``(X, labels, sample_ids)``; ``prob`` is the positive-class probability.
    Shared by every keyword baseline (logistic regression, SVMs).
    """
    frames = []
    for split in ("val", "test"):
        Xs, ys, ids = load(split)
        frames.append(
            pd.DataFrame(
                {
                    "sample_id": ids,
                    "split": split,
                    "label": ys,
                    "prob": model.predict_proba(Xs)[:, 1],
                }
            )
        )
    write_csv(pd.concat(frames, ignore_index=True), Path(out_dir) / "predictions.csv")


def train_logreg(
    shard_paths: dict,
    out_dir: str | os.PathLike,
    C: float = 1.0,
    class_weight: str | None = "balanced",
    seed: int = 0,
) -> dict:
    """Fit on train; write ``predictions.csv`` (val, test) into ``out_dir``; return a summary."""

    def load(split):
        r = ShardReader(shard_paths[split])
        r.require(("sequence",), ("label",), needed_by="the logistic regression")
        seq = r.read_all(inputs=("sequence",), targets=())["sequence"]
        return seq[:, -1, :].astype(np.float64), r.labels, r.meta()["sample_id"].to_numpy()

    X, y, _ = load("train")
    if len(np.unique(y)) < 2:
        raise ValueError(f"{shard_paths['train']}: training split has a single class; cannot fit")
    model = LogisticRegression(
        C=C, class_weight=class_weight, max_iter=2000, random_state=seed
    ).fit(X, y)
    write_predictions(model, load, out_dir)
    return {"coef": model.coef_.ravel().tolist(), "intercept": float(model.intercept_[0])}
