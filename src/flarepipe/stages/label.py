"""The label and split rules (``rules/label.smk``): labelled samples, region-grouped splits."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

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
        the records' time span (:func:`flarepipe.samples.labels.no_positive_diagnosis`). The
        message says in one line which stage left nothing
        (:func:`flarepipe.samples.diagnose.summary_line`); ``label_diagnosis.json`` beside
        ``samples.csv`` counts every reason (quality filter, grid offset, window rule, task),
        and the log holds the same counts.
    """
    from flarepipe.archive.layout import read_flares, read_records
    from flarepipe.config import settings
    from flarepipe.core.registry import load_plugins
    from flarepipe.io.atomic import verify_integrity, write_csv, write_json
    from flarepipe.samples.diagnose import no_samples_report, summary_line
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
    keep = pd.read_csv(flagged, usecols=lambda c: c in ("keep", "reasons"), dtype={"reasons": str})
    verify_integrity(flagged, rows=len(keep))
    if len(keep) != len(recs):
        raise ValueError(
            f"{flagged}: {len(keep)} rows for {len(recs)} records in {records}; "
            "rerun the quality stage"
        )
    keep.index = recs.index
    flare_table = read_flares(flares)
    cand = label_windows(recs, flare_table, s, keep[["keep"]])
    samples = apply_task(cand, s.task)
    why = None
    if samples.empty:
        why = "produced no samples"
    else:
        positive = no_positive_diagnosis(recs, flare_table, s, samples, cand)
        why = f"on {flares}: {positive}" if positive else None
    if why:
        report = no_samples_report(
            recs,
            keep,
            cand,
            samples,
            step_minutes=s.step_minutes,
            tolerance_minutes=s.tolerance_minutes,
            grid_origin=s.grid_origin,
            task=s.task,
        )
        target = Path(out_samples).with_name("label_diagnosis.json")
        write_json({"error": why, **report}, target)
        print(json.dumps(report, indent=1))  # the rule's log keeps the detail
        line = summary_line(report) if samples.empty else ""
        raise ValueError(
            f"label: task {s.task} {why} from {records}{': ' + line if line else ''} "
            f"(counts per reason in {target})"
        )
    Path(out_samples).with_name("label_diagnosis.json").unlink(missing_ok=True)  # a stale one
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

    Raises
    ------
    ValueError
        The dataset's instrument has no sample, or a part (train, val, test) is empty: one line
        with every part's size, the instrument's samples, regions and time span, and the
        ``split`` settings of the method (:func:`flarepipe.samples.diagnose.split_line`);
        ``split_<run>_diagnosis.json`` beside the output holds the counts.
    """
    from flarepipe.archive.layout import read_records
    from flarepipe.config import settings
    from flarepipe.core.registry import load_plugins
    from flarepipe.io.atomic import write_json
    from flarepipe.samples.diagnose import split_line, split_report
    from flarepipe.samples.labels import read_samples
    from flarepipe.samples.quality import region_noaa
    from flarepipe.samples.registry import DATASETS
    from flarepipe.samples.split import SPLITS, make_dataset_splits, write_split

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
    table = read_samples(samples)
    primary = DATASETS[dataset].primary if dataset in DATASETS else None
    split = None
    if primary is None or (table["instrument"].astype(str) == primary).any():
        split = make_dataset_splits(table, dataset, s, int(run), region_noaa=noaa)
    empty = split is None or not all((split["split"] == p).any() for p in SPLITS)
    if empty:
        report = split_report(table, split, dataset, s)
        target = Path(out).with_name(f"{Path(out).stem}_diagnosis.json")
        write_json(report, target)
        print(json.dumps(report, indent=1))  # the rule's log keeps the detail
        raise ValueError(f"split of {dataset} run {run}: {split_line(report)} (counts in {target})")
    Path(out).with_name(f"{Path(out).stem}_diagnosis.json").unlink(missing_ok=True)  # stale
    write_split(split, out)
