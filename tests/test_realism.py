"""The realism report: reference loading, distance definitions, and the targets of issue 18."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import REAL, real_path
from flarepipe.archive.realism import (
    PUBLISHED_S1_COUNTS,
    REPORT_FILES,
    TARGETS,
    event_rates,
    flare_productivity,
    keyword_distances,
    load_references,
    map_statistics,
    pixel_distances,
    realism_report,
)
from flarepipe.archive.sources.synthetic import SyntheticParams, render_sample


@pytest.fixture(scope="module")
def refs():
    real_path("keywords", "sharp_0.csv")
    real_path("fits", "sharp", "hmi.sharp_cea_720s.377.20110215_020000_TAI.magnetogram.fits")
    return load_references(REAL)


def test_references_load(refs):
    k = refs.keywords
    assert (k["instrument"] == "HMI").sum() == 112182 and (k["instrument"] == "MDI").sum() == 165151
    assert set(refs.patches) == {"HMI", "MDI"} and not refs.missing
    assert refs.patches["HMI"]["map"].shape == (377, 744)
    assert refs.srs["MAGTYPE"].str.startswith(("ALPHA", "BETA", "GAMMA")).all()
    assert refs.goes["peak_flux_wm2"].min() > 0 and refs.harp_noaa[377] == [11158]


def test_keyword_distances_of_the_real_table_with_itself_are_zero(refs):
    rec = refs.keywords.sample(3000, random_state=0).assign(quality=0, lon_fwt=0.0, noaa_ars="1")
    d = keyword_distances(rec, rec)
    assert len(d) == 8
    assert np.allclose(d[["rel_median", "rel_p90", "ks"]].to_numpy(), 0.0)
    shifted = rec.assign(usfluxl_mx=rec["usfluxl_mx"] * 1.5)
    d2 = keyword_distances(shifted, rec).set_index(["instrument", "keyword"])
    assert d2.loc[("HMI", "USFLUXL"), "rel_median"] == pytest.approx(0.5)
    assert d2.loc[("HMI", "USFLUXL"), "ks"] > 0.15


def test_flare_productivity_truth_table():
    """Two regions, 15 records each (one day at 96 min): flares inside the covered interval
    count."""
    t = pd.date_range("2011-01-01", periods=15, freq="96min")
    rec = pd.concat(
        [
            pd.DataFrame(
                {"instrument": "HMI", "region_id": "HARP1", "noaa_ars": "11001", "t_rec": t}
            ),
            pd.DataFrame(
                {"instrument": "HMI", "region_id": "HARP2", "noaa_ars": "11002,11003", "t_rec": t}
            ),
        ]
    ).assign(
        quality=0, lon_fwt=0.0, usfluxl_mx=1.0, meangbl_g_per_px=1.0, r_value=1.0, area_uhem=1.0
    )
    fl = pd.DataFrame(
        {
            "start_utc": pd.to_datetime(
                [
                    "2011-01-01 03:00",
                    "2011-01-01 05:00",
                    "2011-01-01 06:00",
                    "2011-01-03 00:00",
                    "2011-01-01 07:00",
                ]
            ),
            "noaa_ar": [11001, 11003, 11003, 11001, 11999],
            "peak_flux_wm2": [
                2e-5,
                3e-6,
                2e-4,
                5e-5,
                5e-5,
            ],  # M2, C3, X2, M5 (after), M5 (other region)
        }
    )
    out = flare_productivity(rec, fl).iloc[0]
    assert out["region_days"] == pytest.approx(2.0)
    assert out["flares_ge_C1_per_region_day"] == pytest.approx(3 / 2.0)
    assert out["flares_ge_M1_per_region_day"] == pytest.approx(2 / 2.0)
    assert out["flares_ge_X1_per_region_day"] == pytest.approx(1 / 2.0)
    assert out["frac_regions_ge_M1"] == pytest.approx(1.0)


def test_event_rates_against_published():
    s = pd.DataFrame(
        {"instrument": ["HMI"] * 10 + ["MDI"] * 4, "label": [1] * 2 + [0] * 8 + [1] + [0] * 3}
    )
    r = event_rates(s).set_index("instrument")
    assert r.loc["HMI", "event_rate"] == pytest.approx(0.2) and r.loc[
        "MDI", "event_rate"
    ] == pytest.approx(0.25)
    p, n = PUBLISHED_S1_COUNTS["HMI"]
    assert r.loc["HMI", "published_event_rate"] == pytest.approx(p / (p + n))


def test_report_on_the_tiny_archive(tiny_archive, tmp_path):
    root, _, _ = tiny_archive
    table = realism_report(root, None, REAL, tmp_path / "realism", n_patches=20)
    for name in REPORT_FILES.values():
        assert (tmp_path / "realism" / name).stat().st_size > 0, name
    assert list(table.columns) == [
        "section",
        "instrument",
        "statistic",
        "real",
        "synthetic",
        "distance",
        "target",
        "pass",
    ]
    assert {"pixels", "flares"} <= set(table["section"])
    assert set(table["pass"]) <= {"yes", "NO", ""}
    if REAL.exists():
        assert {"keywords", "regions"} <= set(table["section"])
        assert "flares (quiet-Sun c0=-1.8)" in set(table["section"])  # tiny is flare-rich (c0 = 0)


def test_report_without_references_names_what_is_missing(tiny_archive, tmp_path):
    root, _, _ = tiny_archive
    table = realism_report(root, None, tmp_path / "nowhere", tmp_path / "out", n_patches=5)
    md = (tmp_path / "out" / REPORT_FILES["markdown"]).read_text()
    assert "not found: keywords" in md and "keywords" not in set(table["section"])


#: the ``small`` preset's bounds where its worst case over seeds misses issue 18's target: the worst
#: value over generator seeds 0-4 (``SyntheticParams(seed=20220101 + s)``, 150 records per
#: instrument rendered with sample seed ``s``) plus a margin, so that the test fails if the archive
#: gets less realistic; measured with ``benchmarks/calibrate_synthetic.py images scale=small
#: n_regions=30 days=40 records=150 seeds=0,1,2,3,4``. With 30 regions per instrument (17-26 of
#: them in a sample) a 90th percentile rests on a few regions; the ``default`` and ``large`` plans
#: (10 and 50 times more regions) come much nearer the targets (README, realism report).
SMALL_BOUNDS = {
    ("HMI", "USFLUXL", "rel_median"): 0.45,  # worst +0.391 (range -0.276 … +0.391)
    ("HMI", "USFLUXL", "rel_p90"): 0.95,  # worst +0.826 (-0.336 … +0.826)
    ("HMI", "USFLUXL", "ks"): 0.20,  # worst 0.173
    ("HMI", "AREA", "rel_median"): 0.36,  # worst -0.313 (-0.313 … +0.258)
    ("HMI", "AREA", "rel_p90"): 0.50,  # worst +0.445 (-0.259 … +0.445)
    ("HMI", "AREA", "ks"): 0.21,  # worst 0.184
    ("HMI", "MEANGBL", "ks"): 0.19,  # worst 0.163
    ("HMI", "R_VALUE", "ks"): 0.27,  # worst 0.237
    ("MDI", "USFLUXL", "rel_median"): 0.52,  # worst +0.455 (-0.435 … +0.455)
    ("MDI", "USFLUXL", "rel_p90"): 1.00,  # worst +0.872 (-0.300 … +0.872)
    ("MDI", "USFLUXL", "ks"): 0.25,  # worst 0.217
    ("MDI", "AREA", "rel_median"): 0.73,  # worst +0.634 (-0.311 … +0.634)
    ("MDI", "AREA", "rel_p90"): 0.68,  # worst +0.591 (-0.245 … +0.591)
    ("MDI", "AREA", "ks"): 0.27,  # worst 0.233
    ("MDI", "MEANGBL", "ks"): 0.29,  # worst 0.256
    ("MDI", "R_VALUE", "ks"): 0.18,  # worst 0.156
    ("HMI", "pixels", "ratio_1kg"): (0.50, 1.5),  # 0.581 … 0.816
    ("MDI", "pixels", "ratio_100g"): (1 / 1.5, 1.7),  # 0.983 … 1.519
    ("MDI", "pixels", "ratio_1kg"): (1 / 1.5, 2.9),  # 0.755 … 2.528: the one real MDI record
}


def test_targets_hold_at_the_small_scale(refs):
    """Issue 18's targets on 150 records per instrument of the ``small`` archive's plan (seed 0).

    Over seeds 0-4 (see :data:`SMALL_BOUNDS`) the worst cases were: keyword |rel| of the medians
    and 90th percentiles HMI MEANGBL 0.064, R_VALUE 0.170; MDI MEANGBL 0.113, R_VALUE 0.114; KS
    MDI R_VALUE 0.156; max |B| p90 HMI 2.02-2.16 kG, MDI 1.30-1.37 kG; ratio of pixels above
    100 G HMI 0.87-1.34, MDI 0.98-1.52, above 1 kG HMI 0.58-0.82, MDI 0.76-2.53 (the others in
    the table).
    Statistics whose worst case meets the target are held to the target itself.
    """
    params = SyntheticParams(scale="small")
    t, f = TARGETS, TARGETS["pixel_factor"]
    for inst in ("HMI", "MDI"):
        rec, maps = render_sample(params, inst, 150, seed=0)
        assert rec["region_id"].nunique() >= 15
        for r in keyword_distances(rec, refs.keywords).itertuples():
            for stat, bound in (
                ("rel_median", t["keyword_rel"]),
                ("rel_p90", t["keyword_rel"]),
                ("ks", t["keyword_ks"]),
            ):
                bound = SMALL_BOUNDS.get((inst, r.keyword, stat), bound)
                assert abs(getattr(r, stat)) <= bound, (inst, r.keyword, stat, getattr(r, stat))
        px = pixel_distances(map_statistics(rec, maps), refs).iloc[0]
        assert px["max_abs_b_p90"] <= t["max_abs_b_p90"]
        for stat in ("ratio_100g", "ratio_1kg"):
            lower, upper = SMALL_BOUNDS.get((inst, "pixels", stat), (1 / f, f))
            assert lower <= px[stat] <= upper, (inst, stat, px[stat])
