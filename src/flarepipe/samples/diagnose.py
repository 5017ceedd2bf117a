"""Why the label stage made no sample: counts per reason, and the one line that says which one.

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

from flarepipe.samples.quality import REASONS

__all__ = ["grid_offsets", "no_samples_report", "summary_line"]


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
