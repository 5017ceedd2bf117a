"""Dhuri et al. 2020 (S4): emergence time, emerging/control maps, segments, network, baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flarepipe.archive.sources.synthetic.emergence import (
    EmergenceParams,
    flux_curve,
    generate_emergence,
    signature_flux,
)
from flarepipe.core.emergence import LEAD_TIMES_H, emergence_time
from flarepipe.samples.emergence import (
    contains_site,
    grid_segments,
    pair_folds,
    sample_segments,
    touches_site,
)

TINY = dict(n_regions=3, map_px=48, signature_radius_deg=3.0, seed=3)


# ---------------------------------------------------------------------------- emergence time
def test_t0_of_a_constructed_linear_ramp():
    # flux 0 until 10 h, then linear 1e20 Mx/h up to 70 h, constant after: max over [t, t+36] is
    # flux(t+36) while rising, so t0 solves s = 0.1 (s + 36), s = t0 - 10 h = 4 h
    t = np.arange(0.0, 100.0, 0.2)
    flux = np.clip(t - 10.0, 0, 60) * 1e20
    assert emergence_time(t, flux) == pytest.approx(14.0, abs=0.21)


def test_t0_of_the_generator_curve_and_window():
    t = np.arange(0.0, 120.0, 0.2)
    f = flux_curve(5e21, 12.0, 20.0, t)
    # 1 - exp(-s/12) = 0.1 (1 - exp(-(s+36)/12)): solve numerically
    s = np.linspace(0, 5, 50001)
    s0 = s[np.argmin(np.abs(-np.expm1(-s / 12) - 0.1 * -np.expm1(-(s + 36) / 12)))]
    assert emergence_time(t, f) == pytest.approx(20.0 + s0, abs=0.21)
    # a slower rise judged over a shorter window emerges earlier (its window maximum is lower)
    assert emergence_time(t, f, window_h=6.0) < emergence_time(t, f)


@pytest.mark.parametrize(
    "t, f, msg",
    [
        ([0, 1, 1], [0, 1, 2], "strictly increasing"),
        ([0, 1, 2], [0, -1, 2], "non-negative"),
        ([0, 1, 2], [0, 0, 0], "never rises"),
        ([0, 1], [0, 1, 2], "one length"),
    ],
)
def test_t0_rejects_bad_curves(t, f, msg):
    with pytest.raises(ValueError, match=msg):
        emergence_time(np.array(t, float), np.array(f, float))


# ---------------------------------------------------------------------------- maps
def test_generator_maps_times_and_signature():
    p = EmergenceParams(**TINY)
    es = generate_emergence(p)
    assert set(es.regions["kind"]) == {"emerging", "control"}
    assert len(es.maps) == 2 * p.n_regions * len(LEAD_TIMES_H)
    assert es.lead_times_h == tuple(sorted(LEAD_TIMES_H))
    m = es.maps[("E0000", 3.2)]
    assert m.shape == (48, 48) and m.dtype == np.float32 and np.isfinite(m).all()
    # controls matched in disk position and t0 (hence times) to their emerging region
    for _pair, grp in es.regions.groupby("pair"):
        assert grp["mu"].nunique() == 1 and grp["t0"].nunique() == 1 and len(grp) == 2
    sig = es.signature.set_index(["region", "lead_h"])["signature_flux_mx"]
    assert sig[("E0000", 3.2)] == pytest.approx(signature_flux(p, 3.2))
    assert sig[("E0000", 3.2)] > sig[("E0000", 24.5)] > 0
    assert sig[("C0000", 3.2)] == 0
    # switching the signature off changes the emerging maps only, and only near the site
    off = generate_emergence(EmergenceParams(**{**TINY, "signature_flux_mx": 0.0}))
    assert np.array_equal(off.maps[("C0001", 8.5)], es.maps[("C0001", 8.5)])
    d = np.abs(off.maps[("E0001", 3.2)] - es.maps[("E0001", 3.2)])
    assert d.max() > 0 and (off.signature["signature_flux_mx"] == 0).all()
    yy, xx = np.nonzero(d > 0.05 * d.max())
    r_px = p.signature_radius_deg / p.cdelt_deg
    assert np.hypot(yy - 23.5, xx - 23.5).max() <= r_px + 3


# ---------------------------------------------------------------------------- segments
def _regions(n=6):
    rows = []
    for i in range(n):
        rows += [
            {"region": f"E{i}", "kind": "emerging", "pair": f"E{i}"},
            {"region": f"C{i}", "kind": "control", "pair": f"E{i}"},
        ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("n, seg, r", [(256, 85, 21.3), (48, 16, 5.0), (255, 85, 0.0)])
def test_pe_segments_hold_the_site_and_ne_segments_avoid_it(n, seg, r):
    t = sample_segments(_regions(), 3.2, n, seg, r, seed=1)
    pe, ne = t[t["label"] == 1], t[t["label"] == 0]
    assert t.groupby("source").size().to_dict() == {
        "pe": 600,
        "ne_control": 300,
        "ne_emerging": 300,
    }
    assert (pe["kind"] == "emerging").all()
    assert contains_site(pe["y0"], pe["x0"], seg, n, r).all()
    ne_em = ne[ne["kind"] == "emerging"]
    assert not touches_site(ne_em["y0"], ne_em["x0"], seg, n, r).any()
    assert t[["y0", "x0"]].min().min() >= 0 and t[["y0", "x0"]].max().max() <= n - seg
    # brute force over every pixel: a PE segment covers every site pixel, an NE one none
    c = (n - 1) / 2
    yy, xx = np.mgrid[0:n, 0:n]
    site = (yy - c) ** 2 + (xx - c) ** 2 <= r * r
    for row in pd.concat([pe.head(40), ne_em.head(40)]).itertuples():
        inside = site[row.y0 : row.y0 + seg, row.x0 : row.x0 + seg].sum()
        assert inside == (site.sum() if row.label else 0)


def test_grid_segments_are_17_to_1_and_folds_keep_pairs_together():
    g = grid_segments(_regions(), 3.2, 256, 85)
    assert len(g) == 6 * 18 and g["label"].sum() == 6
    central = g[g["label"] == 1]
    assert (central["y0"] == 85).all() and (central["x0"] == 85).all()
    folds = pair_folds(_regions(10)["pair"], k=5, seed=2)
    assert sorted(np.bincount(list(folds.values()))) == [2, 2, 2, 2, 2]
    with pytest.raises(ValueError, match="at least 5 region pairs"):
        pair_folds(["a", "b"], k=5)


def test_site_that_does_not_fit_is_a_clear_error():
    with pytest.raises(ValueError, match="signature_radius_deg"):
        sample_segments(_regions(1), 3.2, 48, 16, 9.0)
