"""Active-region keywords computed from a line-of-sight CEA magnetogram, by their definitions.

The four keywords shared by SHARP and SMARP (Bobra et al. 2014; Sun et al. 2022 S1):

- ``USFLUXL`` total unsigned LOS flux, ``Σ |B_L| dA`` over the region mask, Mx;
- ``MEANGBL`` mean magnitude of the horizontal gradient of ``B_L`` over the mask, in gauss per native
  pixel (central differences per pixel, as the SHARP/SMARP pipelines compute it: checked against the
  real SMARP header, and the Sun et al. table value for HARP 377);
- ``R_VALUE`` Schrijver (2007): flux near strong-field polarity inversion lines. The map is binned to
  MDI resolution (0.12°/px), pixels with ``B ≥ +150 G`` and ``B ≤ −150 G`` are dilated by a 3x3
  kernel, their overlap is the PIL mask, which is convolved with a Gaussian (FWHM 15 Mm); R is
  ``Σ |B| · weight`` and ``R_VALUE = log10(R)`` (0 when R = 0);
- ``AREA`` area of the mask, micro-hemispheres (CEA pixels have equal area).

The same function serves the synthetic generator (which writes the result into headers) and tests
on real files; it takes the mask explicitly so real bitmaps can be used.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

__all__ = ["compute_keywords", "pixel_area_cm2", "pixel_size_mm", "activity_mask", "RSUN_MM"]

RSUN_MM = 696.0  # RSUN_REF, Mm
_MDI_CDELT = 0.12  # deg/px


def pixel_size_mm(cdelt_deg: float) -> float:
    """Side of a CEA pixel in Mm (``CDELT · π/180 · R_sun``)."""
    return cdelt_deg * math.pi / 180.0 * RSUN_MM


def pixel_area_cm2(cdelt_deg: float) -> float:
    """Area of a CEA pixel in cm²."""
    side_cm = pixel_size_mm(cdelt_deg) * 1e8
    return side_cm * side_cm


def activity_mask(bmap: np.ndarray, cdelt_deg: float, threshold_g: float = 100.0) -> np.ndarray:
    """Region mask: pixels whose |B| smoothed over ~1.5 Mm exceeds ``threshold_g``, NaN excluded."""
    sigma = max(1.0, 1.5 / pixel_size_mm(cdelt_deg))
    b = np.nan_to_num(np.abs(bmap), nan=0.0)
    return (ndimage.gaussian_filter(b, sigma) > threshold_g) & np.isfinite(bmap)


def _r_value(bmap: np.ndarray, cdelt_deg: float) -> float:
    factor = max(1, int(round(_MDI_CDELT / cdelt_deg)))
    b = np.nan_to_num(bmap, nan=0.0).astype(np.float64)
    if factor > 1:
        ny, nx = (b.shape[0] // factor) * factor, (b.shape[1] // factor) * factor
        b = b[:ny, :nx].reshape(ny // factor, factor, nx // factor, factor).mean(axis=(1, 3))
    pos = ndimage.binary_dilation(b >= 150.0, structure=np.ones((3, 3), bool))
    neg = ndimage.binary_dilation(b <= -150.0, structure=np.ones((3, 3), bool))
    pil = (pos & neg).astype(np.float64)
    if not pil.any():
        return 0.0
    fwhm_px = 15.0 / pixel_size_mm(cdelt_deg * factor)
    weight = ndimage.gaussian_filter(pil, fwhm_px / 2.3548)
    r = float(np.sum(np.abs(b) * weight))
    return math.log10(r) if r > 0 else 0.0


def compute_keywords(bmap: np.ndarray, cdelt_deg: float, mask: np.ndarray | None = None) -> dict:
    """USFLUXL (Mx), MEANGBL (G/px), R_VALUE (log10 Mx-like), AREA (μHem) of a LOS CEA map.

    Parameters
    ----------
    bmap : 2-D array of B_L in gauss (NaN allowed: excluded).
    cdelt_deg : CEA pixel size in degrees (0.03 HMI, 0.12 MDI).
    mask : region mask; default :func:`activity_mask`.
    """
    bmap = np.asarray(bmap, dtype=np.float64)
    if mask is None:
        mask = activity_mask(bmap, cdelt_deg)
    mask = mask & np.isfinite(bmap)
    dA = pixel_area_cm2(cdelt_deg)
    px_mm = pixel_size_mm(cdelt_deg)
    b = np.nan_to_num(bmap, nan=0.0)
    gy, gx = np.gradient(b)  # G per pixel
    grad = np.hypot(gx, gy)
    n = int(mask.sum())
    usflux = float(np.sum(np.abs(b[mask])) * dA)
    meangbl = float(grad[mask].mean()) if n else 0.0
    hemisphere_mm2 = 2.0 * math.pi * RSUN_MM**2
    area = n * px_mm * px_mm / hemisphere_mm2 * 1e6
    return {
        "USFLUXL": usflux,
        "MEANGBL": meangbl,
        "R_VALUE": _r_value(bmap, cdelt_deg),
        "AREA": area,
    }
