"""How much an archive resembles the real one: keywords, pixels, regions, flares, sample rates.

Compares any archive (the workflow's, whatever its source) with the real references of
``../shared/data/real`` (docs in its README):

- keyword distributions per instrument (USFLUXL, MEANGBL, R_VALUE, AREA) against the real SHARP and
  SMARP keyword tables of Sun et al. (2022): median, 90th percentile and the two-sample KS
  statistic, on the archive's records that the tables' rows correspond to (good quality, within 70°
  of central meridian, with a NOAA number);
- pixel statistics of patches (max |B|, fractions above 100 G and 1 kG, radial power spectrum)
  against the real HARP 377 and TARP 13520 files; fractions and spectra on the patches near disk
  centre (|LON_FWT| ≤ 45°) whose four keywords are nearest the real record's;
- sunspot areas and Mt. Wilson classes per region-day against NOAA's region summaries (synthetic
  archives only: they come from ``truth/spots.csv``);
- flare productivity (flares per region-day by class, fraction of regions with any ≥ M1.0) against
  the real GOES list mapped to HARPs, for this archive and, for a synthetic one, for the same
  generator with a quiet-Sun intercept (``c0 = -1.8``, the ``small``/``large`` scales) when the
  archive's own is flare-rich on purpose;
- the S1 sample event rate against the published counts (Sun et al. 2022).

:data:`TARGETS` are the acceptance bounds of issue 18 (keyword medians/p90 within 25%, KS ≤ 0.15,
max |B| p90 ≤ 4 kG, pixel fractions within a factor 1.5); :func:`realism_report` writes the table of
distances (with the bound and whether it holds), a Markdown summary and the figures.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from flarepipe.archive.layout import load_archive
from flarepipe.core.keywords import KEYWORD_COLUMNS, keyword
from flarepipe.core.keywords import KEYWORDS as _SPECS
from flarepipe.core.magnetic import compute_keywords, pixel_size_mm
from flarepipe.io.atomic import atomic_path, write_csv
from flarepipe.io.fitsio import read_patch

__all__ = [
    "TARGETS",
    "REPORT_FILES",
    "REAL_PATCHES",
    "PUBLISHED_S1_COUNTS",
    "RealReferences",
    "load_references",
    "comparable_records",
    "keyword_distances",
    "patch_statistics",
    "map_statistics",
    "pixel_distances",
    "radial_power_spectrum",
    "region_distances",
    "flare_productivity",
    "real_flare_productivity",
    "event_rates",
    "realism_report",
    "patch_figure",
    "pair_figure",
]

#: acceptance bounds (issue 18)
TARGETS = {"keyword_rel": 0.25, "keyword_ks": 0.15, "max_abs_b_p90": 4000.0, "pixel_factor": 1.5}

#: the real single records compared pixel by pixel, per instrument (files under ``fits/``)
REAL_PATCHES = {
    "HMI": ("sharp", "hmi.sharp_cea_720s.377.20110215_020000_TAI"),
    "MDI": ("smarp", "mdi.smarp_cea_96m.13520.20100714_124800_TAI"),
}

#: files :func:`realism_report` writes into its folder
REPORT_FILES = {
    "table": "distances.csv",
    "markdown": "realism.md",
    "keywords": "keywords.png",
    "pixels": "pixels.png",
    "regions": "regions_flares.png",
    "patch": "patch_vs_real.png",
}

#: S1 positives/negatives after all selections (Sun et al. 2022)
PUBLISHED_S1_COUNTS = {"HMI": (2849, 66349), "MDI": (4601, 130695)}

#: archive column -> JSOC keyword name (flarepipe.core.keywords)
_KW_NAMES = {k.column: k.jsoc for k in _SPECS}
_CLASSES = {"C": 1e-6, "M": 1e-5, "X": 1e-4}
_MTWILSON = ["ALPHA", "BETA", "BETA-GAMMA", "BETA-DELTA", "BETA-GAMMA-DELTA"]
_K_BINS = np.logspace(np.log10(0.008), np.log10(1.4), 16)  # cycles per Mm
_QUIET_C0 = -1.8


# --------------------------------------------------------------------------------------------------
# real references


@dataclasses.dataclass
class RealReferences:
    """The real tables and files the report compares with (any may be ``None`` when absent)."""

    root: Path
    keywords: pd.DataFrame | None
    patches: dict
    srs: pd.DataFrame | None
    goes: pd.DataFrame | None
    harp_noaa: dict | None

    @property
    def missing(self) -> list[str]:
        """Names of the references not found."""
        out = [n for n in ("keywords", "srs", "goes", "harp_noaa") if getattr(self, n) is None]
        return out + [f"fits {i}" for i in REAL_PATCHES if i not in self.patches]


def _read_keyword_tables(root: Path) -> pd.DataFrame | None:
    frames = []
    for prefix, inst in (("sharp", "HMI"), ("smarp", "MDI")):
        files = sorted((root / "keywords").glob(f"{prefix}_*.csv"))
        for f in files:
            df = pd.read_csv(
                f, usecols=["arpnum", "t_end", "label", *(k.table_column for k in _SPECS)]
            )
            df["instrument"] = inst
            frames.append(df)
    if not frames:
        return None
    df = pd.concat(frames, ignore_index=True)
    return df.rename(columns={**{k.table_column: k.column for k in _SPECS}, "arpnum": "region"})


def load_references(root: str | os.PathLike) -> RealReferences:
    """Read the real references under ``root`` (``../shared/data/real``); absent parts are ``None``.

    Raises ``ValueError`` naming the file when a present file cannot be parsed.
    """
    root = Path(root)
    keywords = _read_keyword_tables(root) if (root / "keywords").is_dir() else None
    patches = {}
    for inst, (sub, stem) in REAL_PATCHES.items():
        mag = root / "fits" / sub / f"{stem}.magnetogram.fits"
        if mag.exists():
            data, hdr = read_patch(mag)
            patches[inst] = {
                "map": data,
                "cdelt": float(hdr["CDELT1"]),
                "name": mag.name,
                "lon": float(hdr.get("LON_FWT", 0.0)),
            }
    srs_file = root / "srs" / "srs_regions_1996_2018.csv"
    srs = None
    if srs_file.exists():
        srs = pd.read_csv(srs_file)
        if not {"AREA", "MAGTYPE", "ar_noaanum"} <= set(srs.columns):
            raise ValueError(f"{srs_file}: expected columns AREA, MAGTYPE, ar_noaanum")
        srs["AREA"] = pd.to_numeric(srs["AREA"], errors="coerce")
    goes_file = root / "goes" / "goes_events_1995_2024.txt"
    goes = None
    if goes_file.exists():
        g = pd.read_csv(
            goes_file,
            sep=";",
            header=None,
            names=["start", "peak", "end", "ar", "goes_class", "location"],
        )
        g["start"] = pd.to_datetime(g["start"], errors="coerce")
        g["noaa_ar"] = pd.to_numeric(
            g["ar"].astype(str).str.replace("AR", "", regex=False), errors="coerce"
        )
        g["peak_flux_wm2"] = g["goes_class"].map(_class_flux)
        goes = g.dropna(subset=["start", "noaa_ar", "peak_flux_wm2"])
    map_file = root / "keywords" / "harp_noaa_map.txt"
    harp_noaa = None
    if map_file.exists():
        harp_noaa = {}
        for line in map_file.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0].isdigit():
                harp_noaa[int(parts[0])] = [
                    int(x) for x in parts[1].split(",") if x.strip().isdigit()
                ]
    return RealReferences(root, keywords, patches, srs, goes, harp_noaa)


def _class_flux(cls: object) -> float:
    s = str(cls).strip().upper()
    base = {"A": 1e-8, "B": 1e-7, "C": 1e-6, "M": 1e-5, "X": 1e-4}.get(s[:1])
    try:
        return base * float(s[1:]) if base else math.nan
    except ValueError:
        return math.nan


# --------------------------------------------------------------------------------------------------
# keywords


def comparable_records(records: pd.DataFrame, max_lon_deg: float = 70.0) -> pd.DataFrame:
    """Records of the kind the real keyword tables hold: QUALITY < 0x10000, |LON| ≤ 70°, NOAA,
    finite.
    """
    ok = (records["quality"].astype("int64") < 0x10000) & (records["lon_fwt"].abs() <= max_lon_deg)
    ok &= records["noaa_ars"].fillna("").astype(str).str.strip().ne("")
    ok &= np.isfinite(records[list(KEYWORD_COLUMNS)]).all(axis=1)
    return records[ok]


def keyword_distances(records: pd.DataFrame, real: pd.DataFrame) -> pd.DataFrame:
    """Median, p90 and KS statistic of each keyword per instrument, synthetic against real.

    Returns one row per (instrument, keyword): ``real_median``, ``real_p90``, ``median``, ``p90``,
    their relative differences ``rel_median``/``rel_p90``, the KS statistic ``ks``, the row counts.
    """
    rows = []
    sel = comparable_records(records)
    for inst in ("HMI", "MDI"):
        a = sel[sel["instrument"] == inst]
        b = real[real["instrument"] == inst]
        if a.empty or b.empty:
            continue
        for kw in KEYWORD_COLUMNS:
            x, y = a[kw].to_numpy(float), b[kw].dropna().to_numpy(float)
            med, p90 = float(np.median(x)), float(np.percentile(x, 90))
            rmed, rp90 = float(np.median(y)), float(np.percentile(y, 90))
            rows.append(
                {
                    "instrument": inst,
                    "keyword": _KW_NAMES[kw],
                    "real_median": rmed,
                    "real_p90": rp90,
                    "median": med,
                    "p90": p90,
                    "rel_median": med / rmed - 1.0 if rmed else math.nan,
                    "rel_p90": p90 / rp90 - 1.0 if rp90 else math.nan,
                    "ks": float(stats.ks_2samp(x, y).statistic),
                    "n": len(x),
                    "n_real": len(y),
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# pixels


def radial_power_spectrum(bmap: np.ndarray, cdelt_deg: float) -> np.ndarray:
    """Azimuthally averaged power spectrum on the fixed wavenumber bins (cycles/Mm), normalised.

    The map (NaN → 0, mean removed) is tapered by a Hann window, its 2-D power averaged in the
    bins of ``_K_BINS`` and divided by the sum over bins; NaN where a bin holds no wavenumber.
    """
    b = np.nan_to_num(np.asarray(bmap, dtype=np.float64))
    b = b - b.mean()
    ny, nx = b.shape
    b = b * np.outer(np.hanning(ny), np.hanning(nx))
    p = np.abs(np.fft.rfft2(b)) ** 2
    ky = np.fft.fftfreq(ny)[:, None]
    kx = np.fft.rfftfreq(nx)[None, :]
    k = np.hypot(kx, ky) / pixel_size_mm(cdelt_deg)
    idx = np.digitize(k.ravel(), _K_BINS)
    sums = np.bincount(idx, weights=p.ravel(), minlength=len(_K_BINS) + 1)[1 : len(_K_BINS)]
    counts = np.bincount(idx, minlength=len(_K_BINS) + 1)[1 : len(_K_BINS)]
    with np.errstate(invalid="ignore", divide="ignore"):
        spec = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return spec / np.nansum(spec)


def _pixel_row(bmap: np.ndarray, cdelt: float) -> dict:
    a = np.abs(bmap[np.isfinite(bmap)])
    return {
        "max_abs_b": float(a.max()) if a.size else math.nan,
        "frac_100g": float((a > 100).mean()) if a.size else math.nan,
        "frac_1kg": float((a > 1000).mean()) if a.size else math.nan,
        "spectrum": radial_power_spectrum(bmap, cdelt),
    }


def map_statistics(records: pd.DataFrame, maps: list, cdelt: dict | None = None) -> pd.DataFrame:
    """Pixel statistics of in-memory maps (one per row of ``records``), as :func:`patch_statistics`.

    ``cdelt`` maps instrument to pixel size (default HMI 0.03°, MDI 0.12°).
    """
    cdelt = cdelt or {"HMI": 0.03, "MDI": 0.12}
    rows = []
    for r, m in zip(records.to_dict("records"), maps, strict=True):
        rows.append(
            {
                "instrument": r["instrument"],
                "region_id": r["region_id"],
                "lon_fwt": r["lon_fwt"],
                "usfluxl_mx": r["usfluxl_mx"],
                "area_uhem": r["area_uhem"],
                "meangbl_g_per_px": r["meangbl_g_per_px"],
                "r_value": r["r_value"],
                "path": "",
                **_pixel_row(m, cdelt[r["instrument"]]),
            }
        )
    return pd.DataFrame(rows)


def patch_statistics(
    archive_dir: str | os.PathLike,
    records: pd.DataFrame,
    n_per_instrument: int = 300,
    seed: int = 0,
) -> pd.DataFrame:
    """Pixel statistics of up to ``n_per_instrument`` random comparable patches per instrument.

    Columns: the record's ``instrument``, ``region_id``, ``lon_fwt``, ``usfluxl_mx``, ``path`` and
    ``max_abs_b``, ``frac_100g``, ``frac_1kg``, ``spectrum`` (an array,
    :func:`radial_power_spectrum`).
    """
    sel = comparable_records(records)
    rows = []
    for inst, grp in sel.groupby("instrument"):
        take = grp.sample(min(n_per_instrument, len(grp)), random_state=seed) if len(grp) else grp
        for r in take.itertuples():
            data, hdr = read_patch(Path(archive_dir) / r.path)
            rows.append(
                {
                    "instrument": inst,
                    "region_id": r.region_id,
                    "lon_fwt": r.lon_fwt,
                    "usfluxl_mx": r.usfluxl_mx,
                    "area_uhem": r.area_uhem,
                    "meangbl_g_per_px": r.meangbl_g_per_px,
                    "r_value": r.r_value,
                    "path": r.path,
                    **_pixel_row(data, float(hdr["CDELT1"])),
                }
            )
    return pd.DataFrame(rows)


def _matched(
    patches: pd.DataFrame, inst: str, real_kw: dict, k: int = 15, max_lon: float = 45.0
) -> pd.DataFrame:
    """The ``k`` patches near disk centre whose four keywords are nearest the real record's.

    Distance in (log USFLUXL, log AREA, MEANGBL, R_VALUE), each scaled by its spread over the
    sampled patches of the instrument.
    """
    p = patches[(patches["instrument"] == inst) & (patches["lon_fwt"].abs() <= max_lon)]
    p = p[(p["usfluxl_mx"] > 0) & (p["area_uhem"] > 0)]
    if p.empty:
        return p
    cols = {
        "usfluxl_mx": np.log10,
        "area_uhem": np.log10,
        "meangbl_g_per_px": None,
        "r_value": None,
    }
    real = {
        "usfluxl_mx": real_kw["USFLUXL"],
        "area_uhem": real_kw["AREA"],
        "meangbl_g_per_px": real_kw["MEANGBL"],
        "r_value": real_kw["R_VALUE"],
    }
    d2 = np.zeros(len(p))
    for c, f in cols.items():
        x = f(p[c].to_numpy(float)) if f else p[c].to_numpy(float)
        r = f(real[c]) if f else real[c]
        d2 += ((x - r) / max(float(np.std(x)), 1e-9)) ** 2
    return p.iloc[np.argsort(d2)[:k]]


def pixel_distances(patches: pd.DataFrame, refs: RealReferences) -> pd.DataFrame:
    """Pixel statistics of the archive's patches against the real records, per instrument.

    ``max_abs_b`` median and p90 over all sampled patches (the real value is the real record's);
    ``frac_100g``/``frac_1kg`` medians over the 15 patches near disk centre (|LON| ≤ 45°) whose
    keywords are nearest the real record's (:func:`_matched`), and their ratio to the real
    record's; ``spectrum_rms_dex``: RMS over wavenumber bins of ``log10`` of the ratio of the
    keyword-matched mean spectrum to the real one; ``spectrum_slope``/``real_spectrum_slope`` the
    log-log slopes over 0.03–0.4 cycles/Mm.
    """
    rows = []
    k = np.sqrt(_K_BINS[1:] * _K_BINS[:-1])
    band = (k >= 0.03) & (k <= 0.4)
    for inst in ("HMI", "MDI"):
        p = patches[patches["instrument"] == inst]
        if p.empty:
            continue
        real = refs.patches.get(inst)
        row = {
            "instrument": inst,
            "n": len(p),
            "max_abs_b_median": float(p["max_abs_b"].median()),
            "max_abs_b_p90": float(p["max_abs_b"].quantile(0.9)),
            "max_abs_b_max": float(p["max_abs_b"].max()),
        }
        if real is not None:
            r = _pixel_row(real["map"], real["cdelt"])
            kw = compute_keywords(real["map"], real["cdelt"])
            flux = kw["USFLUXL"]
            m = _matched(patches, inst, kw)
            row.update(
                {
                    "real_file": real["name"],
                    "real_usfluxl": flux,
                    "n_matched": len(m),
                    "real_max_abs_b": r["max_abs_b"],
                    "real_frac_100g": r["frac_100g"],
                    "frac_100g": float(m["frac_100g"].median()),
                    "real_frac_1kg": r["frac_1kg"],
                    "frac_1kg": float(m["frac_1kg"].median()),
                }
            )
            row["ratio_100g"] = row["frac_100g"] / row["real_frac_100g"]
            row["ratio_1kg"] = (
                row["frac_1kg"] / row["real_frac_1kg"] if row["real_frac_1kg"] else math.nan
            )
            with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # bins no patch reaches stay NaN
                spec = np.exp(np.nanmean(np.log(np.vstack(m["spectrum"].to_numpy())), axis=0))
            ok = np.isfinite(spec) & np.isfinite(r["spectrum"]) & (spec > 0) & (r["spectrum"] > 0)
            row["spectrum_rms_dex"] = float(
                np.sqrt(np.mean(np.log10(spec[ok] / r["spectrum"][ok]) ** 2))
            )
            for name, s in (("spectrum_slope", spec), ("real_spectrum_slope", r["spectrum"])):
                okb = band & np.isfinite(s) & (s > 0)
                row[name] = (
                    float(np.polyfit(np.log10(k[okb]), np.log10(s[okb]), 1)[0])
                    if okb.sum() > 2
                    else math.nan
                )
            row["spectrum"], row["real_spectrum"] = spec, r["spectrum"]
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# regions, flares, samples


def region_distances(spots: pd.DataFrame, srs: pd.DataFrame, max_lon: float = 60.0) -> pd.DataFrame:
    """Sunspot-group area (μHem) and Mt. Wilson class frequencies per region-day, against NOAA SRS.

    Synthetic region-days with spots within ``max_lon`` of central meridian against SRS rows (which
    list spotted regions only).
    """
    s = spots[(spots["lon"].abs() <= max_lon) & (spots["mtwilson"].fillna("") != "")]
    r = srs.dropna(subset=["AREA"])
    rows = [
        {
            "statistic": "spot area median (μHem)",
            "real": float(r["AREA"].median()),
            "synthetic": float(s["spot_area_uhem"].median()) if len(s) else math.nan,
        },
        {
            "statistic": "spot area p90 (μHem)",
            "real": float(r["AREA"].quantile(0.9)),
            "synthetic": float(s["spot_area_uhem"].quantile(0.9)) if len(s) else math.nan,
        },
    ]
    rc = r["MAGTYPE"].value_counts(normalize=True)
    sc = s["mtwilson"].value_counts(normalize=True)
    for cls in _MTWILSON:
        rows.append(
            {
                "statistic": f"class {cls} (fraction of region-days)",
                "real": float(rc.get(cls, 0.0)),
                "synthetic": float(sc.get(cls, 0.0)),
            }
        )
    out = pd.DataFrame(rows)
    out["n_real"], out["n_synthetic"] = len(r), len(s)
    return out


def _noaa_list(value: object) -> list[int]:
    """NOAA numbers of a ``noaa_ars`` cell ("11158,11159"); 0 and blanks dropped."""
    out = []
    for part in (
        str(value if value is not None else "").replace(";", ",").replace(" ", ",").split(",")
    ):
        part = part.strip()
        if part.isdigit() and int(part) > 0:
            out.append(int(part))
    return out


def _productivity(coverage: pd.DataFrame, flares: pd.DataFrame) -> dict:
    """Flares per region-day by class and the fraction of regions with any ≥ M1.0.

    ``coverage``: one row per region with ``noaa`` (list), ``first``, ``last``, ``days``;
    ``flares``: ``start``, ``noaa_ar``, ``peak_flux_wm2``.
    """
    by_ar = {ar: g for ar, g in flares.groupby("noaa_ar")}
    counts = {c: 0 for c in _CLASSES}
    with_m = 0
    for cov in coverage.itertuples():
        parts = [by_ar[a] for a in cov.noaa if a in by_ar]
        if not parts:
            continue
        f = pd.concat(parts)
        f = f[(f["start"] >= cov.first) & (f["start"] <= cov.last)]
        for c, lim in _CLASSES.items():
            counts[c] += int((f["peak_flux_wm2"] >= lim).sum())
        with_m += bool((f["peak_flux_wm2"] >= 1e-5).any())
    days = float(coverage["days"].sum())
    out = {
        f"flares_ge_{c}1_per_region_day": counts[c] / days if days else math.nan for c in _CLASSES
    }
    out["frac_regions_ge_M1"] = with_m / len(coverage) if len(coverage) else math.nan
    out["regions"], out["region_days"] = len(coverage), days
    return out


def flare_productivity(
    records: pd.DataFrame, flares: pd.DataFrame, step_min: float = 96.0
) -> pd.DataFrame:
    """Flare productivity of an archive per instrument, over the records the real tables would
    hold.
    """
    sel = comparable_records(records)
    fl = flares.rename(columns={"start_utc": "start"})[
        ["start", "noaa_ar", "peak_flux_wm2"]
    ].dropna()
    fl = fl.astype({"noaa_ar": "int64"})
    rows = []
    for inst, grp in sel.groupby("instrument"):
        cov = grp.groupby("region_id").agg(
            noaa=("noaa_ars", "first"),
            first=("t_rec", "min"),
            last=("t_rec", "max"),
            n=("t_rec", "size"),
        )
        cov["noaa"] = [_noaa_list(v) for v in cov["noaa"]]
        cov["days"] = cov["n"] * step_min / 1440.0
        cov["last"] = cov["last"] + pd.Timedelta(minutes=step_min)
        rows.append({"instrument": inst, **_productivity(cov, fl)})
    return pd.DataFrame(rows)


def real_flare_productivity(refs: RealReferences, step_min: float = 96.0) -> dict | None:
    """Flare productivity of the real HARPs: GOES events of their NOAA regions while in the
    tables.
    """
    if refs.keywords is None or refs.goes is None or refs.harp_noaa is None:
        return None
    k = refs.keywords[refs.keywords["instrument"] == "HMI"].copy()
    k["t_end"] = pd.to_datetime(k["t_end"])
    cov = k.groupby("region").agg(
        first=("t_end", "min"), last=("t_end", "max"), n=("t_end", "size")
    )
    cov["noaa"] = [refs.harp_noaa.get(int(h), []) for h in cov.index]
    cov["days"] = cov["n"] * step_min / 1440.0
    cov["last"] = cov["last"] + pd.Timedelta(minutes=step_min)
    fl = refs.goes[["start", "noaa_ar", "peak_flux_wm2"]].astype({"noaa_ar": "int64"})
    return {"instrument": "HMI", **_productivity(cov, fl)}


def quiet_sun_productivity(
    manifest: dict, n_regions: int = 400, days: float = 600.0, c0: float = _QUIET_C0
) -> pd.DataFrame | None:
    """Flare productivity of the archive's generator with the quiet-Sun intercept ``c0``.

    Simulates only the latent region process (no images) of a synthetic archive's parameters with
    ``c0`` and the given size; ``None`` for other archives.
    """
    if manifest.get("source") != "synthetic":
        return None
    from flarepipe.archive.sources.synthetic import (
        INSTRUMENTS,
        SyntheticParams,
        params_from_manifest,
        plan_regions,
        simulate_region,
    )
    from flarepipe.archive.sources.synthetic.generate import _trec_tai
    from flarepipe.core.timeutil import tai_to_utc

    base = params_from_manifest(manifest)
    params = SyntheticParams(
        **{
            **dataclasses.asdict(base),
            "instruments": tuple(base.instruments),
            "n_regions": n_regions,
            "days": days,
            "c0": c0,
        }
    )
    rows = []
    for inst_name in params.instruments:
        inst = INSTRUMENTS[inst_name]
        cov, fl = [], []
        for job in plan_regions(params):
            if job[1] != inst_name:
                continue
            reg = simulate_region(params, inst, job[2], job[3], job[4])
            keep = np.abs(reg["cmd"]) <= 70.0
            if not keep.any() or not job[6]:
                continue
            t = reg["t"][keep]
            every = max(1, 96 // inst.native_step_min)
            t = t[::every]
            first, last = tai_to_utc(pd.DatetimeIndex([_trec_tai(inst, x) for x in (t[0], t[-1])]))
            cov.append(
                {
                    "noaa": [int(job[6][0])],
                    "first": first,
                    "last": last + pd.Timedelta(minutes=96),
                    "days": len(t) * 96 / 1440.0,
                }
            )
            start = pd.Timestamp(inst.start)
            for f in reg["flares"]:
                fl.append(
                    {
                        "start": tai_to_utc(pd.DatetimeIndex([start + pd.Timedelta(days=f[0])]))[0],
                        "noaa_ar": int(job[6][0]),
                        "peak_flux_wm2": f[3],
                    }
                )
        rows.append(
            {
                "instrument": inst_name,
                "c0": c0,
                **_productivity(
                    pd.DataFrame(cov),
                    pd.DataFrame(fl, columns=["start", "noaa_ar", "peak_flux_wm2"]),
                ),
            }
        )
    return pd.DataFrame(rows)


def event_rates(samples: pd.DataFrame) -> pd.DataFrame:
    """S1 positives, negatives and event rate per instrument, with the published ones (Sun et
    al.).
    """
    rows = []
    for inst, grp in samples.groupby("instrument"):
        pos = int((grp["label"].astype(int) == 1).sum())
        neg = int((grp["label"].astype(int) == 0).sum())
        ppos, pneg = PUBLISHED_S1_COUNTS.get(inst, (0, 0))
        rows.append(
            {
                "instrument": inst,
                "positives": pos,
                "negatives": neg,
                "event_rate": pos / max(pos + neg, 1),
                "published_positives": ppos,
                "published_negatives": pneg,
                "published_event_rate": ppos / (ppos + pneg) if ppos + pneg else math.nan,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# the report


def _distance_table(
    kw: pd.DataFrame,
    px: pd.DataFrame,
    reg: pd.DataFrame | None,
    prod: pd.DataFrame,
    real_prod: dict | None,
    quiet: pd.DataFrame | None,
    rates: pd.DataFrame | None,
) -> pd.DataFrame:
    rows = []

    def add(section, inst, statistic, real, synthetic, distance=math.nan, target="", ok=None):
        rows.append(
            {
                "section": section,
                "instrument": inst,
                "statistic": statistic,
                "real": real,
                "synthetic": synthetic,
                "distance": distance,
                "target": target,
                "pass": "" if ok is None else ("yes" if ok else "NO"),
            }
        )

    t = TARGETS
    for r in kw.itertuples():
        add(
            "keywords",
            r.instrument,
            f"{r.keyword} median",
            r.real_median,
            r.median,
            r.rel_median,
            f"|rel| <= {t['keyword_rel']}",
            abs(r.rel_median) <= t["keyword_rel"],
        )
        add(
            "keywords",
            r.instrument,
            f"{r.keyword} p90",
            r.real_p90,
            r.p90,
            r.rel_p90,
            f"|rel| <= {t['keyword_rel']}",
            abs(r.rel_p90) <= t["keyword_rel"],
        )
        add(
            "keywords",
            r.instrument,
            f"{r.keyword} KS",
            math.nan,
            math.nan,
            r.ks,
            f"<= {t['keyword_ks']}",
            r.ks <= t["keyword_ks"],
        )
    for r in px.to_dict("records"):
        inst = r["instrument"]
        add(
            "pixels",
            inst,
            "max |B| p90 (G)",
            r.get("real_max_abs_b", math.nan),
            r["max_abs_b_p90"],
            math.nan,
            f"<= {t['max_abs_b_p90']:.0f}",
            r["max_abs_b_p90"] <= t["max_abs_b_p90"],
        )
        add(
            "pixels",
            inst,
            "max |B| median (G)",
            r.get("real_max_abs_b", math.nan),
            r["max_abs_b_median"],
        )
        if "ratio_100g" in r:
            f = t["pixel_factor"]
            for key, name in (("100g", "fraction > 100 G"), ("1kg", "fraction > 1 kG")):
                ratio = r[f"ratio_{key}"]
                add(
                    "pixels",
                    inst,
                    f"{name} (keyword-matched median)",
                    r[f"real_frac_{key}"],
                    r[f"frac_{key}"],
                    ratio,
                    f"ratio in [1/{f}, {f}]",
                    1 / f <= ratio <= f,
                )
            add(
                "pixels",
                inst,
                "power spectrum slope (0.03-0.4 /Mm)",
                r["real_spectrum_slope"],
                r["spectrum_slope"],
                r["spectrum_slope"] - r["real_spectrum_slope"],
            )
            add(
                "pixels",
                inst,
                "power spectrum RMS log-ratio (dex)",
                math.nan,
                math.nan,
                r["spectrum_rms_dex"],
            )
    if reg is not None:
        for r in reg.itertuples():
            d = r.synthetic / r.real - 1.0 if r.real else math.nan
            add("regions", "", r.statistic, r.real, r.synthetic, d)
    for scope, table in (("flares", prod), ("flares (quiet-Sun c0=-1.8)", quiet)):
        if table is None:
            continue
        for r in table.to_dict("records"):
            for key in (
                "flares_ge_C1_per_region_day",
                "flares_ge_M1_per_region_day",
                "flares_ge_X1_per_region_day",
                "frac_regions_ge_M1",
            ):
                real = real_prod[key] if real_prod and r["instrument"] == "HMI" else math.nan
                d = r[key] / real - 1.0 if real and np.isfinite(real) else math.nan
                add(scope, r["instrument"], key, real, r[key], d)
    if rates is not None:
        for r in rates.itertuples():
            add(
                "samples",
                r.instrument,
                "S1 event rate (positives / all)",
                r.published_event_rate,
                r.event_rate,
                r.event_rate / r.published_event_rate - 1.0,
            )
    return pd.DataFrame(rows)


def _figures(
    out_dir: Path,
    records: pd.DataFrame,
    refs: RealReferences,
    patches: pd.DataFrame,
    px: pd.DataFrame,
    spots: pd.DataFrame | None,
    prod_tables: dict,
    archive_dir: Path,
) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = {}
    sel = comparable_records(records)
    fig, axes = plt.subplots(2, 4, figsize=(14, 6.5))
    for i, inst in enumerate(("HMI", "MDI")):
        for j, kw in enumerate(KEYWORD_COLUMNS):
            ax = axes[i, j]
            x = sel.loc[sel["instrument"] == inst, kw].to_numpy(float)
            y = (
                refs.keywords.loc[refs.keywords["instrument"] == inst, kw].dropna().to_numpy(float)
                if refs.keywords is not None
                else np.array([])
            )
            logx = keyword(kw).unit in ("Mx", "uhem")  # fluxes and areas span decades
            both = np.concatenate([x, y])
            both = both[both > 0] if logx else both
            if both.size == 0:
                ax.set_visible(False)
                continue
            lo, hi = np.percentile(both, [0.5, 99.5])
            bins = np.geomspace(lo, hi, 40) if logx else np.linspace(lo, hi, 40)
            if y.size:
                ax.hist(
                    y,
                    bins=bins,
                    density=True,
                    histtype="stepfilled",
                    alpha=0.35,
                    color="0.3",
                    label=f"real {'SHARP' if inst == 'HMI' else 'SMARP'} table ({len(y):,})",
                )
            ax.hist(
                x,
                bins=bins,
                density=True,
                histtype="step",
                lw=1.5,
                color="C3",
                label=f"this archive ({len(x):,})",
            )
            if logx:
                ax.set_xscale("log")
            ax.set_title(f"{inst} {_KW_NAMES[kw]}", fontsize=9)
            ax.tick_params(labelsize=7)
            if j == 0:
                ax.legend(fontsize=7)
    fig.tight_layout()
    files["keywords"] = _save(fig, out_dir / REPORT_FILES["keywords"])
    plt.close(fig)

    fig, axes = plt.subplots(2, 4, figsize=(14, 6.5))
    for i, inst in enumerate(("HMI", "MDI")):
        p = patches[patches["instrument"] == inst]
        r = px[px["instrument"] == inst]
        real = r.iloc[0] if len(r) and "real_max_abs_b" in r.columns else None
        for j, (col, label) in enumerate(
            (
                ("max_abs_b", "max |B| per patch (G)"),
                ("frac_100g", "fraction of pixels > 100 G"),
                ("frac_1kg", "fraction of pixels > 1 kG"),
            )
        ):
            ax = axes[i, j]
            if len(p):
                ax.hist(
                    p[col], bins=30, color="C3", alpha=0.6, label=f"this archive ({len(p)} patches)"
                )
            if real is not None and np.isfinite(real.get(f"real_{col}", np.nan)):
                ax.axvline(
                    real[f"real_{col}"],
                    color="k",
                    lw=2,
                    label=refs.patches[inst]["name"].split(".")[2] + " (real)",
                )
            if col == "max_abs_b":
                ax.axvline(
                    TARGETS["max_abs_b_p90"], color="C0", ls="--", lw=1, label="target p90 bound"
                )
            ax.set_title(f"{inst}: {label}", fontsize=9)
            ax.tick_params(labelsize=7)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=6)
        ax = axes[i, 3]
        k = np.sqrt(_K_BINS[1:] * _K_BINS[:-1])
        if real is not None and isinstance(real.get("spectrum"), np.ndarray):
            ax.loglog(k, real["real_spectrum"], "k-", lw=2, label="real")
            ax.loglog(k, real["spectrum"], "C3-", label="this archive (keyword-matched)")
        ax.set_xlabel("k (cycles / Mm)", fontsize=8)
        ax.set_title(f"{inst}: radial power spectrum (normalised)", fontsize=9)
        ax.tick_params(labelsize=7)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    files["pixels"] = _save(fig, out_dir / REPORT_FILES["pixels"])
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    if spots is not None and refs.srs is not None:
        s = spots[(spots["lon"].abs() <= 60) & (spots["mtwilson"].fillna("") != "")]
        bins = np.geomspace(1, 3000, 35)
        axes[0].hist(
            refs.srs["AREA"].clip(lower=1).dropna(),
            bins=bins,
            density=True,
            histtype="stepfilled",
            alpha=0.35,
            color="0.3",
            label="NOAA SRS 1996-2018",
        )
        axes[0].hist(
            s["spot_area_uhem"].clip(lower=1),
            bins=bins,
            density=True,
            histtype="step",
            color="C3",
            lw=1.5,
            label="this archive",
        )
        axes[0].set_xscale("log")
        axes[0].set_title("sunspot-group area per region-day (μHem)", fontsize=9)
        axes[0].legend(fontsize=7)
        rc = refs.srs["MAGTYPE"].value_counts(normalize=True)
        sc = s["mtwilson"].value_counts(normalize=True)
        xx = np.arange(len(_MTWILSON))
        axes[1].bar(xx - 0.2, [rc.get(c, 0) for c in _MTWILSON], 0.4, color="0.5", label="NOAA SRS")
        axes[1].bar(
            xx + 0.2, [sc.get(c, 0) for c in _MTWILSON], 0.4, color="C3", label="this archive"
        )
        axes[1].set_xticks(
            xx,
            [
                c.replace("BETA", "β")
                .replace("ALPHA", "α")
                .replace("GAMMA", "γ")
                .replace("DELTA", "δ")
                .replace("-", "")
                for c in _MTWILSON
            ],
        )
        axes[1].set_title("Mt. Wilson class (fraction of region-days)", fontsize=9)
        axes[1].legend(fontsize=7)
    else:
        for ax in axes[:2]:
            ax.text(
                0.5,
                0.5,
                "no spot truth (not a synthetic archive)\nor no NOAA SRS table",
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
    ax = axes[2]
    labels = ["≥C1/day", "≥M1/day", "≥X1/day", "regions ≥M1"]
    keys = [
        "flares_ge_C1_per_region_day",
        "flares_ge_M1_per_region_day",
        "flares_ge_X1_per_region_day",
        "frac_regions_ge_M1",
    ]
    width = 0.8 / max(1, len(prod_tables))
    for i, (name, row) in enumerate(prod_tables.items()):
        ax.bar(
            np.arange(4) + (i - (len(prod_tables) - 1) / 2) * width,
            [row.get(k, np.nan) for k in keys],
            width,
            label=name,
        )
    ax.set_yscale("log")
    ax.set_xticks(np.arange(4), labels)
    ax.set_title("flare productivity (HMI-like regions)", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    fig.tight_layout()
    files["regions"] = _save(fig, out_dir / REPORT_FILES["regions"])
    plt.close(fig)
    files["patch"] = patch_figure(archive_dir, records, refs, out_dir / REPORT_FILES["patch"])
    return files


def _save(fig, path: Path) -> str:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    return str(path)


def patch_figure(
    archive_dir: str | os.PathLike,
    records: pd.DataFrame,
    refs: RealReferences,
    out_png: str | os.PathLike,
    vmax: float = 1500.0,
) -> str:
    """One HMI patch of the archive beside the real HARP 377 record, at the same colour scale.

    The archive's patch is the comparable HMI record nearest the real record's USFLUXL among
    those within 30° of central meridian.
    """
    real = refs.patches.get("HMI")
    sel = comparable_records(records)
    sel = sel[(sel["instrument"] == "HMI") & (sel["lon_fwt"].abs() <= 30)]
    if sel.empty:
        sel = comparable_records(records)
    target = (
        compute_keywords(real["map"], real["cdelt"])["USFLUXL"]
        if real
        else sel["usfluxl_mx"].median()
    )
    row = sel.iloc[int(np.argmin(np.abs(np.log(sel["usfluxl_mx"].to_numpy() / target))))]
    data, _ = read_patch(Path(archive_dir) / row["path"])
    return pair_figure(
        data,
        f"this archive: {Path(row['path']).name}\nUSFLUXL {row['usfluxl_mx']:.2e} Mx, "
        f"LON_FWT {row['lon_fwt']:.1f}°, max |B| {np.nanmax(np.abs(data)):.0f} G",
        refs,
        out_png,
        vmax,
    )


def pair_figure(
    bmap: np.ndarray,
    title: str,
    refs: RealReferences,
    out_png: str | os.PathLike,
    vmax: float = 1500.0,
) -> str:
    """An HMI map (``bmap``, titled ``title``) beside the real HARP 377 record, both at ±``vmax`` G.

    Without the real record (absent from ``refs``) the map is drawn alone.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    real = refs.patches.get("HMI")
    panels = [(bmap, title)]
    if real:
        kw = compute_keywords(real["map"], real["cdelt"])
        panels.append(
            (
                real["map"],
                f"real: {real['name']}\nUSFLUXL {kw['USFLUXL']:.2e} Mx, "
                f"LON_FWT {real['lon']:.1f}°, max |B| {np.nanmax(np.abs(real['map'])):.0f} G",
            )
        )
    widths = [p[0].shape[1] for p in panels]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(6.5 * len(panels), 4.2), gridspec_kw={"width_ratios": widths}
    )
    axes = np.atleast_1d(axes)
    im = None
    for ax, (img, ttl) in zip(axes, panels, strict=True):
        im = ax.imshow(
            img, origin="lower", cmap="gray", vmin=-vmax, vmax=vmax, interpolation="nearest"
        )
        ax.set_title(ttl, fontsize=8)
        ax.set_xlabel("x (CEA px, 0.03° = 0.36 Mm)", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.colorbar(im, ax=list(axes), shrink=0.85, label=f"B_LOS/μ (G), both panels ±{vmax:.0f} G")
    with atomic_path(out_png, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return str(out_png)


def _markdown(table: pd.DataFrame, notes: list[str]) -> str:
    def fmt(v):
        if isinstance(v, str):
            return v
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            return ""
        a = abs(v)
        return f"{v:.3g}" if a < 1e4 or a == 0 else f"{v:.3e}"

    lines = ["# Realism of the archive against the real references", ""]
    lines += [f"- {n}" for n in notes] + [""]
    for section, grp in table.groupby("section", sort=False):
        lines += [
            f"## {section}",
            "",
            "| instrument | statistic | real | this archive | distance | target | pass |",
            "|---|---|---:|---:|---:|---|---|",
        ]
        for r in grp.to_dict("records"):
            lines.append(
                f"| {r['instrument']} | {r['statistic']} | {fmt(r['real'])} | "
                f"{fmt(r['synthetic'])} | {fmt(r['distance'])} | {r['target']} | {r['pass']} |"
            )
        lines.append("")
    return "\n".join(lines)


def realism_report(
    archive_dir: str | os.PathLike,
    samples_csv: str | os.PathLike | None,
    real_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    n_patches: int = 300,
    seed: int = 0,
) -> pd.DataFrame:
    """Write the realism report of an archive into ``out_dir``; return its table of distances.

    Files: ``distances.csv`` (section, instrument, statistic, real, synthetic, distance, target,
    pass), ``realism.md``, and the figures ``keywords.png``, ``pixels.png``, ``regions_flares.png``,
    ``patch_vs_real.png``. References absent from ``real_dir`` are named in the notes and their
    comparisons left out.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    archive_dir = Path(archive_dir)
    arc = load_archive(archive_dir)
    refs = load_references(real_dir)
    notes = [
        f"archive: {archive_dir} (source {arc.manifest.get('source', '?')}, "
        f"{arc.manifest.get('generator', '')}), {len(arc.records):,} records",
        f"real references: {refs.root}"
        + (f"; not found: {', '.join(refs.missing)}" if refs.missing else ""),
    ]
    empty = pd.DataFrame(columns=["instrument", "n"])
    kw = (
        keyword_distances(arc.records, refs.keywords)
        if refs.keywords is not None
        else pd.DataFrame()
    )
    patches = patch_statistics(archive_dir, arc.records, n_patches, seed)
    px = pixel_distances(patches, refs) if len(patches) else empty
    spots_file = archive_dir / "truth" / "spots.csv"
    spots = pd.read_csv(spots_file) if spots_file.exists() else None
    reg = region_distances(spots, refs.srs) if spots is not None and refs.srs is not None else None
    prod = flare_productivity(arc.records, arc.flares)
    real_prod = real_flare_productivity(refs)
    c0 = arc.manifest.get("parameters", {}).get("resolved", {}).get("c0")
    quiet = None
    if c0 is not None and c0 > _QUIET_C0:
        notes.append(
            f"this synthetic archive is a flare-rich interval on purpose (c0 = {c0}, so that a "
            "laptop run has positives in every split); the quiet-Sun rows show the same "
            f"generator with c0 = {_QUIET_C0} (scales small and large) against the real rates"
        )
        quiet = quiet_sun_productivity(arc.manifest)
    rates = (
        event_rates(pd.read_csv(samples_csv))
        if samples_csv and Path(samples_csv).exists()
        else None
    )
    table = _distance_table(
        kw, px if len(px) else pd.DataFrame(), reg, prod, real_prod, quiet, rates
    )
    prod_tables = {}
    if real_prod:
        prod_tables["real HARPs (GOES list)"] = real_prod
    hmi = prod[prod["instrument"] == "HMI"]
    if len(hmi):
        prod_tables["this archive"] = hmi.iloc[0].to_dict()
    if quiet is not None:
        q = quiet[quiet["instrument"] == "HMI"]
        if len(q):
            prod_tables[f"generator, c0 = {_QUIET_C0}"] = q.iloc[0].to_dict()
    _figures(
        out,
        arc.records,
        refs,
        patches,
        px if len(px) else pd.DataFrame(columns=["instrument"]),
        spots,
        prod_tables,
        archive_dir,
    )
    write_csv(table, out / REPORT_FILES["table"])
    with atomic_path(out / REPORT_FILES["markdown"], suffix=".md") as tmp:
        Path(tmp).write_text(_markdown(table, notes) + "\n")
    return table
