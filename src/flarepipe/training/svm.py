"""Support-vector machine baselines on a region's keywords (S2 Fig 5; scikit-learn).

The SVM sees keywords of each sample's last record, standardised as the networks' sequence
inputs are (per instrument, training statistics): every keyword of the shard (``svm``), or a
chosen subset such as the region's area and total unsigned flux (``svm_area_flux``).
Probabilities are Platt-scaled by :class:`sklearn.calibration.CalibratedClassifierCV` (sigmoid,
out-of-fold decision values, one SVM fitted on all training samples).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import SVC

from flarepipe.core.keywords import AREA_FLUX_COLUMNS as AREA_FLUX
from flarepipe.data.shards import ShardReader
from flarepipe.training.baselines import write_predictions

__all__ = ["train_svm", "train_svm_area_flux"]


def _columns(reader: ShardReader, keywords: Sequence[str] | None) -> list[int]:
    have = list(reader.attrs.get("keywords") or [])
    if keywords is None:
        return list(range(len(have)))
    missing = [k for k in keywords if k not in have]
    if missing:
        raise ValueError(
            f"{reader.path}: keyword(s) {missing} of the SVM's keywords setting are not in the "
            f"shard, which holds {have}"
        )
    return [have.index(k) for k in keywords]


def train_svm(
    shard_paths: dict,
    out_dir: str | os.PathLike,
    keywords: Sequence[str] | None = None,
    C: float = 1.0,
    kernel: str = "rbf",
    class_weight: str | None = "balanced",
    seed: int = 0,
) -> dict:
    """Fit an SVM on train; write ``predictions.csv`` (val, test) into ``out_dir``.

    Parameters
    ----------
    shard_paths
        ``{"train", "val", "test"}`` shards of one dataset run.
    out_dir
        Folder of ``predictions.csv``.
    keywords
        Keyword columns used (names of the shard's ``keywords``); None: all of them.
    C, kernel, class_weight
        :class:`sklearn.svm.SVC` parameters.
    seed
        Seed of the SVM (its solver is deterministic; kept for the baseline interface).
    """

    def load(split):
        r = ShardReader(shard_paths[split])
        r.require(("sequence",), ("label",), needed_by="the SVM baseline")
        cols = _columns(r, keywords)
        seq = r.read_all(inputs=("sequence",), targets=())["sequence"]
        x = np.nan_to_num(seq[:, -1, cols].astype(np.float64))
        return x, r.labels, r.meta()["sample_id"].to_numpy()

    X, y, _ = load("train")
    if len(np.unique(y)) < 2:
        raise ValueError(f"{shard_paths['train']}: training split has a single class; cannot fit")
    svc = SVC(C=C, kernel=kernel, class_weight=class_weight, random_state=seed)
    folds = int(min(5, np.bincount(y.astype(int)).min()))
    if folds < 2:
        raise ValueError(f"{shard_paths['train']}: a class has < 2 samples; cannot calibrate")
    model = CalibratedClassifierCV(svc, method="sigmoid", cv=folds, ensemble=False).fit(X, y)
    write_predictions(model, load, out_dir)
    fitted = model.calibrated_classifiers_[0].estimator
    return {"n_support": int(fitted.n_support_.sum()), "keywords": list(keywords or [])}


def train_svm_area_flux(
    shard_paths: dict,
    out_dir: str | os.PathLike,
    keywords: Sequence[str] | None = AREA_FLUX,
    **params,
) -> dict:
    """:func:`train_svm` on the region's area and total unsigned flux (``AREA_FLUX_COLUMNS``)."""
    return train_svm(shard_paths, out_dir, keywords=keywords or AREA_FLUX, **params)
