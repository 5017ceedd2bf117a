"""Figures of attribution results (PNG, and a GIF movie), each written atomically.

File names are ``<method or analysis>__<kind>.png`` so the report's caption can name the method
(``rules/attribute.smk`` registers the pattern ``{figure}__{kind}.png``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from flarepipe.attribution.postprocess import (
    above_threshold,
    contour_levels,
    normalise_abs,
    smooth,
    upsample,
)
from flarepipe.io.atomic import atomic_path

__all__ = [
    "contour_figure",
    "maps_figure",
    "movie",
    "planted_figure",
    "probe_figure",
    "sequence_maps_figure",
    "timeline_figure",
]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike, **kwargs) -> Path:
    plt = _plt()
    path = Path(path)
    with atomic_path(path, suffix=path.suffix) as tmp:
        fig.savefig(tmp, dpi=kwargs.pop("dpi", 110), **kwargs)
    plt.close(fig)
    return path


def _field_limits(img: np.ndarray) -> float:
    v = float(np.nanpercentile(np.abs(img), 99.5)) if np.isfinite(img).any() else 1.0
    return v if v > 0 else 1.0


def maps_figure(
    path: str | os.PathLike,
    magnetograms: Sequence[np.ndarray],
    columns: Mapping[str, np.ndarray],
    row_labels: Sequence[str],
    title: str,
) -> Path:
    """Rows of samples: the native magnetogram, then each map upsampled (order 2), |.| 0-1.

    Parameters
    ----------
    magnetograms
        Native magnetograms (G), one per row.
    columns
        Column title -> maps ``[N, H, W]`` on the network grid (N rows).
    """
    plt = _plt()
    n, m = len(magnetograms), len(columns) + 1
    fig, axes = plt.subplots(n, m, figsize=(2.1 * m, 1.7 * n + 0.6), squeeze=False)
    for i, bmap in enumerate(magnetograms):
        vmax = _field_limits(bmap)
        axes[i, 0].imshow(bmap, origin="lower", cmap="gray", vmin=-vmax, vmax=vmax)
        axes[i, 0].set_ylabel(row_labels[i], fontsize=6)
        for j, (name, maps) in enumerate(columns.items(), start=1):
            a = normalise_abs(upsample(maps[i], bmap.shape)[None])[0]
            axes[i, j].imshow(a, origin="lower", cmap="inferno", vmin=0, vmax=1)
            if i == 0:
                axes[i, j].set_title(name, fontsize=7)
    axes[0, 0].set_title("magnetogram (G)", fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=8)
    fig.subplots_adjust(
        left=0.08,
        right=0.99,
        top=1 - 0.5 / fig.get_figheight(),
        bottom=0.01,
        wspace=0.05,
        hspace=0.18,
    )
    return _save(fig, path)


def _magnetogram_grid(
    path: str | os.PathLike,
    magnetograms: Sequence[np.ndarray],
    row_labels: Sequence[str],
    title: str,
    draw,
) -> Path:
    """Magnetograms in a grid of at most 4 columns, ``draw(ax, i, bmap)`` over each."""
    plt = _plt()
    n = len(magnetograms)
    cols = min(n, 4)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.3 * rows + 0.5), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for i, bmap in enumerate(magnetograms):
        ax = axes.ravel()[i]
        vmax = _field_limits(bmap)
        ax.imshow(bmap, origin="lower", cmap="gray", vmin=-vmax, vmax=vmax)
        draw(ax, i, bmap)
        ax.set_title(row_labels[i], fontsize=6)
    fig.suptitle(title, fontsize=8)
    fig.subplots_adjust(
        left=0.02,
        right=0.98,
        top=1 - 0.55 / fig.get_figheight(),
        bottom=0.02,
        wspace=0.05,
        hspace=0.25,
    )
    return _save(fig, path)


def contour_figure(
    path: str | os.PathLike,
    magnetograms: Sequence[np.ndarray],
    maps: np.ndarray,
    row_labels: Sequence[str],
    title: str,
    sigma_px: float = 3.0,
) -> Path:
    """Magnetograms with contours of the smoothed |map| (Sun et al. 2022 Fig. 15).

    Each map is upsampled to the patch (order 2), made absolute, smoothed with ``sigma_px`` native
    pixels and contoured at 30/50/70/90 % of its maximum.
    """

    def draw(ax, i, bmap):
        s = smooth(np.abs(upsample(maps[i], bmap.shape)), sigma_px)
        levels = contour_levels(s)
        if levels:
            ax.contour(s, levels=levels, cmap="autumn", linewidths=0.8)

    return _magnetogram_grid(path, magnetograms, row_labels, title, draw)


def occlusion_overlay_figure(
    path: str | os.PathLike,
    magnetograms: Sequence[np.ndarray],
    maps: np.ndarray,
    row_labels: Sequence[str],
    title: str,
    threshold: float = 0.9,
) -> Path:
    """Magnetograms with the region where the occlusion map exceeds ``threshold`` (S2 Fig 12).

    Each map is upsampled to the patch bicubically (order 3, as the paper resizes), made
    absolute, scaled to [0, 1] and the ``> threshold`` region drawn over the magnetogram.
    """

    def draw(ax, i, bmap):
        hot = above_threshold(maps[i], bmap.shape, threshold)
        ax.imshow(np.ma.masked_where(~hot, hot), origin="lower", cmap="autumn", alpha=0.5)
        if hot.any():
            ax.contour(hot, levels=[0.5], colors="red", linewidths=0.6)

    return _magnetogram_grid(
        path, magnetograms, row_labels, f"{title} (|map| > {threshold:g})", draw
    )


def sequence_maps_figure(
    path: str | os.PathLike,
    maps: Mapping[str, np.ndarray],
    keywords: Sequence[str],
    row_labels: Sequence[str],
    title: str,
) -> Path:
    """Time steps x keywords heat maps (LSTM), one row per sample, one column per method."""
    plt = _plt()
    names = list(maps)
    n = len(row_labels)
    fig, axes = plt.subplots(
        n, len(names), figsize=(2.4 * len(names), 1.6 * n + 0.6), squeeze=False
    )
    for j, name in enumerate(names):
        for i in range(n):
            a = np.asarray(maps[name][i])
            lim = float(np.abs(a).max()) or 1.0
            ax = axes[i, j]
            ax.imshow(a.T, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, origin="lower")
            ax.set_yticks(range(len(keywords)))
            ax.set_yticklabels(keywords if j == 0 else [], fontsize=5)
            ax.tick_params(axis="x", labelsize=5)
            if i == 0:
                ax.set_title(name, fontsize=7)
            if j == 0:
                ax.set_ylabel(row_labels[i], fontsize=5)
    for ax in axes[-1]:
        ax.set_xlabel("time step (96 min)", fontsize=6)
    fig.suptitle(title, fontsize=8)
    fig.subplots_adjust(
        left=0.15, right=0.98, top=1 - 0.5 / fig.get_figheight(), bottom=0.1, wspace=0.1, hspace=0.3
    )
    return _save(fig, path)


def planted_figure(path: str | os.PathLike, table: pd.DataFrame, title: str) -> Path:
    """Enrichment (share of |attribution| in the cause mask / mask area) per method, trained
    against randomly initialised network; 1 is chance.
    """
    plt = _plt()
    piv = table.pivot_table(index="map", columns="network", values="enrichment", aggfunc="mean")
    fig, ax = plt.subplots(figsize=(max(4.0, 0.55 * len(piv) + 2), 3.0))
    x = np.arange(len(piv))
    nets = list(piv.columns)
    for k, net in enumerate(nets):
        ax.bar(x + (k - (len(nets) - 1) / 2) * 0.38, piv[net].to_numpy(), width=0.36, label=net)
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_xticks(x)
    ax.set_xticklabels(piv.index, rotation=40, ha="right", fontsize=6)
    ax.set_ylabel("enrichment (1 = chance)")
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=8)
    fig.subplots_adjust(left=0.12, right=0.98, top=0.9, bottom=0.35)
    return _save(fig, path)


def probe_figure(
    path: str | os.PathLike,
    table: pd.DataFrame,
    family: str,
    title: str,
    hue: str | None = None,
) -> Path:
    """Flare probability against each swept probe parameter; mean and spread over runs.

    With ``hue`` (a column of ``table``, e.g. ``dataset``: S2 Fig 11's models trained on
    original, polarity-reversed and Hale/Joy-corrected images), one line per value of it.
    """
    plt = _plt()
    sub = table[table["family"] == family]
    params = list(dict.fromkeys(sub["parameter"]))
    groups = list(dict.fromkeys(sub[hue])) if hue else [None]
    fig, axes = plt.subplots(
        1, max(1, len(params)), figsize=(2.6 * max(1, len(params)), 2.6), squeeze=False
    )
    for ax, name in zip(axes[0], params, strict=False):
        for group in groups:
            s = sub[sub["parameter"] == name]
            if hue:
                s = s[s[hue] == group]
            g = s.groupby("value", sort=False)["prob"]
            mean, lo, hi = g.mean(), g.min(), g.max()
            try:
                xs = np.array([float(v) for v in mean.index])
                order = np.argsort(xs)
            except ValueError:  # categorical (orientation)
                xs = np.arange(len(mean))
                order = np.arange(len(mean))
                ax.set_xticks(xs)
                ax.set_xticklabels(list(mean.index))
            ax.plot(xs[order], mean.to_numpy()[order], "o-", ms=3, label=group)
            ax.fill_between(xs[order], lo.to_numpy()[order], hi.to_numpy()[order], alpha=0.25)
        ax.set_xlabel(name, fontsize=7)
        ax.set_ylim(-0.02, 1.02)
        ax.tick_params(labelsize=6)
    axes[0, 0].set_ylabel("flare probability", fontsize=7)
    if hue:
        axes[0, 0].legend(fontsize=6)
    runs = table["run"].nunique() if "run" in table else 1
    fig.suptitle(f"{title} ({runs} run(s): mean, min-max)", fontsize=8)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.85, bottom=0.18, wspace=0.3)
    return _save(fig, path)


def timeline_figure(
    path: str | os.PathLike,
    timeline: pd.DataFrame,
    flares: pd.DataFrame,
    frames: Sequence[tuple[str, np.ndarray, np.ndarray]],
    title: str,
    sequence: bool = False,
) -> Path:
    """A region's predicted probability over time with its labels and GOES flares (Sun et al.
    2022 Fig. 13), and attribution frames at chosen times below: (magnetogram, |map|) for image
    networks, (keywords, signed map) as keywords x time steps for sequence networks.
    """
    plt = _plt()
    nf = len(frames)
    fig = plt.figure(figsize=(max(7.0, 1.8 * nf), 4.6 if nf else 2.8))
    ax = fig.add_axes([0.08, 0.55 if nf else 0.18, 0.88, 0.36 if nf else 0.7])
    t = pd.to_datetime(timeline["t_end"])
    if len(t):
        lo, hi = t.min() - pd.Timedelta(hours=24), t.max() + pd.Timedelta(hours=24)
        peaks = pd.to_datetime(flares["peak_utc"])
        flares = flares[(peaks >= lo) & (peaks <= hi)]
        ax.set_xlim(lo, hi)
    ax.plot(t, timeline["prob"], "k.-", ms=3, lw=0.8, label="predicted probability")
    ax.scatter(t, timeline["label"], s=8, c="tab:red", marker="|", label="label")
    for _, f in flares.iterrows():
        big = f["peak_flux_wm2"] >= 1e-5
        ax.axvline(
            pd.Timestamp(f["peak_utc"]),
            color="tab:orange" if big else "0.75",
            lw=1.2 if big else 0.5,
            zorder=0,
        )
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("P(flare)", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.legend(fontsize=6, loc="upper left")
    ax.set_title(title + "  (grey/orange lines: GOES flares <M1 / >=M1)", fontsize=8)
    for k, (label, img, amap) in enumerate(frames):
        w = 0.88 / max(nf, 1)
        a0 = fig.add_axes([0.08 + k * w, 0.05, w * 0.48, 0.38])
        a1 = fig.add_axes([0.08 + k * w + w * 0.5, 0.05, w * 0.48, 0.38])
        img = np.asarray(img)
        lim = float(np.abs(img).max()) or 1.0
        if not sequence:
            a0.imshow(img, origin="lower", cmap="gray", vmin=-lim, vmax=lim)
            a1.imshow(normalise_abs(np.asarray(amap)[None])[0], origin="lower", cmap="inferno")
        else:  # [T, K] shown as keywords x time steps
            a0.imshow(img.T, aspect="auto", origin="lower", cmap="gray")
            lim = float(np.abs(amap).max()) or 1.0
            a1.imshow(
                np.asarray(amap).T,
                aspect="auto",
                origin="lower",
                cmap="RdBu_r",
                vmin=-lim,
                vmax=lim,
            )
        a0.set_title(label, fontsize=5)
        for a in (a0, a1):
            a.set_xticks([])
            a.set_yticks([])
    return _save(fig, path)


def movie(
    path: str | os.PathLike,
    magnetograms: Sequence[np.ndarray],
    maps: Sequence[np.ndarray],
    labels: Sequence[str],
    title: str,
    sigma_px: float = 3.0,
    fps: int = 3,
) -> Path:
    """An animated GIF: each frame the magnetogram with contours of its smoothed |map|."""
    plt = _plt()
    from matplotlib.animation import FuncAnimation, PillowWriter

    fig, ax = plt.subplots(figsize=(4.2, 3.2))
    vmax = max(_field_limits(b) for b in magnetograms)

    def draw(k: int):
        ax.clear()
        b = magnetograms[k]
        ax.imshow(b, origin="lower", cmap="gray", vmin=-vmax, vmax=vmax)
        s = smooth(np.abs(upsample(maps[k], b.shape)), sigma_px)
        levels = contour_levels(s)
        if levels:
            ax.contour(s, levels=levels, cmap="autumn", linewidths=0.8)
        ax.set_title(f"{title}\n{labels[k]}", fontsize=6)
        ax.set_xticks([])
        ax.set_yticks([])
        return []

    anim = FuncAnimation(fig, draw, frames=len(magnetograms), blit=False)
    path = Path(path)
    with atomic_path(path, suffix=".gif") as tmp:
        anim.save(tmp, writer=PillowWriter(fps=fps), dpi=90)
    plt.close(fig)
    return path
