"""The label and split rules (rules/label.smk): labelled samples, region-grouped splits.

Each function takes its rule's declared inputs and outputs; the workflow script calls one of them."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from flarepipe.io.atomic import write_csv

__all__ = ["run_label", "run_split"]


def _archive_dir(records_csv: str | os.PathLike) -> Path:
    return Path(records_csv).parent


def run_label(records_csv, flagged_csv, cfg: dict, out_samples, out_counts, out_drops=None) -> None:
    """Slide windows, type them, apply the task (``label`` config section)."""
    from flarepipe.archive.layout import load_archive
    from flarepipe.samples.labels import apply_task, drop_counts, evolution_counts, label_windows, write_samples

    arc = load_archive(_archive_dir(records_csv))
    flagged = pd.read_csv(flagged_csv, usecols=["keep"])
    flagged.index = arc.records.index
    cand = label_windows(arc.records, arc.flares, flagged, cfg)
    samples = apply_task(cand, cfg)
    if samples.empty:
        raise ValueError(f"label: task {cfg.get('task', 'strong_vs_quiet')} produced no samples from {records_csv}")
    write_samples(samples, out_samples)
    write_csv(evolution_counts(cand), out_counts)
    if out_drops:
        write_csv(drop_counts(cand), out_drops)


def run_split(samples_csv, dataset: str, run: int, cfg: dict, out) -> None:
    """Split one dataset for one run (``split`` config section); fail on leakage."""
    from flarepipe.samples.labels import read_samples
    from flarepipe.samples.split import make_dataset_splits, write_split

    samples = read_samples(samples_csv)
    write_split(make_dataset_splits(samples, dataset, cfg, int(run)), out)
