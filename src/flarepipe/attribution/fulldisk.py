"""Full-disk attribution analyses of Yi et al. 2021: maps scored against the frame's regions.

The maps come from :func:`flarepipe.attribution.methods.attribute` (guided backprop, made
absolute and scaled to [0, 1] by :func:`flarepipe.attribution.postprocess.normalise_abs`;
``gradcam`` / ``gradcam_negative`` on the network's last convolution for the two labels) on the
daily shard's inputs; the regions are the frame's truth boxes
(:data:`flarepipe.archive.sources.synthetic.fulldisk.REGION_COLUMNS`, frame pixels), scaled to the
input's grid by :func:`boxes_on_input`.

- :func:`region_maxima`: the maximum of a map inside each region's box (Fig. 6's ordinate);
- :func:`max_on_flaring`: whether the map's maximum falls in a box of a flaring region, and the
  chance of that (the share of the disk the flaring boxes cover), so that over many frames the hit
  rate is compared with chance (the planted-cause check of the synthetic archive);
- :func:`keyword_correlations`: Spearman's correlation of the regions' maximum Grad-CAM with their
  keywords or planted flare rate (Fig. 7; Fig. 6 with ``rate_c_per_day``);
- :func:`bin_field`: the frame's field on the input's grid (block mean), where the PIL analysis of
  Table 2 (:func:`flarepipe.attribution.analysis.pil_mask`, ``pil_scores`` per day and map) draws
  its masks; :func:`pil_table` averages the days per map (the table's rows).

Figures (PNG, written atomically): :func:`overlay_figure` (Figs. 2-4: one row per case, hit /
false alarm / miss / null by :func:`forecast_case`: the input with the region boxes, Grad-CAM over
it, guided backprop), :func:`region_crops_figure` (Fig. 5: each region's crop of the input and of
the maps) and :func:`scatter_figure` (Figs. 6-7: a region quantity against its maximum Grad-CAM).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from flarepipe.io.atomic import atomic_path

__all__ = [
    "CASES",
    "boxes_on_input",
    "region_maxima",
    "max_on_flaring",
    "keyword_correlations",
    "bin_field",
    "pil_table",
    "forecast_case",
    "overlay_figure",
    "region_crops_figure",
    "scatter_figure",
]

#: the forecast cases of Figs. 2-4, in their order
CASES = ("hit", "false_alarm", "miss", "null")

_BOX = ["x_min", "y_min", "x_max", "y_max"]


def boxes_on_input(boxes: pd.DataFrame, frame_size: int, input_size: int) -> np.ndarray:
    """Region boxes (frame pixels, inclusive) as integer boxes of the input grid ``[R, 4]``.

    Input pixel ``j`` covers frame pixels ``[j·f, (j+1)·f)`` with ``f = frame_size/input_size``;
    a box keeps every input pixel it touches.
    """
    missing = [c for c in _BOX if c not in boxes.columns]
    if missing:
        raise ValueError(f"region boxes: missing column(s) {missing}")
    f = frame_size / float(input_size)
    b = boxes[_BOX].to_numpy(dtype=float)
    lo = np.floor(b[:, :2] / f)
    hi = np.floor(b[:, 2:] / f)
    return np.clip(np.hstack([lo, hi]), 0, input_size - 1).astype(int)


def region_maxima(attribution: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Maximum of ``attribution`` ``[H, W]`` inside each box ``[x0, y0, x1, y1]`` (inclusive)."""
    a = np.asarray(attribution, dtype=np.float64)
    return np.array([a[y0 : y1 + 1, x0 : x1 + 1].max() for x0, y0, x1, y1 in np.asarray(boxes)])


def max_on_flaring(
    attribution: np.ndarray, boxes: np.ndarray, flaring: Sequence[bool], on_disk: np.ndarray
) -> tuple[bool, float]:
    """Whether the on-disk maximum of ``attribution`` lies in a flaring region's box; the chance.

    ``chance`` is the share of on-disk pixels inside the union of the flaring boxes: a map whose
    maximum fell anywhere on the disk at random would hit that often.
    """
    a = np.where(on_disk, np.asarray(attribution, dtype=np.float64), -np.inf)
    hit_mask = np.zeros(a.shape, dtype=bool)
    for (x0, y0, x1, y1), fl in zip(np.asarray(boxes), flaring, strict=True):
        if fl:
            hit_mask[y0 : y1 + 1, x0 : x1 + 1] = True
    hit_mask &= on_disk
    y, x = np.unravel_index(int(np.argmax(a)), a.shape)
    n_disk = int(on_disk.sum())
    return bool(hit_mask[y, x]), float(hit_mask.sum() / n_disk) if n_disk else float("nan")


def keyword_correlations(
    regions: pd.DataFrame, columns: Sequence[str], value: str = "max_gradcam"
) -> pd.DataFrame:
    """Spearman's r (and p) of ``regions[value]`` with each of ``columns``: ``column, r, p, n``."""
    rows = []
    for c in columns:
        if c not in regions.columns:
            raise ValueError(f"regions: no column {c!r} (have {list(regions.columns)})")
        ok = regions[[value, c]].apply(pd.to_numeric, errors="coerce").dropna()
        if len(ok) < 3 or ok[c].nunique() < 2 or ok[value].nunique() < 2:
            rows.append({"column": c, "r": np.nan, "p": np.nan, "n": len(ok)})
            continue
        res = stats.spearmanr(ok[value], ok[c])
        rows.append({"column": c, "r": float(res.statistic), "p": float(res.pvalue), "n": len(ok)})
    return pd.DataFrame(rows, columns=["column", "r", "p", "n"])


def bin_field(data: np.ndarray, input_size: int) -> np.ndarray:
    """A square frame's field (G; NaN off the disk) as the block mean on the input's grid.

    Off-disk and NaN pixels count as 0 G, as the network's input sees them.
    """
    a = np.nan_to_num(np.asarray(data, dtype=np.float64), nan=0.0)
    side = a.shape[0]
    if a.ndim != 2 or a.shape[1] != side or side % int(input_size):
        raise ValueError(
            f"a {a.shape} frame does not bin to {input_size} px (a square frame whose side is a "
            "multiple of fulldisk.input.size)"
        )
    f = side // int(input_size)
    return a.reshape(input_size, f, input_size, f).mean(axis=(1, 3))


#: Table 2's columns, per map: mean normalised attribution on the PIL, off it, on the polarity
#: boundaries; the day-mean PIL/non-PIL and PIL/boundary ratios; the share of days whose PIL and
#: thresholded map overlap with IoU at least ``iou_min``
PIL_COLUMNS = (
    "days",
    "pil_mean",
    "non_pil_mean",
    "boundary_mean",
    "pil_ratio",
    "pil_boundary_ratio",
    "pil_iou",
    "share_iou_min",
)


def pil_table(rows: pd.DataFrame, iou_min: float = 0.1) -> pd.DataFrame:
    """Table 2: per ``map`` the day mean of :func:`~flarepipe.attribution.analysis.pil_scores`.

    ``rows`` has one row per (day, map) with the columns ``pil_scores`` returns; days without a
    PIL (NaN scores) are left out of that map's row and not counted in ``days``.
    """
    need = {"map", "pil_mean", "non_pil_mean", "boundary_mean", "pil_ratio", "pil_iou"}
    missing = sorted(need - set(rows.columns))
    if missing:
        raise ValueError(f"PIL rows: missing column(s) {missing}")
    out = []
    for name, g in rows.groupby("map", sort=False):
        g = g[g["pil_mean"].notna()]
        out.append(
            {
                "map": name,
                "days": len(g),
                **{c: float(g[c].mean()) if len(g) else np.nan for c in PIL_COLUMNS[1:-1]},
                "share_iou_min": float((g["pil_iou"] >= iou_min).mean()) if len(g) else np.nan,
            }
        )
    return pd.DataFrame(out, columns=["map", *PIL_COLUMNS])


def forecast_case(label: int, prob: float, threshold: float = 0.5) -> str:
    """``hit`` (flare, forecast), ``false_alarm``, ``miss``, ``null`` (no flare, none forecast)."""
    yes = prob >= threshold
    return ("hit" if yes else "miss") if int(label) else ("false_alarm" if yes else "null")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    with atomic_path(path, suffix=path.suffix) as tmp:
        fig.savefig(tmp, dpi=100)
    _plt().close(fig)
    return path


def _boxes(ax, boxes: np.ndarray, color: str = "yellow") -> None:
    from matplotlib.patches import Rectangle

    for x0, y0, x1, y1 in np.asarray(boxes):
        ax.add_patch(
            Rectangle(
                (x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1, fill=False, color=color, lw=0.8
            )
        )


def overlay_figure(path: str | os.PathLike, panels: Sequence[Mapping]) -> Path:
    """Figs. 2-4: one row per panel (``title``, ``image``, ``gradcam``, ``guided``, ``boxes``)."""
    if not panels:
        raise ValueError(f"{path}: no case to draw")
    plt = _plt()
    fig, axes = plt.subplots(len(panels), 3, figsize=(9, 3 * len(panels)), squeeze=False)
    for row, p in zip(axes, panels, strict=True):
        img = np.asarray(p["image"], dtype=float)
        for ax in row:
            ax.imshow(img, origin="lower", cmap="gray")
            ax.set_xticks([])
            ax.set_yticks([])
        _boxes(row[0], p.get("boxes", np.zeros((0, 4))))
        row[1].imshow(np.asarray(p["gradcam"]), origin="lower", cmap="jet", alpha=0.45)
        row[2].imshow(
            np.asarray(p["guided"]), origin="lower", cmap="hot", alpha=0.6, vmin=0, vmax=1
        )
        row[0].set_title(str(p.get("title", "")), fontsize=9)
        row[1].set_title("Grad-CAM", fontsize=9)
        row[2].set_title("guided backprop", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def region_crops_figure(
    path: str | os.PathLike,
    image: np.ndarray,
    maps: Mapping[str, np.ndarray],
    boxes: np.ndarray,
    names: Sequence[str],
    max_regions: int = 8,
) -> Path:
    """Fig. 5: per region (row), its crop of the input and of each map (columns).

    Every crop of one column shares that whole map's colour scale, so regions compare; at most
    ``max_regions`` rows, the largest boxes first.
    """
    boxes = np.asarray(boxes)
    if len(boxes) == 0:
        raise ValueError(f"{path}: no region to crop")
    area = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    keep = np.argsort(-area, kind="stable")[: int(max_regions)]
    boxes, names = boxes[keep], [names[i] for i in keep]

    def scale(a) -> dict:
        a = np.asarray(a, dtype=float)
        return {"vmin": float(np.nanmin(a)), "vmax": float(np.nanmax(a))}

    plt = _plt()
    cols = 1 + len(maps)
    fig, axes = plt.subplots(
        len(boxes), cols, figsize=(2.2 * cols, 2.2 * len(boxes)), squeeze=False
    )
    for row, (x0, y0, x1, y1), name in zip(axes, boxes, names, strict=True):
        sl = (slice(y0, y1 + 1), slice(x0, x1 + 1))
        row[0].imshow(np.asarray(image)[sl], origin="lower", cmap="gray", **scale(image))
        row[0].set_ylabel(str(name), fontsize=8)
        for ax, (title, m) in zip(row[1:], maps.items(), strict=True):
            ax.imshow(np.asarray(m)[sl], origin="lower", cmap="jet", **scale(m))
            ax.set_title(title, fontsize=8)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return _save(fig, path)


def scatter_figure(
    path: str | os.PathLike,
    regions: pd.DataFrame,
    x: str | Sequence[str],
    y: str = "max_gradcam",
) -> Path:
    """Figs. 6-7: ``regions[y]`` against each ``regions[x]`` (one panel each), Spearman's r in
    the title; regions that flared (a ``flaring`` column) drawn apart from the others.
    """
    xs = [x] if isinstance(x, str) else list(x)
    if not xs:
        raise ValueError(f"{path}: no region quantity to draw")
    plt = _plt()
    fig, axes = plt.subplots(1, len(xs), figsize=(4.2 * len(xs), 3.4), squeeze=False)
    groups = (
        [("quiet", ~regions["flaring"].astype(bool)), ("flared", regions["flaring"].astype(bool))]
        if "flaring" in regions.columns
        else [("", pd.Series(True, index=regions.index))]
    )
    for ax, c in zip(axes[0], xs, strict=True):
        r = keyword_correlations(regions, [c], value=y).iloc[0]
        for label, sel in groups:
            ax.scatter(regions.loc[sel, c], regions.loc[sel, y], s=8, label=label or None)
        if (pd.to_numeric(regions[c], errors="coerce") > 0).all():
            ax.set_xscale("log")
        ax.set_xlabel(c)
        ax.set_ylabel(y)
        ax.set_title(f"Spearman r = {r['r']:.2f} (n = {int(r['n'])})", fontsize=9)
        if len(groups) > 1:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)
