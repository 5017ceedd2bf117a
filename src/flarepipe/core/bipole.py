"""The bipolar-region field of Sun et al. 2022 (SCIENCE.md S1), shared by the archive and probes.

``B(s, φ) = −B0 (φ/ρ) exp(−(φ² + 2 arcsin²(s)) / (aρ)²)``, ``a = 0.56``: ``φ`` runs along the
bipole axis and ``s`` across it (radians of heliographic arc), ``ρ`` sets the size. The two lobes
peak at ``φ = ±aρ/√2`` (:func:`lobe_offset`) with ``|B| = B0 e^{-1/2}/√2 · a``. The synthetic
archive (:mod:`flarepipe.archive.sources.synthetic`) draws the large-scale plage of every region
from this field; the attribution probes sweep it over ``B0``, ``ρ`` and tilt. Both call these
functions.
"""

from __future__ import annotations

import math

import numpy as np

from flarepipe.core.magnetic import RSUN_MM

__all__ = ["A_SHAPE", "bipole_field", "b0_for_flux", "lobe_offset", "bipole_frame"]

#: the shape constant ``a`` of the S1 model
A_SHAPE = 0.56


def bipole_field(
    u: np.ndarray, v: np.ndarray, b0: float, rho: float, a: float = A_SHAPE
) -> np.ndarray:
    """Bipolar-region model (SCIENCE.md S1), in radians along (``u``) and across (``v``) the axis.

    ``B = −B0 (u/ρ) exp(−(u² + 2 arcsin²(v)) / (aρ)²)``. Positive ``b0`` puts negative field at
    ``+u`` (the leading side). The dtype of ``u``/``v`` is kept (float32 in, float32 out).

    Parameters
    ----------
    u, v : numpy.ndarray
        Coordinates along and across the bipole axis, radians (broadcastable).
    b0 : float
        Amplitude, gauss (:func:`b0_for_flux` for a given total flux).
    rho : float
        Size parameter, radians; the lobes peak at ``u = ±aρ/√2``.
    a : float
        Shape constant (0.56 in S1).

    Returns
    -------
    numpy.ndarray
        The field in gauss, shape of ``u`` and ``v`` broadcast.
    """
    s = np.arcsin(np.clip(v, -1, 1))
    return -b0 * (u / rho) * np.exp(-(u * u + 2.0 * s * s) / (a * rho) ** 2)


def b0_for_flux(flux_mx: float, rho: float, a: float = A_SHAPE) -> float:
    """Amplitude ``B0`` (G) giving total unsigned flux ``flux_mx`` (Mx) for size ``rho`` (rad).

    ``∫|B| dA = a³ ρ² √(π/2) R☉² B0`` for the small-angle field of :func:`bipole_field`.
    """
    r_cm = RSUN_MM * 1e8
    return flux_mx / (a**3 * rho * rho * math.sqrt(math.pi / 2.0) * r_cm * r_cm)


def lobe_offset(rho: float, a: float = A_SHAPE) -> float:
    """Distance (rad) of each lobe's peak from the bipole centre along its axis: ``aρ/√2``."""
    return a * rho / math.sqrt(2.0)


def bipole_frame(
    x: np.ndarray, y: np.ndarray, theta_deg: float, dx: float = 0.0, dy: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Image coordinates ``(x, y)`` (rad) to the bipole frame ``(u, v)`` of an axis at
    ``theta_deg``.

    The axis points from the following to the leading polarity, at ``theta_deg`` counter-clockwise
    from ``+x``; the bipole is centred at ``(dx, dy)``.
    """
    th = math.radians(theta_deg)
    c, s = math.cos(th), math.sin(th)
    xs, ys = x - dx, y - dy
    return xs * c + ys * s, -xs * s + ys * c
