"""Why a stage made nothing: counts per reason, and the one line that says which one.

The quality stage that keeps no record (:func:`quality_report`, :func:`quality_line`) names the
reasons that fired most and the ``quality`` settings behind them; a split with an empty part
(:func:`split_report`, :func:`split_line`) the sizes of every part, the dataset's instrument
samples (regions, time span) and the ``split`` settings of its method. The label stage:

A label run can end empty for unrelated causes that used to give the same message ("produced no
samples"): every record rejected by a quality filter, records off the window grid, windows dropped
by the bad-record rule, or windows the task's truth table discards. :func:`no_samples_report`
counts each, in pipeline order, and :func:`summary_line` names the first stage that left
nothing::

    stage       counted                                           from
    quality     records kept; per reason (bad_quality, ...)      records_flagged.csv
    grid        records within tolerance_minutes of the grid;    records.csv t_rec against
                the others with their offset (minutes, median)   grid_origin + k * step_minutes
    windows     candidates per drop rule (bad_last_record,       label_windows
                too_many_bad) and kept
    task        kept candidates per (obs_type, pred_type), and    the task's truth table
                how many the task keeps
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from flarepipe.samples.quality import REASON_SETTINGS, REASONS

__all__ = [
    "grid_offsets",
    "no_samples_report",
    "quality_line",
    "quality_report",
    "split_line",
    "split_report",
    "summary_line",
]


def quality_report(flagged: pd.DataFrame, settings) -> dict:
    """Counts per reason of :func:`flarepipe.samples.quality.flag_records`'s output; JSON-ready.

    Returns
    -------
    dict
        ``records``, ``kept``, ``rejected_by`` (reason -> records, most frequent first),
        ``settings`` (reason -> ``{quality.<setting>: value}`` that made it fire) and ``first``
        (reason -> the first record it rejected: ``region_id``, ``t_rec``, ``read_error`` for an
        unreadable file).
    """
    counts = {r: int(flagged[r].astype(bool).sum()) for r in REASONS if r in flagged}
    fired = dict(sorted(((r, c) for r, c in counts.items() if c), key=lambda rc: -rc[1]))
    first: dict = {}
    for r in fired:
        row = flagged[flagged[r].astype(bool)].iloc[0]
        first[r] = {k: str(row[k]) for k in ("region_id", "t_rec") if k in row.index}
        if r == "unreadable_file" and "read_error" in row.index:
            first[r]["read_error"] = str(row["read_error"])
    values = {
        r: {f"quality.{k}": _plain(getattr(settings, k)) for k in REASON_SETTINGS.get(r, ())}
        for r in fired
    }
    keep = flagged["keep"].astype(bool) if "keep" in flagged else pd.Series(dtype=bool)
    return {
        "records": int(len(flagged)),
        "kept": int(keep.sum()),
        "rejected_by": fired,
        "settings": values,
        "first": first,
    }


def _plain(value):
    """A setting as JSON holds it (tuples as lists, mappings as dicts)."""
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "items"):
        return dict(value)
    return value


def quality_line(report: dict, source: str = "", top: int = 3) -> str:
    """One line: how many records (of ``source``) the filters rejected, the ``top`` reasons with
    their counts and the settings behind them (a record can fail several).
    """
    parts = []
    for r, n in list(report["rejected_by"].items())[:top]:
        keys = ", ".join(f"{k} = {v!r}" for k, v in report["settings"].get(r, {}).items())
        if r == "unreadable_file":
            keys = f"first: {report['first'][r].get('read_error', '')}"
        parts.append(f"{r} {n}" + (f" ({keys})" if keys else ""))
    more = len(report["rejected_by"]) - top
    rest = f"; and {more} more reason(s)" if more > 0 else ""
    of = f" of {source}" if source else ""
    return f"the filters rejected all {report['records']} records{of}: {'; '.join(parts)}{rest}"


def grid_offsets(t_rec: pd.Series, step_minutes: float, origin: str) -> np.ndarray:
    """Signed minutes from each time to its nearest grid point ``origin + k * step_minutes``.

    The same rule as :func:`flarepipe.samples.labels.label_windows` (nearest point, ties up).
    """
    t = pd.DatetimeIndex(pd.to_datetime(t_rec)).as_unit("ns").asi8
    step = int(round(step_minutes * 60e9))
    rel = t - pd.Timestamp(origin).as_unit("ns").value
    k = np.floor_divide(rel + step // 2, step)
    return (rel - k * step) / 60e9


def no_samples_report(
    records: pd.DataFrame,
    flagged: pd.DataFrame | None,
    candidates: pd.DataFrame,
    samples: pd.DataFrame,
    *,
    step_minutes: float,
    tolerance_minutes: float,
    grid_origin: str,
    task: str,
) -> dict:
    """Counts per stage and reason (module docstring); JSON-ready.

    Parameters
    ----------
    records, flagged
        ``records.csv`` and the quality stage's flags (needs ``keep``; ``reasons`` when given).
    candidates, samples
        :func:`flarepipe.samples.labels.label_windows` and the task's samples.
    step_minutes, tolerance_minutes, grid_origin, task
        The label settings used.
    """
    n = len(records)
    quality: dict = {"records": int(n)}
    if flagged is not None and "keep" in flagged:
        keep = flagged["keep"].astype(str).str.lower().isin(["true", "1"])
        quality["kept"] = int(keep.sum())
        if "reasons" in flagged:
            codes = flagged["reasons"].fillna("").astype(str).str.split(";").explode()
            counts = codes[codes != ""].value_counts()
            quality["rejected_by"] = {r: int(counts.get(r, 0)) for r in REASONS if counts.get(r)}
    else:
        quality["kept"] = int(n)
    off = grid_offsets(records["t_rec"], step_minutes, grid_origin) if n else np.array([])
    far = np.abs(off) > tolerance_minutes
    grid = {
        "step_minutes": float(step_minutes),
        "tolerance_minutes": float(tolerance_minutes),
        "on_grid": int((~far).sum()),
        "off_grid": int(far.sum()),
    }
    if far.any():
        grid["off_grid_median_minutes"] = round(float(np.median(off[far])), 3)
        grid["off_grid_first"] = str(pd.Timestamp(pd.to_datetime(records["t_rec"])[far].iloc[0]))
    d = candidates["dropped"].fillna("").astype(str) if len(candidates) else pd.Series(dtype=str)
    windows = {"candidates": int(len(candidates)), "kept": int((d == "").sum())}
    windows.update({k: int(v) for k, v in d[d != ""].value_counts().items()})
    kept = candidates[d == ""] if len(candidates) else candidates
    pairs = (
        kept.groupby(["obs_type", "pred_type"]).size().to_dict()
        if len(kept) and {"obs_type", "pred_type"} <= set(kept.columns)
        else {}
    )
    task_counts = {
        "task": task,
        "windows_by_type": {f"{o}->{p}": int(c) for (o, p), c in pairs.items()},
        "samples": int(len(samples)),
    }
    return {"quality": quality, "grid": grid, "windows": windows, "task": task_counts}


def summary_line(report: dict) -> str:
    """The first stage of :func:`no_samples_report` that left nothing, in one line."""
    q, g, w, t = report["quality"], report["grid"], report["windows"], report["task"]
    if q["records"] == 0:
        return "the archive has no record"
    if q["kept"] == 0:
        why = ", ".join(f"{k} {v}" for k, v in q.get("rejected_by", {}).items())
        return (
            f"the quality filters rejected all {q['records']} records ({why}; see section quality)"
        )
    if g["on_grid"] == 0:
        return (
            f"none of the {q['records']} records lies within labels.tolerance_minutes "
            f"({g['tolerance_minutes']:g}) of the labels.step_minutes ({g['step_minutes']:g}) "
            f"grid (median offset {g.get('off_grid_median_minutes', 0):.1f} min, first "
            f"{g.get('off_grid_first')}): snap the table's times (grid_minutes, "
            "grid_tolerance_minutes of the archive source) or change labels.grid_origin"
        )
    if w["kept"] == 0:
        rules = {k: v for k, v in w.items() if k not in ("candidates", "kept")}
        return (
            f"every one of the {w['candidates']} candidate windows was dropped by the bad-record "
            f"rule ({rules}; labels.max_bad_records, labels.missing_counts_as_bad; "
            f"{q['kept']} of {q['records']} records kept, {g['off_grid']} off the grid)"
        )
    return (
        f"the task {t['task']} keeps none of the {w['kept']} kept windows (obs->pred types "
        f"{t['windows_by_type']})"
    )


def split_report(samples: pd.DataFrame, split: pd.DataFrame | None, dataset: str, settings) -> dict:
    """Why a dataset run's split has an empty part (or no sample at all); JSON-ready.

    Parameters
    ----------
    samples
        ``samples.csv`` (needs ``sample_id, region_id, instrument, label``; ``t_end`` when given).
    split
        The split made (:data:`flarepipe.samples.split.SPLIT_COLUMNS`), or ``None`` when none
        could be made.
    dataset
        The dataset name (:data:`flarepipe.samples.registry.DATASETS`).
    settings
        The :class:`flarepipe.samples.split.SplitSettings` used.

    Returns
    -------
    dict
        ``instruments`` (per instrument: samples, positives, regions, first and last ``t_end``),
        ``primary``/``extra`` instruments of the dataset, ``parts`` (per split part: samples,
        positives, regions), ``settings`` (``split.<key>`` -> value: the keys that decide the
        parts for ``split.method``).
    """
    from flarepipe.samples.registry import DATASETS

    spec = DATASETS[dataset]
    inst = {}
    for name, grp in samples.groupby(samples["instrument"].astype(str)):
        row = {
            "samples": int(len(grp)),
            "positives": int(pd.to_numeric(grp["label"], errors="coerce").fillna(0).gt(0).sum()),
            "regions": int(grp["region_id"].nunique()),
        }
        if "t_end" in grp and len(grp):
            t = pd.to_datetime(grp["t_end"])
            row["first_t_end"], row["last_t_end"] = str(t.min()), str(t.max())
        inst[name] = row
    parts = {}
    for part in ("train", "val", "test"):
        sel = split[split["split"] == part] if split is not None else split
        ids = set(sel["sample_id"].astype(str)) if sel is not None else set()
        lab = samples[samples["sample_id"].astype(str).isin(ids)]
        parts[part] = {
            "samples": len(ids),
            "positives": int(pd.to_numeric(lab["label"], errors="coerce").fillna(0).gt(0).sum()),
            "regions": int(sel["region_id"].nunique()) if sel is not None else 0,
        }
    method = settings.method
    keys = {
        "random_regions": ("test_frac", "val_frac", "stratify"),
        "region_kfold": ("k", "by_class"),
        "chronological": ("boundaries", "assign"),
        "chronological_kfold": ("boundaries", "assign", "k", "by_class"),
    }[method]
    values = {"split.method": method}
    values.update({f"split.{k}": _plain(getattr(settings, k)) for k in keys})
    if settings.undersample_ratio is not None:
        values["split.undersample_ratio"] = settings.undersample_ratio
    return {
        "dataset": dataset,
        "primary": spec.primary,
        "extra": list(spec.extra),
        "instruments": inst,
        "parts": parts,
        "settings": values,
    }


def split_line(report: dict) -> str:
    """One line: which parts are empty, the sizes of all, and the settings that made them."""
    parts, primary = report["parts"], report["primary"]
    have = report["instruments"].get(primary)
    keys = ", ".join(f"{k} {v!r}" for k, v in report["settings"].items())
    if not have:
        return (
            f"dataset {report['dataset']} needs samples of {primary}, but samples.csv has none "
            f"(instruments: { ({k: v['samples'] for k, v in report['instruments'].items()}) }); "
            "drop the dataset from experiments.datasets or give the archive that instrument"
        )
    empty = [p for p, v in parts.items() if not v["samples"]]
    sizes = ", ".join(f"{p} {v['samples']}" for p, v in parts.items())
    span = f"{have.get('first_t_end', '?')} .. {have.get('last_t_end', '?')}"
    return (
        f"the {'/'.join(empty)} part{'s are' if len(empty) > 1 else ' is'} empty ({sizes} "
        f"samples; {have['samples']} {primary} samples of {have['regions']} regions, t_end "
        f"{span}; {keys})"
    )
