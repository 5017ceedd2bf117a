"""The train, baseline and oracle rules (rules/train.smk): one job per (dataset, model, run).

Each function takes its rule's declared inputs and outputs; the workflow script calls one of them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from flarepipe.io.atomic import write_csv, write_json

__all__ = ["run_train", "run_baseline", "run_oracle"]


def run_train(shard_dir, model: str, model_cfg: dict, out_dir, seed: int,
              threads: int | None = None, plugins: list | tuple = ()) -> dict:
    """Train a network on one dataset run and write checkpoint, CSV log and predictions.

    ``threads`` caps torch's CPU threads at the job's share (Snakemake ``threads``), so parallel
    jobs do not oversubscribe the cores. ``plugins`` (the plug-in that registered ``model``, if
    any) are imported first.
    """
    import torch

    from flarepipe.core.registry import load_plugins
    from flarepipe.training.fit import train_one

    load_plugins(plugins)

    if threads:
        torch.set_num_threads(int(threads))

    shard_dir = Path(shard_dir)
    shards = {s: shard_dir / f"{s}.h5" for s in ("train", "val", "test")}
    summary = train_one(shards, model, model_cfg.get("network", {}), model_cfg.get("train", {}),
                        out_dir, seed=int(seed))
    write_json(summary, Path(out_dir) / "summary.json")
    return summary


def run_baseline(shard_dir, model: str, cfg: dict, out_dir, seed: int,
                 plugins: list | tuple = ()) -> dict:
    """A registered baseline (``logreg``: keyword-only logistic regression) on the same shards."""
    from flarepipe.core.registry import load_plugins
    from flarepipe.training.registry import fit_baseline

    load_plugins(plugins)
    shard_dir = Path(shard_dir)
    shards = {s: shard_dir / f"{s}.h5" for s in ("train", "val", "test")}
    summary = fit_baseline(model, shards, out_dir, cfg, seed=int(seed))
    write_json(summary, Path(out_dir) / "summary.json")
    return summary


def run_oracle(samples_csv, split_csv, rates_csv, out) -> None:
    """Oracle predictions from the planted rates (synthetic archives only)."""
    from flarepipe.samples.labels import read_samples
    from flarepipe.evaluation.oracle import oracle_split_predictions, read_rates

    samples = read_samples(samples_csv)
    split = pd.read_csv(split_csv, dtype={"sample_id": str, "region_id": str})
    preds = oracle_split_predictions(samples, split, read_rates(rates_csv))
    write_csv(preds, out)
