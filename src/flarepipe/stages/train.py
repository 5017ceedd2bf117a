"""The train, logreg and oracle rules (``rules/train.smk``): one job per (dataset, model, run)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

__all__ = ["run_train", "run_logreg", "run_oracle"]


def _out_dir(**outputs) -> Path:
    """The job folder of outputs the trainers name themselves (``predictions.csv``, ...)."""
    folders = {Path(p).parent for p in outputs.values()}
    if len(folders) != 1:
        raise ValueError(f"outputs must share one folder, got {sorted(map(str, folders))}")
    folder = folders.pop()
    for name, p in outputs.items():
        expected = {"predictions": "predictions.csv", "checkpoint": "model.ckpt"}[name]
        if Path(p).name != expected:
            raise ValueError(f"output {name} must be named {expected}, got {p}")
    return folder


def run_train(train, val, test, model: str, cfg: Mapping, seed: int, out_predictions,
              out_checkpoint, threads: int | None = None) -> dict:
    """Rule ``train``: a network on one dataset run; checkpoint, CSV log, predictions, summary.

    ``train``/``val``/``test`` are the run's shards, ``cfg`` the model's ``models.<model>``
    section, ``seed`` the job seed (:func:`flarepipe.core.seeds.job_seed`, rule ``train``).
    ``threads`` caps torch's CPU threads at the job's share, so parallel jobs do not oversubscribe
    the cores.
    """
    import torch

    from flarepipe.io.atomic import write_json
    from flarepipe.training.fit import train_one

    if threads:
        torch.set_num_threads(int(threads))
    out_dir = _out_dir(predictions=out_predictions, checkpoint=out_checkpoint)
    shards = {"train": train, "val": val, "test": test}
    summary = train_one(shards, model, cfg.get("network"), cfg.get("train"), out_dir,
                        seed=int(seed))
    write_json(summary, out_dir / "summary.json")
    return summary


def run_logreg(train, val, test, cfg: Mapping, seed: int, out_predictions) -> dict:
    """Rule ``logreg``: the keyword-only logistic-regression baseline on the same shards.

    ``cfg`` is the ``models.logreg`` section (keyword arguments of
    :func:`flarepipe.training.baselines.train_logreg`), ``seed`` the job seed (rule ``logreg``).
    """
    from flarepipe.io.atomic import write_json
    from flarepipe.training.baselines import train_logreg

    out_dir = _out_dir(predictions=out_predictions)
    summary = train_logreg({"train": train, "val": val, "test": test}, out_dir, **cfg,
                           seed=int(seed))
    write_json(summary, out_dir / "summary.json")
    return summary


def run_oracle(samples, split, rates, out_predictions) -> None:
    """Rule ``oracle``: predictions from the planted rates (``truth/rates.csv``, synthetic only)."""
    from flarepipe.evaluation.oracle import oracle_split_predictions, read_rates
    from flarepipe.io.atomic import write_csv
    from flarepipe.samples.labels import read_samples

    table = pd.read_csv(split, dtype={"sample_id": str, "region_id": str})
    preds = oracle_split_predictions(read_samples(samples), table, read_rates(rates))
    write_csv(preds, out_predictions)
