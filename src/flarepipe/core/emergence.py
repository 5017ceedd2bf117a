"""Emergence time and segment quantities of Dhuri et al. 2020 (SCIENCE.md S4).

- :func:`emergence_time`: ``t0``, the first time the region's unsigned flux reaches 10% of its
  maximum over the 36 h that follow (the HEAR definition the paper adopts);
- :func:`total_unsigned_flux` (``MTOT``) and :func:`dipole_moment` of a segment, the two features
  of the kernel-density baseline;
- :class:`EmergenceSet`, the emerging/control maps and tables every emergence source gives (the
  synthetic generator and the ``local`` path), and the columns of its on-disk layout::

      <root>/regions.csv   region, kind (emerging|control), pair, t0 (UTC, ISO), [mu, lat_deg, ...]
      <root>/maps.csv      region, t_obs (UTC, ISO), file (relative to <root>)
      <root>/maps/*.fits   square Postel/CEA maps centred on the (future) emergence site
      <root>/truth/signature.csv   planted signature per map (synthetic only)

Pure numpy; imports nothing of flarepipe except :mod:`flarepipe.core.magnetic` constants.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from flarepipe.core.magnetic import pixel_area_cm2, pixel_size_mm

__all__ = [
    "LEAD_TIMES_H",
    "EmergenceSet",
    "REGION_COLUMNS",
    "MAP_COLUMNS",
    "KINDS",
    "emergence_time",
    "total_unsigned_flux",
    "dipole_moment",
]

#: the five pre-emergence times of the paper, hours before t0
LEAD_TIMES_H: tuple[float, ...] = (3.2, 8.5, 13.9, 19.2, 24.5)


def emergence_time(
    t_h: np.ndarray, flux: np.ndarray, fraction: float = 0.1, window_h: float = 36.0
) -> float:
    """Emergence time ``t0`` of a flux curve (hours, on the axis of ``t_h``).

    ``t0`` is the earliest sample time ``t_i`` with ``flux(t_i) > 0`` and
    ``flux(t_i) >= fraction · max{flux(t): t_i <= t <= t_i + window_h}``: the flux has reached
    ``fraction`` (10%) of its maximum within the following ``window_h`` (36 h). A flux curve that
    is still rising at ``t_i + window_h`` is judged against the maximum it reaches inside the
    window, as in the paper's definition.

    Parameters
    ----------
    t_h : numpy.ndarray
        Strictly increasing sample times, hours.
    flux : numpy.ndarray
        Unsigned flux (Mx) at those times, finite and non-negative.
    fraction, window_h : float
        The threshold share (0.1) and the look-ahead window (36 h).

    Returns
    -------
    float
        ``t0`` in hours.

    Raises
    ------
    ValueError
        For mismatched or non-increasing times, negative or non-finite flux, or a curve without
        any positive flux.
    """
    t = np.asarray(t_h, dtype=np.float64)
    f = np.asarray(flux, dtype=np.float64)
    if t.ndim != 1 or t.shape != f.shape or t.size == 0:
        raise ValueError(
            f"emergence_time: times and flux must be 1-D of one length, got {t.shape}, {f.shape}"
        )
    if np.any(np.diff(t) <= 0):
        raise ValueError("emergence_time: times must be strictly increasing")
    if not np.all(np.isfinite(f)) or np.any(f < 0):
        raise ValueError("emergence_time: flux must be finite and non-negative")
    if not np.any(f > 0):
        raise ValueError("emergence_time: the flux curve never rises above zero (no emergence)")
    if not 0 < fraction <= 1 or window_h <= 0:
        raise ValueError(
            f"emergence_time: need 0 < fraction <= 1 and window_h > 0, got {fraction}, {window_h}"
        )
    end = np.searchsorted(t, t + window_h, side="right")
    for i in range(t.size):
        if f[i] > 0 and f[i] >= fraction * f[i : end[i]].max():
            return float(t[i])
    raise AssertionError("unreachable: the last positive sample always qualifies")


def total_unsigned_flux(seg: np.ndarray, cdelt_deg: float) -> float:
    """``MTOT``: the segment's total unsigned flux, ``Σ|B| · pixel area`` (Mx)."""
    b = np.asarray(seg, dtype=np.float64)
    return float(np.nansum(np.abs(b)) * pixel_area_cm2(cdelt_deg))


def dipole_moment(seg: np.ndarray, cdelt_deg: float) -> float:
    """Dipole moment of a segment: ``|Σ B_i (r_i − r_c)| · pixel area`` (Mx·Mm).

    ``r_c`` is the segment's centre; the moment is zero for a field symmetric about the centre and
    large for two separated opposite polarities, whatever the bipole's orientation.
    """
    b = np.nan_to_num(np.asarray(seg, dtype=np.float64))
    ny, nx = b.shape
    px = pixel_size_mm(cdelt_deg)
    y = (np.arange(ny) - (ny - 1) / 2.0) * px
    x = (np.arange(nx) - (nx - 1) / 2.0) * px
    mx = float(np.sum(b.sum(axis=0) * x))
    my = float(np.sum(b.sum(axis=1) * y))
    return float(np.hypot(mx, my) * pixel_area_cm2(cdelt_deg))


#: required columns of regions.csv and maps.csv
REGION_COLUMNS = ("region", "kind", "pair", "t0")
MAP_COLUMNS = ("region", "t_obs", "file")
KINDS = ("emerging", "control")


@dataclasses.dataclass
class EmergenceSet:
    """Maps of emerging and control regions, and their tables.

    Attributes
    ----------
    regions : pandas.DataFrame
        One row per region: ``region`` (str), ``kind`` (``emerging``/``control``), ``pair`` (the
        emerging region a control is matched to, itself for an emerging one), ``t0`` (UTC),
        ``cdelt_deg`` and, where known, ``mu``.
    maps : dict
        ``(region, lead_h) -> float32 [N, N]`` field (G), site at the centre.
    signature : pandas.DataFrame
        Planted truth per map: ``region``, ``lead_h``, ``signature_flux_mx`` and the bipoles'
        positions (``x_deg``/``y_deg`` as ``;``-joined text); empty for real data.
    """

    regions: pd.DataFrame
    maps: dict
    signature: pd.DataFrame

    @property
    def cdelt_deg(self) -> float:
        """The (common) pixel size, degrees."""
        return float(self.regions["cdelt_deg"].iloc[0])

    @property
    def lead_times_h(self) -> tuple[float, ...]:
        """Lead times present, ascending."""
        return tuple(sorted({lead for _, lead in self.maps}))
