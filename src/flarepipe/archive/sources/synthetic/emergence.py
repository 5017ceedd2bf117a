"""Synthetic emerging and control regions for the pre-emergence study (Dhuri et al. 2020, S4).

Each *emerging* region is a map of ``map_deg × map_deg`` (30°, 256 px: ~1.43 Mm/px) centred on the
future emergence site, rendered by the synthetic archive's image model
(:func:`~flarepipe.archive.sources.synthetic.images.render`: quiet-Sun network, flux-element
texture, noise, point-spread) at the five pre-emergence times ``t0 − 3.2 … − 24.5 h``. Its flux
curve after the onset ``ts`` is ``Φ(t) = Φmax (1 − exp(−(t − ts)/τ))``; ``t0`` is computed from the
sampled curve by :func:`flarepipe.core.emergence.emergence_time` (10% of the maximum within 36 h),
so the region itself carries no flux at any of the five times (``t0 − ts`` is about ``0.1 τ``).

Each emerging region has a *control*: a map of the same size, disk position (the same ``μ``) and
times, drawn with textures and noise of its own, where nothing emerges.

The planted pre-emergence signature, at lead time ``L`` (hours before t0), is a cluster of
``signature_bipoles`` small bipoles of random orientation and polarity within
``signature_radius_deg`` of the site, carrying in all

``F(L) = signature_flux_mx · exp(−L / signature_decay_h)``

unsigned flux: a slow build-up of small mixed-polarity flux, i.e. a weak local increase of the
unsigned flux. ``signature_flux_mx = 0`` switches it off (emerging regions and controls are then
drawn from one distribution). The signature of every map is recorded (``truth/signature.csv``),
and :func:`signature_mask` gives its footprint.

:func:`write_emergence_archive` writes the set in the layout that the ``local`` path reads
(:mod:`flarepipe.archive.sources.emergence_local`, docs/SOURCES.md).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd

from flarepipe.archive.sources.synthetic.images import (
    PLAGE_CAP_G,
    Bipole,
    RegionTextures,
    Scene,
    render,
)
from flarepipe.archive.sources.synthetic.params import HMI
from flarepipe.core.emergence import LEAD_TIMES_H, EmergenceSet, emergence_time

__all__ = [
    "EmergenceParams",
    "EmergenceSet",
    "generate_emergence",
    "signature_flux",
    "signature_mask",
    "write_emergence_archive",
    "flux_curve",
]

_EPOCH = pd.Timestamp("2011-01-01T00:00:00")
_CADENCE_H = 0.2  # 12 min, the HMI cadence the flux curve is sampled at


@dataclasses.dataclass(frozen=True)
class EmergenceParams:
    """Settings of the synthetic emerging/control set (``emergence:`` of a study config)."""

    n_regions: int = 50  # emerging regions (as many controls)
    map_px: int = 256
    map_deg: float = 30.0
    lead_times_h: tuple[float, ...] = LEAD_TIMES_H
    signature_flux_mx: float = 1.5e20  # planted signature's unsigned flux at L = 0 (0: off)
    signature_decay_h: float = 12.0  # e-folding of the signature with lead time
    signature_radius_deg: float = 2.5  # the site: the signature lies within this radius
    signature_bipoles: int = 4
    peak_flux_mx: tuple[float, float] = (1e21, 1e22)  # Φmax of the emerging regions (log-uniform)
    rise_h: tuple[float, float] = (6.0, 18.0)  # τ of the flux curve
    seed: int = 0

    def __post_init__(self) -> None:
        """Check the settings (a study config is validated before; this guards direct use)."""
        if self.n_regions < 1 or self.map_px < 8 or self.map_deg <= 0:
            raise ValueError(f"emergence: bad map settings {self}")
        if self.signature_flux_mx < 0 or self.signature_decay_h <= 0:
            raise ValueError("emergence: signature_flux_mx must be >= 0, signature_decay_h > 0")
        if not self.lead_times_h or min(self.lead_times_h) <= 0:
            raise ValueError("emergence: lead_times_h must be positive hours before t0")

    @property
    def cdelt_deg(self) -> float:
        """Pixel size, degrees."""
        return self.map_deg / self.map_px


def signature_flux(params: EmergenceParams, lead_h: float) -> float:
    """Planted unsigned flux (Mx) of the signature at ``lead_h`` hours before t0."""
    return float(params.signature_flux_mx * math.exp(-lead_h / params.signature_decay_h))


def flux_curve(phi_max: float, tau_h: float, onset_h: float, t_h: np.ndarray) -> np.ndarray:
    """``Φ(t) = Φmax (1 − exp(−(t − onset)/τ))`` after the onset, 0 before (Mx)."""
    dt = np.clip(np.asarray(t_h, dtype=np.float64) - onset_h, 0.0, None)
    return phi_max * -np.expm1(-dt / tau_h)


def signature_mask(params: EmergenceParams, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Footprint of the site: pixels within ``signature_radius_deg`` of the map centre (bool)."""
    ny, nx = shape or (params.map_px, params.map_px)
    y = np.arange(ny) - (ny - 1) / 2.0
    x = np.arange(nx) - (nx - 1) / 2.0
    r = params.signature_radius_deg / params.cdelt_deg
    return (y[:, None] ** 2 + x[None, :] ** 2) <= r * r


def _signature_bipoles(
    params: EmergenceParams, rng: np.random.Generator, lead_h: float
) -> list[Bipole]:
    """The planted bipoles at ``lead_h``: positions and orientations drawn once per region."""
    flux = signature_flux(params, lead_h)
    n = params.signature_bipoles
    # draws happen whatever the flux, so switching the signature off changes nothing else
    r = params.signature_radius_deg * 0.6 * np.sqrt(rng.uniform(0, 1, n))
    ang = rng.uniform(0, 2 * np.pi, n)
    theta = rng.uniform(0, 360, n)
    sign = rng.choice([-1, 1], n)
    rho = np.radians(rng.uniform(0.35, 0.6, n) * params.signature_radius_deg)
    if flux <= 0 or n == 0:
        return []
    dx, dy = np.radians(r * np.cos(ang)), np.radians(r * np.sin(ang))
    return [
        Bipole(
            flux / n,
            float(rho[i]),
            float(theta[i]),
            float(dx[i]),
            float(dy[i]),
            int(sign[i]),
            PLAGE_CAP_G,
        )
        for i in range(n)
    ]


def _render_map(params, tex, bipoles, mu, t_days, rng) -> np.ndarray:
    scene = Scene(tuple(bipoles), (), None, (), "", 0.0)
    full = render(scene, tex, mu, t_days, rng)
    return np.ascontiguousarray(full[1:-1, 1:-1], dtype=np.float32)  # edges: replicated PSF


def generate_emergence(params: EmergenceParams) -> EmergenceSet:
    """Draw the emerging regions and their controls (deterministic from ``params.seed``)."""
    inst = dataclasses.replace(HMI, cdelt_deg=params.cdelt_deg)
    n = params.map_px
    rows, sig_rows, maps = [], [], {}
    for i in range(params.n_regions):
        rng = np.random.default_rng([params.seed, 16, i])
        lat, cmd = rng.uniform(-30, 30), rng.uniform(-40, 40)
        mu = math.cos(math.radians(lat)) * math.cos(math.radians(cmd))
        lo, hi = np.log10(params.peak_flux_mx)
        phi_max = 10 ** rng.uniform(lo, hi)
        tau = rng.uniform(*params.rise_h)
        onset = 48.0 + rng.uniform(0, 1)  # hours after the region's reference time
        t = np.arange(0.0, onset + 72.0, _CADENCE_H)
        t0_h = emergence_time(t, flux_curve(phi_max, tau, onset, t))
        ref = _EPOCH + pd.Timedelta(days=3 * i)
        t0 = ref + pd.Timedelta(hours=t0_h)
        name, ctrl = f"E{i:04d}", f"C{i:04d}"
        base = {
            "pair": name,
            "t0": t0,
            "mu": mu,
            "lat_deg": lat,
            "cmd_deg": cmd,
            "cdelt_deg": params.cdelt_deg,
        }
        rows.append(
            {
                "region": name,
                "kind": "emerging",
                "phi_max_mx": phi_max,
                "tau_h": tau,
                "onset": ref + pd.Timedelta(hours=onset),
                **base,
            }
        )
        rows.append(
            {
                "region": ctrl,
                "kind": "control",
                "phi_max_mx": 0.0,
                "tau_h": np.nan,
                "onset": pd.NaT,
                **base,
            }
        )
        tex_e = RegionTextures(inst, n + 2, n + 2, [params.seed, 17, i])
        tex_c = RegionTextures(inst, n + 2, n + 2, [params.seed, 18, i])
        sig_rng_seed = [params.seed, 19, i]
        for j, lead in enumerate(params.lead_times_h):
            t_days = -lead / 24.0
            bip = _signature_bipoles(params, np.random.default_rng(sig_rng_seed), lead)
            noise = np.random.default_rng([params.seed, 20, i, j])
            maps[(name, float(lead))] = _render_map(params, tex_e, bip, mu, t_days, noise)
            noise = np.random.default_rng([params.seed, 21, i, j])
            maps[(ctrl, float(lead))] = _render_map(params, tex_c, [], mu, t_days, noise)
            sig_rows.append(
                {
                    "region": name,
                    "lead_h": float(lead),
                    "signature_flux_mx": sum(b.flux for b in bip),
                    "x_deg": ";".join(f"{math.degrees(b.dx):.4f}" for b in bip),
                    "y_deg": ";".join(f"{math.degrees(b.dy):.4f}" for b in bip),
                }
            )
            sig_rows.append(
                {
                    "region": ctrl,
                    "lead_h": float(lead),
                    "signature_flux_mx": 0.0,
                    "x_deg": "",
                    "y_deg": "",
                }
            )
    return EmergenceSet(pd.DataFrame(rows), maps, pd.DataFrame(sig_rows))


def write_emergence_archive(es: EmergenceSet, root: str | Path) -> Path:
    """Write ``es`` in the ``local`` emergence layout under ``root`` (returns ``root``).

    ``regions.csv`` (``region, kind, pair, t0`` and the disk position), ``maps.csv``
    (``region, t_obs, file``), one FITS file per map under ``maps/`` (``CDELT1/2`` in degrees,
    ``T_OBS``) and ``truth/signature.csv``. Every file is written atomically.
    """
    from flarepipe.io.atomic import write_csv
    from flarepipe.io.fitsio import quantise, write_patch

    root = Path(root)
    regions = es.regions.copy()
    t0 = dict(zip(regions["region"], pd.to_datetime(regions["t0"]), strict=True))
    rows = []
    for (region, lead), data in sorted(es.maps.items()):
        t_obs = t0[region] - pd.Timedelta(hours=lead)
        rel = f"maps/{region}_{t_obs:%Y%m%d_%H%M%S}.fits"
        cards = {
            "T_OBS": t_obs.strftime("%Y-%m-%dT%H:%M:%S"),
            "CDELT1": es.cdelt_deg,
            "CDELT2": es.cdelt_deg,
            "BUNIT": "Mx/cm^2",
            "CONTENT": "Postel B_LOS/mu",
        }
        write_patch(root / rel, quantise(data, 0.01), cards, bscale=0.01, compress=False)
        rows.append({"region": region, "t_obs": t_obs.strftime("%Y-%m-%dT%H:%M:%S"), "file": rel})
    regions["t0"] = [t.strftime("%Y-%m-%dT%H:%M:%S") for t in pd.to_datetime(regions["t0"])]
    write_csv(
        regions[["region", "kind", "pair", "t0", "mu", "lat_deg", "cmd_deg"]],
        root / "regions.csv",
        index=False,
    )
    write_csv(pd.DataFrame(rows), root / "maps.csv", index=False)
    write_csv(es.signature, root / "truth" / "signature.csv", index=False)
    return root
