"""Region-level analyses of Bhattacharjee et al. 2020 (SCIENCE.md S2): Figs 6, 8, 13 and Table 1.

Every function is pure (frames in, frames out);
:func:`flarepipe.stages.evaluate.run_region_analyses` reads the workflow's files and draws the
figures.

- :func:`sample_records`: each sample's last record (the image a CNN saw), with its keywords and
  its size before the resize (``nx``, ``ny``);
- :func:`output_histogram` (Fig 6): a model's output probabilities in equal-width bins over
  [0, 1], with the samples, the positives and the mean total unsigned flux per bin;
- :func:`resolution_counts` (Fig 8): the distribution of the images' x and y sizes, pixels;
- :func:`loss_curves` (Fig 13): training and validation loss per epoch of each run;
- :func:`period_table` (Table 1, left): per split period, the flaring and non-flaring regions and
  the flares (>= the strong class) of those regions that started in the period;
- :func:`class_recalls` (Table 1, right): per run, the recall of each class, TP / (TP + FN)
  (flaring) and TN / (TN + FP) (non-flaring), beside TSS = their sum minus 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "PERIODS",
    "class_recalls",
    "loss_curves",
    "output_histogram",
    "period_table",
    "resolution_counts",
    "mean_sd",
    "sample_records",
]

#: Table 1's periods: the samples a run trains and validates on, and its test samples
PERIODS = {"train/val": ("train", "val"), "test": ("test",)}


def sample_records(samples: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """Each sample's last record (``record_ids``' last id, a row of ``records``), one row per
    sample: ``sample_id``, ``region_id``, ``label``, ``t_end`` and the record's columns.
    """
    for col in ("sample_id", "record_ids"):
        if col not in samples.columns:
            raise ValueError(f"samples: missing column {col!r}")
    last = samples["record_ids"].astype(str).str.split(";").str[-1]
    ids = pd.to_numeric(last, errors="coerce")
    bad = ids.isna() | ~ids.isin(records.index)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"samples: sample {samples['sample_id'].iloc[i]!r} names record {last.iloc[i]!r}, "
            f"which records.csv ({len(records)} rows) does not have; rerun the label stage"
        )
    rec = records.loc[ids.astype(int).to_numpy()].reset_index(drop=True)
    keep = [c for c in ("sample_id", "region_id", "label", "t_end") if c in samples.columns]
    extra = rec.drop(columns=[c for c in keep if c in rec.columns])
    return pd.concat([samples[keep].reset_index(drop=True), extra], axis=1)


def output_histogram(
    predictions: pd.DataFrame,
    per_sample: pd.DataFrame,
    flux_column: str = "usfluxl_mx",
    bins: int = 10,
) -> pd.DataFrame:
    """Fig 6: ``predictions`` (``sample_id``, ``prob``; every run's rows pooled) in ``bins``
    equal-width probability bins, with per bin ``n``, ``n_positive`` and ``mean_flux`` (the mean
    of ``per_sample[flux_column]`` over the bin's rows; NaN for an empty bin).
    """
    if int(bins) < 1:
        raise ValueError(f"output histogram: bins must be >= 1, got {bins}")
    for col in ("sample_id", "prob", "label"):
        if col not in predictions.columns:
            raise ValueError(f"predictions: missing column {col!r}")
    if flux_column not in per_sample.columns:
        raise ValueError(
            f"samples' records: no column {flux_column!r} for the flux per bin "
            f"(have {list(per_sample.columns)})"
        )
    flux = per_sample.set_index("sample_id")[flux_column]
    p = predictions["prob"].to_numpy(dtype=float)
    edges = np.linspace(0.0, 1.0, int(bins) + 1)
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, int(bins) - 1)
    f = flux.reindex(predictions["sample_id"].astype(str)).to_numpy(dtype=float)
    y = predictions["label"].to_numpy(dtype=int)
    rows = []
    for b in range(int(bins)):
        m = idx == b
        rows.append(
            {
                "bin_lo": edges[b],
                "bin_hi": edges[b + 1],
                "n": int(m.sum()),
                "n_positive": int(y[m].sum()),
                "mean_flux": float(np.nanmean(f[m])) if np.isfinite(f[m]).any() else np.nan,
            }
        )
    return pd.DataFrame(rows)


def resolution_counts(per_sample: pd.DataFrame) -> pd.DataFrame:
    """Fig 8: how many samples' images have each x size and each y size (``axis``, ``px``,
    ``n``), before the resize to the network's input.
    """
    out = []
    for axis, col in (("x", "nx"), ("y", "ny")):
        if col not in per_sample.columns:
            raise ValueError(f"samples' records: no column {col!r} (image size before resizing)")
        counts = pd.to_numeric(per_sample[col], errors="coerce").dropna().astype(int)
        vc = counts.value_counts().sort_index()
        out.append(pd.DataFrame({"axis": axis, "px": vc.index, "n": vc.to_numpy()}))
    return pd.concat(out, ignore_index=True)


def loss_curves(metrics: Mapping[int, pd.DataFrame]) -> pd.DataFrame:
    """Fig 13: ``run, epoch, train_loss, val_loss`` from each run's ``metrics.csv`` (Lightning's
    log, one row per epoch); a run whose log lacks a loss column has NaN there.
    """
    frames = []
    for run, log in metrics.items():
        if "epoch" not in log.columns:
            raise ValueError(f"run {run}: metrics.csv has no epoch column")
        f = pd.DataFrame({"run": int(run), "epoch": log["epoch"].astype(int)})
        for col in ("train_loss", "val_loss"):
            f[col] = log[col].to_numpy(dtype=float) if col in log.columns else np.nan
        frames.append(f)
    cols = ["run", "epoch", "train_loss", "val_loss"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def period_table(
    samples: pd.DataFrame,
    split: pd.DataFrame,
    region_flares: Mapping[str, np.ndarray],
) -> pd.DataFrame:
    """Table 1 (left): per period of :data:`PERIODS`, its time span (the samples' ``t_end``), the
    regions with samples in it, flaring (a positive sample) or not, and the flares of those
    regions (``region_flares``: start times of each region's flares >= the strong class) that
    started within the span.
    """
    s = samples.merge(split[["sample_id", "split"]], on="sample_id", how="inner")
    rows = []
    for name, parts in PERIODS.items():
        sub = s[s["split"].isin(parts)]
        if sub.empty:
            rows.append({"period": name, "regions": 0})
            continue
        t0, t1 = sub["t_end"].min(), sub["t_end"].max()
        flaring = sub.groupby("region_id")["label"].max()
        n_flares = 0
        for region in flaring.index:
            t = np.asarray(region_flares.get(str(region), []), dtype="datetime64[ns]")
            n_flares += int(((t >= np.datetime64(t0)) & (t <= np.datetime64(t1))).sum())
        rows.append(
            {
                "period": name,
                "start": t0,
                "end": t1,
                "regions": int(len(flaring)),
                "flaring_regions": int((flaring == 1).sum()),
                "non_flaring_regions": int((flaring == 0).sum()),
                "flares": n_flares,
                "samples": int(len(sub)),
                "positive_samples": int(sub["label"].sum()),
            }
        )
    return pd.DataFrame(rows)


def class_recalls(
    predictions: Mapping[int, pd.DataFrame], split: str = "test", threshold: float = 0.5
) -> pd.DataFrame:
    """Table 1 (right): per run, ``recall_flaring`` = TP/(TP+FN), ``recall_non_flaring`` =
    TN/(TN+FP) and ``TSS`` (their sum minus 1) on the ``split`` rows of its predictions.
    """
    from flarepipe.evaluation.metrics import contingency, tss

    rows = []
    for run, pred in predictions.items():
        sub = pred[pred["split"] == split]
        c = contingency(sub["label"].to_numpy(), sub["prob"].to_numpy(), threshold)
        pos, neg = c.pos, c.neg
        rows.append(
            {
                "run": int(run),
                "n": int(len(sub)),
                "recall_flaring": c.tp / pos if pos else np.nan,
                "recall_non_flaring": c.tn / neg if neg else np.nan,
                "TSS": tss(c),
            }
        )
    return pd.DataFrame(rows)


def mean_sd(values: Sequence[float]) -> str:
    """``"m ± s"`` (3 decimals; sd over the finite values, ddof 1), ``""`` with none."""
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    if v.size == 0:
        return ""
    return f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" if v.size > 1 else f"{v[0]:.3f}"
