"""Synthetic full-disk line-of-sight magnetograms, rendered from the SAME regions as the patches.

Every region of the synthetic plan (:func:`.regions.plan_regions`,
:func:`.regions.simulate_region`) that is tracked at a frame's time is drawn as the patch generator
draws it (:func:`.images.scene_at`, :func:`.images.render`, noise-free: the radial field ``B_r``)
and projected onto the disk at its heliographic position (the region's central-meridian distance,
rotated differentially to the frame's time; Carrington longitude ``= lon + CRLN_OBS``), as the
line-of-sight field ``B_LOS = B_r·μ``: each disk pixel takes the value of the patch's CEA grid at
its (rotated-pole) CEA coordinates,
after the patch is smoothed to the disk pixel's size. Outside the regions lies a weak quiet-Sun
network ``∝ μ``; noise is Gaussian with the series' per-pixel noise (averaged down to the render
size) divided by ``sqrt(I(μ))``, ``I(μ) = 1 − u(1 − μ)`` the limb darkening (fewer photons, more
noise at the limb); pixels off the disk are NaN.

Frames follow the real series: MDI-like ``mdi.fd_M_96m_lev182`` (cycle 23, 1024², 1.98″/px at
1024, 96-minute records, SOHO at L1, ``CROTA2`` 0) and HMI-like ``hmi.M_720s`` (cycle 24, 4096²
at 0.504″/px in the real series, rendered smaller: ``size`` px, ``CDELT`` scaled, ``CROTA2`` 180 as
SDO's images), with ``CDELT/CRPIX/CROTA2/RSUN_OBS/DSUN_OBS/CRLN_OBS/CRLT_OBS/HGLN_OBS/HGLT_OBS``
from sunpy's ephemeris; ``CRPIX`` jitters by up to 1% of the size so that a reader must use the
header's WCS. One record is written a day at 00:00 TAI (23:59:2x UTC of the day before); bad days
are planted: a flagged ``QUALITY``, a missing record, a block of NaN on the disk, and for some of
them a good fallback record a few cadences earlier (the nearest-earlier rule,
:mod:`flarepipe.samples.fulldisk`).

Truth per frame (``truth/fulldisk_regions.csv``): every region's box in pixels (0-based,
inclusive) and in heliographic coordinates (Stonyhurst and Carrington), its centre, Mt. Wilson
class, flux, keywords and planted rates; per UTC day (``truth/fulldisk_days.csv``): the planted
flares (≥ C1.0, ≥ M1.0) and the planted probabilities of at least one (the oracle row). Where
the disk's pixels are much coarser than the patches' (HMI-like frames below 4096 px), a region is
drawn on a grid up to 4x coarser (:func:`frame_coarsening`), and its keywords in the truth table
are computed there.

Public API (for detection and daily forecasts): :class:`FullDiskParams`, :func:`render_frame`
(one frame in memory: data, header, region table), :func:`generate_fulldisk` (files and tables),
:func:`planted_flares` (the catalogue rows of the regions' flares), :data:`REGION_COLUMNS`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from flarepipe.archive.sources.synthetic.images import RegionTextures, patch_shape, render, scene_at
from flarepipe.archive.sources.synthetic.params import (
    GENERATOR_VERSION,
    INSTRUMENTS,
    SyntheticParams,
)
from flarepipe.archive.sources.synthetic.regions import (
    plan_regions,
    region_geometry,
    simulate_region,
    synodic_rate_deg_per_day,
)
from flarepipe.core.disk import (
    ARCSEC,
    FullDiskSeries,
    disk_coordinates,
    fulldisk_series_of,
    heliographic_to_pixel,
)
from flarepipe.core.flareclass import flux_to_class
from flarepipe.core.keywords import KEYWORD_COLUMNS, KEYWORDS
from flarepipe.core.magnetic import activity_mask, compute_keywords
from flarepipe.core.timeutil import format_trec, tai_to_utc, to_iso_utc
from flarepipe.io.atomic import write_csv, write_json
from flarepipe.io.fitsio import quantise, write_patch
from flarepipe.io.fulldisk import RECORD_COLUMNS

__all__ = [
    "FullDiskParams",
    "FULLDISK_VERSION",
    "REGION_COLUMNS",
    "DAY_COLUMNS",
    "RECORD_COLUMNS",
    "RegionPlan",
    "frame_header",
    "fulldisk_filename",
    "render_frame",
    "generate_fulldisk",
    "planted_flares",
    "patch_to_heliographic",
    "region_patch",
    "frame_coarsening",
]

FULLDISK_VERSION = "fulldisk 1 (regions projected B_LOS = B_r mu; limb-darkened noise)"
#: the synthetic full-disk series' ``CROTA2`` (SDO's images are upside down, SOHO's not)
_CROTA2 = {"HMI": 180.0, "MDI": 0.0}
#: SOHO sits at L1, ~1.5e9 m nearer the Sun than the Earth
_L1_M = 1.5e9
#: QUALITY bits of the planted bad frames (as the patch generator's)
_QUALITY_BITS = (0x10000, 0x20000, 0x400000, 0x80000000)

#: columns of ``truth/fulldisk_regions.csv`` (one row per region on a frame)
REGION_COLUMNS = [
    "series",
    "instrument",
    "t_rec",
    "t_rec_tai",
    "region_id",
    "noaa_ars",
    "x_min",
    "y_min",
    "x_max",
    "y_max",
    "x_c",
    "y_c",
    "lon_c",
    "lat_c",
    "carrington_lon_c",
    "lon_min",
    "lon_max",
    "lat_min",
    "lat_max",
    "mu_c",
    "mtwilson",
    "phi_mx",
    *KEYWORD_COLUMNS,
    "rotated",
    "delta",
    "rate_c_per_day",
    "rate_m_per_day",
]
#: columns of ``truth/fulldisk_days.csv`` (one row per instrument and UTC day)
DAY_COLUMNS = [
    "instrument",
    "day",
    "n_flares_c",
    "n_flares_m",
    "p_c_planted",
    "p_m_planted",
]


@dataclasses.dataclass(frozen=True)
class FullDiskParams:
    """Settings of the synthetic full-disk frames (recorded in ``fulldisk/manifest.json``).

    ``size``: rendered side per instrument (px; MDI's native 1024, HMI's real 4096 is rendered
    smaller). ``p_bad_quality``, ``p_missing``, ``p_nan``: share of days whose 00:00 TAI record is
    flagged, absent, or holds a NaN block on the disk; ``p_fallback`` of those get a good record 1-5
    cadences earlier. ``limb_darkening``: ``u`` of ``I(μ) = 1 − u(1 − μ)``; ``network_g``: the
    quiet-Sun network's rms at disk centre (G); ``noise_scale``: times the series' noise (0: none,
    for tests). ``compress``: RICE.
    """

    instruments: tuple[str, ...] = ("MDI", "HMI")
    size_mdi: int = 1024
    size_hmi: int = 512
    p_bad_quality: float = 0.03
    p_missing: float = 0.02
    p_nan: float = 0.02
    p_fallback: float = 0.7
    limb_darkening: float = 0.6
    network_g: float = 8.0
    noise_scale: float = 1.0
    compress: bool = True

    def size(self, instrument: str) -> int:
        """Rendered side (px) of ``instrument``'s frames."""
        return int(self.size_mdi if instrument == "MDI" else self.size_hmi)


def fulldisk_filename(series: FullDiskSeries, trec_tai: str) -> str:
    """JSOC export name: ``hmi.M_720s.20160707_010000_TAI.magnetogram.fits``."""
    stamp = trec_tai.replace(".", "").replace(":", "")[:15]
    return f"{series.name}.{stamp}_TAI.{series.segment}.fits"


def frame_header(
    instrument: str, t_tai: pd.Timestamp, size: int, crpix_offset: tuple[float, float] = (0.0, 0.0)
) -> dict:
    """FITS cards of a synthetic full-disk frame of ``instrument`` at ``t_tai`` (TAI, naive).

    The geometry is sunpy's ephemeris for the Earth (HMI) or L1 (MDI) at the frame's time; the
    pixel size is the series' native one scaled to ``size`` px.
    """
    from sunpy.coordinates import sun

    series = fulldisk_series_of(instrument)
    t_utc = tai_to_utc(pd.Timestamp(t_tai))
    iso = to_iso_utc(t_utc)
    dsun = float(sun.earth_distance(iso).to_value("m")) - (_L1_M if instrument == "MDI" else 0.0)
    rsun_ref = 696000000.0
    rsun_obs = math.degrees(math.asin(rsun_ref / dsun)) * 3600.0
    cdelt = series.native_cdelt_arcsec * series.native_size / size
    b0 = float(sun.B0(iso).to_value("deg"))
    l0 = float(sun.L0(iso).to_value("deg"))
    crpix1 = (size + 1) / 2.0 + float(crpix_offset[0])
    crpix2 = (size + 1) / 2.0 + float(crpix_offset[1])
    return {
        "TELESCOP": "SDO/HMI" if instrument == "HMI" else "SOHO",
        "INSTRUME": "HMI_SIDE1" if instrument == "HMI" else "MDI",
        "CONTENT": "MAGNETOGRAM",
        "BUNIT": "Gauss",
        "T_REC": format_trec(pd.Timestamp(t_tai)),
        "DATE-OBS": iso,
        "QUALITY": 0,
        "WCSNAME": "Helioprojective-cartesian",
        "CTYPE1": "HPLN-TAN",
        "CTYPE2": "HPLT-TAN",
        "CUNIT1": "arcsec",
        "CUNIT2": "arcsec",
        "CRVAL1": 0.0,
        "CRVAL2": 0.0,
        "CDELT1": cdelt,
        "CDELT2": cdelt,
        "CRPIX1": crpix1,
        "CRPIX2": crpix2,
        "CROTA2": _CROTA2[instrument],
        "RSUN_REF": rsun_ref,
        "RSUN_OBS": rsun_obs,
        "R_SUN": rsun_obs / cdelt,
        "DSUN_OBS": dsun,
        "CRLN_OBS": l0,
        "CRLT_OBS": b0,
        "HGLN_OBS": 0.0,
        "HGLT_OBS": b0,
        "ORIGIN": "flarepipe synthetic",
        "GENERATR": GENERATOR_VERSION[:68],
    }


def _texture_seed(params: SyntheticParams, instrument: str, index: int, ny: int, nx: int):
    # the patch generator's texture seed (generate.py), so a region keeps its small-scale pattern
    return [params.seed, 11 if instrument == "HMI" else 21, index, ny, nx]


@dataclasses.dataclass
class RegionPlan:
    """One simulated region of the plan, with what its frames need (built once per archive)."""

    region_id: str
    index: int
    noaa: list
    reg: dict
    geo: dict
    shape: tuple[int, int]  # (nx, ny) of its patches

    @classmethod
    def all(cls, params: SyntheticParams, instrument: str) -> list[RegionPlan]:
        """Every region of ``instrument`` in the plan of ``params`` that has tracked steps."""
        inst = INSTRUMENTS[instrument]
        res = params.resolved()
        out = []
        for _, name, index, t_birth, span, number, noaa in plan_regions(params):
            if name != instrument:
                continue
            reg = simulate_region(params, inst, index, t_birth, span)
            if reg["t"].size == 0:
                continue
            geo = region_geometry(params, reg)
            out.append(
                cls(
                    f"{inst.prefix}{number}",
                    index,
                    list(noaa),
                    reg,
                    geo,
                    patch_shape(reg, geo, inst, res["max_patch_deg"]),
                )
            )
        return out


def patch_to_heliographic(
    x_rad: np.ndarray, y_sin: np.ndarray, lon_c: float, lat_c: float
) -> tuple[np.ndarray, np.ndarray]:
    """Stonyhurst ``(lon, lat)`` (deg) of rotated-pole CEA coordinates about ``(lon_c, lat_c)``.

    The inverse of the projection :func:`render_frame` uses: a patch pixel ``(i, j)`` of a region
    with patches of ``nx × ny`` and pixel size ``cd`` (rad) sits at
    ``x = (i − (nx − 1)/2)·cd``, ``y = (j − (ny − 1)/2)·cd``.
    """
    la_r = np.arcsin(np.clip(y_sin, -1.0, 1.0))
    lo_r = np.asarray(x_rad, dtype=np.float64)
    cx = np.cos(la_r) * np.cos(lo_r)
    cy = np.cos(la_r) * np.sin(lo_r)
    cz = np.sin(la_r)
    lc = math.radians(lat_c)
    x0 = cx * math.cos(lc) - cz * math.sin(lc)
    z0 = cx * math.sin(lc) + cz * math.cos(lc)
    return lon_c + np.degrees(np.arctan2(cy, x0)), np.degrees(np.arcsin(np.clip(z0, -1, 1)))


def _cea_coords(lon, lat, lon_c: float, lat_c: float):
    """Rotated-pole CEA coordinates (rad) of ``(lon, lat)`` about the centre ``(lon_c, lat_c)``."""
    lo, la = np.radians(lon - lon_c), np.radians(lat)
    lc = math.radians(lat_c)
    cx = np.cos(la) * np.cos(lo)
    cy = np.cos(la) * np.sin(lo)
    cz = np.sin(la)
    xr = cx * math.cos(lc) + cz * math.sin(lc)
    zr = -cx * math.sin(lc) + cz * math.cos(lc)
    return np.arctan2(cy, xr), zr  # x = longitude', y = sin(latitude')


def region_patch(
    params: SyntheticParams,
    rp: RegionPlan,
    k: int,
    t_days: float,
    textures: dict | None = None,
    rng: np.random.Generator | None = None,
    coarsen: int = 1,
):
    """The noise-free radial field of region ``rp`` at its step ``k`` on its patch grid.

    Returns ``(B_r [ny, nx] float32, Scene, lon_c, lat_c, cd)``: the field as the patch generator
    draws it (:func:`.images.render` without its noise), the patch centre's Stonyhurst position at
    ``t_days`` (the step's central-meridian distance rotated differentially over ``t_days − t[k]``)
    and the patch pixel ``cd`` (rad). Pixel ``(i, j)`` of the patch lies at CEA
    ``x = (i − (nx−1)/2)·cd``, ``y = (j − (ny−1)/2)·cd`` about the centre
    (:func:`patch_to_heliographic`). ``coarsen`` > 1 draws the same scene on a grid ``coarsen``
    times coarser than the instrument's patches (for a disk whose pixels are coarser still; at
    most the envelope grid's 0.12°), with textures of their own.
    """
    inst = INSTRUMENTS[rp.reg["instrument"]]
    nx, ny = rp.shape
    if coarsen > 1:
        inst = dataclasses.replace(inst, cdelt_deg=inst.cdelt_deg * coarsen)
        nx, ny = max(3, int(round(nx / coarsen))), max(3, int(round(ny / coarsen)))
    textures = {} if textures is None else textures
    key = (rp.region_id, ny, nx)
    if key not in textures:
        textures[key] = RegionTextures(
            inst, ny, nx, _texture_seed(params, inst.name, rp.index, ny, nx)
        )
    scene = scene_at(rp.reg, rp.geo, k)
    # render's noise is noise_g/μ: with μ = 1e9 it is ~1e-8 G
    br = render(scene, textures[key], 1e9, float(rp.reg["t"][k]), rng or np.random.default_rng(0))
    lat_c = float(rp.reg["lat"])
    lon_c = float(rp.reg["cmd"][k]) + synodic_rate_deg_per_day(lat_c) * (t_days - rp.reg["t"][k])
    return br, scene, lon_c, lat_c, math.radians(inst.cdelt_deg)


def frame_coarsening(instrument: str, cards: dict) -> int:
    """How much coarser than its patches :func:`render_frame` draws a region on a frame.

    The largest power of 2 ``k`` not above the ratio of the disk-centre pixel to the instrument's
    patch pixel, with ``k·cdelt`` at most the envelope grid's 0.12° (HMI-like at 512 px: 4; MDI: 1).
    """
    cdelt = INSTRUMENTS[instrument].cdelt_deg
    ratio = cards["CDELT1"] * ARCSEC * cards["DSUN_OBS"] / cards["RSUN_REF"] / math.radians(cdelt)
    k = 1
    while 2 * k <= ratio and cdelt * 2 * k <= 0.12 + 1e-9:
        k *= 2
    return k


def render_frame(
    params: SyntheticParams,
    fd: FullDiskParams,
    instrument: str,
    t_tai: pd.Timestamp,
    regions: list[RegionPlan] | None = None,
    rng: np.random.Generator | None = None,
    textures: dict | None = None,
) -> tuple[np.ndarray, dict, pd.DataFrame]:
    """One full-disk frame of ``instrument`` at ``t_tai``: ``(data, header cards, regions)``.

    ``data`` is float32 ``[size, size]`` (G, ``B_LOS``; NaN off the disk), quantised to the series'
    storage step; ``regions`` has :data:`REGION_COLUMNS` (``t_rec`` etc. filled, boxes 0-based
    inclusive pixels of the region's patch footprint on the disk). ``regions`` (the plan),
    ``textures`` (a cache) and ``rng`` may be passed in to render many frames.
    """
    inst = INSTRUMENTS[instrument]
    series = fulldisk_series_of(instrument)
    regions = RegionPlan.all(params, instrument) if regions is None else regions
    size = fd.size(instrument)
    rng = rng or np.random.default_rng([params.seed, 30, instrument == "HMI"])
    textures = {} if textures is None else textures
    off = tuple(float(x) for x in rng.uniform(-0.01, 0.01, 2) * size)
    cards = frame_header(instrument, t_tai, size, off)
    lon, lat, mu = disk_coordinates(cards, (size, size))
    on = np.isfinite(mu)
    # quiet-Sun network ∝ μ, then the regions (smallest first, the larger on top)
    net = ndimage.gaussian_filter(rng.standard_normal((size, size)), 1.0)
    net *= fd.network_g / max(float(net.std()), 1e-12)
    data = np.where(on, net * np.nan_to_num(mu), np.nan)
    t_days = (pd.Timestamp(t_tai) - pd.Timestamp(inst.start)).total_seconds() / 86400.0
    step = inst.native_step_min / 1440.0
    disk_px_rad = cards["CDELT1"] * ARCSEC * cards["DSUN_OBS"] / cards["RSUN_REF"]
    t_utc = tai_to_utc(pd.Timestamp(t_tai))
    rows = []
    visible = []
    for rp in regions:
        t = rp.reg["t"]
        k = int(np.argmin(np.abs(t - t_days)))
        if abs(t[k] - t_days) > step / 2 + 1e-9:
            continue
        visible.append((float(rp.reg["phi"][k]), rp, k))
    coarsen = frame_coarsening(instrument, cards)
    for _, rp, k in sorted(visible, key=lambda v: v[0]):
        reg = rp.reg
        br, scene, lon_c, lat_c, cdr = region_patch(params, rp, k, t_days, textures, rng, coarsen)
        ny, nx = br.shape
        cdr_deg = math.degrees(cdr)
        kw = compute_keywords(br, cdr_deg, activity_mask(br, cdr_deg))
        # to the disk pixel's size: block means by the integer part, then a Gaussian for the rest
        ratio = disk_px_rad / cdr
        f = max(1, int(ratio))
        if f > 1:
            hy, hx = (br.shape[0] // f) * f, (br.shape[1] // f) * f
            br = br[:hy, :hx].reshape(hy // f, f, hx // f, f).mean(axis=(1, 3))
        if ratio > 1.0:
            br = ndimage.gaussian_filter(br, 0.4 * ratio / f, mode="nearest")
        # the disk window the patch can reach: its outline projected, plus a margin
        ex, ey = (nx - 1) / 2.0 * cdr, (ny - 1) / 2.0 * cdr
        ux = np.array([-ex, 0.0, ex, -ex, ex, -ex, 0.0, ex])
        uy = np.array([-ey, -ey, -ey, 0.0, 0.0, ey, ey, ey])
        olon, olat = patch_to_heliographic(ux, uy, lon_c, lat_c)
        px, py, _ = heliographic_to_pixel(olon, olat, cards)
        m = 4 + int(np.ceil(0.25 * ex / disk_px_rad))
        x0, x1 = max(0, int(np.floor(px.min())) - m), min(size, int(np.ceil(px.max())) + m + 1)
        y0, y1 = max(0, int(np.floor(py.min())) - m), min(size, int(np.ceil(py.max())) + m + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        win = (slice(y0, y1), slice(x0, x1))
        x, y = _cea_coords(lon[win], lat[win], lon_c, lat_c)
        ix = x / cdr + (nx - 1) / 2.0
        iy = y / cdr + (ny - 1) / 2.0
        inside = on[win] & (ix >= 0) & (ix <= nx - 1) & (iy >= 0) & (iy <= ny - 1)
        inside &= np.abs(x) < 1.0
        ix, iy = (ix - (f - 1) / 2.0) / f, (iy - (f - 1) / 2.0) / f  # on the block-mean grid
        if not inside.any():
            continue
        yy, xx = np.nonzero(inside)
        pc = heliographic_to_pixel(lon_c, lat_c, cards)
        vals = ndimage.map_coordinates(br, [iy[inside], ix[inside]], order=1, mode="nearest")
        mu_in = mu[win][inside]
        lon_in, lat_in = lon[win][inside], lat[win][inside]
        yy, xx = yy + y0, xx + x0
        data[yy, xx] = vals * mu_in
        rows.append(
            {
                "series": series.name,
                "instrument": instrument,
                "t_rec": to_iso_utc(t_utc),
                "t_rec_tai": cards["T_REC"],
                "region_id": rp.region_id,
                "noaa_ars": ",".join(str(n) for n in rp.noaa),
                "x_min": int(xx.min()),
                "y_min": int(yy.min()),
                "x_max": int(xx.max()),
                "y_max": int(yy.max()),
                "x_c": float(pc[0]),
                "y_c": float(pc[1]),
                "lon_c": lon_c,
                "lat_c": lat_c,
                "carrington_lon_c": (lon_c + cards["CRLN_OBS"]) % 360.0,
                "lon_min": float(lon_in.min()),
                "lon_max": float(lon_in.max()),
                "lat_min": float(lat_in.min()),
                "lat_max": float(lat_in.max()),
                "mu_c": math.cos(math.radians(lat_c)) * math.cos(math.radians(lon_c)),
                "mtwilson": scene.mtwilson,
                "phi_mx": float(reg["phi"][k]),
                **{k.column: kw[k.fits_card] for k in KEYWORDS},
                "rotated": bool(reg["rotated"]),
                "delta": bool(reg["delta"]),
                "rate_c_per_day": float(reg["rate_c"][k]),
                "rate_m_per_day": float(reg["rate_m"][k]),
            }
        )
    noise_g = fd.noise_scale * series.noise_g * series.native_cdelt_arcsec / cards["CDELT1"]
    ld = 1.0 - fd.limb_darkening * (1.0 - np.clip(np.nan_to_num(mu), 0.0, 1.0))
    data = data + rng.standard_normal((size, size)) * noise_g / np.sqrt(np.maximum(ld, 0.05))
    data = np.where(on, data, np.nan).astype(np.float32)
    table = pd.DataFrame(rows, columns=REGION_COLUMNS)
    return quantise(data, series.bscale), cards, table


def planted_flares(params: SyntheticParams, regions: Iterable[RegionPlan]) -> pd.DataFrame:
    """The regions' flares as catalogue rows (the columns and rules of the patch archive's
    ``flares.csv``: UTC times rounded to the minute, class, peak flux, NOAA number or none).
    """
    rows = []
    for rp in regions:
        inst = INSTRUMENTS[rp.reg["instrument"]]
        start = pd.Timestamp(inst.start)
        for t0, tp, t1, peak, u in rp.reg["flares"]:
            times = tai_to_utc(
                pd.DatetimeIndex([start + pd.Timedelta(days=x) for x in (t0, tp, t1)])
            ).round("1min")
            ar = (
                None
                if (u < params.p_flare_no_region or not rp.noaa)
                else rp.noaa[int(u * 997) % len(rp.noaa)]
            )
            rows.append(
                {
                    "start_utc": times[0],
                    "peak_utc": times[1],
                    "end_utc": times[2],
                    "goes_class": flux_to_class(peak),
                    "peak_flux_wm2": float(f"{peak:.3g}"),
                    "noaa_ar": ar,
                }
            )
    out = pd.DataFrame(
        rows, columns=["start_utc", "peak_utc", "end_utc", "goes_class", "peak_flux_wm2", "noaa_ar"]
    )
    out = out.sort_values(["start_utc", "peak_flux_wm2"], kind="stable").reset_index(drop=True)
    out["noaa_ar"] = out["noaa_ar"].astype("Int64")
    out["region_missing"] = out["noaa_ar"].isna()
    return out


def _daily_truth(instrument: str, regions: list[RegionPlan], flares: pd.DataFrame, days):
    inst = INSTRUMENTS[instrument]
    step = inst.native_step_min / 1440.0
    start = pd.Timestamp(inst.start)
    hz_c = pd.Series(0.0, index=days)
    hz_m = pd.Series(0.0, index=days)
    for rp in regions:
        tt = tai_to_utc(pd.DatetimeIndex(start + pd.to_timedelta(rp.reg["t"], unit="D")))
        d = tt.normalize()
        ok = d.isin(days)
        if ok.any():
            hz_c = hz_c.add(
                pd.Series(rp.reg["rate_c"][ok] * step, index=d[ok]).groupby(level=0).sum(),
                fill_value=0.0,
            )
            hz_m = hz_m.add(
                pd.Series(rp.reg["rate_m"][ok] * step, index=d[ok]).groupby(level=0).sum(),
                fill_value=0.0,
            )
    fday = pd.DatetimeIndex(pd.to_datetime(flares["start_utc"])).normalize()
    big_c = flares["peak_flux_wm2"].to_numpy() >= 1e-6
    big_m = flares["peak_flux_wm2"].to_numpy() >= 1e-5
    n_c = pd.Series(fday[big_c]).value_counts()
    n_m = pd.Series(fday[big_m]).value_counts()
    return pd.DataFrame(
        {
            "instrument": instrument,
            "day": [to_iso_utc(d)[:10] for d in days],
            "n_flares_c": [int(n_c.get(d, 0)) for d in days],
            "n_flares_m": [int(n_m.get(d, 0)) for d in days],
            "p_c_planted": 1.0 - np.exp(-hz_c.reindex(days).to_numpy()),
            "p_m_planted": 1.0 - np.exp(-hz_m.reindex(days).to_numpy()),
        },
        columns=DAY_COLUMNS,
    )


def generate_fulldisk(
    out_dir: str | os.PathLike,
    params: SyntheticParams | None = None,
    fd: FullDiskParams | None = None,
    write_flares: bool = False,
) -> dict:
    """Write the daily full-disk frames of the synthetic plan and their truth; return a manifest.

    Files (under ``out_dir``): ``fulldisk/<series>/<JSOC name>.fits``, ``fulldisk/records.csv``
    (:data:`RECORD_COLUMNS`; ``planted`` says which bad-record kind a record carries: ``quality``,
    ``nan_block``, ``fallback`` or empty), ``truth/fulldisk_regions.csv`` (:data:`REGION_COLUMNS`,
    every written frame), ``truth/fulldisk_days.csv`` (:data:`DAY_COLUMNS`, every UTC day in the
    span),
    ``fulldisk/manifest.json``; with ``write_flares`` also ``flares.csv`` (the regions' flares, for
    an archive of full-disk frames alone). Deterministic from the seed.
    """
    params = params or SyntheticParams()
    fd = fd or FullDiskParams()
    out = Path(out_dir)
    records, truth, days_all, flares_all = [], [], [], []
    n_days = int(math.ceil(float(params.resolved()["days"])))
    for instrument in fd.instruments:
        if instrument not in params.instruments:
            raise ValueError(
                f"archive.synthetic: full-disk frames of {instrument} need {instrument} in "
                f"archive.synthetic.instruments (got {list(params.instruments)})"
            )
        inst = INSTRUMENTS[instrument]
        series = fulldisk_series_of(instrument)
        regions = RegionPlan.all(params, instrument)
        textures: dict = {}
        rng = np.random.default_rng([params.seed, 31, 1 if instrument == "HMI" else 2])
        folder = out / "fulldisk" / series.name
        folder.mkdir(parents=True, exist_ok=True)
        # frames at 00:00 TAI of days 1 … n_days − 1 (regions are tracked while t < n_days, so
        # each frame's UTC day, from 23:59:2x UTC, lies inside the generated interval)
        for d in range(1, n_days):
            t0 = pd.Timestamp(inst.start) + pd.Timedelta(days=d)  # 00:00 TAI
            u = rng.random(4)
            kinds = []
            if u[0] < fd.p_missing:
                kinds.append(("missing", t0))
            elif u[0] < fd.p_missing + fd.p_bad_quality:
                kinds.append(("quality", t0))
            elif u[0] < fd.p_missing + fd.p_bad_quality + fd.p_nan:
                kinds.append(("nan_block", t0))
            else:
                kinds.append(("", t0))
            if kinds[0][0] and u[1] < fd.p_fallback:
                back = int(1 + u[2] * 5) * series.cadence_min
                kinds.insert(0, ("fallback", t0 - pd.Timedelta(minutes=back)))
            for kind, t in kinds:
                if kind == "missing":
                    continue
                frng = np.random.default_rng(
                    [params.seed, 32, 1 if instrument == "HMI" else 2, d, kind == "fallback"]
                )
                data, cards, table = render_frame(
                    params, fd, instrument, t, regions, frng, textures
                )
                if kind == "quality":
                    cards["QUALITY"] = int(frng.choice(_QUALITY_BITS))
                if kind == "nan_block":
                    n = data.shape[0]
                    r0 = int(frng.integers(n // 4, n // 2))
                    data[r0 : r0 + n // 6, n // 4 : 3 * n // 4] = np.nan
                name = fulldisk_filename(series, cards["T_REC"])
                write_patch(folder / name, data, cards, bscale=series.bscale, compress=fd.compress)
                records.append(
                    {
                        "series": series.name,
                        "instrument": instrument,
                        "t_rec": cards["DATE-OBS"],
                        "t_rec_tai": cards["T_REC"],
                        "quality": cards["QUALITY"],
                        "nx": data.shape[1],
                        "ny": data.shape[0],
                        "planted": kind,
                        "path": f"fulldisk/{series.name}/{name}",
                    }
                )
                truth.append(table)
            # drop cached textures of regions no longer on the disk
            alive = {rp.region_id for rp in regions if rp.reg["t"][-1] >= d - 1}
            for key in [k for k in textures if k[0] not in alive]:
                del textures[key]
        flares = planted_flares(params, regions)
        flares_all.append(flares)
        first = pd.Timestamp(inst.start).normalize() + pd.Timedelta(days=1)
        days = pd.date_range(first, periods=n_days - 1, freq="D")  # the days the frames serve
        days_all.append(_daily_truth(instrument, regions, flares, days))
    rec = pd.DataFrame(records, columns=RECORD_COLUMNS)
    write_csv(rec, out / "fulldisk" / "records.csv")
    write_csv(
        pd.concat(truth, ignore_index=True) if truth else pd.DataFrame(columns=REGION_COLUMNS),
        out / "truth" / "fulldisk_regions.csv",
        float_format="%.7g",
    )
    write_csv(
        pd.concat(days_all, ignore_index=True),
        out / "truth" / "fulldisk_days.csv",
        float_format="%.6g",
    )
    if write_flares:
        fl = pd.concat(flares_all, ignore_index=True)
        fl = fl.sort_values(["start_utc", "peak_flux_wm2"], kind="stable").reset_index(drop=True)
        for c in ("start_utc", "peak_utc", "end_utc"):
            fl[c] = to_iso_utc(pd.DatetimeIndex(fl[c]))
        write_csv(fl, out / "flares.csv")
    manifest = {
        "source": "synthetic",
        "fulldisk": FULLDISK_VERSION,
        "generator": GENERATOR_VERSION,
        "seed": params.seed,
        "parameters": dataclasses.asdict(params) | {"resolved": params.resolved()},
        "fulldisk_parameters": dataclasses.asdict(fd),
        "counts": {
            "records": int(len(rec)),
            "region_boxes": int(sum(len(t) for t in truth)),
        },
    }
    write_json(manifest, out / "fulldisk" / "manifest.json")
    return manifest
