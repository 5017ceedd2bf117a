"""The features and shard rules (rules/shard.smk): model inputs, standardised HDF5 shards.

Each function takes its rule's declared inputs and outputs; the workflow script calls one of them."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd


__all__ = ["run_features", "run_shard"]


def _archive_dir(records_csv: str | os.PathLike) -> Path:
    return Path(records_csv).parent


def run_features(records_csv, samples_csv, cfg: dict, out, threads: int = 2) -> None:
    """Raw model inputs of every labelled sample (``features`` config section)."""
    from flarepipe.archive.layout import load_archive
    from flarepipe.data.features import extract_features
    from flarepipe.samples.labels import read_samples

    arc = load_archive(_archive_dir(records_csv))
    samples = read_samples(samples_csv)
    extract_features(arc.root, arc.records, samples, out, image_size=int(cfg.get("image_size", 64)),
                     hmi_subsample=int(cfg.get("hmi_subsample", 4)), threads=threads,
                     fill=cfg.get("fill", "previous"))


def run_shard(features_h5, split_csv, dataset: str, cfg: dict, out_dir) -> None:
    """Standardised train/val/test shards of one dataset run (``shard`` config section)."""
    from flarepipe.data.features import build_shards

    split = pd.read_csv(split_csv, dtype={"sample_id": str, "region_id": str})
    build_shards(features_h5, split, dataset, out_dir, image_norm=cfg.get("image_norm", "primary_train"),
                 log_keywords=cfg.get("log_keywords", []))
