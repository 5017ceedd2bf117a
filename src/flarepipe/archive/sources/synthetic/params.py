"""Parameters of the synthetic archive: instruments, scale presets, generator settings."""

from __future__ import annotations

import dataclasses

from flarepipe import __version__

__all__ = [
    "InstrumentSpec",
    "HMI",
    "MDI",
    "INSTRUMENTS",
    "SCALES",
    "SyntheticParams",
    "GENERATOR_VERSION",
]

GENERATOR_VERSION = (
    f"flarepipe-synthetic {__version__} (model 2.1: spots, plage, network; SMARP-calibrated MDI)"
)


@dataclasses.dataclass(frozen=True)
class InstrumentSpec:
    """What distinguishes the HMI-like and MDI-like series.

    The image constants are calibrated against the real HARP 377 and TARP 13520 records
    (``benchmarks/calibrate_synthetic.py images``; the realism report shows the result). MDI's
    (issue 18, on 300 records of the default plan): fluxes ×1.1·(Φ/5.6e21)^0.25, lobes 0.88 as
    large at 5.6e21 Mx growing as Φ^0.6 (AREA, USFLUXL), weaker network and denser plage (R_VALUE
    zero in ~30% of records, as in SMARP), umbrae read at 0.62 (pixels above 1 kG in TARP 13520).
    """

    name: str  # HMI | MDI
    series: str
    regkey: str  # HARPNUM | TARPNUM
    prefix: str  # HARP | TARP
    native_step_min: int  # record cadence of the series
    cdelt_deg: float
    noise_g: float  # per-pixel LOS noise at disk centre, after the PSF
    calibration: float  # MDI reads ~1.3x stronger fields than HMI (Liu et al. 2012)
    start: str  # first day of the generated interval (TAI)
    first_region: int  # first HARPNUM/TARPNUM
    first_noaa: int
    cycle_north_leading: int  # Hale: sign of the leading polarity in the northern hemisphere
    telescope: str
    instrume: str
    psf: tuple[float, ...]  # separable point-spread kernel of the field (odd length)
    psf_noise: tuple[float, ...]  # separable kernel correlating the noise (the CEA remapping)
    bscale: float  # storage step of the magnetogram segment (SHARP 0.1 G, SMARP 0.01 G)
    element_mm: float  # correlation length of the small-scale flux elements
    intermittency: float  # σ of the log of the small-scale texture (lognormal)
    network_g: float  # quiet-Sun network amplitude (before the intermittent texture)
    plage_sat_g: float  # plage pixels saturate softly at this field (tanh)
    mixing: float  # χ: plage polarity flips where 1 + χ·(unit Gaussian field) < 0
    plage_g: float  # mean field inside plage patches (the patches cover |envelope|/plage_g)
    strong_sat_g: float  # the LOS signal saturates softly at this field (tanh; MDI in umbrae)
    flux_scale: float  # rendered flux per latent flux: cycle 23 (MDI) had larger regions than 24
    flux_stretch: float  # … and more very large ones: × (latent / 5.6e21)^flux_stretch
    spot_calibration: (
        float  # the calibration factor in sunspots (MDI reads umbrae weaker, not 1.3x)
    )
    rho_scale: float = 1.0  # lobe size ρ × rho_scale · (latent flux / 5.6e21)^(rho_exp − 0.5)
    rho_exp: float = 0.5  # (cycle 23's MDI regions: more compact when small, as large when large)


HMI = InstrumentSpec(
    name="HMI",
    series="hmi.sharp_cea_720s",
    regkey="HARPNUM",
    prefix="HARP",
    native_step_min=12,
    cdelt_deg=0.03,
    noise_g=3.6,
    calibration=1.0,
    start="2011-01-01",
    first_region=101,
    first_noaa=11101,
    cycle_north_leading=-1,
    telescope="SDO/HMI",
    instrume="HMI_SIDE1",
    psf=(0.25, 0.5, 0.25),
    psf_noise=(0.25, 0.5, 0.25),
    bscale=0.1,
    element_mm=0.85,
    intermittency=1.3,
    network_g=7.0,
    plage_sat_g=1100.0,
    mixing=0.45,
    plage_g=200.0,
    strong_sat_g=3500.0,
    flux_scale=1.0,
    flux_stretch=0.0,
    spot_calibration=1.0,
)
MDI = InstrumentSpec(
    name="MDI",
    series="mdi.smarp_cea_96m",
    regkey="TARPNUM",
    prefix="TARP",
    native_step_min=96,
    cdelt_deg=0.12,
    noise_g=7.0,
    calibration=1.3,
    start="2001-01-01",
    first_region=101,
    first_noaa=9301,
    cycle_north_leading=+1,
    telescope="SOHO",
    instrume="MDI",
    psf=(1 / 6, 4 / 6, 1 / 6),
    psf_noise=(1 / 6, 4 / 6, 1 / 6),
    bscale=0.01,
    element_mm=1.5,
    intermittency=1.1,
    network_g=10.0,
    plage_sat_g=900.0,
    mixing=0.3,
    plage_g=175.0,
    strong_sat_g=2400.0,
    flux_scale=1.1,
    flux_stretch=0.25,
    spot_calibration=0.62,
    rho_scale=0.88,
    rho_exp=0.6,
)
INSTRUMENTS = {"HMI": HMI, "MDI": MDI}

#: scale presets: regions per instrument, days generated, largest patch side (degrees; the other
#: side is at most 0.7 of it), planted log-rate intercept
SCALES = {
    "tiny": {"n_regions": 16, "days": 12, "max_patch_deg": 8.0, "c0": -0.5},
    "small": {"n_regions": 30, "days": 40, "max_patch_deg": 24.0, "c0": -1.8},
    "default": {"n_regions": 300, "days": 150, "max_patch_deg": 24.0, "c0": -0.5},
    "large": {"n_regions": 1500, "days": 1500, "max_patch_deg": 24.0, "c0": -1.8},
}


@dataclasses.dataclass(frozen=True)
class SyntheticParams:
    """Generator parameters; all recorded in the manifest."""

    seed: int = 20220101
    scale: str = "default"
    n_regions: int | None = None  # overrides the scale preset
    days: float | None = None
    max_patch_deg: float | None = None
    instruments: tuple[str, ...] = ("HMI", "MDI")
    cadence_min: int = 96  # sampling of records written (JSOC query @96m)
    compress: bool = False  # RICE-compress FITS as JSOC's default export (5x slower to write)
    # planted flare-rate model (natural-log units); c0 None: the scale's value
    c0: float | None = None
    c_size: float = 3.0
    c_emerge: float = 4.0
    c_morph: float = 1.3
    c_delta: float = 1.2
    alpha: float = 2.0
    min_detected_flux: float = 4e-7  # GOES event lists are incomplete below ~B4 (X-ray background)
    p_rotated: float = 0.3
    p_delta: float = 0.15
    p_anti_hale: float = 0.04
    secondary_per_day: float = 0.2
    # bad records
    p_bad_quality: float = 0.015
    p_nan_pixels: float = 0.01
    p_size_jitter: float = 0.01
    p_flare_no_region: float = 0.04

    def resolved(self) -> dict:
        """Scale preset merged with explicit overrides."""
        if self.scale not in SCALES:
            raise ValueError(
                f"archive.synthetic.scale must be one of {sorted(SCALES)}, got {self.scale!r}"
            )
        out = dict(SCALES[self.scale])
        for k in ("n_regions", "days", "max_patch_deg", "c0"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        return out
