"""The label and split rules (``rules/label.smk``): labelled samples, region-grouped splits."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

__all__ = ["run_label", "run_split"]


def run_label(
    records,
    flares,
    flagged,
    cfg: Mapping,
    out_samples,
    out_counts,
    out_drops=None,
    plugins: list | tuple = (),
) -> None:
    """Rule ``label``: slide windows, type them, apply the task (``labels`` section).

    Parameters
    ----------
    records, flares, flagged
        The archive's ``records.csv`` and ``flares.csv``, and the quality stage's
        ``records_flagged.csv`` (one row per record, in records order).
    cfg
        The ``labels`` section (validated and filled by the workflow).
    out_samples, out_counts, out_drops
        ``samples.csv``, the evolution-type table and the bad-record drop counts.
    plugins
        The plug-in that registered ``labels.task``, if any (imported first).

    Raises
    ------
    ValueError
        No samples; or no positive sample while the flare list is empty or has strong flares in
        the records' time span (:func:`flarepipe.samples.labels.no_positive_diagnosis`).
    """
    from flarepipe.archive.layout import read_flares, read_records
    from flarepipe.config import settings
    from flarepipe.core.registry import load_plugins
    from flarepipe.io.atomic import verify_integrity, write_csv
    from flarepipe.samples.labels import (
        apply_task,
        drop_counts,
        evolution_counts,
        label_windows,
        no_positive_diagnosis,
        write_samples,
    )

    load_plugins(plugins)
    s = settings("labels", cfg)
    recs = read_records(records)
    verify_integrity(flagged)
    keep = pd.read_csv(flagged, usecols=["keep"])
    verify_integrity(flagged, rows=len(keep))
    if len(keep) != len(recs):
        raise ValueError(
            f"{flagged}: {len(keep)} rows for {len(recs)} records in {records}; "
            "rerun the quality stage"
        )
    keep.index = recs.index
    flare_table = read_flares(flares)
    cand = label_windows(recs, flare_table, s, keep)
    samples = apply_task(cand, s.task)
    if samples.empty:
        raise ValueError(f"label: task {s.task} produced no samples from {records}")
    why = no_positive_diagnosis(recs, flare_table, s, samples, cand)
    if why:
        raise ValueError(f"label: task {s.task} on {records} and {flares}: {why}")
    write_samples(samples, out_samples)
    write_csv(evolution_counts(cand), out_counts)
    if out_drops:
        write_csv(drop_counts(cand), out_drops)


def run_split(
    samples, dataset: str, run: int, cfg: Mapping, out, records=None, plugins: list | tuple = ()
) -> None:
    """Rule ``split``: split one dataset for one run (``split`` section); fail on leakage.

    Parameters
    ----------
    samples
        ``samples.csv`` of the label stage.
    dataset, run
        The wildcards: a dataset name and the run number.
    cfg
        The ``split`` section (validated and filled by the workflow).
    out
        ``split_<run>.csv``.
    records
        The archive's ``records.csv``, for the region → NOAA map; the rule declares it (and it is
        required) when ``split.exclude_noaa_overlap`` is on.
    plugins
        The plug-in that registered ``dataset``, if any (imported first).
    """
    from flarepipe.archive.layout import read_records
    from flarepipe.config import settings
    from flarepipe.core.registry import load_plugins
    from flarepipe.samples.labels import read_samples
    from flarepipe.samples.quality import region_noaa
    from flarepipe.samples.split import make_dataset_splits, write_split

    load_plugins(plugins)
    s = settings("split", cfg)
    noaa = None
    if s.exclude_noaa_overlap:
        if records is None:
            raise ValueError(
                "split.exclude_noaa_overlap needs records.csv (the region → NOAA "
                "map); declare it as the split rule's `records` input"
            )
        noaa = region_noaa(read_records(records))
    split = make_dataset_splits(read_samples(samples), dataset, s, int(run), region_noaa=noaa)
    write_split(split, out)
