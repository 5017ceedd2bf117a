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
  keywords or planted flare rate (Fig. 7; Fig. 6 with ``rate_c_per_day``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["boxes_on_input", "region_maxima", "max_on_flaring", "keyword_correlations"]

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
