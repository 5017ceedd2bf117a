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


def disk_coordinates(
    header: Mapping, shape: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heliographic Stonyhurst longitude, latitude (deg) and ``μ`` of every pixel (NaN off disk).

    The image coordinates are rotated by ``CROTA2`` to helioprojective ``(Tx, Ty)`` (the FITS
    ``PCi_j`` of a ``CROTA2`` image), deprojected from the gnomonic plane, the line of sight
    intersected with the sphere (the nearer point), and the point rotated by B0 = ``CRLT_OBS``.
    ``shape`` defaults to ``(NAXIS2, NAXIS1)``.
    """
    c1, c2, p1, p2, rot, dsun, rsun, b0, l0 = _cards(header)
    ny, nx = shape if shape is not None else (int(header["NAXIS2"]), int(header["NAXIS1"]))
    dx = (np.arange(nx, dtype=np.float64) + 1.0 - p1)[None, :] * c1
    dy = (np.arange(ny, dtype=np.float64) + 1.0 - p2)[:, None] * c2
    cr, sr = math.cos(rot), math.sin(rot)
    tx = (cr * dx - sr * dy) * ARCSEC  # intermediate world coordinates (rad), gnomonic plane
    ty = (sr * dx + cr * dy) * ARCSEC
    # line of sight: direction (1, tan-plane x, tan-plane y) normalised; Sun centre at (dsun, 0, 0)
    norm = np.sqrt(1.0 + tx * tx + ty * ty)
    u0, u1, u2 = 1.0 / norm, tx / norm, ty / norm
    disc = (dsun * u0) ** 2 - dsun * dsun + rsun * rsun
    on = disc >= 0.0
    t = dsun * u0 - np.sqrt(np.where(on, disc, 0.0))
    # heliocentric cartesian (x west, y north, z towards the observer), in units of rsun
    z = (dsun - t * u0) / rsun
    x = t * u1 / rsun
    y = t * u2 / rsun
    # μ: cosine between the outward normal (x, y, z) and the direction to the observer
    to_obs = np.stack([-x * rsun, -y * rsun, dsun - z * rsun])
    to_obs /= np.linalg.norm(to_obs, axis=0)
    mu = np.where(on, x * to_obs[0] + y * to_obs[1] + z * to_obs[2], np.nan)
    cb, sb = math.cos(b0), math.sin(b0)
    lat = np.degrees(np.arcsin(np.clip(y * cb + z * sb, -1.0, 1.0)))
    lon = np.degrees(np.arctan2(x, z * cb - y * sb)) + l0
    lat = np.where(on, lat, np.nan)
    lon = np.where(on, lon, np.nan)
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
