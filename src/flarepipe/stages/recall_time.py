"""The recall_time rule (``rules/evaluate.smk``): recall vs time to the nearest flare (S2 Fig 5)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

__all__ = ["run_recall_time"]


def run_recall_time(
    predictions: Sequence[str | os.PathLike],
    runs: Sequence[int],
    samples: str | os.PathLike,
    records: str | os.PathLike,
    flares: str | os.PathLike,
    labels: Mapping,
    cfg: Mapping,
    title: str,
    out_table: str | os.PathLike,
    out_figure: str | os.PathLike,
) -> None:
    """Rule ``recall_time``: per-run recall per offset bin of one (dataset, model); a figure.

    ``predictions`` are the model's ``predictions.csv`` of the ``runs``; ``samples``, ``records``
    and ``flares`` the label stage's samples and the archive (the regions' NOAA numbers and
    flares); ``labels`` the ``labels`` section (``strong_class``), ``cfg`` the
    ``evaluation.recall_vs_time`` section. The table has one row per (run, bin); the figure the
    mean ± sd over runs (:mod:`flarepipe.evaluation.recall_time`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from flarepipe.archive.layout import read_flares, read_records
    from flarepipe.core.flareclass import class_to_flux
    from flarepipe.evaluation.plots import save_figure
    from flarepipe.evaluation.recall_time import (
        flare_offsets,
        recall_by_offset,
        region_flare_times,
    )
    from flarepipe.io.atomic import write_csv
    from flarepipe.samples.labels import read_samples
    from flarepipe.samples.quality import region_noaa

    w, b = float(cfg["window_hours"]), float(cfg["bin_hours"])
    times = region_flare_times(
        read_flares(flares),
        region_noaa(read_records(records)),
        class_to_flux(labels["strong_class"]),
    )
    offsets = flare_offsets(read_samples(samples), times, w)
    frames = []
    if len(runs) != len(predictions):
        raise ValueError(f"recall_time: {len(predictions)} prediction files for runs {list(runs)}")
    for run, path in zip(runs, predictions, strict=True):
        pred = pd.read_csv(path, dtype={"sample_id": str})
        pred = pred[pred["split"] == cfg["split"]]
        r = recall_by_offset(pred, offsets, b, w, float(cfg["threshold"]))
        r.insert(0, "run", int(run))
        frames.append(r)
    table = pd.concat(frames, ignore_index=True)
    write_csv(table, out_table)
    wide = table.pivot(index="run", columns="bin_centre", values="recall")
    mean, sd = wide.mean(axis=0), wide.std(axis=0).fillna(0.0)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = wide.columns.to_numpy(dtype=float)
    ax.plot(x, mean.to_numpy(), marker="o")
    ax.fill_between(x, (mean - sd).to_numpy(), (mean + sd).to_numpy(), alpha=0.2)
    ax.axvline(0, color="k", lw=0.8, ls="--")
    ax.set_xlabel("time from the nearest flare (h; negative: before)")
    ax.set_ylabel("recall TP/(TP+FN)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(-w, w)
    n = int(table.groupby("run")["n_pos"].sum().mean()) if len(table) else 0
    ax.set_title(f"{title}: {len(wide)} run(s), {n} positive samples per run, {cfg['split']}")
    if not np.isfinite(mean.to_numpy()).any():
        ax.text(0.5, 0.5, "no positive sample near a flare", transform=ax.transAxes, ha="center")
    save_figure(fig, out_figure)
