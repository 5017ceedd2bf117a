"""The classical active-region detector: threshold, morphology, connected components, merging.

The HARP/TARP patches of the JSOC pipeline are found this way (Turmon et al. 2014; Bobra et al.
2014): pixels of strong line-of-sight field, smoothed, closed and dilated into contiguous blobs;
blobs of too few pixels dropped; blobs whose boxes lie close merged into one region. Every step
is a scikit-image call; this module only chains them and keeps the settings in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["BOX_COLUMNS", "DetectorSettings", "detect_regions", "disk_mu", "merge_boxes"]

#: Columns of a detection table: the box, its centre, size in pixels, and the score (total
#: unsigned flux in the box's blob, G px) by which detections are ranked.
BOX_COLUMNS = ("x0", "y0", "x1", "y1", "x", "y", "area_px", "flux", "score")


@dataclass(frozen=True)
class DetectorSettings:
    """Settings of :func:`detect_regions`, in gauss and pixels of the frame it is given.

    Attributes
    ----------
    threshold_g : float
        |B_LOS| of a strong-field pixel after smoothing.
    smooth_px : float
        Gaussian sigma of the smoothing before the threshold (0: none).
    closing_px, dilation_px : int
        Radii of the disk footprints of the morphological closing (fills gaps inside a blob) and
        of the dilation that groups nearby blobs into one region (boxes stay those of the strong
        pixels).
    min_area_px : int
        Blobs with fewer strong pixels (before dilation) are dropped.
    merge_px : float
        Boxes closer than this (gap between their edges) merge into one region.
    min_mu : float
        Pixels nearer the limb than this ``mu = cos(heliocentric angle)`` are ignored (their noise
        and foreshortening make false blobs); needs the ``mu`` map.
    """

    threshold_g: float = 100.0
    smooth_px: float = 1.0
    closing_px: int = 2
    dilation_px: int = 3
    min_area_px: int = 20
    merge_px: float = 5.0
    min_mu: float = 0.1

    def __post_init__(self):
        for name in ("threshold_g", "smooth_px", "merge_px", "min_mu"):
            if not np.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"detector setting {name} must be a finite number >= 0")
        for name in ("closing_px", "dilation_px", "min_area_px"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 0:
                raise ValueError(f"detector setting {name} must be an integer >= 0")


def detect_regions(
    bmap: np.ndarray, settings: DetectorSettings | None = None, *, mu: np.ndarray | None = None
) -> pd.DataFrame:
    """Active regions of a full-disk line-of-sight magnetogram as boxes (:data:`BOX_COLUMNS`).

    Off-disk pixels (NaN) count as zero field; with ``mu`` (:func:`disk_mu`, same shape), so do
    pixels with ``mu < settings.min_mu``. Returns one row per region, strongest first.
    """
    from skimage import filters, measure, morphology

    s = settings or DetectorSettings()
    data = np.asarray(bmap, dtype=np.float32)
    if data.ndim != 2:
        raise ValueError(f"a full-disk magnetogram is a 2-d array, got shape {data.shape}")
    field = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    if mu is not None:
        mu = np.asarray(mu)
        if mu.shape != data.shape:
            raise ValueError(f"mu map of shape {mu.shape} for a frame of shape {data.shape}")
        field[~(mu >= s.min_mu)] = 0.0
    strength = np.abs(field)
    if s.smooth_px > 0:
        strength = filters.gaussian(strength, sigma=s.smooth_px, preserve_range=True)
    strong = strength > s.threshold_g
    if s.closing_px:
        strong = morphology.closing(strong, morphology.disk(s.closing_px))
    blobs = measure.label(strong, connectivity=2)
    if s.min_area_px:
        blobs = morphology.remove_small_objects(blobs, max_size=s.min_area_px - 1)
    kept = blobs > 0
    # Dilation only groups: blobs that touch once grown are one region, and its box is that of
    # its strong pixels (a detection is as large as its field, not its footprint).
    groups = measure.label(
        morphology.dilation(kept, morphology.disk(s.dilation_px)) if s.dilation_px else kept,
        connectivity=2,
    )
    groups[~kept] = 0
    rows = []
    for prop in measure.regionprops(groups, intensity_image=np.abs(field)):
        y0, x0, y1, x1 = prop.bbox
        flux = float(prop.image_intensity[prop.image].sum())
        rows.append(
            {"x0": x0, "y0": y0, "x1": x1, "y1": y1, "area_px": int(prop.area), "flux": flux}
        )
    table = pd.DataFrame(rows, columns=["x0", "y0", "x1", "y1", "area_px", "flux"])
    return merge_boxes(table, s.merge_px)


def merge_boxes(boxes: pd.DataFrame, gap_px: float) -> pd.DataFrame:
    """Merge boxes whose edges lie within ``gap_px`` of each other, transitively (connected
    components of the "near" graph, :func:`scipy.sparse.csgraph.connected_components`), and again
    on the merged boxes until none lie that near; areas and fluxes add.
    """
    while True:
        merged = _merge_once(boxes, gap_px)
        if len(merged) == len(boxes):
            return merged
        boxes = merged


def _merge_once(boxes: pd.DataFrame, gap_px: float) -> pd.DataFrame:
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    if boxes.empty:
        return pd.DataFrame(columns=list(BOX_COLUMNS))
    b = boxes[["x0", "y0", "x1", "y1"]].to_numpy(float)
    gap_x = np.maximum(b[:, None, 0] - b[None, :, 2], b[None, :, 0] - b[:, None, 2])
    gap_y = np.maximum(b[:, None, 1] - b[None, :, 3], b[None, :, 1] - b[:, None, 3])
    near = (np.maximum(gap_x, 0) <= gap_px) & (np.maximum(gap_y, 0) <= gap_px)
    _, group = connected_components(csr_matrix(near), directed=False)
    merged = (
        boxes.assign(group=group)
        .groupby("group")
        .agg(
            x0=("x0", "min"),
            y0=("y0", "min"),
            x1=("x1", "max"),
            y1=("y1", "max"),
            area_px=("area_px", "sum"),
            flux=("flux", "sum"),
        )
    )
    merged = merged.astype({"x0": float, "y0": float, "x1": float, "y1": float})
    merged["x"] = (merged["x0"] + merged["x1"]) / 2
    merged["y"] = (merged["y0"] + merged["y1"]) / 2
    merged["score"] = merged["flux"]
    out = merged.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    return out[list(BOX_COLUMNS)]


def disk_mu(smap) -> np.ndarray:
    """``mu = cos(heliocentric angle)`` of every pixel of a full-disk frame (NaN off the disk),
    from the frame's WCS and observer (a :class:`sunpy.map.GenericMap`): the disk centre is where
    the WCS puts Sun centre, its radius ``RSUN_OBS`` over the pixel scale (square pixels). On the
    real HMI frame at 1024^2 this agrees with sunpy's per-pixel coordinates to 0.004 in mu (at
    the limb, where mu is steepest).
    """
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    centre = SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=smap.coordinate_frame)
    cx, cy = (float(np.asarray(c)) for c in smap.wcs.world_to_pixel(centre))
    scale = smap.scale.axis1.to_value(u.arcsec / u.pix)
    if not np.isclose(scale, smap.scale.axis2.to_value(u.arcsec / u.pix), rtol=1e-3):
        raise ValueError("disk_mu needs square pixels (CDELT1 == CDELT2)")
    radius = smap.rsun_obs.to_value(u.arcsec) / scale
    ny, nx = smap.data.shape
    y, x = np.ogrid[0:ny, 0:nx]
    ratio2 = ((x - cx) ** 2 + (y - cy) ** 2) / radius**2
    with np.errstate(invalid="ignore"):
        return np.where(ratio2 <= 1, np.sqrt(np.clip(1 - ratio2, 0, 1)), np.nan)
