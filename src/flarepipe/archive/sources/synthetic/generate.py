"""One region → FITS files and table rows; the whole archive; planted-cause masks of its records."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flarepipe.archive.layout import pixel_stats, write_pixels
from flarepipe.archive.sources.synthetic.images import (
    RegionTextures,
    patch_shape,
    render,
    scene_at,
    scene_cause_mask,
)
from flarepipe.archive.sources.synthetic.params import (
    GENERATOR_VERSION,
    INSTRUMENTS,
    InstrumentSpec,
    SyntheticParams,
)
from flarepipe.archive.sources.synthetic.regions import (
    plan_regions,
    region_geometry,
    simulate_region,
)
from flarepipe.core.flareclass import flux_to_class
from flarepipe.core.magnetic import activity_mask, compute_keywords
from flarepipe.core.timeutil import format_trec, tai_to_utc, to_iso_utc
from flarepipe.io.atomic import remove_stale_temporaries, sha256_file, write_csv, write_json
from flarepipe.io.fitsio import jsoc_filename, quantise, write_patch

__all__ = ["generate_archive", "cause_mask", "params_from_manifest", "render_sample"]


def _trec_tai(inst: InstrumentSpec, t_days: float) -> pd.Timestamp:
    start = pd.Timestamp(inst.start)
    minutes = int(round(t_days * 1440.0 / inst.native_step_min)) * inst.native_step_min
    return start + pd.Timedelta(minutes=minutes)


def _texture_seed(
    params: SyntheticParams, inst: InstrumentSpec, index: int, ny: int, nx: int
) -> list[int]:
    return [params.seed, 11 if inst.name == "HMI" else 21, index, ny, nx]


def _region_job(args) -> dict:
    params, inst_name, index, t_birth, span, region_number, noaa, out_dir, cadence = args
    inst = INSTRUMENTS[inst_name]
    reg = simulate_region(params, inst, index, t_birth, span)
    t = reg["t"]
    if t.size == 0:
        return {
            "records": [],
            "flares": [],
            "rates": [],
            "region": None,
            "spots": [],
            "sums": {},
            "pixels": [],
        }
    res = params.resolved()
    geo = region_geometry(params, reg)
    rng = np.random.default_rng([params.seed, 3 if inst_name == "HMI" else 4, index])
    nx0, ny0 = patch_shape(reg, geo, inst, res["max_patch_deg"])
    textures = {
        (ny0, nx0): RegionTextures(inst, ny0, nx0, _texture_seed(params, inst, index, ny0, nx0))
    }
    rows, rates, spots, sums, pixels = [], [], [], {}, []
    fits_dir = Path(out_dir) / "fits" / inst.series  # made, and cleaned, by generate_archive
    t_tai = [_trec_tai(inst, tt) for tt in t]
    t_utc = tai_to_utc(pd.DatetimeIndex(t_tai))
    region_id = f"{inst.prefix}{region_number}"
    for k in range(len(t)):
        rates.append(
            (
                region_id,
                t_utc[k],
                reg["rate_all"][k],
                reg["rate_c"][k],
                reg["rate_m"][k],
                reg["log_size"][k],
                reg["emergence"][k],
                float(reg["rotated"]),
                float(reg["delta"]),
            )
        )
    # NOAA-SRS-like daily truth: the first step of every UTC day
    day = t_utc.normalize()
    for k in np.flatnonzero(np.r_[True, day[1:] != day[:-1]]):
        sc = scene_at(reg, geo, int(k))
        spots.append(
            (
                region_id,
                to_iso_utc(t_utc[k]),
                float(reg["lat"]),
                float(reg["cmd"][k]),
                sc.spot_area_uhem,
                sum(s.area_uhem >= 2.0 for s in sc.spots),
                sc.mtwilson,
            )
        )
    noaa_str = ",".join(str(n) for n in noaa)
    for k in range(len(t)):
        minutes = (t_tai[k] - t_tai[k].normalize()).total_seconds() / 60.0
        if round(minutes) % cadence:
            continue
        nx, ny = nx0, ny0
        if rng.random() < params.p_size_jitter:
            nx += int(rng.choice([-1, 1]) * rng.integers(3, 9))
            ny += int(rng.choice([-1, 1]) * rng.integers(3, 9))
        if (ny, nx) not in textures:
            textures[(ny, nx)] = RegionTextures(
                inst, ny, nx, _texture_seed(params, inst, index, ny, nx)
            )
        scene = scene_at(reg, geo, k)
        bmap = render(scene, textures[(ny, nx)], float(reg["mu"][k]), float(t[k]), rng)
        if rng.random() < params.p_nan_pixels:
            r0 = int(rng.integers(0, max(1, ny - ny // 8)))
            bmap[r0 : r0 + max(1, ny // 8), :] = np.nan
        bmap = quantise(bmap, inst.bscale)
        kw = compute_keywords(bmap, inst.cdelt_deg, activity_mask(bmap, inst.cdelt_deg))
        quality = 0
        if inst_name == "MDI" and rng.random() < 0.3:
            quality |= 0x200  # benign, like the real SMARP record
        if rng.random() < params.p_bad_quality:
            quality |= int(rng.choice([0x10000, 0x20000, 0x400000, 0x80000000]))
        if inst_name == "HMI":
            dday = (t_tai[k] - pd.Timestamp("2010-01-01")).total_seconds() / 86400.0
            obs_vr = 3100.0 * math.sin(2 * math.pi * (dday % 1.0) + 0.7) + 520.0 * math.sin(
                2 * math.pi * dday / 365.25
            )
        else:
            dday = (t_tai[k] - pd.Timestamp("1996-01-01")).total_seconds() / 86400.0
            obs_vr = 480.0 * math.sin(2 * math.pi * dday / 365.25) + 150.0 * math.sin(
                2 * math.pi * dday / 180.0
            )
        trec = format_trec(t_tai[k])
        lon = float(reg["cmd"][k])
        lat = float(reg["lat"])
        cards = {
            "TELESCOP": inst.telescope,
            "INSTRUME": inst.instrume,
            "BUNIT": "Mx/cm^2",
            "T_REC": trec,
            inst.regkey: region_number,
            "NOAA_ARS": noaa_str,
            "NOAA_AR": noaa[0] if noaa else 0,
            "NOAA_NUM": len(noaa),
            "QUALITY": quality,
            "LAT_FWT": lat,
            "LON_FWT": lon,
            "OBS_VR": obs_vr,
            "CTYPE1": "CRLN-CEA",
            "CTYPE2": "CRLT-CEA",
            "CUNIT1": "degree",
            "CUNIT2": "degree",
            "CRPIX1": (nx + 1) / 2.0,
            "CRPIX2": (ny + 1) / 2.0,
            "CRVAL1": (lon + 180.0) % 360.0,
            "CRVAL2": lat,
            "CDELT1": inst.cdelt_deg,
            "CDELT2": inst.cdelt_deg,
            "RSUN_REF": 696000000.0,
            "USFLUXL": kw["USFLUXL"],
            "MEANGBL": kw["MEANGBL"],
            "R_VALUE": kw["R_VALUE"],
            "AREA": kw["AREA"],
            "ORIGIN": "flarepipe synthetic",
            "GENERATR": GENERATOR_VERSION,
        }
        name = jsoc_filename(inst.series, region_number, trec)
        rel = f"fits/{inst.series}/{name}"
        sums[rel] = write_patch(
            fits_dir / name, bmap, cards, bscale=inst.bscale, compress=params.compress, clean=False
        )
        pixels.append(pixel_stats(rel, bmap, fits_dir / name))  # quality need not read it back
        rows.append(
            {
                "series": inst.series,
                "instrument": inst.name,
                "region": region_number,
                "region_id": region_id,
                "t_rec": to_iso_utc(t_utc[k]),
                "t_rec_tai": trec,
                "noaa_ars": noaa_str,
                "quality": quality,
                "lat_fwt": lat,
                "lon_fwt": lon,
                "obs_vr": obs_vr,
                "usfluxl_mx": kw["USFLUXL"],
                "meangbl_g_per_px": kw["MEANGBL"],
                "r_value": kw["R_VALUE"],
                "area_uhem": kw["AREA"],
                "nx": nx,
                "ny": ny,
                "path": f"fits/{inst.series}/{name}",
            }
        )
    flares = []
    start_tai = pd.Timestamp(inst.start)
    for t0, tp, t1, peak, u in reg["flares"]:
        times = tai_to_utc(
            pd.DatetimeIndex([start_tai + pd.Timedelta(days=x) for x in (t0, tp, t1)])
        ).round("1min")
        if u < params.p_flare_no_region or not noaa:
            ar = None
        else:
            ar = noaa[int(u * 997) % len(noaa)]
        flares.append(
            {
                "start_utc": times[0],
                "peak_utc": times[1],
                "end_utc": times[2],
                "goes_class": flux_to_class(peak),
                "peak_flux_wm2": float(f"{peak:.3g}"),
                "noaa_ar": ar,
            }
        )
    summary = {
        "region_id": region_id,
        "instrument": inst.name,
        "lat": reg["lat"],
        "phi_max": reg["phi_max"],
        "rotated": reg["rotated"],
        "delta": reg["delta"],
        "anti_hale": reg["anti_hale"],
        "tilt_img": reg["tilt_img"],
        "n_secondary": len(reg["secondaries"]),
        "noaa_ars": noaa_str,
        "n_records": len(rows),
        "n_flares": len(flares),
        "nx": nx0,
        "ny": ny0,
        "rho_max_deg": math.degrees(reg["rho_max"]),
        "spot_fraction": geo["f_spot"],
    }
    return {
        "records": rows,
        "flares": flares,
        "rates": rates,
        "region": summary,
        "spots": spots,
        "sums": sums,
        "pixels": pixels,
    }


def generate_archive(
    out_dir: str | os.PathLike,
    params: SyntheticParams | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> dict:
    """Write the synthetic archive (layout: docs/FILES.md) and return its manifest.

    Besides the layout's files (``pixels.csv`` too: each file's NaN pixels and shape, measured on
    the array written, so that quality does not read it back), ``truth/`` holds the planted
    state: ``rates.csv`` (every region's flare rates at every native step), ``regions.csv`` (one
    row per region) and ``spots.csv`` (one row per region-day: spot area in μHem and Mt. Wilson
    class, as NOAA's region summaries).
    ``workers`` processes render regions in parallel; results are identical for any ``workers``.
    """
    params = params or SyntheticParams()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [j + (str(out), params.cadence_min) for j in plan_regions(params)]
    for name in sorted({job[1] for job in jobs}):
        # temporaries a killed run left, removed once here: the writers skip the per-file listing
        fits_dir = out / "fits" / INSTRUMENTS[name].series
        fits_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(fits_dir, ".fits.part")
    workers = workers or min(len(jobs), os.cpu_count() or 1) or 1
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            results = list(ex.map(_region_job, jobs, chunksize=1))
    else:
        results = [_region_job(j) for j in jobs]
    records = pd.DataFrame([r for res in results for r in res["records"]])
    if records.empty:
        raise ValueError(
            "synthetic archive came out empty: increase archive.synthetic.days or n_regions"
        )
    records = records.sort_values(["series", "region", "t_rec"], kind="stable").reset_index(
        drop=True
    )
    flares = pd.DataFrame([f for res in results for f in res["flares"]])
    flares = flares.sort_values(["start_utc", "peak_flux_wm2"], kind="stable").reset_index(
        drop=True
    )
    flares["noaa_ar"] = flares["noaa_ar"].astype("Int64")
    flares["region_missing"] = flares["noaa_ar"].isna()
    for c in ("start_utc", "peak_utc", "end_utc"):
        flares[c] = to_iso_utc(pd.DatetimeIndex(flares[c]))
    rates = pd.DataFrame(
        [r for res in results for r in res["rates"]],
        columns=[
            "region_id",
            "t_utc",
            "rate_all_per_day",
            "rate_c_per_day",
            "rate_m_per_day",
            "log_size",
            "emergence",
            "morphology",
            "delta",
        ],
    )
    rates["t_utc"] = to_iso_utc(pd.DatetimeIndex(rates["t_utc"]))
    regions = pd.DataFrame([res["region"] for res in results if res["region"]])
    spots = pd.DataFrame(
        [s for res in results for s in res["spots"]],
        columns=["region_id", "t_utc", "lat", "lon", "spot_area_uhem", "n_spots", "mtwilson"],
    )
    write_csv(records, out / "records.csv", float_format="%.7g")
    write_csv(flares, out / "flares.csv")
    write_csv(rates, out / "truth" / "rates.csv", float_format="%.6g")
    write_csv(regions, out / "truth" / "regions.csv", float_format="%.6g")
    write_csv(spots, out / "truth" / "spots.csv", float_format="%.6g")
    files = {
        p: sha256_file(out / p)
        for p in (
            "records.csv",
            "flares.csv",
            "truth/rates.csv",
            "truth/regions.csv",
            "truth/spots.csv",
        )
    }
    sums = {p: h for res in results for p, h in res["sums"].items()}
    fits_sums = {p: sums[p] for p in records["path"]}  # digests of the bytes as written
    manifest = {
        "source": "synthetic",
        "generator": GENERATOR_VERSION,
        "seed": params.seed,
        "parameters": dataclasses.asdict(params) | {"resolved": params.resolved()},
        "counts": {
            "records": int(len(records)),
            "flares": int(len(flares)),
            "regions": int(records["region_id"].nunique()),
            "flares_ge_M1": int((flares["peak_flux_wm2"] >= 1e-5).sum()),
            "flares_ge_C1": int((flares["peak_flux_wm2"] >= 1e-6).sum()),
        },
        "files": files,
        "fits": fits_sums,
    }
    pixels = {r["path"]: r for res in results for r in res["pixels"]}
    write_pixels((pixels[p] for p in records["path"]), out / "pixels.csv")
    write_json(manifest, out / "manifest.json")
    return manifest


def render_sample(
    params: SyntheticParams,
    instrument: str,
    n_records: int,
    seed: int = 0,
    max_lon_deg: float = 70.0,
) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Render ``n_records`` random records of an archive's plan in memory, without writing files.

    Records are drawn uniformly over the (region, 96-minute step) pairs of ``instrument`` within
    ``max_lon_deg`` of central meridian whose region has a NOAA number, as the real keyword tables'
    rows are; each is rendered and its keywords computed as :func:`generate_archive` does (same
    geometry and textures; the noise and bad-record draws differ). For realism checks and
    calibration at any scale without the archive's disk and time.

    Returns
    -------
    (pandas.DataFrame, list of numpy.ndarray)
        Rows with the record columns a realism check needs (``instrument``, ``region_id``,
        ``quality``, ``lon_fwt``, ``noaa_ars``, the four keyword columns, ``nx``, ``ny``) plus
        ``phi`` (rendered total flux), ``mtwilson`` and ``spot_area_uhem``; and the maps.
    """
    inst = INSTRUMENTS[instrument]
    res = params.resolved()
    rng = np.random.default_rng([seed, 99])
    every = max(1, params.cadence_min // inst.native_step_min)
    regs, pool = {}, []
    for job in plan_regions(params):
        if job[1] != instrument or not job[6]:
            continue
        reg = simulate_region(params, inst, job[2], job[3], job[4])
        ok = np.flatnonzero(
            (np.abs(reg["cmd"]) <= max_lon_deg) & (np.arange(len(reg["t"])) % every == 0)
        )
        if ok.size:
            regs[job[2]] = (reg, job[5])
            pool += [(job[2], int(k)) for k in ok]
    if not pool:
        return pd.DataFrame(), []
    pick = sorted(pool[i] for i in rng.choice(len(pool), min(n_records, len(pool)), replace=False))
    rows, maps = [], []
    for index in sorted({p[0] for p in pick}):
        reg, number = regs[index]
        geo = region_geometry(params, reg)
        nx, ny = patch_shape(reg, geo, inst, res["max_patch_deg"])
        tex = RegionTextures(inst, ny, nx, _texture_seed(params, inst, index, ny, nx))
        for _, k in (p for p in pick if p[0] == index):
            scene = scene_at(reg, geo, k)
            bmap = quantise(
                render(
                    scene,
                    tex,
                    float(reg["mu"][k]),
                    float(reg["t"][k]),
                    np.random.default_rng([seed, index, k]),
                ),
                inst.bscale,
            )
            kw = compute_keywords(bmap, inst.cdelt_deg, activity_mask(bmap, inst.cdelt_deg))
            rows.append(
                {
                    "instrument": instrument,
                    "region_id": f"{inst.prefix}{number}",
                    "quality": 0,
                    "lon_fwt": float(reg["cmd"][k]),
                    "noaa_ars": "1",
                    "usfluxl_mx": kw["USFLUXL"],
                    "meangbl_g_per_px": kw["MEANGBL"],
                    "r_value": kw["R_VALUE"],
                    "area_uhem": kw["AREA"],
                    "nx": nx,
                    "ny": ny,
                    "phi": float(reg["phi"][k]),
                    "mtwilson": scene.mtwilson,
                    "spot_area_uhem": scene.spot_area_uhem,
                }
            )
            maps.append(bmap)
    return pd.DataFrame(rows), maps


# --------------------------------------------------------------------------------------------------
# planted-cause masks


def params_from_manifest(
    manifest: Mapping[str, Any], where: str = "manifest.json"
) -> SyntheticParams:
    """The :class:`SyntheticParams` a synthetic archive was made with (its ``manifest.json``)."""
    if manifest.get("source") != "synthetic":
        raise ValueError(
            f"{where}: planted causes exist only for synthetic archives "
            f"(source is {manifest.get('source')!r})"
        )
    if manifest.get("generator") != GENERATOR_VERSION:
        raise ValueError(
            f"{where}: archive made by {manifest.get('generator')!r}, this flarepipe's "
            f"generator is {GENERATOR_VERSION!r}; regenerate the archive to recompute "
            "its planted causes"
        )
    fields = {f.name for f in dataclasses.fields(SyntheticParams)}
    given = {k: v for k, v in manifest.get("parameters", {}).items() if k in fields}
    if "instruments" in given:
        given["instruments"] = tuple(given["instruments"])
    return SyntheticParams(**given)


@functools.lru_cache(maxsize=8)
def _manifest(path: str) -> dict:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: archive manifest not found")
    return json.loads(p.read_text())


@functools.lru_cache(maxsize=64)
def _region_state(manifest_path: str, inst_name: str, number: int) -> tuple[dict, dict, list, list]:
    params = params_from_manifest(_manifest(manifest_path), manifest_path)
    for job in plan_regions(params):
        _, name, index, t_birth, span, num, _ = job
        if name == inst_name and int(num) == number:
            inst = INSTRUMENTS[name]
            reg = simulate_region(params, inst, index, t_birth, span)
            tai = [_trec_tai(inst, t) for t in reg["t"]]
            trecs = [format_trec(t) for t in tai]
            utc = list(tai_to_utc(pd.DatetimeIndex(tai))) if tai else []
            return reg, region_geometry(params, reg), trecs, utc
    raise ValueError(
        f"{manifest_path}: no {inst_name} region {number} in the synthetic archive's plan"
    )


def cause_mask(archive_dir: str | os.PathLike, record: Mapping) -> np.ndarray:
    """Planted-cause mask of one record of a synthetic archive, on the record's pixel grid.

    Recomputed from the generator's seed and truth (``manifest.json``); True on the rotated
    (non-Joy) main bipole's inversion-line band and on the delta-spot cores (see
    :func:`flarepipe.archive.sources.synthetic.images.scene_cause_mask`), empty for a region with
    neither.

    Parameters
    ----------
    archive_dir
        The archive folder.
    record
        One row of ``records.csv`` (a mapping): ``region_id`` (or ``instrument`` and ``region``),
        ``t_rec_tai`` or ``t_rec`` (UTC), ``nx``, ``ny``.

    Returns
    -------
    numpy.ndarray
        bool ``[ny, nx]``.

    Raises
    ------
    ValueError
        The archive is not synthetic or came from another generator version, or the record is not a
        time step of its region (each named).
    """
    manifest_path = str(Path(archive_dir).resolve() / "manifest.json")
    rid = str(record.get("region_id", "") or "")
    prefixes = {i.prefix: i for i in INSTRUMENTS.values()}
    if rid[:4] in prefixes and rid[4:].isdigit():
        inst, number = prefixes[rid[:4]], int(rid[4:])
    else:
        try:
            inst, number = INSTRUMENTS[str(record["instrument"])], int(record["region"])
        except (KeyError, ValueError) as exc:
            raise ValueError(
                f"{archive_dir}: record {dict(record)!r} names no synthetic region "
                "(needs region_id, or instrument and region)"
            ) from exc
    reg, geo, trecs, utc = _region_state(manifest_path, inst.name, number)
    key = record.get("t_rec_tai")
    k = None
    if key is not None and str(key) in trecs:
        k = trecs.index(str(key))
    elif record.get("t_rec") is not None:
        want = pd.Timestamp(record["t_rec"])
        want = want.tz_convert(None) if want.tzinfo else want
        diffs = [abs((u - want).total_seconds()) for u in utc]
        if diffs and min(diffs) < 1.0:
            k = int(np.argmin(diffs))
    if k is None:
        raise ValueError(
            f"{archive_dir}: record at {key or record.get('t_rec')} of {inst.prefix}{number} "
            "is not a time step of the planted region"
        )
    return scene_cause_mask(scene_at(reg, geo, k), inst, int(record["nx"]), int(record["ny"]))
