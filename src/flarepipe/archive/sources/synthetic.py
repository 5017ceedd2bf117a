"""The synthetic SHARP/SMARP archive: the workflow's embedded default source, with planted truth.

Regions emerge, grow, decay and rotate across the disk; HMI-like (SHARP) and MDI-like (SMARP) patches
are rendered from bipolar-region models, written as JSOC-named FITS files, and the four keywords are
computed from each map by their definitions (:mod:`flarepipe.core.magnetic`). Flares come from a planted,
time-varying rate; the rate of every region at every native time step is written to
``truth/rates.csv`` so the best achievable (oracle) scores of any labelled sample set can be computed.

The planted log-rate of flares (GOES ≥ B1.0, per day) has three complementary parts:

``log λ = c0 + c_size·(log10 Φ − 21.7) + c_emerge·e(t) + c_morph·m + c_delta·δ``

- ``Φ`` the region's total unsigned flux (visible in keywords and images);
- ``e(t)`` the recent emergence rate, the fractional flux increase over the past 12 h, clipped to
  [0, 1] (visible only in the keyword time series, as an LSTM sees it);
- ``m`` a "rotated" bipole, axis far from east-west (≥ 55°), violating Joy's law: invisible to the four
  rotation-invariant keywords, visible in the image (as a CNN sees it);
- ``δ`` a compact delta spot squeezed against the main polarity inversion line (partly visible in
  R_VALUE, as in real data).

Peak fluxes follow a power law ``dN/dF ∝ F^-α`` (α = 2) above B1.0, so the ≥ C1.0 and ≥ M1.0 rates are
``λ·10^{-(α-1)}`` and ``λ·100^{-(α-1)}``. Only flares above ``min_detected_flux`` (B4: GOES event lists
are incomplete below the X-ray background) enter the catalogue; ``rate_all_per_day`` in the truth table
is the rate of catalogued flares, so QUIET windows are those without a catalogued flare.

The magnetogram segment is written, like the SMARP CEA magnetograms whose keywords describe the
"vertical field", as the radial-field estimate ``B_LOS/μ`` (the μ-correction): a region's flux does
not fade towards the limb, but the noise grows there. ``c0`` depends on the scale: the laptop-sized
``default`` archive is a flare-rich interval (about a fifth of strong-vs-quiet samples are positive,
so that each split holds a dozen flaring regions); ``small`` and ``large`` use a quieter Sun (6–12%
of the samples positive).

Everything is deterministic from the seed, whatever the number of worker processes: each region draws
from its own generator seeded by ``(seed, instrument, region index)``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from flarepipe import __version__
from flarepipe.io.atomic import sha256_file, write_csv, write_json
from flarepipe.io.fitsio import jsoc_filename, quantise, write_patch
from flarepipe.core.flareclass import flux_to_class
from flarepipe.core.keywords import KEYWORDS
from flarepipe.core.magnetic import RSUN_MM, activity_mask, compute_keywords
from flarepipe.core.timeutil import format_trec, tai_to_utc, to_iso_utc

__all__ = [
    "SCALES",
    "SyntheticParams",
    "InstrumentSpec",
    "generate_archive",
    "simulate_region",
    "render_map",
    "bipole_field",
]

GENERATOR_VERSION = f"flarepipe-synthetic {__version__} (model 1)"
B1_FLUX = 1e-7


@dataclasses.dataclass(frozen=True)
class InstrumentSpec:
    """What distinguishes the HMI-like and MDI-like series."""

    name: str  # HMI | MDI
    series: str
    regkey: str  # HARPNUM | TARPNUM
    prefix: str  # HARP | TARP
    native_step_min: int  # record cadence of the series
    cdelt_deg: float
    noise_g: float  # per-pixel LOS noise at disk centre
    calibration: float  # MDI reads ~1.3x stronger fields than HMI (Liu et al. 2012)
    start: str  # first day of the generated interval (TAI)
    first_region: int  # first HARPNUM/TARPNUM
    first_noaa: int
    cycle_north_leading: int  # Hale: sign of the leading polarity in the northern hemisphere
    telescope: str
    instrume: str


HMI = InstrumentSpec(
    "HMI", "hmi.sharp_cea_720s", "HARPNUM", "HARP", 12, 0.03, 8.0, 1.0,
    "2011-01-01", 101, 11101, -1, "SDO/HMI", "HMI_SIDE1",
)
MDI = InstrumentSpec(
    "MDI", "mdi.smarp_cea_96m", "TARPNUM", "TARP", 96, 0.12, 22.0, 1.3,
    "2001-01-01", 101, 9301, +1, "SOHO", "MDI",
)
INSTRUMENTS = {"HMI": HMI, "MDI": MDI}

#: scale presets: regions per instrument and days generated
SCALES = {
    "tiny": {"n_regions": 16, "days": 12, "max_patch_deg": 5.0, "c0": -0.5},
    "small": {"n_regions": 30, "days": 40, "max_patch_deg": 10.0, "c0": -1.8},
    "default": {"n_regions": 300, "days": 150, "max_patch_deg": 5.0, "c0": -0.5},
    "large": {"n_regions": 1500, "days": 1500, "max_patch_deg": 20.0, "c0": -1.8},
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
            raise ValueError(f"archive.synthetic.scale must be one of {sorted(SCALES)}, got {self.scale!r}")
        out = dict(SCALES[self.scale])
        for k in ("n_regions", "days", "max_patch_deg", "c0"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        return out


# --------------------------------------------------------------------------------------------------
# solar geometry


def synodic_rate_deg_per_day(lat_deg: float) -> float:
    """Synodic differential rotation (Snodgrass 1983 sidereal minus Earth's orbital 0.9856°/day)."""
    s2 = math.sin(math.radians(lat_deg)) ** 2
    return 14.713 - 2.396 * s2 - 1.787 * s2 * s2 - 0.9856


def bipole_field(u: np.ndarray, v: np.ndarray, b0: float, rho: float, a: float = 0.56) -> np.ndarray:
    """Bipolar-region model (SCIENCE.md S1), in radians along (u) and across (v) the bipole axis.

    ``B = −B0 (u/ρ) exp(−(u² + 2 arcsin²(v)) / (aρ)²)``; for the small angles here arcsin(v) ≈ v.
    Positive ``b0`` puts negative field at +u (the leading side).
    """
    return -b0 * (u / rho) * np.exp(-(u * u + 2.0 * np.arcsin(np.clip(v, -1, 1)) ** 2) / (a * rho) ** 2)


def b0_for_flux(flux_mx: float, rho: float, a: float = 0.56) -> float:
    """Amplitude B0 (G) giving total unsigned flux ``flux_mx`` for half-separation ``rho`` (rad)."""
    r_cm = RSUN_MM * 1e8
    return flux_mx / (a**3 * rho * rho * math.sqrt(math.pi / 2.0) * r_cm * r_cm)


# --------------------------------------------------------------------------------------------------
# latent region process


def _region_rng(seed: int, inst: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, 1 if inst == "HMI" else 2, index])


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def simulate_region(params: SyntheticParams, inst: InstrumentSpec, index: int, t_birth_days: float,
                    span_days: float) -> dict:
    """Latent state of one region on its native time grid: flux, emergence, geometry, rates, flares.

    Returns a dict with region constants and per-step arrays (``t`` in days from the instrument's
    start, TAI). Only steps while the region is tracked (|central-meridian distance| ≤ 85°, flux above
    detection, inside the generated interval) are kept.
    """
    rng = _region_rng(params.seed, inst.name, index)
    step = inst.native_step_min / 1440.0
    hemi = 1 if rng.random() < 0.5 else -1
    lat = hemi * float(np.clip(rng.normal(16.0, 7.0), 4.0, 38.0))
    log_phi_max = float(np.clip(rng.normal(21.75, 0.42), 20.9, 23.0))
    phi_max = 10**log_phi_max
    t_grow = float(np.clip(rng.normal(1.6, 0.6), 0.6, 3.5)) * (phi_max / 1e22) ** 0.25
    t_decay = float(rng.uniform(12.0, 30.0))
    cmd_birth = float(rng.uniform(-110.0, 60.0))
    rotated = rng.random() < params.p_rotated
    delta = rng.random() < params.p_delta * (1.0 + (log_phi_max > 21.9))
    anti_hale = rng.random() < params.p_anti_hale
    lead_sign = inst.cycle_north_leading * (1 if lat > 0 else -1) * (-1 if anti_hale else 1)
    joy = 0.5 * abs(lat)  # leading polarity nearer the equator
    if rotated:
        tilt = float(rng.uniform(55.0, 90.0)) * (1 if rng.random() < 0.5 else -1)
    else:
        tilt = float(np.clip(joy + rng.normal(0.0, 8.0), -35.0, 45.0))
    tilt_img = tilt if lat > 0 else -tilt  # image angle of the axis: leader (+u) towards the equator
    rho_max = math.radians(1.9) * (phi_max / 1.1e22) ** 0.5 * float(np.exp(rng.normal(0.0, 0.1)))

    # secondary emergence episodes, each a bipole of its own near the main one
    life = 40.0
    n_sec = rng.poisson(params.secondary_per_day * life)
    secondaries = []
    for _ in range(n_sec):
        secondaries.append({
            "t0": float(rng.uniform(0.5, life)),
            "tau": float(rng.uniform(0.25, 0.8)),
            "frac": float(rng.uniform(0.25, 0.9)),
            "dx": float(rng.normal(0.0, 0.9)),
            "dy": float(rng.normal(0.0, 0.6)),
            "tilt": float(rng.normal(tilt_img, 25.0)),
        })

    t = t_birth_days + np.arange(0.0, life, step)
    age = t - t_birth_days
    growth = _logistic((age - 2.0 * t_grow) / (0.45 * t_grow))
    decay = np.exp(-np.clip(age - 4.0 * t_grow, 0.0, None) / t_decay)
    phi_main = phi_max * growth * decay
    phi_sec = np.zeros((len(secondaries), len(t)))
    for k, sec in enumerate(secondaries):
        g = _logistic((age - sec["t0"]) / sec["tau"])
        phi_sec[k] = sec["frac"] * phi_max * g * np.exp(-np.clip(age - sec["t0"] - 2 * sec["tau"], 0, None) / t_decay)
    phi = phi_main + phi_sec.sum(axis=0)
    lag = max(1, int(round(0.5 / step)))  # 12 h
    phi_past = np.concatenate([np.full(lag, phi[0] * 0.0 + 1e19), phi[:-lag]])
    emergence = np.clip((phi - phi_past) / np.maximum(phi, 1e19), 0.0, 1.0)
    cmd = cmd_birth + synodic_rate_deg_per_day(lat) * age
    mu = np.cos(np.radians(lat)) * np.cos(np.radians(cmd))

    log_size = np.log10(np.maximum(phi, 1e18)) - 21.7
    log_rate = (float(params.resolved()["c0"]) + params.c_size * log_size + params.c_emerge * emergence
                + params.c_morph * rotated + params.c_delta * delta)
    rate_b1 = np.exp(log_rate)
    f_det = max(params.min_detected_flux, B1_FLUX)
    rate_all = rate_b1 * (f_det / B1_FLUX) ** (-(params.alpha - 1.0))  # catalogued flares
    frac_c = 10.0 ** (-(params.alpha - 1.0)) / (f_det / B1_FLUX) ** (-(params.alpha - 1.0))
    frac_m = 100.0 ** (-(params.alpha - 1.0)) / (f_det / B1_FLUX) ** (-(params.alpha - 1.0))

    tracked = (np.abs(cmd) <= 85.0) & (phi >= 1.5e21) & (t >= 0.0) & (t < span_days)
    idx = np.flatnonzero(tracked)
    if idx.size:
        idx = np.arange(idx[0], idx[-1] + 1)  # one contiguous passage
    sel = slice(idx[0], idx[-1] + 1) if idx.size else slice(0, 0)

    # flares: Poisson per native step, peak flux from the power law, start uniform in the step
    lam = rate_all[sel] * step
    counts = rng.poisson(lam)
    flares = []
    for j in np.flatnonzero(counts):
        for _ in range(counts[j]):
            u = rng.random()
            peak = min(f_det * u ** (-1.0 / (params.alpha - 1.0)), 3e-3)
            start = t[sel][j] + rng.random() * step
            rise = max(2.0, rng.gamma(3.0, 4.0)) / 1440.0
            fall = max(4.0, rng.gamma(2.0, 8.0) * (1 + math.log10(peak / B1_FLUX) / 3)) / 1440.0
            flares.append((start, start + rise, start + rise + fall, peak, rng.random()))
    return {
        "index": index,
        "lat": lat, "lead_sign": lead_sign, "tilt_img": tilt_img, "rho_max": rho_max,
        "phi_max": phi_max, "rotated": bool(rotated), "delta": bool(delta), "anti_hale": bool(anti_hale),
        "secondaries": secondaries, "t_grow": t_grow,
        "t": t[sel], "phi_main": phi_main[sel], "phi_sec": phi_sec[:, sel], "phi": phi[sel],
        "emergence": emergence[sel], "cmd": cmd[sel], "mu": mu[sel], "log_size": log_size[sel],
        "rate_all": rate_all[sel], "rate_c": rate_all[sel] * frac_c, "rate_m": rate_all[sel] * frac_m,
        "flares": flares,
    }


# --------------------------------------------------------------------------------------------------
# images


def _patch_shape(reg: dict, inst: InstrumentSpec, max_patch_deg: float) -> tuple[int, int, float, float]:
    sep_deg = math.degrees(reg["rho_max"]) * 2.0
    extent = 2.2 * sep_deg + 2.0 + 1.5 * (len(reg["secondaries"]) > 0)
    theta = math.radians(reg["tilt_img"])
    w = min(max_patch_deg, max(3.0, extent * (abs(math.cos(theta)) + 0.45 * abs(math.sin(theta)))))
    h = min(max_patch_deg * 0.7, max(2.5, extent * (abs(math.sin(theta)) + 0.45 * abs(math.cos(theta)))))
    nx, ny = int(round(w / inst.cdelt_deg)), int(round(h / inst.cdelt_deg))
    return nx, ny, w, h


def render_map(reg: dict, k: int, inst: InstrumentSpec, nx: int, ny: int, rng: np.random.Generator,
               noise_scale: float = 1.0) -> np.ndarray:
    """Magnetogram (G) of region ``reg`` at its step ``k`` on an ``ny × nx`` CEA grid.

    The line-of-sight field ``B_r·μ`` plus network and noise, divided by μ: the radial-field estimate
    stored in the SMARP-like magnetogram segment.
    """
    cd = math.radians(inst.cdelt_deg)
    x = (np.arange(nx) - (nx - 1) / 2.0) * cd
    y = (np.arange(ny) - (ny - 1) / 2.0) * cd
    xx, yy = np.meshgrid(x, y)
    br = np.zeros((ny, nx))

    def add_bipole(flux, rho, theta_deg, dx=0.0, dy=0.0):
        if flux <= 0:
            return
        th = math.radians(theta_deg)
        u = (xx - dx) * math.cos(th) + (yy - dy) * math.sin(th)
        v = -(xx - dx) * math.sin(th) + (yy - dy) * math.cos(th)
        b0 = b0_for_flux(flux, rho) * (-reg["lead_sign"])
        br[:] += bipole_field(u, v, b0, rho)

    growth = 0.55 + 0.45 * reg["phi_main"][k] / max(reg["phi_max"], 1.0)
    rho = reg["rho_max"] * growth
    add_bipole(reg["phi_main"][k], rho, reg["tilt_img"])
    for j, sec in enumerate(reg["secondaries"]):
        f = reg["phi_sec"][j, k]
        if f > 1e19:
            add_bipole(f, reg["rho_max"] * 0.6 * (0.5 + 0.5 * min(1.0, f / (sec["frac"] * reg["phi_max"]))),
                       sec["tilt"], math.radians(sec["dx"]), math.radians(sec["dy"]))
    if reg["delta"]:
        # a compact, strong, reversed bipole pressed against the leading spot: a delta configuration
        th = math.radians(reg["tilt_img"])
        off = 0.55 * rho
        add_bipole(0.22 * reg["phi_main"][k], 0.28 * rho, reg["tilt_img"] + 180.0 + 35.0,
                   off * math.cos(th), off * math.sin(th))
    mu = max(reg["mu"][k], 0.05)
    blos = br * mu * inst.calibration
    # quiet-Sun network and instrument noise (noise grows towards the limb after CEA remapping)
    net = ndimage.gaussian_filter(rng.standard_normal((ny, nx)), 2.0 * 0.03 / inst.cdelt_deg + 0.6)
    net *= 18.0 / max(net.std(), 1e-9)
    noise = rng.standard_normal((ny, nx)) * inst.noise_g * noise_scale / math.sqrt(mu)
    # stored as the radial-field estimate B_LOS/μ: the limb's noise is amplified, its flux is not lost
    return ((blos + net * mu + noise) / mu).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# one region → files and rows


def _trec_tai(inst: InstrumentSpec, t_days: float) -> pd.Timestamp:
    start = pd.Timestamp(inst.start)
    minutes = int(round(t_days * 1440.0 / inst.native_step_min)) * inst.native_step_min
    return start + pd.Timedelta(minutes=minutes)


def _region_job(args) -> dict:
    params, inst_name, index, t_birth, span, region_number, noaa, out_dir, cadence = args
    inst = INSTRUMENTS[inst_name]
    reg = simulate_region(params, inst, index, t_birth, span)
    res = params.resolved()
    rng = np.random.default_rng([params.seed, 3 if inst_name == "HMI" else 4, index])
    nx0, ny0, _, _ = _patch_shape(reg, inst, res["max_patch_deg"])
    rows, rates = [], []
    fits_dir = Path(out_dir) / "fits" / inst.series
    fits_dir.mkdir(parents=True, exist_ok=True)
    t = reg["t"]
    if t.size == 0:
        return {"records": [], "flares": [], "rates": [], "region": None}
    t_tai = [_trec_tai(inst, tt) for tt in t]
    t_utc = tai_to_utc(pd.DatetimeIndex(t_tai))
    region_id = f"{inst.prefix}{region_number}"
    for k in range(len(t)):
        rates.append((region_id, t_utc[k], reg["rate_all"][k], reg["rate_c"][k], reg["rate_m"][k],
                      reg["log_size"][k], reg["emergence"][k], float(reg["rotated"]), float(reg["delta"])))
    noaa_str = ",".join(str(n) for n in noaa)
    for k in range(len(t)):
        minutes = (t_tai[k] - t_tai[k].normalize()).total_seconds() / 60.0
        if round(minutes) % cadence:
            continue
        nx, ny = nx0, ny0
        if rng.random() < params.p_size_jitter:
            nx += int(rng.choice([-1, 1]) * rng.integers(3, 9))
            ny += int(rng.choice([-1, 1]) * rng.integers(3, 9))
        bmap = render_map(reg, k, inst, nx, ny, rng)
        if rng.random() < params.p_nan_pixels:
            r0 = int(rng.integers(0, max(1, ny - ny // 8)))
            bmap[r0:r0 + max(1, ny // 8), :] = np.nan
        bmap = quantise(bmap)
        kw = compute_keywords(bmap, inst.cdelt_deg, activity_mask(bmap, inst.cdelt_deg))
        quality = 0
        if inst_name == "MDI" and rng.random() < 0.3:
            quality |= 0x200  # benign, like the real SMARP record
        if rng.random() < params.p_bad_quality:
            quality |= int(rng.choice([0x10000, 0x20000, 0x400000, 0x80000000]))
        if inst_name == "HMI":
            day = (t_tai[k] - pd.Timestamp("2010-01-01")).total_seconds() / 86400.0
            obs_vr = 3100.0 * math.sin(2 * math.pi * (day % 1.0) + 0.7) + 520.0 * math.sin(2 * math.pi * day / 365.25)
        else:
            day = (t_tai[k] - pd.Timestamp("1996-01-01")).total_seconds() / 86400.0
            obs_vr = 480.0 * math.sin(2 * math.pi * day / 365.25) + 150.0 * math.sin(2 * math.pi * day / 180.0)
        trec = format_trec(t_tai[k])
        lon = float(reg["cmd"][k])
        lat = float(reg["lat"])
        cards = {
            "TELESCOP": inst.telescope, "INSTRUME": inst.instrume, "BUNIT": "Mx/cm^2",
            "T_REC": trec, inst.regkey: region_number, "NOAA_ARS": noaa_str,
            "NOAA_AR": noaa[0] if noaa else 0, "NOAA_NUM": len(noaa), "QUALITY": quality,
            "LAT_FWT": lat, "LON_FWT": lon, "OBS_VR": obs_vr,
            "CTYPE1": "CRLN-CEA", "CTYPE2": "CRLT-CEA", "CUNIT1": "degree", "CUNIT2": "degree",
            "CRPIX1": (nx + 1) / 2.0, "CRPIX2": (ny + 1) / 2.0, "CRVAL1": (lon + 180.0) % 360.0, "CRVAL2": lat,
            "CDELT1": inst.cdelt_deg, "CDELT2": inst.cdelt_deg, "RSUN_REF": 696000000.0,
            **{k.fits_card: kw[k.jsoc] for k in KEYWORDS},
            "ORIGIN": "flarepipe synthetic", "GENERATR": GENERATOR_VERSION,
        }
        name = jsoc_filename(inst.series, region_number, trec)
        write_patch(fits_dir / name, bmap, cards, compress=params.compress)
        rows.append({
            "series": inst.series, "instrument": inst.name, "region": region_number, "region_id": region_id,
            "t_rec": to_iso_utc(t_utc[k]), "t_rec_tai": trec, "noaa_ars": noaa_str, "quality": quality,
            "lat_fwt": lat, "lon_fwt": lon, "obs_vr": obs_vr,
            **{k.column: kw[k.jsoc] for k in KEYWORDS}, "nx": nx, "ny": ny,
            "path": f"fits/{inst.series}/{name}",
        })
    flares = []
    start_tai = pd.Timestamp(inst.start)
    for (t0, tp, t1, peak, u) in reg["flares"]:
        times = tai_to_utc(pd.DatetimeIndex([start_tai + pd.Timedelta(days=x) for x in (t0, tp, t1)])).round("1min")
        if u < params.p_flare_no_region or not noaa:
            ar = None
        else:
            ar = noaa[int(u * 997) % len(noaa)]
        flares.append({
            "start_utc": times[0], "peak_utc": times[1], "end_utc": times[2],
            "goes_class": flux_to_class(peak), "peak_flux_wm2": float(f"{peak:.3g}"), "noaa_ar": ar,
        })
    summary = {
        "region_id": region_id, "instrument": inst.name, "lat": reg["lat"], "phi_max": reg["phi_max"],
        "rotated": reg["rotated"], "delta": reg["delta"], "anti_hale": reg["anti_hale"],
        "tilt_img": reg["tilt_img"], "n_secondary": len(reg["secondaries"]), "noaa_ars": noaa_str,
        "n_records": len(rows), "n_flares": len(flares),
    }
    return {"records": rows, "flares": flares, "rates": rates, "region": summary}


def _plan(params: SyntheticParams) -> list[tuple]:
    """Deterministic list of region jobs (birth times, numbers, NOAA numbers) from the seed."""
    res = params.resolved()
    jobs = []
    for inst_name in params.instruments:
        inst = INSTRUMENTS[inst_name]
        rng = np.random.default_rng([params.seed, 0, 1 if inst_name == "HMI" else 2])
        n = int(res["n_regions"])
        births = np.sort(rng.uniform(-8.0, float(res["days"]), n))
        noaa_next = inst.first_noaa
        for i, tb in enumerate(births):
            numbered = rng.random() < 0.9
            noaa = []
            if numbered:
                noaa = [noaa_next]
                noaa_next += 1
                if rng.random() < 0.05:
                    noaa.append(noaa_next)
                    noaa_next += 1
            jobs.append((params, inst_name, i, float(tb), float(res["days"]), inst.first_region + i, noaa))
    return jobs


def generate_archive(out_dir: str | os.PathLike, params: SyntheticParams = SyntheticParams(),
                     workers: int | None = None, progress: bool = False) -> dict:
    """Write the synthetic archive (layout: docs/FILES.md) and return its manifest.

    ``workers`` processes render regions in parallel; results are identical for any ``workers``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [j + (str(out), params.cadence_min) for j in _plan(params)]
    workers = workers or min(len(jobs), os.cpu_count() or 1) or 1
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            results = list(ex.map(_region_job, jobs, chunksize=1))
    else:
        results = [_region_job(j) for j in jobs]
    records = pd.DataFrame([r for res in results for r in res["records"]])
    if records.empty:
        raise ValueError("synthetic archive came out empty: increase archive.synthetic.days or n_regions")
    records = records.sort_values(["series", "region", "t_rec"], kind="stable").reset_index(drop=True)
    flares = pd.DataFrame([f for res in results for f in res["flares"]])
    flares = flares.sort_values(["start_utc", "peak_flux_wm2"], kind="stable").reset_index(drop=True)
    flares["noaa_ar"] = flares["noaa_ar"].astype("Int64")
    flares["region_missing"] = flares["noaa_ar"].isna()
    for c in ("start_utc", "peak_utc", "end_utc"):
        flares[c] = to_iso_utc(pd.DatetimeIndex(flares[c]))
    rates = pd.DataFrame(
        [r for res in results for r in res["rates"]],
        columns=["region_id", "t_utc", "rate_all_per_day", "rate_c_per_day", "rate_m_per_day",
                 "log_size", "emergence", "morphology", "delta"],
    )
    rates["t_utc"] = to_iso_utc(pd.DatetimeIndex(rates["t_utc"]))
    regions = pd.DataFrame([res["region"] for res in results if res["region"]])
    write_csv(records, out / "records.csv", float_format="%.7g")
    write_csv(flares, out / "flares.csv")
    write_csv(rates, out / "truth" / "rates.csv", float_format="%.6g")
    write_csv(regions, out / "truth" / "regions.csv", float_format="%.6g")
    files = {p: sha256_file(out / p) for p in ("records.csv", "flares.csv", "truth/rates.csv",
                                                "truth/regions.csv")}
    fits_sums = {row.path: sha256_file(out / row.path) for row in records.itertuples()}
    manifest = {
        "source": "synthetic",
        "generator": GENERATOR_VERSION,
        "seed": params.seed,
        "parameters": dataclasses.asdict(params) | {"resolved": params.resolved()},
        "counts": {
            "records": int(len(records)), "flares": int(len(flares)),
            "regions": int(records["region_id"].nunique()),
            "flares_ge_M1": int((flares["peak_flux_wm2"] >= 1e-5).sum()),
            "flares_ge_C1": int((flares["peak_flux_wm2"] >= 1e-6).sum()),
        },
        "files": files,
        "fits": fits_sums,
    }
    write_json(manifest, out / "manifest.json")
    return manifest
