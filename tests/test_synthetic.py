"""The synthetic archive: layout, determinism, fidelity to real files, planted physics and
causes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from conftest import real_path
from flarepipe.archive.layout import RECORD_COLUMNS, load_archive
from flarepipe.archive.sources import synthetic as syn
from flarepipe.archive.sources.synthetic import (
    HMI,
    MDI,
    RegionTextures,
    SyntheticParams,
    cause_mask,
    generate_archive,
    patch_shape,
    plan_regions,
    region_geometry,
    render,
    scene_at,
    simulate_region,
)
from flarepipe.core import bipole
from flarepipe.core.bipole import b0_for_flux, bipole_field
from flarepipe.core.magnetic import activity_mask, compute_keywords, pil_mask
from flarepipe.io.fitsio import header_to_record, quantise, read_patch

_plan = plan_regions


def test_layout_and_names(tiny_archive):
    root, params, manifest = tiny_archive
    arc = load_archive(root)
    assert list(arc.records.columns) == RECORD_COLUMNS
    assert set(arc.records["series"]) == {"hmi.sharp_cea_720s", "mdi.smarp_cea_96m"}
    r = arc.records.iloc[0]
    assert (
        r["path"]
        == f"fits/{r['series']}/{r['series']}.{r['region']}.{r['t_rec_tai'][:4]}"
        + f"{r['t_rec_tai'][5:7]}{r['t_rec_tai'][8:10]}_"
        + f"{r['t_rec_tai'][11:13]}{r['t_rec_tai'][14:16]}"
        + f"{r['t_rec_tai'][17:19]}_TAI.magnetogram.fits"
    )
    # T_REC on the 96-minute TAI grid; t_rec is its UTC (TAI-UTC = 34 s in 2011, 32 s in 2001)
    tai = pd.to_datetime(
        arc.records["t_rec_tai"].str.replace("_TAI", ""), format="%Y.%m.%d_%H:%M:%S"
    )
    assert ((tai - tai.dt.normalize()).dt.total_seconds() % (96 * 60) == 0).all()
    lag = (tai - arc.records["t_rec"]).dt.total_seconds()
    assert set(lag[arc.records["instrument"] == "HMI"]) == {34.0}
    assert set(lag[arc.records["instrument"] == "MDI"]) == {32.0}
    assert manifest["seed"] == params.seed and manifest["counts"]["records"] == len(arc.records)
    assert set(manifest["fits"]) == set(arc.records["path"])
    assert (arc.flares["goes_class"].str.match(r"^[ABCMX]\d+\.\d$")).all()
    assert arc.flares["region_missing"].equals(arc.flares["noaa_ar"].isna())


def test_same_seed_byte_identical_any_workers(tiny_archive, tmp_path):
    root, params, _ = tiny_archive
    generate_archive(tmp_path, params, workers=1)
    for name in ("records.csv", "flares.csv", "truth/rates.csv"):
        assert (tmp_path / name).read_bytes() == (root / name).read_bytes(), name
    other = SyntheticParams(**{**params.__dict__, "seed": params.seed + 1})
    jobs_a, jobs_b = _plan(params), _plan(other)
    assert [j[3] for j in jobs_a] != [j[3] for j in jobs_b]


def test_keywords_recomputed_from_map_match_header(tiny_archive):
    root, _, _ = tiny_archive
    arc = load_archive(root)
    for i in range(0, len(arc.records), max(1, len(arc.records) // 12)):
        data, hdr = read_patch(root / arc.records.at[i, "path"])
        cdelt = float(hdr["CDELT1"])
        kw = compute_keywords(data, cdelt, activity_mask(data, cdelt))
        for key in ("USFLUXL", "MEANGBL", "R_VALUE", "AREA"):
            assert kw[key] == pytest.approx(float(hdr[key]), rel=1e-6, abs=1e-9), key
        rec = header_to_record(hdr, root / arc.records.at[i, "path"], archive_dir=root)
        assert rec["t_rec_tai"] == arc.records.at[i, "t_rec_tai"]
        assert rec["usfluxl_mx"] == pytest.approx(arc.records.at[i, "usfluxl_mx"], rel=1e-6)
        assert (rec["nx"], rec["ny"]) == (data.shape[1], data.shape[0])


@pytest.mark.parametrize("which", ["sharp", "smarp"])
def test_real_and_synthetic_fits_through_same_reader(tiny_archive, which):
    root, _, _ = tiny_archive
    real = {
        "sharp": ("fits", "sharp", "hmi.sharp_cea_720s.377.20110215_020000_TAI.magnetogram.fits"),
        "smarp": ("fits", "smarp", "mdi.smarp_cea_96m.13520.20100714_124800_TAI.magnetogram.fits"),
    }[which]
    real_file = real_path(*real)
    arc = load_archive(root)
    series = "hmi.sharp_cea_720s" if which == "sharp" else "mdi.smarp_cea_96m"
    syn_file = root / arc.records.loc[arc.records["series"] == series, "path"].iloc[0]
    recs = []
    for f in (real_file, syn_file):
        data, hdr = read_patch(f)
        assert data.dtype == np.float32 and data.ndim == 2
        recs.append(header_to_record(hdr, f))
    real_rec, syn_rec = recs
    assert set(real_rec) == set(syn_rec)
    for k in ("series", "instrument"):
        assert real_rec[k] == syn_rec[k]
    real_hdr, syn_hdr = read_patch(real_file)[1], read_patch(syn_file)[1]
    for card in (
        "T_REC",
        "NOAA_ARS",
        "QUALITY",
        "LAT_FWT",
        "LON_FWT",
        "OBS_VR",
        "CRVAL1",
        "CDELT1",
        "CDELT2",
        "CRPIX1",
        "CTYPE1",
        "BUNIT",
        "AREA",
        "R_VALUE",
    ):
        assert card in real_hdr and card in syn_hdr, card
    assert syn_hdr["CDELT1"] == pytest.approx(real_hdr["CDELT1"], rel=1e-6)


@pytest.mark.parametrize("which", ["sharp", "smarp"])
def test_activity_mask_approximates_the_real_bitmaps(which):
    """The map-only region mask overlaps the real HARP/TARP bitmap (≥ 33) with IoU ≥ 0.78 and an
    area
    within 12% (measured: HMI IoU 0.82, area 0.91; MDI 0.80, 1.05)."""
    stem = {
        "sharp": "hmi.sharp_cea_720s.377.20110215_020000_TAI",
        "smarp": "mdi.smarp_cea_96m.13520.20100714_124800_TAI",
    }[which]
    data, hdr = read_patch(real_path("fits", which, f"{stem}.magnetogram.fits"))
    bitmap, _ = read_patch(real_path("fits", which, f"{stem}.bitmap.fits"))
    real, mask = bitmap >= 33, activity_mask(data, float(hdr["CDELT1"]))
    assert (mask & real).sum() / (mask | real).sum() >= 0.78
    assert mask.sum() / real.sum() == pytest.approx(1.0, abs=0.12)


def test_pil_mask_lies_between_strong_opposite_fields():
    data, hdr = read_patch(
        real_path("fits", "sharp", "hmi.sharp_cea_720s.377.20110215_020000_TAI.magnetogram.fits")
    )
    pil = pil_mask(data, 0.03)
    assert pil.shape == data.shape and 0 < pil.mean() < 0.05
    assert (
        compute_keywords(data, 0.03)["R_VALUE"] > 4.0
    )  # HARP 377 after its X2.2 flare: a strong PIL


def test_real_smarp_keywords_match_definitions():
    """compute_keywords on the real SMARP record (its bitmap as mask) reproduces its header."""
    mag = real_path("fits", "smarp", "mdi.smarp_cea_96m.13520.20100714_124800_TAI.magnetogram.fits")
    bmp = real_path("fits", "smarp", "mdi.smarp_cea_96m.13520.20100714_124800_TAI.bitmap.fits")
    data, hdr = read_patch(mag)
    bitmap, _ = read_patch(bmp)
    kw = compute_keywords(data, float(hdr["CDELT1"]), bitmap >= 33)
    assert kw["USFLUXL"] == pytest.approx(hdr["USFLUXL"], rel=1e-3)
    assert kw["MEANGBL"] == pytest.approx(hdr["MEANGBL"], rel=1e-3)
    assert kw["R_VALUE"] == pytest.approx(hdr["R_VALUE"], abs=0.01)
    assert kw["AREA"] == pytest.approx(hdr["AREA"], rel=0.02)


def test_bipole_field_is_the_core_function():
    """The archive and the attribution probes share one bipolar-region field (core.bipole)."""
    assert syn.bipole_field is bipole.bipole_field and syn.b0_for_flux is bipole.b0_for_flux
    rho = 0.05
    u = np.linspace(-0.2, 0.2, 4001)
    b = bipole_field(u, np.zeros_like(u), 1000.0, rho)
    assert abs(u[np.argmin(b)]) == pytest.approx(bipole.lobe_offset(rho), abs=1e-4)
    assert bipole_field(np.float32([0.01]), np.float32([0.0]), 100.0, rho).dtype == np.float32


def test_bipole_model_flux_and_polarity():
    rho = np.radians(2.0)
    b0 = b0_for_flux(1e22, rho)
    cd = np.radians(0.03)
    x = (np.arange(-400, 401)) * cd
    uu, vv = np.meshgrid(x, x)
    b = bipole_field(uu, vv, b0, rho)
    flux = np.abs(b).sum() * (cd * 6.96e10) ** 2
    assert flux == pytest.approx(1e22, rel=0.01)
    assert b[400, 450] < 0 < b[400, 350]  # positive b0: negative polarity on the +u (leading) side


def _regions(params, inst, n=400):
    regs = []
    for job in _plan(params):
        if job[1] == inst.name and len(regs) < n:
            regs.append(simulate_region(params, inst, job[2], job[3], job[4]))
    return regs


def test_flare_rate_responds_to_planted_state():
    """Realised flare counts per step follow size, emergence and morphology (Poisson regression).

    Fails if any planted component is removed from the rate: its coefficient would be ~0.
    """
    from sklearn.linear_model import PoissonRegressor

    params = SyntheticParams(n_regions=500, days=400)
    rows = []
    for reg in _regions(params, MDI):
        if not len(reg["t"]):
            continue
        starts = np.array([f[0] for f in reg["flares"]])
        counts = np.histogram(starts, bins=np.append(reg["t"], reg["t"][-1] + 96 / 1440))[0]
        feats = np.column_stack(
            [
                reg["log_size"],
                reg["emergence"],
                np.full(len(reg["t"]), reg["rotated"]),
                np.full(len(reg["t"]), reg["delta"]),
            ]
        )
        rows.append((feats, counts))
    X = np.vstack([r[0] for r in rows])
    y = np.concatenate([r[1] for r in rows])
    fit = PoissonRegressor(alpha=0.0, max_iter=1000).fit(X, y)
    coef = dict(zip(["size", "emerge", "morph", "delta"], fit.coef_, strict=True))
    assert coef["size"] == pytest.approx(params.c_size * np.log(10) / np.log(10), rel=0.25)
    assert coef["emerge"] == pytest.approx(params.c_emerge, rel=0.35)
    assert coef["morph"] == pytest.approx(params.c_morph, rel=0.25)
    assert coef["delta"] > 0.3
    # magnitudes: a power law (alpha = 2) above the detection limit (B4): P(>= F) = (F /
    # 4e-7)^-(alpha-1)
    peaks = np.array([f[3] for r in _regions(params, MDI, 200) for f in r["flares"]])
    assert peaks.min() >= params.min_detected_flux
    expect = lambda f: (f / params.min_detected_flux) ** (-(params.alpha - 1))  # noqa: E731
    assert np.mean(peaks >= 1e-6) == pytest.approx(expect(1e-6), abs=0.03)
    assert np.mean(peaks >= 1e-5) == pytest.approx(expect(1e-5), abs=0.012)


def test_keyword_only_model_falls_short_of_oracle():
    """Even given the true flux (more than the four keywords hold), a logistic regression on the
    last record reaches clearly less than the oracle's TSS on strong-vs-quiet samples: the planted
    emergence (time series) and morphology (image) signals are invisible to it."""
    import importlib.util
    import pathlib

    spec = importlib.util.spec_from_file_location(
        "calib",
        pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "calibrate_synthetic.py",
    )
    calib = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(calib)
    from sklearn.linear_model import LogisticRegression

    params = SyntheticParams(n_regions=700, days=900, c0=-1.8)  # a quiet Sun, as the large scale
    rows = []
    for reg in _regions(params, HMI, 700):
        rows += calib.samples_for(params, HMI, reg)
    a = np.array(rows, dtype=float)
    a = a[a[:, 9] == 1]
    y, q = a[:, 0], a[:, 1]
    ratio = y.sum() / (len(y) - y.sum())
    assert 0.01 < y.mean() < 0.10  # "a few percent" event rate
    oracle = calib.tss(y, ((q / (1 - q + 1e-12)) >= ratio).astype(int))
    fold = a[:, 8].astype(int) % 5
    scores = {}
    for name, cols in {"keywords": [2, 3], "all": [2, 3, 4, 5, 6, 7]}.items():
        pred = np.zeros_like(y)
        for f in range(5):
            te = fold == f
            m = LogisticRegression(class_weight="balanced", max_iter=2000).fit(
                a[~te][:, cols], y[~te]
            )
            pred[te] = m.predict(a[te][:, cols])
        scores[name] = calib.tss(y, pred)
    assert oracle > 0.7
    assert scores["keywords"] < 0.85 * oracle, (scores, oracle)
    assert scores["all"] > scores["keywords"] + 0.05  # the hidden signals are learnable


def _big_regions(params, inst, n, min_flux=1e22):
    out = []
    for job in plan_regions(params):
        if job[1] != inst.name:
            continue
        reg = simulate_region(params, inst, job[2], job[3], job[4])
        if len(reg["t"]) and reg["phi"].max() >= min_flux:
            out.append(reg)
        if len(out) >= n:
            break
    return out


def test_magnetograms_have_spots_penumbrae_and_plage_in_the_observed_ranges():
    """HMI-like umbrae 1.7–3.5 kG, penumbrae ~0.5–1.5 kG, plage pixels ~100–200 G on average, quiet
    Sun
    (outside the region mask) near the real HARP 377 surroundings' level."""
    params = SyntheticParams(scale="default")
    for reg in _big_regions(params, HMI, 3):
        geo = region_geometry(params, reg)
        nx, ny = patch_shape(reg, geo, HMI, 24.0)
        tex = RegionTextures(HMI, ny, nx, [1, reg["index"]])
        k = int(np.argmax(reg["phi"]))
        sc = scene_at(reg, geo, k)
        b = quantise(
            render(sc, tex, 0.95, float(reg["t"][k]), np.random.default_rng(0)), HMI.bscale
        )
        lead = max((s for s in sc.spots if not s.pore), key=lambda s: s.r_umbra_mm)
        cd = math.radians(HMI.cdelt_deg)
        yy, xx = np.mgrid[0:ny, 0:nx]
        r_mm = (
            np.hypot((xx - (nx - 1) / 2) * cd - lead.x, (yy - (ny - 1) / 2) * cd - lead.y) * 696.0
        )
        umbra = np.abs(b[r_mm < 0.5 * lead.r_umbra_mm])
        assert 1700 <= umbra.max() <= 3500
        pen = np.abs(b[(r_mm > 1.3 * lead.r_umbra_mm) & (r_mm < 0.9 * lead.r_outer_mm)])
        assert 400 <= np.median(pen) <= 1500
        mask = activity_mask(b, HMI.cdelt_deg)
        spots = np.zeros_like(mask)
        for s in sc.spots:
            rs = np.hypot((xx - (nx - 1) / 2) * cd - s.x, (yy - (ny - 1) / 2) * cd - s.y) * 696.0
            spots |= rs < 2.0 * s.r_outer_mm
        plage = np.abs(b[mask & ~spots])
        assert 100 <= plage[plage > 50].mean() <= 300
        assert np.median(np.abs(b[~mask])) < 8.0  # quiet Sun: noise ~4 G and weak network
        assert np.abs(b).max() < 4000


def _cause_archive(tmp_path, **kw):
    params = SyntheticParams(scale="small", n_regions=2, days=3, instruments=("HMI",), c0=0.0, **kw)
    generate_archive(tmp_path, params, workers=1)
    return load_archive(tmp_path)


def test_cause_mask_marks_the_rotated_bipoles_inversion_line_and_the_delta_cores(tmp_path):
    arc = _cause_archive(tmp_path, p_rotated=1.0, p_delta=1.0)
    regions = pd.read_csv(tmp_path / "truth" / "regions.csv")
    assert regions["rotated"].all() and regions["delta"].all()
    checked = 0
    for i in range(0, len(arc.records), 7):
        row = arc.records.iloc[i]
        if not np.isfinite(row["usfluxl_mx"]) or row["usfluxl_mx"] < 3e21:
            continue
        mask = cause_mask(tmp_path, row.to_dict())
        data, _ = read_patch(tmp_path / row["path"])
        assert mask.dtype == bool and mask.shape == data.shape
        assert 0 < mask.mean() < 0.5
        # the band separates the bipole's polarities: their flux centroids lie on either side of it
        yy, xx = np.nonzero(mask)
        c = np.array([xx.mean(), yy.mean()])
        w, v = np.linalg.eigh(np.cov(np.vstack([xx, yy])))
        normal = v[:, 0]  # across the band (smallest spread)
        side = {}
        for sign in (1, -1):
            sel = sign * np.nan_to_num(data) > 100
            side[sign] = np.sign(
                np.dot(
                    [
                        np.average(np.nonzero(sel)[1], weights=np.abs(data[sel])),
                        np.average(np.nonzero(sel)[0], weights=np.abs(data[sel])),
                    ]
                    - c,
                    normal,
                )
            )
        assert side[1] != side[-1]
        # the delta cores hold strong field of both polarities
        assert (data[mask] > 500).any() and (data[mask] < -500).any()
        checked += 1
    assert checked >= 3
    # the same record found by its UTC time; a time that is no step of the region is named
    row = arc.records.iloc[0].to_dict()
    by_utc = {k: v for k, v in row.items() if k != "t_rec_tai"}
    assert (cause_mask(tmp_path, by_utc) == cause_mask(tmp_path, row)).all()
    with pytest.raises(ValueError, match="not a time step"):
        cause_mask(tmp_path, {**by_utc, "t_rec": "1999-01-01T00:00:00"})


def test_cause_mask_is_empty_without_planted_causes(tmp_path):
    arc = _cause_archive(tmp_path, p_rotated=0.0, p_delta=0.0)
    for i in range(0, len(arc.records), 5):
        assert not cause_mask(tmp_path, arc.records.iloc[i].to_dict()).any()


def test_cause_mask_refuses_other_archives(tmp_path):
    (tmp_path / "manifest.json").write_text('{"source": "local"}')
    with pytest.raises(ValueError, match="only for synthetic archives"):
        cause_mask(
            tmp_path,
            {"region_id": "HARP101", "t_rec_tai": "2011.01.01_00:00:00_TAI", "nx": 3, "ny": 3},
        )
