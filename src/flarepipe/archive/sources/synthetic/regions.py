"""The latent region process: flux, emergence, rotation, planted flare rates and flares.

Every region draws from its own generator seeded by ``(seed, instrument, region index)``, so results
do not depend on the number of worker processes. Image geometry (spots, plage extent) draws from a
second generator of its own (:func:`region_geometry`), so the flares and rates of a region are those
of its latent state alone.
"""

from __future__ import annotations

import math

import numpy as np

from flarepipe.archive.sources.synthetic.params import INSTRUMENTS, InstrumentSpec, SyntheticParams

__all__ = [
    "simulate_region",
    "plan_regions",
    "region_geometry",
    "synodic_rate_deg_per_day",
    "B1_FLUX",
    "SPOT_MIN_FLUX",
]

B1_FLUX = 1e-7
#: spots below this flux (Mx) are not drawn (not even as pores)
SPOT_MIN_FLUX = 1.5e20
#: lobe size ρ (deg) of a region whose latent flux is 5.6e21 Mx, and its scaling with the flux
_RHO_DEG_REF, _RHO_FLUX_REF, _RHO_EXP = 6.0, 5.6e21, 0.5
#: rendered flux per unit of latent flux: a region's total flux, of which the HARP-like mask holds
#: the part above its threshold (the latent flux sets the planted rate, as before)
FLUX_SCALE = 1.12
#: a region is tracked (has records) while its latent flux is at least this (Mx)
TRACK_MIN_FLUX = 0.8e21


def synodic_rate_deg_per_day(lat_deg: float) -> float:
    """Synodic differential rotation (Snodgrass 1983 sidereal minus Earth's orbital 0.9856°/day)."""
    s2 = math.sin(math.radians(lat_deg)) ** 2
    return 14.713 - 2.396 * s2 - 1.787 * s2 * s2 - 0.9856


def _region_rng(seed: int, inst: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, 1 if inst == "HMI" else 2, index])


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def simulate_region(
    params: SyntheticParams, inst: InstrumentSpec, index: int, t_birth_days: float, span_days: float
) -> dict:
    """Latent state of one region on its native time grid: flux, emergence, geometry, rates, flares.

    Returns a dict with region constants and per-step arrays (``t`` in days from the instrument's
    start, TAI; ``age`` in days since birth). Fluxes (``phi*``) are those rendered, ``FLUX_SCALE``
    times the latent flux whose logarithm is ``log_size + 21.7``. Only steps while the region is
    tracked (|central-meridian distance| ≤ 85°, flux above detection, inside the generated
    interval) are kept.
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
    tilt_img = (
        tilt if lat > 0 else -tilt
    )  # image angle of the axis: leader (+u) towards the equator
    rho_max = (
        math.radians(_RHO_DEG_REF)
        * (phi_max / _RHO_FLUX_REF) ** _RHO_EXP
        * float(np.exp(rng.normal(0.0, 0.1)))
    )
    if inst.rho_scale != 1.0 or inst.rho_exp != _RHO_EXP:
        rho_max *= inst.rho_scale * (phi_max / _RHO_FLUX_REF) ** (inst.rho_exp - _RHO_EXP)

    # secondary emergence episodes, each a bipole of its own near the main one
    life = 40.0
    n_sec = rng.poisson(params.secondary_per_day * life)
    secondaries = []
    for _ in range(n_sec):
        secondaries.append(
            {
                "t0": float(rng.uniform(0.5, life)),
                "tau": float(rng.uniform(0.25, 0.8)),
                "frac": float(rng.uniform(0.25, 0.9)),
                "dx": float(rng.normal(0.0, 0.9)),
                "dy": float(rng.normal(0.0, 0.6)),
                "tilt": float(rng.normal(tilt_img, 25.0)),
            }
        )

    t = t_birth_days + np.arange(0.0, life, step)
    age = t - t_birth_days
    growth = _logistic((age - 2.0 * t_grow) / (0.45 * t_grow))
    decay = np.exp(-np.clip(age - 4.0 * t_grow, 0.0, None) / t_decay)
    phi_main = phi_max * growth * decay
    phi_sec = np.zeros((len(secondaries), len(t)))
    for k, sec in enumerate(secondaries):
        g = _logistic((age - sec["t0"]) / sec["tau"])
        phi_sec[k] = (
            sec["frac"]
            * phi_max
            * g
            * np.exp(-np.clip(age - sec["t0"] - 2 * sec["tau"], 0, None) / t_decay)
        )
    phi = phi_main + phi_sec.sum(axis=0)
    lag = max(1, int(round(0.5 / step)))  # 12 h
    phi_past = np.concatenate([np.full(lag, phi[0] * 0.0 + 1e19), phi[:-lag]])
    emergence = np.clip((phi - phi_past) / np.maximum(phi, 1e19), 0.0, 1.0)
    cmd = cmd_birth + synodic_rate_deg_per_day(lat) * age
    mu = np.cos(np.radians(lat)) * np.cos(np.radians(cmd))

    log_size = np.log10(np.maximum(phi, 1e18)) - 21.7
    log_rate = (
        float(params.resolved()["c0"])
        + params.c_size * log_size
        + params.c_emerge * emergence
        + params.c_morph * rotated
        + params.c_delta * delta
    )
    rate_b1 = np.exp(log_rate)
    f_det = max(params.min_detected_flux, B1_FLUX)
    rate_all = rate_b1 * (f_det / B1_FLUX) ** (-(params.alpha - 1.0))  # catalogued flares
    frac_c = 10.0 ** (-(params.alpha - 1.0)) / (f_det / B1_FLUX) ** (-(params.alpha - 1.0))
    frac_m = 100.0 ** (-(params.alpha - 1.0)) / (f_det / B1_FLUX) ** (-(params.alpha - 1.0))

    tracked = (np.abs(cmd) <= 85.0) & (phi >= TRACK_MIN_FLUX) & (t >= 0.0) & (t < span_days)
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
    sc = FLUX_SCALE * inst.flux_scale * (10**log_phi_max / _RHO_FLUX_REF) ** inst.flux_stretch
    return {
        "index": index,
        "instrument": inst.name,
        "lat": lat,
        "lead_sign": lead_sign,
        "tilt_img": tilt_img,
        "rho_max": rho_max,
        "phi_max": phi_max * sc,
        "rotated": bool(rotated),
        "delta": bool(delta),
        "anti_hale": bool(anti_hale),
        "secondaries": secondaries,
        "t_grow": t_grow,
        "t_decay": t_decay,
        "t": t[sel],
        "age": age[sel],
        "phi_main": phi_main[sel] * sc,
        "phi_sec": phi_sec[:, sel] * sc,
        "phi": phi[sel] * sc,
        "emergence": emergence[sel],
        "cmd": cmd[sel],
        "mu": mu[sel],
        "log_size": log_size[sel],
        "rate_all": rate_all[sel],
        "rate_c": rate_all[sel] * frac_c,
        "rate_m": rate_all[sel] * frac_m,
        "flares": flares,
    }


def spot_fraction(flux_mx: float) -> float:
    """Share of a bipole's flux in sunspots at full development (the rest is plage).

    Rises from ~9% at 1e21 Mx to ~42% above 2e22 Mx (large regions are spot-dominated).
    """
    return 0.42 / (1.0 + math.exp(-(math.log10(max(flux_mx, 1e18)) - 21.4) / 0.3))


def region_geometry(params: SyntheticParams, reg: dict) -> dict:
    """Image constants of a region: how its flux divides into spots, where they sit, texture seeds.

    Drawn from the region's own geometry generator ``(seed, 10|20, index)``. Positions are in units
    of the bipole size ``ρ`` along (``u``) and across (``v``) the axis.
    """
    inst = INSTRUMENTS[reg["instrument"]]
    rng = np.random.default_rng([params.seed, 10 if inst.name == "HMI" else 20, reg["index"]])
    f_spot = min(0.7, spot_fraction(reg["phi_max"]) * float(np.exp(rng.normal(0.0, 0.5))))
    f_lead = float(rng.uniform(0.55, 0.75))
    lead = {
        "u": 1.0 + float(rng.normal(0.0, 0.04)),
        "v": float(rng.normal(0.0, 0.05)),
        "ell": 1.0 + abs(float(rng.normal(0.0, 0.08))),
        "ang": float(rng.uniform(0, math.pi)),
        "share": 1.0,
        "fil": int(rng.integers(0, 2**31)),
    }
    n_follow = 1 + min(2, int(rng.poisson(0.8)))
    shares = rng.dirichlet(np.full(n_follow, 2.0)) if n_follow > 1 else np.ones(1)
    follow = []
    for j in range(n_follow):
        follow.append(
            {
                "u": -float(rng.uniform(1.0, 1.25)) + float(rng.normal(0.0, 0.1)) * (j > 0),
                "v": float(rng.normal(0.0, 0.12)) * (1 + (j > 0)),
                "ell": 1.0 + abs(float(rng.normal(0.0, 0.15))),
                "ang": float(rng.uniform(0, math.pi)),
                "share": float(shares[j]),
                "fil": int(rng.integers(0, 2**31)),
            }
        )
    # the delta spot: an opposite-polarity umbra inside the leader's penumbra, on the side facing
    # the following polarity (angle in the bipole frame, from +u)
    delta = {
        "angle": math.pi + float(rng.normal(0.0, 0.6)),
        "share": float(rng.uniform(0.3, 0.45)),
        "fil": int(rng.integers(0, 2**31)),
    }
    sec_spots = [int(rng.integers(0, 2**31)) for _ in reg["secondaries"]]
    return {
        "f_spot": f_spot,
        "f_lead": f_lead,
        "lead": lead,
        "follow": follow,
        "delta": delta,
        "sec_fil": sec_spots,
    }


def plan_regions(params: SyntheticParams) -> list[tuple]:
    """Deterministic list of region jobs from the seed.

    Each job is ``(params, instrument, index, t_birth_days, span_days, region_number, noaa_list)``.
    """
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
            jobs.append(
                (params, inst_name, i, float(tb), float(res["days"]), inst.first_region + i, noaa)
            )
    return jobs
