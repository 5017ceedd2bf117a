"""Map post-processing as the papers show their maps.

* :func:`upsample` -- back to the native patch size with a second-order spline (Sun et al. 2022:
  "upsampled to the original patch size"; ``scipy.ndimage.zoom(order=2)``);
* :func:`normalise_abs` -- absolute value, then 0-1 per map (Yi et al. 2021);
* :func:`smooth` -- Gaussian smoothing (Sun et al. 2022 Fig. 15: IG smoothed with σ = 3 px, drawn
  as contours over the magnetogram); :func:`contour_levels` the levels drawn;
* :func:`above_threshold` -- where the map, upsampled bicubically and made |.| 0-1, exceeds a
  threshold (Bhattacharjee et al. 2020 Fig. 12: occlusion > 0.9 over the magnetogram).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

__all__ = ["above_threshold", "contour_levels", "normalise_abs", "smooth", "upsample"]


def upsample(attribution: np.ndarray, shape: Sequence[int], order: int = 2) -> np.ndarray:
    """Resample a 2-D map onto ``shape`` (rows, columns) with a spline of ``order`` (2: S1).

    The zoom factors are ``shape / attribution.shape`` per axis, so a map of the network's square
    grid returns to the patch's own aspect ratio.
    """
    a = np.asarray(attribution, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"upsample takes a 2-D map, got shape {a.shape}")
    rows, cols = int(shape[0]), int(shape[1])
    if rows < 1 or cols < 1:
        raise ValueError(f"target shape must be positive, got {tuple(shape)}")
    out = ndimage.zoom(
        a, (rows / a.shape[0], cols / a.shape[1]), order=order, mode="nearest", grid_mode=True
    )
    # zoom rounds the output size; pin it to the asked shape
    out = out[:rows, :cols]
    if out.shape != (rows, cols):
        out = np.pad(out, ((0, rows - out.shape[0]), (0, cols - out.shape[1])), mode="edge")
    return out.astype(np.float32)


def above_threshold(
    attribution: np.ndarray, shape: Sequence[int], threshold: float = 0.9
) -> np.ndarray:
    """Bool mask on ``shape``: the map upsampled with a cubic spline (S2's bicubic resize back
    to the patch), made absolute and 0-1 normalised (:func:`normalise_abs`), ``> threshold``.
    """
    if not 0 < float(threshold) < 1:
        raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
    up = upsample(attribution, shape, order=3)
    return normalise_abs(up[None])[0] > float(threshold)


def normalise_abs(maps: np.ndarray) -> np.ndarray:
    """Absolute value scaled to [0, 1] per map; an all-zero map stays zero.

    ``maps`` is ``[N, ...]``: each of the N maps is divided by its own maximum.
    """
    a = np.abs(np.asarray(maps, dtype=np.float64))
    if a.ndim == 0:
        raise ValueError("normalise_abs takes a batch of maps [N, ...]")
    peak = a.reshape(len(a), -1).max(axis=1) if len(a) else np.zeros(0)
    peak = np.where(peak > 0, peak, 1.0)
    return (a / peak.reshape((-1,) + (1,) * (a.ndim - 1))).astype(np.float32)


def smooth(attribution: np.ndarray, sigma_px: float = 3.0) -> np.ndarray:
    """Gaussian-smoothed 2-D map (``sigma_px`` in the map's pixels; 0 returns a copy)."""
    a = np.asarray(attribution, dtype=np.float64)
    if sigma_px <= 0:
        return a.astype(np.float32)
    return ndimage.gaussian_filter(a, float(sigma_px), mode="nearest").astype(np.float32)


def contour_levels(
    smoothed: np.ndarray, fractions: Sequence[float] = (0.3, 0.5, 0.7, 0.9)
) -> list[float]:
    """Contour levels at ``fractions`` of the smoothed map's maximum (empty for an all-zero map)."""
    peak = float(np.nanmax(smoothed)) if np.size(smoothed) else 0.0
    if not peak > 0:
        return []
    return [f * peak for f in sorted(fractions)]
