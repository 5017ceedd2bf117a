"""Full-disk magnetogram series and the geometry of the solar disk on a helioprojective image.

Pure numpy: the exact perspective of an observer at ``DSUN_OBS`` looking at a sphere of radius
``RSUN_REF`` through a gnomonic (``HPLN-TAN``/``HPLT-TAN``) image with ``CDELTi`` (arcsec),
``CRPIXi`` (the pixel of the disk centre, 1-based), ``CROTA2`` (deg) and the observer's heliographic
latitude ``HGLT_OBS`` or ``CRLT_OBS`` (B0) and longitude ``HGLN_OBS`` (0 when absent). It is
what astropy's WCS with sunpy's frames computes (tested against
them, :mod:`flarepipe.io.fulldisk`); the synthetic renderer uses this module so that the test of
its frames against their header's WCS is not circular.

Conventions: heliographic Stonyhurst longitude (0 at the central meridian, positive to the west)
and latitude in degrees; ``μ`` the cosine of the heliocentric angle; pixels are 0-based
``(x, y)`` = (column, row) as numpy indexes ``data[y, x]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

__all__ = [
    "FullDiskSeries",
    "FULLDISK_SERIES",
    "fulldisk_series_of",
    "ARCSEC",
    "disk_coordinates",
    "disk_mask",
    "heliographic_to_pixel",
]

ARCSEC = math.pi / (180.0 * 3600.0)


@dataclass(frozen=True)
class FullDiskSeries:
    """Facts about one JSOC full-disk line-of-sight magnetogram series.

    Attributes
    ----------
    name : str
        DRMS series (``hmi.M_720s``, ``mdi.fd_M_96m_lev182``).
    instrument : str
        ``HMI`` or ``MDI``.
    segment : str
        The magnetogram segment's name (file names end ``.<segment>.fits``).
    native_size : int
        Side of the series' images (px).
    native_cdelt_arcsec : float
        Pixel size of the series' images (arcsec).
    cadence_min : int
        Record cadence (``T_REC`` step, minutes).
    bscale : float
        Storage step of the segment (G).
    noise_g : float
        Per-pixel line-of-sight noise at disk centre, native resolution (G; Liu et al. 2012).
    first_day, last_day : str or None
        Mission span (TAI days; ``None`` while it runs).
    """

    name: str
    instrument: str
    segment: str
    native_size: int
    native_cdelt_arcsec: float
    cadence_min: int
    bscale: float
    noise_g: float
    first_day: str
    last_day: str | None


FULLDISK_SERIES: Mapping[str, FullDiskSeries] = MappingProxyType(
    {
        "hmi.M_720s": FullDiskSeries(
            "hmi.M_720s", "HMI", "magnetogram", 4096, 0.504, 12, 0.1, 6.3, "2010-04-30", None
        ),
        "mdi.fd_M_96m_lev182": FullDiskSeries(
            "mdi.fd_M_96m_lev182",
            "MDI",
            "data",
            1024,
            1.98,
            96,
            0.01,
            16.0,
            "1996-04-21",
            "2011-04-12",
        ),
    }
)


def fulldisk_series_of(instrument: str) -> FullDiskSeries:
    """The full-disk series of ``instrument`` (``HMI`` or ``MDI``)."""
    for s in FULLDISK_SERIES.values():
        if s.instrument == instrument:
            return s
    raise KeyError(
        f"no full-disk series for instrument {instrument!r} "
        f"(known: {sorted(s.instrument for s in FULLDISK_SERIES.values())})"
    )


def _cards(header: Mapping) -> tuple[float, ...]:
    try:
        return (
            float(header["CDELT1"]),
            float(header["CDELT2"]),
            float(header["CRPIX1"]),
            float(header["CRPIX2"]),
            math.radians(float(header.get("CROTA2", 0.0) or 0.0)),
            float(header["DSUN_OBS"]),
            float(header.get("RSUN_REF", 696000000.0) or 696000000.0),
            math.radians(float(header.get("HGLT_OBS", header.get("CRLT_OBS", 0.0)) or 0.0)),
            float(header.get("HGLN_OBS", 0.0) or 0.0),
        )
    except KeyError as exc:
        raise ValueError(f"full-disk header lacks the WCS card {exc.args[0]}") from exc


def _plane(header: Mapping, shape: tuple[int, int] | None, dtype):
    c1, c2, p1, p2, rot, dsun, rsun, b0, l0 = _cards(header)
    ny, nx = shape if shape is not None else (int(header["NAXIS2"]), int(header["NAXIS1"]))
    dx = ((np.arange(nx, dtype=np.float64) + 1.0 - p1) * (c1 * ARCSEC)).astype(dtype)[None, :]
    dy = ((np.arange(ny, dtype=np.float64) + 1.0 - p2) * (c2 * ARCSEC)).astype(dtype)[:, None]
    cr, sr = dtype(math.cos(rot)), dtype(math.sin(rot))
    tx = cr * dx - sr * dy  # intermediate world coordinates (rad): the gnomonic plane
    ty = sr * dx + cr * dy
    r2 = tx * tx + ty * ty
    d = dtype(dsun / rsun)
    disc = dtype(1.0) - d * d * r2 / (dtype(1.0) + r2)  # ≥ 0 where the line of sight hits the Sun
    return tx, ty, r2, d, disc, b0, l0


def disk_mask(header: Mapping, shape: tuple[int, int] | None = None) -> np.ndarray:
    """True on the pixels whose line of sight meets the solar sphere (``RSUN_REF``)."""
    return _plane(header, shape, np.float32)[4] >= 0.0


def disk_coordinates(
    header: Mapping, shape: tuple[int, int] | None = None, dtype=np.float32
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heliographic Stonyhurst longitude, latitude (deg) and ``μ`` of every pixel (NaN off disk).

    The image coordinates are rotated by ``CROTA2`` to helioprojective ``(Tx, Ty)`` (the FITS
    ``PCi_j`` of a ``CROTA2`` image), deprojected from the gnomonic plane, the line of sight
    intersected with the sphere (the nearer point; in units of ``RSUN_REF``, in a cancellation-free
    form float32 keeps to ~1e-4 deg), and the point rotated by B0. ``shape`` defaults to
    ``(NAXIS2, NAXIS1)``.
    """
    tx, ty, r2, d, disc, b0, l0 = _plane(header, shape, dtype)
    on = disc >= 0.0
    root = np.sqrt(np.where(on, disc, 0.0))
    inv = dtype(1.0) / np.sqrt(dtype(1.0) + r2)  # u0; the direction is (1, tx, ty)·u0
    t = d * inv - root  # distance observer → point (rsun)
    # heliocentric cartesian (x west, y north, z towards the observer), rsun units
    z = d * r2 / (dtype(1.0) + r2) + inv * root
    x = t * tx * inv
    y = t * ty * inv
    mu = np.where(on, (z * d - dtype(1.0)) / np.maximum(t, dtype(1e-6)), np.nan).astype(dtype)
    cb, sb = dtype(math.cos(b0)), dtype(math.sin(b0))
    lat = np.degrees(np.arcsin(np.clip(y * cb + z * sb, -1.0, 1.0)))
    lon = np.degrees(np.arctan2(x, z * cb - y * sb)) + dtype(l0)
    lat = np.where(on, lat, np.nan).astype(dtype)
    lon = np.where(on, lon, np.nan).astype(dtype)
    return lon, lat, mu


def heliographic_to_pixel(
    lon_deg: np.ndarray | float, lat_deg: np.ndarray | float, header: Mapping
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """0-based pixel ``(x, y)`` of Stonyhurst ``(lon, lat)`` and whether it faces the observer.

    The inverse of :func:`disk_coordinates` (points behind the limb get their projected position
    and ``visible`` False).
    """
    c1, c2, p1, p2, rot, dsun, rsun, b0, l0 = _cards(header)
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64) - l0)
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    cb, sb = math.cos(b0), math.sin(b0)
    x = rsun * np.cos(lat) * np.sin(lon)
    yy = rsun * np.sin(lat)
    zz = rsun * np.cos(lat) * np.cos(lon)
    y = yy * cb - zz * sb
    z = yy * sb + zz * cb
    d = dsun - z  # distance along the axis towards the observer
    tx, ty = x / d, y / d  # gnomonic plane (rad)
    visible = (-x * x - y * y + z * (dsun - z)) > 0.0
    cr, sr = math.cos(rot), math.sin(rot)
    ax, ay = tx / ARCSEC, ty / ARCSEC
    dx = cr * ax + sr * ay
    dy = -sr * ax + cr * ay
    return dx / c1 + p1 - 1.0, dy / c2 + p2 - 1.0, visible
