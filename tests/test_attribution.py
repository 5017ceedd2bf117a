"""Attribution: captum methods on networks with known answers, probes, planted truth, PIL, the
randomisation check, the workflow stage and its input errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import ndimage
from torch import nn

from flarepipe.attribution import analysis, inputs, postprocess, probes
from flarepipe.attribution.errors import AttributionInputError
from flarepipe.attribution.inputs import Network, Preprocessing
from flarepipe.attribution.methods import METHODS, MethodSettings, attribute, conv_layers
from flarepipe.attribution.settings import resolve_settings

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]
SIZE = 32


# --------------------------------------------------------------------------------------------
# networks with a known answer


class PixelNet(nn.Module):
    """Logit = w * ReLU(x[i, j]): reads one pixel."""

    input_key = "image"
    n_outputs = 1

    def __init__(self, i: int, j: int, w: float = 2.0) -> None:
        super().__init__()
        self.i, self.j, self.w = i, j, w
        self.conv = nn.Conv2d(1, 1, 1, bias=False)
        nn.init.ones_(self.conv.weight)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w * self.relu(self.conv(x))[:, :, self.i, self.j]


class SpotNet(nn.Module):
    """Logit = max over pixels of ReLU(x): fires on the brightest spot (Grad-CAM's known case)."""

    input_key = "image"
    n_outputs = 2

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1, bias=False)
        nn.init.ones_(self.conv.weight)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveMaxPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.pool(self.relu(self.conv(x))).flatten(1)
        return torch.cat([torch.zeros_like(s), s], dim=1)


class StepNet(nn.Module):
    """Two scores whose log-odds is w * x[t, k]: reads one keyword at one time step."""

    input_key = "sequence"
    n_outputs = 2

    def __init__(self, t: int, k: int, w: float = 1.5) -> None:
        super().__init__()
        self.t, self.k = t, k
        self.lin = nn.Linear(1, 1)
        with torch.no_grad():
            self.lin.weight.fill_(w)
            self.lin.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.lin(x[:, self.t, self.k : self.k + 1])
        return torch.cat([torch.zeros_like(d), d], dim=1)


class DenseHeadNet(nn.Module):
    """Logit = w * ReLU(conv(x))[i, j] through a flattening linear layer (a dense head)."""

    input_key = "image"
    n_outputs = 1

    def __init__(self, i: int, j: int, w: float = 2.0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1, bias=False)
        nn.init.ones_(self.conv.weight)
        self.relu = nn.ReLU()
        self.head = nn.Linear(SIZE * SIZE, 1, bias=False)
        with torch.no_grad():
            self.head.weight.zero_()
            self.head.weight[0, i * SIZE + j] = w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.relu(self.conv(x)).flatten(1))


def _net(module: nn.Module, model: str = "toy") -> Network:
    return Network(module.eval(), model, module.input_key, module.n_outputs, {})


def _image_batch(n: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.2, 1.0, (n, 1, SIZE, SIZE)).astype(np.float32)


def _peak(a: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in np.unravel_index(np.argmax(np.abs(a)), a.shape))


@pytest.mark.parametrize("method", ["integrated_gradients", "deeplift"])
def test_path_methods_completeness_and_peak_on_one_pixel_net(method):
    net = _net(PixelNet(5, 9))
    x = _image_batch()
    (ms,) = attribute(net, x, method, MethodSettings(baseline="mean", ig_steps=16))
    f = 2.0 * x[:, 0, 5, 9]  # f(x) - f(0): the baseline is 0
    np.testing.assert_allclose(ms.maps.reshape(3, -1).sum(1), f, rtol=1e-4)
    assert np.abs(ms.delta).max() < 1e-4
    for a in ms.maps:
        assert _peak(a[0]) == (5, 9)
        assert np.count_nonzero(a) == 1


def test_zero_field_baseline_is_b0_through_the_standardisation():
    pre = Preprocessing(
        SIZE,
        4,
        image_mean=50.0,
        image_std=200.0,
        instrument="HMI",
        keywords=[],
        log_keywords=[],
        sequence_stats={},
    )
    net = _net(PixelNet(2, 3))
    x = _image_batch(1)
    (ms,) = attribute(
        net,
        x,
        "deeplift",  # exact for ReLU (rescale rule)
        MethodSettings(baseline="zero_field", zero_field_value=pre.zero_field()),
    )
    base = pre.zero_field()  # -0.25: B = 0 G in standardised units
    assert base == pytest.approx(-0.25)
    np.testing.assert_allclose(ms.maps.sum(), 2.0 * (x[0, 0, 2, 3] - max(base, 0.0)), rtol=1e-4)
    assert pre.field_of(np.array([base]))[0] == pytest.approx(0.0)


@pytest.mark.parametrize("method", ["guided_backprop", "deconvolution"])
def test_backprop_methods_peak_on_the_pixel_read(method):
    net = _net(PixelNet(20, 4))
    (ms,) = attribute(net, _image_batch(), method)
    for a in ms.maps:
        assert _peak(a[0]) == (20, 4) and np.count_nonzero(a) == 1 and a[0, 20, 4] > 0


def test_occlusion_changes_only_windows_covering_the_pixel():
    net = _net(PixelNet(10, 12))
    x = _image_batch(2)
    (one,) = attribute(
        net, x, "occlusion", MethodSettings(baseline="mean", occlusion_window=1, occlusion_stride=1)
    )
    for a in one.maps:
        assert _peak(a[0]) == (10, 12) and np.count_nonzero(a) == 1
    p = 1.0 / (1.0 + np.exp(-2.0 * x[:, 0, 10, 12]))
    np.testing.assert_allclose(one.maps[:, 0, 10, 12], p - 0.5, rtol=1e-5)  # prob change
    (three,) = attribute(
        net, x, "occlusion", MethodSettings(baseline="mean", occlusion_window=3, occlusion_stride=1)
    )
    nz = np.argwhere(three.maps[0, 0] != 0)
    assert nz.min(0).tolist() == [8, 10] and nz.max(0).tolist() == [12, 14]  # 3x3 windows


def test_gradcam_peaks_on_the_spot_and_negative_class_is_signed():
    net = _net(SpotNet())
    x = np.zeros((2, 1, SIZE, SIZE), np.float32)
    x[0, 0, 7, 25] = 3.0
    x[1, 0, 18, 3] = 2.0
    assert conv_layers(net.module) == ["conv"]
    (pos,) = attribute(net, x, "gradcam")
    (neg,) = attribute(net, x, "gradcam_negative")
    assert pos.layer == "conv" and neg.layer == "conv"
    assert _peak(pos.maps[0, 0]) == (7, 25) and _peak(pos.maps[1, 0]) == (18, 3)
    assert (pos.maps >= 0).all()
    assert neg.maps[0, 0, 7, 25] < 0 and np.unravel_index(
        np.argmin(neg.maps[0, 0]), (SIZE, SIZE)
    ) == (7, 25)


def test_hirescam_localises_behind_a_dense_head_where_gradcam_cannot():
    """A dense head reading one position: Grad-CAM's averaged weight spreads its map over the
    activation (it peaks on the brightest pixel); HiResCAM is gradient x activation there only."""
    net = _net(DenseHeadNet(10, 20, w=2.0))
    x = _image_batch(2)
    x[:, 0, 3, 4] = 5.0  # a brighter pixel the head does not read
    (hires,) = attribute(net, x, "hirescam", MethodSettings(gradcam_layers=["conv"]))
    (cam,) = attribute(net, x, "gradcam", MethodSettings(gradcam_layers=["conv"]))
    assert hires.method == "hirescam" and hires.layer == "conv"
    for k in range(2):
        assert _peak(hires.maps[k, 0]) == (10, 20) and np.count_nonzero(hires.maps[k, 0]) == 1
        np.testing.assert_allclose(hires.maps[k, 0, 10, 20], 2.0 * x[k, 0, 10, 20], rtol=1e-5)
        assert _peak(cam.maps[k, 0]) == (3, 4)
    with pytest.raises(AttributionInputError, match="gradcam_layers: the network has no layer"):
        attribute(net, x, "hirescam", MethodSettings(gradcam_layers=["convs.conv9"]))


def test_sequence_methods_over_time_and_keywords():
    net = _net(StepNet(11, 2))
    x = np.random.default_rng(1).standard_normal((4, 16, 4)).astype(np.float32)
    for method in ("integrated_gradients", "deeplift"):
        (ms,) = attribute(net, x, method)  # baseline: the first frame (S1)
        expected = 1.5 * (x[:, 11, 2] - x[:, 0, 2])
        np.testing.assert_allclose(ms.maps.reshape(4, -1).sum(1), expected, rtol=1e-4, atol=1e-6)
        assert all(_peak(a) == (11, 2) for a in ms.maps)
    (occ,) = attribute(net, x, "occlusion")
    assert all(np.count_nonzero(a) == 1 and a[11, 2] != 0 for a in occ.maps)


@pytest.mark.parametrize("model", ["cnn", "lstm"])
def test_integrated_gradients_completeness_on_registered_networks(model):
    from flarepipe.models import build_model

    torch.manual_seed(0)
    params = (
        {"width": 0.125, "hidden": (16, 8), "pooled_size": 2} if model == "cnn" else {"hidden": 16}
    )
    net = Network(
        build_model(model, **params).eval(),
        model,
        "image" if model == "cnn" else "sequence",
        2,
        params,
    )
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 1, SIZE, SIZE) if model == "cnn" else (3, 16, 4)).astype(np.float32)
    (ms,) = attribute(net, x, "integrated_gradients", MethodSettings(ig_steps=128, baseline="mean"))
    with torch.no_grad():
        s = net.module(torch.from_numpy(x))
        s0 = net.module(
            torch.from_numpy(x[:, :1].repeat(16, 1) if model == "lstm" else np.zeros_like(x))
        )
    change = ((s[:, 1] - s[:, 0]) - (s0[:, 1] - s0[:, 0])).numpy()
    np.testing.assert_allclose(ms.maps.reshape(3, -1).sum(1), change, rtol=2e-2, atol=2e-3)


def test_method_errors_name_the_setting():
    net = _net(PixelNet(1, 1))
    x = _image_batch(1)
    with pytest.raises(AttributionInputError, match="unknown method 'saliency_x'"):
        attribute(net, x, "saliency_x")
    with pytest.raises(AttributionInputError, match="gradcam_layers: the network has no layer"):
        attribute(net, x, "gradcam", MethodSettings(gradcam_layers=["convs.conv9"]))
    with pytest.raises(AttributionInputError, match="occlusion: window 40 px"):
        attribute(net, x, "occlusion", MethodSettings(occlusion_window=40))
    seq = _net(StepNet(0, 0))
    with pytest.raises(AttributionInputError, match="guided_backprop does not apply"):
        attribute(seq, np.zeros((1, 16, 4), np.float32), "guided_backprop")
    assert set(METHODS) == {
        "integrated_gradients",
        "deeplift",
        "guided_backprop",
        "deconvolution",
        "gradcam",
        "gradcam_negative",
        "hirescam",
        "occlusion",
    }
    with pytest.raises(AttributionInputError, match=r"attribution\.methods\.0"):
        resolve_settings({"methods": ["lime"]})
    with pytest.raises(AttributionInputError, match=r"attribution\.occlusion\.window"):
        resolve_settings({"occlusion": {"window": 0}})
    assert resolve_settings({})["select"]["TP"] == 2  # defaults come from the schema
    assert "hirescam" not in resolve_settings({})["methods"]  # opt-in
    assert resolve_settings({"methods": ["hirescam"]})["methods"] == ["hirescam"]


# --------------------------------------------------------------------------------------------
# post-processing, selection, planted truth, PIL, randomisation


def test_upsample_second_order_spline_to_patch_shape():
    a = np.zeros((8, 8))
    a[4, 4] = 1.0
    up = postprocess.upsample(a, (35, 50))
    assert up.shape == (35, 50)
    r, c = np.unravel_index(np.argmax(up), up.shape)
    assert abs(r - 4.5 * 35 / 8) <= 2.5 and abs(c - 4.5 * 50 / 8) <= 3.5
    ramp = np.tile(np.linspace(0, 1, 8), (8, 1))  # order 2 reproduces smooth maps closely
    up = postprocess.upsample(ramp, (8, 32))
    assert np.all(np.diff(up[4, 3:-3]) >= -1e-6)
    n = postprocess.normalise_abs(np.array([[[-2.0, 1.0]], [[0.0, 0.0]]]))
    np.testing.assert_allclose(n, [[[1.0, 0.5]], [[0.0, 0.0]]])
    s = postprocess.smooth(np.pad(np.ones((1, 1)), 10), 3.0)
    assert s.max() < 0.1 and postprocess.contour_levels(s)[-1] == pytest.approx(0.9 * s.max())


def test_select_samples_truth_table():
    preds = pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(8)],
            "label": [1, 1, 0, 0, 1, 0, 1, 0],
            "prob": [0.9, 0.6, 0.8, 0.1, 0.2, 0.4, 0.95, 0.3],
            "region_id": ["A", "A", "B", "B", "C", "C", "A", "B"],
            "t_end": pd.date_range("2011-01-01", periods=8, freq="96min"),
        }
    )
    sel = analysis.select_samples(preds, {"TP": 1, "FP": 1, "FN": 1, "TN": 1}, top_k=2)
    assert sel["sample_id"].tolist() == ["s6", "s2", "s4", "s3"]  # top 2: regions A, B
    assert sel["category"].tolist() == ["TP", "FP", "FN", "TN"]
    assert sel["reason"].tolist() == ["TP+top", "FP+top", "FN", "TN"]
    sel = analysis.select_samples(preds, {"TP": 2, "TN": 3})
    assert sel["sample_id"].tolist() == ["s6", "s0", "s3", "s5", "s7"]  # TN: B, C, then B
    sel = analysis.select_samples(
        preds, {}, regions=["B"], per_region=2, sample_ids=["s5"], extra={"planted": ["s1"]}
    )
    assert sel["sample_id"].tolist() == ["s2", "s7", "s5", "s1"]
    with pytest.raises(AttributionInputError, match="select.samples: sample id"):
        analysis.select_samples(preds, {}, sample_ids=["nope"])
    with pytest.raises(AttributionInputError, match="region 'Z' has no sample"):
        analysis.select_samples(preds, {}, regions=["Z"])
    with pytest.raises(AttributionInputError, match="chose no sample"):
        analysis.select_samples(preds[preds["label"] == 0], {"TP": 3, "FN": 2})
    with pytest.raises(AttributionInputError, match="unknown categor"):
        analysis.select_samples(preds, {"TQ": 1})


def test_mask_scores_known_answers():
    mask = np.zeros((10, 10), bool)
    mask[2:4, 2:7] = True  # 10 % of the area
    on = mask.astype(float)
    s = analysis.mask_scores(on, mask)
    assert s["mask_area"] == pytest.approx(0.1) and s["mask_share"] == pytest.approx(1.0)
    assert s["enrichment"] == pytest.approx(10.0) and s["pointing_hit"] == 1.0
    s = analysis.mask_scores(np.ones((10, 10)), mask)
    assert s["enrichment"] == pytest.approx(1.0)
    off = 1.0 - on
    off[8, 8] = 5.0
    s = analysis.mask_scores(-off, mask)  # absolute value counts
    assert s["mask_share"] == 0.0 and s["pointing_hit"] == 0.0
    assert np.isnan(analysis.mask_scores(on, np.zeros_like(mask))["enrichment"])


def test_pil_mask_and_scores_on_a_bipole():
    field = np.zeros((20, 20))
    field[:, :10] = 400.0
    field[:, 10:] = -400.0
    field[:, :2] = 0.0
    m = analysis.pil_mask(field, threshold_g=150.0)
    assert m["pil"][:, 9:11].all() and m["pil"].sum() == 40
    assert m["boundary"][:, 1].all() and not m["boundary"][:, 9:11].any()
    attr = np.zeros_like(field)
    attr[:, 9:11] = 1.0
    s = analysis.pil_scores(attr, m)
    assert s["pil_mean"] == 1.0 and s["non_pil_mean"] == 0.0 and np.isnan(s["pil_ratio"])
    assert s["pil_iou"] == pytest.approx(1.0)
    attr[:, 0:3] = 0.5
    s = analysis.pil_scores(attr, m)
    assert s["pil_ratio"] == pytest.approx(1.0 / (0.5 * 60 / 360)) and s["pil_boundary_ratio"] > 1
    assert s["pil_iou"] == pytest.approx(40 / 100)


def _train_cnn(seed: int) -> tuple[Network, np.ndarray]:
    """A small CNN trained (plain torch, seeded) to tell a blob on the left from one on the
    right."""
    from flarepipe.models import build_model

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)

    def data(n):
        x = rng.standard_normal((n, 1, SIZE, SIZE)).astype(np.float32) * 0.3
        y = rng.integers(0, 2, n)
        yy, xx = np.mgrid[:SIZE, :SIZE]
        for i in range(n):
            cx = rng.integers(4, 12) if y[i] else rng.integers(20, 28)
            cy = rng.integers(6, 26)
            x[i, 0] += 2.5 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 6.0)
        return x, y

    params = {"width": 0.125, "hidden": (16, 8), "pooled_size": 2}
    net = build_model("cnn", **params)
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    x, y = data(384)
    net.train()
    for _ in range(2):
        perm = rng.permutation(len(x))
        for b in range(0, len(x), 32):
            idx = perm[b : b + 32]
            loss = nn.functional.cross_entropy(
                net(torch.from_numpy(x[idx])), torch.from_numpy(y[idx])
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
    xt, yt = data(8)
    net.eval()
    with torch.no_grad():
        assert (net(torch.from_numpy(xt)).argmax(1).numpy() == yt).mean() >= 0.75
    return Network(net, "cnn", "image", 2, params), xt


def test_randomisation_check_fails_a_method_that_ignores_weights():
    """Adebayo et al. 2018: maps of the trained vs a randomly initialised network.

    Measured over seeds 0-2 (4-8 samples each): occlusion's mean rank correlation 0.12-0.23,
    Grad-CAM's last conv layer -0.09-0.26, against the bound 0.5; an edge detector of the input,
    which ignores the weights, correlates 1.0 and fails.
    """
    trained, x = _train_cnn(0)
    rand = inputs.random_network(trained, seed=100)
    assert not torch.equal(next(trained.module.parameters()), next(rand.module.parameters()))
    s = MethodSettings(baseline="mean")
    (a,) = attribute(trained, x, "occlusion", s)
    (b,) = attribute(rand, x, "occlusion", s)
    occ = [analysis.rank_correlation(a.maps[i], b.maps[i]) for i in range(len(x))]
    assert analysis.randomisation_passes(occ, 0.5), occ

    def edges(network, batch):  # a "method" that never looks at the network
        return np.stack(
            [np.hypot(ndimage.sobel(im[0], 0), ndimage.sobel(im[0], 1)) for im in batch]
        )

    edge = [
        analysis.rank_correlation(p, q)
        for p, q in zip(edges(trained, x), edges(rand, x), strict=True)
    ]
    assert np.allclose(edge, 1.0)
    assert not analysis.randomisation_passes(edge, 0.5)
    assert not analysis.randomisation_passes([np.nan, np.nan], 0.5)
    assert analysis.randomisation_passes([np.nan, 0.2], 0.5)


# --------------------------------------------------------------------------------------------
# probes


def test_probe_field_is_the_archive_function_and_carries_the_planted_flux():
    from flarepipe.archive.sources import synthetic

    assert inputs.bipole_field is synthetic.bipole_field
    assert inputs.b0_for_flux is synthetic.b0_for_flux
    rho = 1.0
    b0 = inputs.b0_for_flux(1e22, np.radians(rho))
    bmap = probes.bipole_map("MDI", b0, rho, 30.0, width_deg=12.0, aspect=1.0)
    from flarepipe.core.magnetic import pixel_area_cm2

    flux = np.abs(bmap).sum() * pixel_area_cm2(0.12)
    assert flux == pytest.approx(1e22, rel=0.03)
    u = probes.uniform_bipole_map("HMI", 0.5, 800.0, "+-")
    assert u.max() == 800.0 and u.min() == -800.0
    assert (u[:, : u.shape[1] // 2] >= 0).all() and (u[:, u.shape[1] // 2 :] <= 0).all()
    assert np.array_equal(probes.uniform_bipole_map("HMI", 0.5, 800.0, "-+"), -u)


class EnergyNet(nn.Module):
    """Logit = log of the mean squared field (p = m / (1 + m)): rotation- and sign-invariant."""

    input_key = "image"
    n_outputs = 1

    def forward(self, x):
        return torch.log((x**2).mean(dim=(1, 2, 3)) + 1e-12).unsqueeze(1)


class LeftPositiveNet(nn.Module):
    """Logit = mean of the left half minus the right half: tells +- from -+."""

    input_key = "image"
    n_outputs = 1

    def forward(self, x):
        w = x.shape[-1] // 2
        return (x[..., :w].mean(dim=(1, 2, 3)) - x[..., w:].mean(dim=(1, 2, 3))).unsqueeze(1) * 20


class FluxStepNet(nn.Module):
    """Logit = the last step's first keyword (standardised log flux)."""

    input_key = "sequence"
    n_outputs = 1

    def forward(self, x):
        return x[:, -1, 0:1] * 3.0


def _pre() -> Preprocessing:
    return Preprocessing(
        SIZE,
        4,
        image_mean=0.0,
        image_std=300.0,
        instrument="HMI",
        keywords=["usfluxl_mx", "meangbl_g_per_px", "r_value", "area_uhem"],
        log_keywords=["usfluxl_mx", "area_uhem"],
        sequence_stats={"HMI": {"mean": [21.7, 100.0, 4.0, 2.5], "std": [0.4, 50.0, 1.0, 0.4]}},
    )


def test_probe_sweeps_respond_to_the_probe_parameter():
    pre = _pre()
    t = probes.probe_table(_net(EnergyNet()), pre, "HMI")
    assert set(t["family"]) == {"bipole", "uniform"}

    def curve(family, name):
        s = t[(t["family"] == family) & (t["parameter"] == name)]
        return s.assign(v=s["value"].astype(float)).sort_values("v")["prob"].to_numpy()

    for fam, name in [("bipole", "b0_g"), ("uniform", "field_g"), ("uniform", "radius_deg")]:
        c = curve(fam, name)
        assert np.all(np.diff(c) > 0) and c[-1] - c[0] > 0.3, (fam, name, c)
    tilt = curve("bipole", "tilt_deg")
    assert np.ptp(tilt) < 0.2 * np.ptp(curve("bipole", "b0_g"))  # a rotation-invariant network
    lr = probes.probe_table(
        _net(LeftPositiveNet()), pre, "HMI", {"bipole": {"b0_g": [], "rho_deg": [], "tilt_deg": []}}
    )
    o = lr[lr["parameter"] == "orientation"].set_index("value")["prob"]
    assert o["+-"] > 0.9 and o["-+"] < 0.1
    seq = probes.probe_table(_net(FluxStepNet()), pre, "HMI", steps=16)
    c = seq[seq["parameter"] == "b0_g"].assign(v=lambda d: d["value"].astype(float))
    assert np.all(np.diff(c.sort_values("v")["prob"].to_numpy()) > 0)  # through the keywords
    with pytest.raises(AttributionInputError, match="unknown setting 'colour'"):
        probes.probe_table(_net(EnergyNet()), pre, "HMI", {"colour": 1})


# --------------------------------------------------------------------------------------------
# planted causes of the synthetic archive


@pytest.fixture(scope="module")
def planted_archive(tmp_path_factory):
    from flarepipe.archive.sources.synthetic import SyntheticParams, generate_archive

    out = {}
    for name, p in (("causes", 1.0), ("none", 0.0)):
        root = tmp_path_factory.mktemp(f"planted_{name}")
        params = SyntheticParams(
            scale="tiny", n_regions=4, days=5, instruments=("HMI",), p_rotated=p, p_delta=p
        )
        generate_archive(root, params, workers=1)
        out[name] = root
    return out


def test_cause_mask_marks_the_rotated_pil_and_delta_core(planted_archive):
    import math

    from scipy import ndimage

    from flarepipe.archive.layout import load_archive
    from flarepipe.archive.sources.synthetic import INSTRUMENTS
    from flarepipe.core.magnetic import RSUN_MM
    from flarepipe.io.fitsio import read_patch

    root = planted_archive["causes"]
    recs = load_archive(root).records
    px_mm = math.radians(INSTRUMENTS["HMI"].cdelt_deg) * RSUN_MM
    checked = meet = 0
    for _, rec in recs.iloc[:: max(1, len(recs) // 6)].iterrows():
        mask = inputs.cause_mask(root, rec)
        b, _ = read_patch(root / rec["path"])
        assert mask.shape == b.shape == (rec["ny"], rec["nx"])
        # the strong-gradient PIL band (4 Mm wide) and delta cores cover at most 4.6% of a
        # tiny-scale patch (benchmarks/cause_mask_area.py, 49 masks); a wide band is a bug
        assert mask.any() and mask.mean() < 0.1
        # both polarities meet in the band in most records; the band follows the envelope's
        # inversion line, which spots and plage texture shift by up to ~6 Mm in some (measured)
        b = np.nan_to_num(b)
        meet += bool((b[mask] > 50).any() and (b[mask] < -50).any())
        near = ndimage.binary_dilation(mask, iterations=int(8.0 / px_mm))
        assert (b[near] > 50).any() and (b[near] < -50).any()
        checked += 1
    assert checked >= 3 and meet >= 0.6 * checked
    none = planted_archive["none"]
    recs = load_archive(none).records
    assert not any(inputs.cause_mask(none, r).any() for _, r in recs.iloc[::5].iterrows())


def test_scene_cause_mask_is_the_strong_gradient_pil_band():
    import math

    from flarepipe.archive.sources.synthetic import INSTRUMENTS
    from flarepipe.archive.sources.synthetic.images import (
        PIL_HALF_LENGTH,
        PIL_HALF_WIDTH,
        Bipole,
        Scene,
        scene_cause_mask,
    )
    from flarepipe.core.bipole import A_SHAPE
    from flarepipe.core.magnetic import RSUN_MM

    hmi = INSTRUMENTS["HMI"]
    rho = math.radians(1.5)
    bp = Bipole(1e22, rho, 90.0, 0.0, 0.0, 1)  # axis along +y: the inversion line is the x axis
    scene = Scene((bp,), (), bp, (), "", 0.0)
    n = 301
    mask = scene_cause_mask(scene, hmi, n, n)
    px_mm = math.radians(hmi.cdelt_deg) * RSUN_MM
    across = mask[:, n // 2].sum() * px_mm  # the band's width across the line (Mm)
    along = mask[n // 2].sum() * math.radians(hmi.cdelt_deg)  # its length (rad)
    assert abs(across - 2 * PIL_HALF_WIDTH) <= px_mm
    assert abs(along - 2 * PIL_HALF_LENGTH * A_SHAPE * rho) <= 2 * math.radians(hmi.cdelt_deg)
    assert mask[n // 2, n // 2] and not mask[0, n // 2] and not mask[n // 2, 0]
    # a Joy's-law region without a delta spot has no planted cause
    assert not scene_cause_mask(Scene((bp,), (), None, (), "", 0.0), hmi, n, n).any()


def test_cause_mask_refuses_another_generator(planted_archive, tmp_path):
    from flarepipe.archive.layout import load_archive

    root = tmp_path / "copy"
    root.mkdir()
    manifest = json.loads((planted_archive["causes"] / "manifest.json").read_text())
    manifest["generator"] = "flarepipe-synthetic 0.0 (model 0)"
    (root / "manifest.json").write_text(json.dumps(manifest))
    rec = load_archive(planted_archive["causes"]).records.iloc[0]
    with pytest.raises(ValueError, match="regenerate the archive to recompute its planted causes"):
        inputs.cause_mask(root, rec)


def test_resize_mask_follows_the_image_preprocessing():
    mask = np.zeros((120, 160), bool)
    mask[40:80, 100:140] = True
    small = analysis.resize_mask(mask, (SIZE, SIZE), subsample=4)
    rows, cols = np.nonzero(small)
    assert abs(rows.mean() - 60 / 120 * SIZE) < 1.5 and abs(cols.mean() - 120 / 160 * SIZE) < 1.5
    assert small.mean() == pytest.approx(mask.mean(), rel=0.3)


def test_resize_mask_dilation_is_a_square_on_the_network_grid():
    mask = np.zeros((128, 128), bool)
    mask[60:68, 60:68] = True  # 8 native px -> 2 network px (subsample 2, 64 -> 32)
    small = analysis.resize_mask(mask, (32, 32), subsample=2)
    grown = analysis.resize_mask(mask, (32, 32), subsample=2, dilation_px=1)
    rows, cols = np.nonzero(small)
    assert np.array_equal(
        grown, ndimage.binary_dilation(small, np.ones((3, 3), bool))
    )  # one network pixel on every side, corners included
    assert grown.sum() == (np.ptp(rows) + 3) * (np.ptp(cols) + 3)
    assert not analysis.resize_mask(np.zeros((128, 128), bool), (32, 32), 2, 1).any()


# --------------------------------------------------------------------------------------------
# the workflow stage on the tiny configuration

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def _smk(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = SNAKEMAKE + [
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(REPO / "config/tiny.yaml"),
        "--cores",
        "2",
        *args,
    ]
    res = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=1500)
    if res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-4000:]}")
    return res


def _jobs(workdir: Path, *args: str) -> dict[str, int]:
    res = _smk(workdir, *args, "-n", "--quiet", "rules")
    counts = {}
    for line in (res.stdout + res.stderr).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total", "job"):
            counts[parts[0]] = int(parts[1])
    return counts


TARGETS = [f"results/tiny/attribution/SHARP_ONLY/{m}/summary/summary.json" for m in ("cnn", "lstm")]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("attr_wf")
    shutil.copy(REPO / "config.yaml", wd / "config.yaml")
    everything = _jobs(wd)
    _smk(wd, *TARGETS)
    return wd, everything


@pytest.mark.slow
def test_workflow_explains_every_trained_network(tiny_run):
    wd, everything = tiny_run
    # the default target: one attribution job per (dataset, network, run) and a summary per pair
    assert everything["attribute"] == 2 * 2 * 1 and everything["attribution_summary"] == 4
    res = wd / "results" / "tiny" / "attribution" / "SHARP_ONLY"
    cnn = json.loads((res / "cnn" / "run0" / "summary.json").read_text())
    assert cnn["skipped_methods"] == [] and cnn["max_probability_difference"] < 1e-5
    assert "gradcam@convs.conv1" in cnn["maps"] and "gradcam_negative@convs.conv5" in cnn["maps"]
    figs = {p.name for p in (res / "cnn" / "run0" / "figures").iterdir()}
    for m in (
        "integrated_gradients",
        "deeplift",
        "guided_backprop",
        "deconvolution",
        "gradcam",
        "gradcam_negative",
        "occlusion",
    ):
        assert f"{m}__maps.png" in figs
    assert {
        "integrated_gradients__contours.png",
        "occlusion__overlay.png",
        "integrated_gradients__movie.gif",
        "probes__bipole.png",
        "probes__uniform.png",
    } <= figs
    assert any(f.startswith("timeline__") for f in figs)
    lstm = json.loads((res / "lstm" / "run0" / "summary.json").read_text())
    assert lstm["methods"] == ["integrated_gradients", "deeplift", "occlusion"]
    assert set(lstm["skipped_methods"]) == {
        "guided_backprop",
        "deconvolution",
        "gradcam",
        "gradcam_negative",
    }
    stats = pd.read_csv(res / "cnn" / "run0" / "stats.csv")
    assert set(stats["network"]) == {"trained", "random", "none"}
    assert set(stats.loc[stats["network"] == "none", "map"]) == {"field_abs"}  # |B| reference
    assert stats.groupby(["map", "network"]).size().nunique() == 1  # every sample, every map
    assert stats.loc[stats["map"] == "integrated_gradients", "delta"].abs().max() < 0.05
    with np.load(res / "lstm" / "run0" / "maps.npz") as z:
        assert z["integrated_gradients"].shape[1:] == (16, 4) and "random/occlusion" in z
    tl = pd.read_csv(res / "cnn" / "run0" / "timeline.csv")
    assert tl["in_split"].any() and tl["region_id"].nunique() == 1
    assert (res / "cnn" / "summary" / "randomisation.csv").exists()
    assert not list(res.rglob(".attribute_tmp"))


@pytest.mark.slow
def test_changed_attribution_setting_reruns_only_attribution(tiny_run, tmp_path):
    wd, _ = tiny_run
    assert _jobs(wd, *TARGETS) == {}
    extra = tmp_path / "attr.yaml"
    extra.write_text("attribution: {ig_steps: 16}\n")
    jobs = _jobs(wd, *TARGETS, "--configfile", str(REPO / "config/tiny.yaml"), str(extra))
    assert jobs == {"attribute": 2, "attribution_summary": 2}


@pytest.mark.slow
def test_network_preprocessing_reproduces_the_shard(tiny_run):
    from flarepipe.archive.layout import load_archive
    from flarepipe.samples.labels import read_samples

    wd, _ = tiny_run
    r = wd / "results" / "tiny"
    shard = r / "shards" / "SHARP_ONLY" / "run0" / "test.h5"
    pre = Preprocessing.from_shard(shard, inputs.hmi_subsample_of(r / "features" / "features.h5"))
    meta, images = inputs.read_shard_samples(shard, "image")
    _, seqs = inputs.read_shard_samples(shard, "sequence")
    recs = load_archive(r / "archive").records
    samples = read_samples(r / "labels" / "samples.csv").set_index("sample_id")
    for i in range(0, len(meta), max(1, len(meta) // 4)):
        sid = meta["sample_id"].iloc[i]
        rec = recs.iloc[int(samples.at[sid, "last_record"])]
        native = inputs.read_magnetogram(r / "archive", rec)
        np.testing.assert_allclose(pre.image(native, rec["instrument"]), images[i], atol=1e-4)
        ids = [int(v) for v in str(samples.at[sid, "record_ids"]).split(";")]
        if min(ids) >= 0:  # a complete window: the raw keywords standardise to the shard's
            raw = recs.iloc[ids][pre.keywords].to_numpy(float)
            np.testing.assert_allclose(
                pre.sequence_from_raw(raw, rec["instrument"]), seqs[i], atol=1e-4
            )


def _explain(wd: Path, out: Path, **over):
    from flarepipe.attribution.job import explain_run

    r = wd / "results" / "tiny"
    kw = dict(
        checkpoint=r / "models/SHARP_ONLY/cnn/run0/model.ckpt",
        predictions=r / "models/SHARP_ONLY/cnn/run0/predictions.csv",
        shard=r / "shards/SHARP_ONLY/run0/test.h5",
        features=r / "features/features.h5",
        samples=r / "labels/samples.csv",
        records=r / "archive/records.csv",
        out_dir=out,
        model="cnn",
        dataset="SHARP_ONLY",
        run=0,
        synthetic=True,
        cfg={
            "probes": {"enabled": False},
            "movie": {"samples": 0},
            "timeline": {"regions": 0},
            "methods": ["integrated_gradients"],
            "randomised_check": {"enabled": False},
        },
    )
    cfg = over.pop("cfg", {})
    kw["cfg"] = {**kw["cfg"], **cfg}
    kw.update(over)
    return explain_run(**kw)


@pytest.mark.slow
def test_bad_inputs_give_named_errors_and_leave_nothing(tiny_run, tmp_path):
    import h5py

    wd, _ = tiny_run
    r = wd / "results" / "tiny"
    out = tmp_path / "out"
    flipped = tmp_path / "predictions.csv"
    p = pd.read_csv(r / "models/SHARP_ONLY/cnn/run0/predictions.csv")
    p.assign(prob=(p["prob"] < 0.5).astype(float)).to_csv(flipped, index=False)
    cases = [
        (
            dict(checkpoint=r / "models/SHARP_ONLY/lstm/run0/model.ckpt"),
            r"holds model 'lstm', this job explains 'cnn'",
        ),
        (dict(shard=r / "shards/SHARP_ONLY/run0/val.h5"), r"disagree"),
        (dict(predictions=flipped), r"does not reproduce"),
        (
            dict(cfg={"select": {"samples": ["HARP999_20110101T000000"]}}),
            r"attribution\.select\.samples: sample id",
        ),
        (
            dict(cfg={"select": {"TP": 0, "FP": 0, "FN": 0, "TN": 0, "top_k": 0, "planted": 0}}),
            r"chose no sample",
        ),
        (
            dict(cfg={"methods": ["gradcam"], "gradcam_layers": ["convs.conv9"]}),
            r"attribution\.gradcam_layers: the network has no layer 'convs\.conv9'",
        ),
        (dict(cfg={"methods": ["shap"]}), r"attribution\.methods"),
        (dict(checkpoint=r / "labels/samples.csv"), r"cannot be read|not a flarepipe"),
    ]
    # a checkpoint trained at another image side than the shard's (image size as an axis)
    ckpt = torch.load(r / "models/SHARP_ONLY/cnn/run0/model.ckpt", weights_only=False)
    ckpt["hyper_parameters"]["model_params"]["image_size"] = 48
    torch.save(ckpt, tmp_path / "side48.ckpt")
    cases.append(
        (
            dict(checkpoint=tmp_path / "side48.ckpt"),
            r"was trained on 48-px images but shard .*test\.h5 holds 32-px ones",
        )
    )
    bad = tmp_path / "bad_layout.h5"
    shutil.copy(r / "shards/SHARP_ONLY/run0/test.h5", bad)
    with h5py.File(bad, "r+") as f:
        f.attrs["layout_version"] = 99
    cases.append((dict(shard=bad), r"bad_layout.h5 has layout_version"))
    for over, pattern in cases:
        with pytest.raises(AttributionInputError, match=pattern):
            _explain(wd, out, **over)
        assert not out.exists() or not any(out.iterdir()), (over, list(out.iterdir()))
    # a failure while writing (no magnetograms for the figures) leaves no output either
    bare = tmp_path / "bare_archive"
    bare.mkdir()
    for name in ("records.csv", "flares.csv", "manifest.json"):
        shutil.copy(r / "archive" / name, bare / name)
    with pytest.raises(ValueError, match="cannot read FITS patch"):
        _explain(wd, out, records=bare / "records.csv")
    assert out.exists() and not any(out.iterdir())
    summary = _explain(wd, out)
    assert summary["methods"] == ["integrated_gradients"] and (out / "stats.csv").exists()


def test_occlusion_overlay_marks_the_region_above_the_threshold(tmp_path):
    """S2 Fig 12: the map upsampled bicubically to the patch, |.| 0-1, the > 0.9 region drawn
    over the magnetogram; the region is the peak's pixel block, a negative change counting."""
    from flarepipe.attribution import figures
    from flarepipe.attribution.postprocess import above_threshold

    m = np.zeros((8, 8))
    m[2, 5] = -1.0
    hot = above_threshold(m, (40, 40), 0.9)
    ys, xs = np.nonzero(hot)
    assert 10 <= ys.min() <= ys.max() < 15 and 25 <= xs.min() <= xs.max() < 30  # the 5x5 block
    assert not above_threshold(m, (40, 40), 0.99).sum() > hot.sum()
    with pytest.raises(ValueError, match=r"threshold must lie in \(0, 1\)"):
        above_threshold(m, (40, 40), 1.0)
    out = figures.occlusion_overlay_figure(
        tmp_path / "o.png", [np.ones((40, 40))], m[None], ["s"], "t"
    )
    assert out.stat().st_size > 1000
