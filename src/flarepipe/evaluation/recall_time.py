"""Instantaneous recall against the time to the nearest flare (Bhattacharjee et al. 2020, Fig 5).

Each sample of a region is placed relative to the region's flares of at least ``strong_class``
(the flares whose NOAA number is one of the region's, by start time)::

    a region's flares F1 < F2 < ... (start times); a sample at time t (its t_end)

    flares >= 2w apart    the sample belongs to the flare whose window [F - w, F + w] holds it
                          (offset t - F; negative: before the flare)
    flares < 2w apart     the interval between consecutive flares is split in halves: the first
    (w = 72 h: 144 h)     half belongs to the earlier flare (offset t - F_i > 0), the second to
                          the later one (offset t - F_(i+1) <= 0; the midpoint itself goes to the
                          later flare)
    |offset| > w          the sample is not counted (far from every flare); a region without
                          such flares has no offsets

Both cases amount to the nearest flare with ties to the later one, then the window. Recall per
offset bin is TP / (TP + FN) over the positive samples of the bin (probability >= threshold is a
predicted positive); a bin without positives has no recall (NaN).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "OFFSET_COLUMNS",
    "flare_offsets",
    "pre_flare_scores",
    "recall_by_offset",
    "region_flare_times",
]

#: Columns of :func:`flare_offsets`.
OFFSET_COLUMNS: list[str] = ["sample_id", "region_id", "flare_start", "offset_hours"]


def region_flare_times(
    flares: pd.DataFrame,
    region_noaa: Mapping[str, Sequence[int]],
    min_flux: float,
) -> dict[str, np.ndarray]:
    """Sorted start times (datetime64[ns], UTC) of each region's flares with flux >= ``min_flux``.

    ``flares`` is the archive's ``flares.csv`` (``start_utc``, ``noaa_ar`` and ``peak_flux_wm2``
    or ``goes_class``); ``region_noaa`` maps region ids to their NOAA numbers.
    """
    from flarepipe.core.flareclass import class_to_flux

    for col in ("start_utc", "noaa_ar"):
        if col not in flares.columns:
            raise ValueError(f"flares: missing column {col!r}; have {list(flares.columns)}")
    if "goes_class" in flares.columns:
        flux = flares["goes_class"].map(
            lambda c: class_to_flux(str(c)) if isinstance(c, str) and c.strip() else np.nan
        )
    else:
        flux = pd.Series(np.nan, index=flares.index)
    if "peak_flux_wm2" in flares.columns:
        flux = flux.fillna(pd.to_numeric(flares["peak_flux_wm2"], errors="coerce"))
    start = pd.to_datetime(flares["start_utc"], utc=True).dt.tz_localize(None)
    noaa = pd.to_numeric(flares["noaa_ar"], errors="coerce")
    strong = flux.to_numpy() >= float(min_flux)
    by_noaa: dict[int, list] = {}
    for n, t, ok in zip(noaa.to_numpy(), start.to_numpy(), strong, strict=True):
        if ok and np.isfinite(n):
            by_noaa.setdefault(int(n), []).append(t)
    out = {}
    for region, numbers in region_noaa.items():
        times = [t for n in numbers for t in by_noaa.get(int(n), [])]
        out[str(region)] = np.sort(np.array(times, dtype="datetime64[ns]"))
    return out


def flare_offsets(
    samples: pd.DataFrame,
    flare_times: Mapping[str, np.ndarray],
    window_hours: float = 72.0,
) -> pd.DataFrame:
    """Offset of every sample from its flare, by the rule of the module docstring.

    Parameters
    ----------
    samples
        ``sample_id``, ``region_id``, ``t_end`` (naive UTC or ISO strings).
    flare_times
        Region id -> sorted flare start times (:func:`region_flare_times`).
    window_hours
        Half-width w of a flare's window (S2: 72 h; consecutive flares < 2w apart share it).

    Returns
    -------
    pandas.DataFrame
        :data:`OFFSET_COLUMNS`, only the samples within ``window_hours`` of their flare.
    """
    for col in ("sample_id", "region_id", "t_end"):
        if col not in samples.columns:
            raise ValueError(f"samples: missing column {col!r}; have {list(samples.columns)}")
    w = np.timedelta64(int(round(window_hours * 3600)), "s")
    rows = []
    t_all = pd.to_datetime(samples["t_end"]).to_numpy().astype("datetime64[ns]")
    for (sid, rid), t in zip(
        samples[["sample_id", "region_id"]].itertuples(index=False, name=None), t_all, strict=True
    ):
        f = flare_times.get(str(rid))
        if f is None or len(f) == 0:
            continue
        j = int(np.searchsorted(f, t, side="left"))  # f[j-1] < t <= f[j]
        cands = []
        if j < len(f):
            cands.append(f[j])  # the later flare (or the one at t)
        if j > 0:
            cands.append(f[j - 1])
        # nearest, ties to the later flare (listed first)
        best = min(cands, key=lambda x: abs((t - x).astype("int64")))
        off = t - best
        if abs(off) <= w:
            rows.append((sid, rid, best, off / np.timedelta64(1, "h")))
    return pd.DataFrame(rows, columns=OFFSET_COLUMNS)


def recall_by_offset(
    predictions: pd.DataFrame,
    offsets: pd.DataFrame,
    bin_hours: float = 6.0,
    window_hours: float = 72.0,
    threshold: float = 0.5,
) -> pd.DataFrame:
    """Recall TP / (TP + FN) of the positive samples per offset bin.

    Bins are ``[k*bin_hours, (k+1)*bin_hours)`` over ``[-window_hours, window_hours]`` (the last
    bin includes its right edge).

    Returns
    -------
    pandas.DataFrame
        ``bin_start, bin_end, bin_centre, n_pos, tp, fn, recall`` (NaN without positives).
    """
    m = offsets.merge(predictions[["sample_id", "label", "prob"]], on="sample_id", how="inner")
    m = m[m["label"].astype(int) == 1]
    edges = np.arange(-window_hours, window_hours + bin_hours / 2, bin_hours)
    if edges[-1] < window_hours:
        edges = np.append(edges, window_hours)
    k = np.clip(np.searchsorted(edges, m["offset_hours"].to_numpy(), side="right") - 1, 0, None)
    k = np.minimum(k, len(edges) - 2)
    hit = (m["prob"].to_numpy() >= threshold).astype(int)
    tp = np.bincount(k, weights=hit, minlength=len(edges) - 1).astype(int)
    n = np.bincount(k, minlength=len(edges) - 1).astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(n > 0, tp / np.maximum(n, 1), np.nan)
    return pd.DataFrame(
        {
            "bin_start": edges[:-1],
            "bin_end": edges[1:],
            "bin_centre": (edges[:-1] + edges[1:]) / 2,
            "n_pos": n,
            "tp": tp,
            "fn": n - tp,
            "recall": recall,
        }
    )


def pre_flare_scores(
    predictions: pd.DataFrame,
    offsets: pd.DataFrame,
    hours: float = 24.0,
    threshold: float = 0.5,
) -> dict[str, float]:
    """Recall and TSS on the samples of the ``hours`` before a flare (S2 Table 4).

    Positives: the positive samples with ``-hours <= offset < 0`` (:func:`flare_offsets`);
    negatives: every negative sample of ``predictions``. Recall = TP / (TP + FN) of those
    positives; TSS = recall - FP / (FP + TN) of the negatives (NaN when either set is empty).

    Returns
    -------
    dict
        ``n_pos, n_neg, tp, fn, fp, tn, recall, tss``.
    """
    pre = offsets[(offsets["offset_hours"] >= -hours) & (offsets["offset_hours"] < 0)]
    lab = predictions["label"].astype(int)
    pos = predictions[(lab == 1) & predictions["sample_id"].isin(pre["sample_id"])]
    neg = predictions[lab == 0]
    tp = int((pos["prob"] >= threshold).sum())
    fp = int((neg["prob"] >= threshold).sum())
    fn, tn = len(pos) - tp, len(neg) - fp
    recall = tp / len(pos) if len(pos) else float("nan")
    far = fp / len(neg) if len(neg) else float("nan")
    return {
        "n_pos": len(pos),
        "n_neg": len(neg),
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "tn": tn,
        "recall": recall,
        "tss": recall - far,
    }
