"""Dhuri et al. 2020 (S4): emergence time, emerging/control maps, segments, network, baselines."""

from __future__ import annotations

from pathlib import Path

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


# ---------------------------------------------------------------------------- network
def test_fcn_architecture_and_head():
    torch = pytest.importorskip("torch")
    from flarepipe.models.registry import build_model

    net = build_model("dhuri_fcn")  # the paper's: depth 3, 16-32-64 filters, 256 final filters
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 32, 64, 256]
    assert all(c.kernel_size == (3, 3) for c in convs)
    pools = [m for m in net.modules() if isinstance(m, torch.nn.MaxPool2d)]
    assert len(pools) == 3 and all(p.kernel_size == 2 for p in pools)
    assert not any(isinstance(m, torch.nn.ReLU) for m in net.modules())  # identity activation
    assert net.final_maps(torch.zeros(1, 1, 85, 85)).shape[-2:] == (6, 6)  # the 6x6 max-pool
    assert net(torch.zeros(2, 1, 85, 85)).shape == (2, 1)
    with pytest.raises(ValueError, match="at least 158x158"):
        build_model("dhuri_fcn", depth=5)(torch.zeros(1, 1, 85, 85))
    assert build_model("dhuri_fcn", depth=5, padding=1)(torch.zeros(1, 1, 85, 85)).shape == (1, 1)


def test_pruning_keeps_the_configured_filters_and_contributions_match_a_hand_computation():
    torch = pytest.importorskip("torch")
    from flarepipe.studies.dhuri2020.experiment import prune_by_net_contribution
    from flarepipe.training.segments import SegmentTrainSettings, fit_segment_network

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    seg = rng.normal(0, 10, (64, 16, 16)).astype(np.float32)
    y = np.r_[np.ones(32), np.zeros(32)]
    seg[:32, 6:10, 6:10] += 40.0  # something to learn
    st = SegmentTrainSettings(
        lr=0.01, epochs=2, network=dict(depth=1, base_filters=4, final_filters=12)
    )
    net = fit_segment_network(seg, y, st, seed=1)
    m = net.model
    # hand computation: standardise, conv -> pool -> conv by numpy/scipy, max, times w_i
    from scipy.signal import correlate2d

    x = (seg[:5] - net.mean) / net.std
    w1, b1 = m.features[0].weight.detach().numpy(), m.features[0].bias.detach().numpy()
    w2, b2 = m.final[0].weight.detach().numpy(), m.final[0].bias.detach().numpy()
    wh = m.head.weight.detach().numpy()[0]
    hand = np.zeros((5, 12))
    for i in range(5):
        h = np.stack([correlate2d(x[i], w1[c, 0], "valid") + b1[c] for c in range(4)])
        h = h.reshape(4, 7, 2, 7, 2).max(axis=(2, 4))
        o = np.stack(
            [sum(correlate2d(h[c], w2[f, c], "valid") for c in range(4)) + b2[f] for f in range(12)]
        )
        hand[i] = o.max(axis=(1, 2)) * wh
    np.testing.assert_allclose(net.contributions(seg[:5]), hand, rtol=1e-4, atol=1e-5)
    logit = torch.logit(torch.tensor(net.prob(seg[:5]), dtype=torch.float64)).numpy()
    np.testing.assert_allclose(logit, hand.sum(1) + m.head.bias.item(), rtol=1e-4, atol=1e-4)
    # S_net = S_TP - S_TN by hand, and pruning keeps exactly the top filters
    pred = net.prob(seg) >= 0.5
    F = net.contributions(seg)
    s_hand = F[pred & (y == 1)].sum(0) - F[~pred & (y == 0)].sum(0)
    kept, s_net = prune_by_net_contribution(net, seg, y, keep=4)
    np.testing.assert_allclose(s_net, s_hand, rtol=1e-6)
    assert kept.tolist() == sorted(np.argsort(-s_hand)[:4].tolist())
    assert m.keep.numpy().nonzero()[0].tolist() == kept.tolist()
    after = net.contributions(seg[:5])
    assert (after[:, np.setdiff1d(np.arange(12), kept)] == 0).all()
    np.testing.assert_allclose(after[:, kept], hand[:, kept], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="prune_keep"):
        prune_by_net_contribution(net, seg, y, keep=13)


def test_unsigned_variant_sees_the_absolute_field():
    pytest.importorskip("torch")
    from flarepipe.training.segments import SegmentTrainSettings, fit_segment_network

    rng = np.random.default_rng(1)
    seg = rng.normal(0, 10, (8, 16, 16)).astype(np.float32)
    y = np.r_[np.ones(4), np.zeros(4)]
    st = SegmentTrainSettings(unsigned=True, network=dict(depth=1, base_filters=2, final_filters=3))
    net = fit_segment_network(seg, y, st)
    assert net.mean == pytest.approx(np.abs(seg).mean(), rel=1e-5)
    np.testing.assert_allclose(net.prob(seg), net.prob(-seg))  # polarity-free


def test_segment_training_is_a_seeded_lightning_fit():
    """The Lightning fit repeats exactly from its seed; another seed gives another network."""
    torch = pytest.importorskip("torch")
    from flarepipe.training.segments import SegmentTrainSettings, fit_segment_network

    torch.set_num_threads(1)
    rng = np.random.default_rng(2)
    seg = rng.normal(0, 10, (24, 16, 16)).astype(np.float32)
    seg[:12, 6:10, 6:10] += 30.0
    y = np.r_[np.ones(12), np.zeros(12)]
    st = SegmentTrainSettings(epochs=2, network=dict(depth=1, base_filters=2, final_filters=3))
    a, b = fit_segment_network(seg, y, st, seed=4), fit_segment_network(seg, y, st, seed=4)
    c = fit_segment_network(seg, y, st, seed=5)
    assert type(a.model).__name__ == "DhuriFCN" and not a.model.training
    np.testing.assert_array_equal(a.prob(seg), b.prob(seg))
    assert not np.array_equal(a.prob(seg), c.prob(seg))
    # the sign flip is for the signed field only; unknown augmentations are refused
    every = ("hflip", "vflip", "sign")
    assert SegmentTrainSettings(augment=every).batch_augment == every
    assert SegmentTrainSettings(augment=every, unsigned=True).batch_augment == ("hflip", "vflip")
    with pytest.raises(ValueError, match="rot45"):
        SegmentTrainSettings(augment=("rot45",))


# ---------------------------------------------------------------------------- KDE baseline
def test_kde_discriminant_boundary_separates_two_flux_populations():
    from flarepipe.training.kde import KDEDiscriminant

    rng = np.random.default_rng(2)
    x = np.r_[10 ** rng.normal(21.0, 0.05, 200), 10 ** rng.normal(21.3, 0.05, 200)]
    y = np.r_[np.zeros(200), np.ones(200)]
    kde = KDEDiscriminant().fit(x, y)
    assert kde.threshold_ == pytest.approx(0.0)
    grid = np.logspace(20.8, 21.5, 141)
    side = kde.boundary(grid)
    flips = np.nonzero(np.diff(side))[0]
    assert len(flips) == 1 and 10**21.1 < grid[flips[0]] < 10**21.2  # one boundary, midway
    assert (kde.predict(x) == y).mean() > 0.95
    with pytest.raises(ValueError, match="both classes"):
        KDEDiscriminant().fit(x[:10], y[:10])
    with pytest.raises(ValueError, match="> 0"):
        KDEDiscriminant().fit(-x, y)


# ---------------------------------------------------------------------------- the null
def test_with_the_signature_off_every_method_is_at_chance():
    """TSS of every method at the shortest lead within 4 null sd of zero (5 seeded comparisons).

    With the signature off, emerging and control maps come from one distribution and each
    method's threshold comes from other regions, so its test TSS has mean 0 and a standard
    deviation of at most ``sqrt(1/(4P) + 1/(4N))`` (``null_sd``); 4 sd over 5 comparisons is a
    family-wise false alarm below 0.1% (normal approximation). The same settings with the
    signature on must lift the oracle far above that bound, so the test can fail.
    """
    pytest.importorskip("torch")
    from flarepipe.studies.dhuri2020.experiment import METHODS, StudySettings, run_study, tss_table
    from flarepipe.training.segments import SegmentTrainSettings

    st = StudySettings(
        site_radius_deg=3.0,
        n_pe=20,
        n_ne_control=10,
        n_ne_emerging=10,
        methods=METHODS,
        train=SegmentTrainSettings(
            lr=0.01, epochs=1, network=dict(depth=1, base_filters=4, final_filters=8)
        ),
        prune_keep=2,
    )
    base = {**TINY, "n_regions": 20, "lead_times_h": (3.2,)}
    off = tss_table(run_study(generate_emergence(EmergenceParams(**base, signature_flux_mx=0)), st))
    assert len(off) == len(METHODS) and (off["n_pos"] == 20).all()
    assert (off["n_neg"] == 17 * 20).all()
    assert (off["tss"].abs() <= 4 * off["null_sd"]).all(), off.to_string()
    on = generate_emergence(
        EmergenceParams(**{**base, "lead_times_h": (3.2, 24.5)}, signature_flux_mx=4e20)
    )
    st_or = StudySettings(**{**st.__dict__, "methods": ("oracle",)})
    t = tss_table(run_study(on, st_or)).set_index("lead_h")["tss"]
    assert t[3.2] > 5 * off["null_sd"].max() and t[3.2] > t[24.5], t


# ---------------------------------------------------------------------------- local path
def test_local_layout_round_trip_and_errors(tmp_path):
    from flarepipe.archive.sources.emergence_local import read_emergence_local
    from flarepipe.archive.sources.synthetic.emergence import write_emergence_archive

    p = EmergenceParams(**{**TINY, "n_regions": 2, "lead_times_h": (3.2, 8.5)})
    es = generate_emergence(p)
    root = write_emergence_archive(es, tmp_path / "em")
    back = read_emergence_local(root, (3.2, 8.5))
    assert set(back.maps) == set(es.maps) and back.cdelt_deg == pytest.approx(p.cdelt_deg)
    for k, m in es.maps.items():
        np.testing.assert_allclose(back.maps[k], m, atol=0.006)  # stored in steps of 0.01 G
    assert list(back.regions["kind"]) == list(es.regions["kind"])
    # the same sampling runs on what was read
    n, seg = back.maps[("E0000", 3.2)].shape[0], 16
    t = sample_segments(back.regions, 3.2, n, seg, p.signature_radius_deg / back.cdelt_deg)
    assert contains_site(t.loc[t.label == 1, "y0"], t.loc[t.label == 1, "x0"], seg, n, 4.8).all()
    with pytest.raises(ValueError, match=r"maps.csv: row \d+ .*matches no lead time"):
        read_emergence_local(root, (3.2, 13.9))
    maps = pd.read_csv(root / "maps.csv")
    maps.iloc[1:].to_csv(root / "maps.csv", index=False)
    with pytest.raises(ValueError, match="no map of .* at −"):
        read_emergence_local(root, (3.2, 8.5))
    reg = pd.read_csv(root / "regions.csv")
    reg.loc[0, "kind"] = "quiet"
    reg.to_csv(root / "regions.csv", index=False)
    with pytest.raises(ValueError, match=r"regions.csv: row 2: kind must be one of"):
        read_emergence_local(root, (3.2, 8.5))
    reg.drop(columns="t0").to_csv(root / "regions.csv", index=False)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['t0'\]"):
        read_emergence_local(root, (3.2, 8.5))


# ---------------------------------------------------------------------------- configuration
def test_study_config_cross_checks_name_the_fields():
    import yaml

    from flarepipe.config import validate_config
    from flarepipe.studies.dhuri2020.experiment import study_settings
    from flarepipe.studies.dhuri2020.settings import check_emergence

    repo = Path(__file__).resolve().parents[1]
    cfg = yaml.safe_load((repo / "config.yaml").read_text())
    cfg["emergence"] = yaml.safe_load((repo / "config/studies/dhuri2020.yaml").read_text())[
        "emergence"
    ]
    validate_config(cfg)
    params, st = study_settings(cfg["emergence"])
    assert params.map_px == 256 and params.cdelt_deg * 85 == pytest.approx(10.0, rel=0.01)
    assert st.train.batch_size == 32 and st.train.network["final_filters"] == 256
    assert st.prune_keep == 4 and st.folds == 5 and st.n_pe == 100
    em = cfg["emergence"]
    with pytest.raises(ValueError, match="emergence.site_radius_deg .* emergence.segment_deg"):
        check_emergence({**em, "site_radius_deg": 5.0})
    with pytest.raises(ValueError, match="emergence.synthetic.map_deg"):
        check_emergence({**em, "segment_deg": 12.0})
    assert st.depths == (1, 2, 4)
    with pytest.raises(ValueError, match="too small for a depth-5 network"):
        check_emergence({**em, "depths": [5]})
    with pytest.raises(ValueError, match="set emergence.local_root"):
        check_emergence({**em, "source": "local"})


def test_tiny_study_runs_end_to_end_in_the_workflow(tmp_path):
    """config/studies/dhuri2020_tiny.yaml: archive -> per-lead forecasts -> report."""
    from conftest import REPO, run_study

    configs = [REPO / "config/tiny.yaml", REPO / "config/studies/dhuri2020_tiny.yaml"]
    res = run_study(tmp_path, configs, "emergence_all")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = tmp_path / "results" / "dhuri2020_tiny" / "emergence"
    tss = pd.read_csv(out / "tss.csv")
    assert set(tss["method"]) == {
        "network_depth2",
        "network",
        "network_pruned",
        "kde_flux",
        "kde_flux_dipole",
        "oracle",
    }
    assert sorted(set(tss["lead_h"])) == [3.2, 24.5]
    assert (tss["n_pos"] == 5).all() and (tss["n_neg"] == 85).all() and tss["tss"].notna().all()
    pub = tss.set_index(["method", "lead_h"])["tss_published"]
    assert pub[("network", 3.2)] == 0.846 and pub[("kde_flux", 3.2)] == 0.658
    assert pub[("network", 24.5)] == 0.433
    md = (out / "report.md").read_text()
    assert "| network | −3.2 |" in md and "0.846 ± 0.064" in md
    assert (out / "tss_vs_lead.png").stat().st_size > 10_000
    assert "## Network output against total unsigned flux" in md
    assert "| network_pruned | −3.2 | contrib_2 |" in md  # prune_keep: 2 filters reported
    pred = pd.read_csv(out / "predictions" / "lead_3.2.csv")
    pruned = pred[pred["method"] == "network_pruned"]
    assert pruned["filters"].str.split(";").str.len().eq(2).all()
    assert pred.loc[pred["method"] != "network_pruned", "contrib_1"].isna().all()
    occ = np.load(out / "occlusion" / "lead_3.2.npz")  # one pair of fold 0, the 3x3 grid area
    assert len(occ.files) == 4 and occ[occ.files[0]].shape == (48, 48)
    assert any(np.abs(occ[k]).max() > 0 for k in occ.files if k.endswith("/occlusion"))
    assert (out / "occlusion.png").stat().st_size > 10_000
    probes = pd.read_csv(out / "probes" / "lead_3.2.csv")  # fold-0 networks, depths 1 and 2
    pairs = set(zip(probes["method"], probes["depth"], strict=True))
    assert pairs == {("network", 1), ("network_depth2", 2)}
    assert len(probes) == 2 * 25 and {"prob", "contrib_1", "contrib_2"} <= set(probes.columns)
    assert probes["prob"].between(0, 1).all() and (out / "probes.png").stat().st_size > 10_000
    assert (out / "gallery.png").stat().st_size > 10_000
    archive = tmp_path / "results" / "dhuri2020_tiny" / "emergence" / "archive"
    assert len(pd.read_csv(archive / "maps.csv")) == 2 * 5 * 2


def test_output_bins_count_every_segment_once():
    from flarepipe.studies.dhuri2020.scores import output_bins

    pred = pd.DataFrame(
        {
            "method": "network",
            "lead_h": 3.2,
            "score": [0.0, 0.1, 0.5, 0.99, 1.0],
            "label": [0, 0, 1, 1, 1],
            "mtot_mx": [1.0, 3.0, 5.0, 7.0, 9.0],
        }
    )
    b = output_bins(pred, edges=[0, 0.5, 1])
    assert b["n"].tolist() == [2, 3] and b["mean_mtot_mx"].tolist() == [2.0, 7.0]
    assert b["pe_share"].tolist() == [0.0, 1.0]


def test_circular_bipole_probe_is_two_opposite_discs():
    from flarepipe.studies.dhuri2020.probes import circular_bipole

    m = circular_bipole(85, 30 / 256, radius_deg=1.0, field_g=200.0)
    area = np.pi * (1.0 / (30 / 256)) ** 2
    assert set(np.unique(m)) == {-200.0, 0.0, 200.0}
    assert (m > 0).sum() == (m < 0).sum() == pytest.approx(area, rel=0.08)
    assert m[:, :42].min() == 0 and m[:, 43:].max() == 0  # + on the left, - on the right
