"""The DenseNet-like network of Yi et al. 2021 against the paper's description."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from flarepipe.models import build_model, network_spec  # noqa: E402
from flarepipe.models.densenet import DenseBlock  # noqa: E402


def test_yi_densenet_block_structure():
    """3x3 conv (26) + 2x2 max-pool; five blocks (BN, ReLU, 1x1 conv 13·n, BN, ReLU, 3x3 conv 39,
    concatenation, 2x2 average pool); BN, average pool, FC to 2 scores."""
    torch.manual_seed(0)
    net = build_model("yi_densenet")
    assert network_spec("yi_densenet").input == "image"
    assert network_spec("yi_densenet").min_image_size == 64
    conv, pool = net.stem.conv, net.stem.pool
    assert (conv.kernel_size, conv.out_channels) == ((3, 3), 26)
    assert isinstance(pool, nn.MaxPool2d) and pool.kernel_size == 2
    assert len(net.blocks) == 5 and all(isinstance(b, DenseBlock) for b in net.blocks)
    c = 26
    for n, blk in enumerate(net.blocks, start=1):
        kinds = [type(m) for m in blk.layers]
        assert kinds == [nn.BatchNorm2d, nn.ReLU, nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.Conv2d]
        c1, c3 = blk.layers.conv1, blk.layers.conv3
        assert c1.kernel_size == (1, 1) and c1.in_channels == c and c1.out_channels == 13 * n
        assert c3.kernel_size == (3, 3) and c3.out_channels == 39
        assert isinstance(blk.pool, nn.AvgPool2d) and blk.pool.kernel_size == 2
        # concatenation: the block's output holds its input unchanged before the pool
        x = torch.randn(1, c, 8, 8)
        blk.eval()
        out = blk(x)
        assert out.shape == (1, c + 39, 4, 4)
        torch.testing.assert_close(out[:, :c], nn.functional.avg_pool2d(x, 2))
        c += 39
    assert isinstance(net.head.bn, nn.BatchNorm2d) and net.head.bn.num_features == c == 221
    assert net.linear.in_features == 221 and net.linear.out_features == 2
    assert net.last_conv is net.blocks[-1].layers.conv3
    net.eval()
    assert net(torch.randn(2, 1, 64, 64)).shape == (2, 2)
    with pytest.raises(RuntimeError):
        net(torch.randn(1, 1, 32, 32))  # six halvings need at least 64 px


def test_yi_attribution_maps_and_region_scores(tmp_path):
    """Guided backprop (|.|, 0-1) and Grad-CAM on the last conv layer for both labels run on the
    DenseNet; region maxima, the flaring-region hit and its chance, keyword correlations."""
    import numpy as np
    import pandas as pd

    from flarepipe.attribution.fulldisk import (
        CASES,
        boxes_on_input,
        forecast_case,
        keyword_correlations,
        max_on_flaring,
        overlay_figure,
        region_crops_figure,
        region_maxima,
        scatter_figure,
    )
    from flarepipe.attribution.inputs import Network
    from flarepipe.attribution.methods import MethodSettings, attribute
    from flarepipe.attribution.postprocess import normalise_abs

    torch.manual_seed(0)
    module = build_model("yi_densenet", width=0.25).eval()
    net = Network(module, "yi_densenet", "image", 2, {"width": 0.25})
    x = torch.randn(1, 1, 64, 64)
    last = "blocks.4.layers.conv3"
    s = MethodSettings(gradcam_layers=[last], gradcam_negative_layer=last)
    gb = normalise_abs(attribute(net, x, "guided_backprop", s)[0].maps)
    assert gb.shape == (1, 1, 64, 64) and gb.min() >= 0 and np.isclose(gb.max(), 1.0)
    (pos,) = attribute(net, x, "gradcam", s)
    (neg,) = attribute(net, x, "gradcam_negative", s)
    assert pos.layer == neg.layer == last and pos.maps.shape == neg.maps.shape == (1, 1, 64, 64)
    # scores against boxes: frame of 128 px, input of 64 px
    boxes = pd.DataFrame(
        {"x_min": [10, 80], "y_min": [10, 80], "x_max": [29, 99], "y_max": [29, 99]}
    )
    b = boxes_on_input(boxes, 128, 64)
    assert b.tolist() == [[5, 5, 14, 14], [40, 40, 49, 49]]
    cam = np.zeros((64, 64))
    cam[45, 44] = 3.0
    cam[7, 7] = 1.0
    assert region_maxima(cam, b).tolist() == [1.0, 3.0]
    on = np.ones((64, 64), dtype=bool)
    assert max_on_flaring(cam, b, [False, True], on) == (True, 100 / 4096)
    assert max_on_flaring(cam, b, [True, False], on)[0] is False
    regions = pd.DataFrame(
        {"max_gradcam": [0.1, 0.4, 0.2, 0.9], "usfluxl_mx": [1, 4, 2, 9], "r_value": [4, 3, 2, 1]}
    )
    r = keyword_correlations(regions, ["usfluxl_mx", "r_value"]).set_index("column")["r"]
    assert r["usfluxl_mx"] == 1.0 and r["r_value"] < 0
    assert [forecast_case(*c) for c in [(1, 0.7), (0, 0.5), (1, 0.2), (0, 0.1)]] == list(CASES)
    img = x[0, 0].numpy()
    panels = [
        {"title": c, "image": img, "gradcam": pos.maps[0, 0], "guided": gb[0, 0], "boxes": b}
        for c in CASES
    ]
    for out in (
        overlay_figure(tmp_path / "cases.png", panels),
        region_crops_figure(
            tmp_path / "crops.png", img, {"Grad-CAM": pos.maps[0, 0]}, b, ["AR1", "AR2"]
        ),
        scatter_figure(tmp_path / "fig7.png", regions, "usfluxl_mx"),
    ):
        assert out.stat().st_size > 1000


def test_yi_table2_pil_scores_on_a_known_bipole():
    """Table 2 on a frame whose PIL is known: a +-500 G bipole binned to the input grid; a map on
    the PIL scores PIL mean 1, off-PIL 0, IoU >= 0.1 on every day; a map on a pole never does."""
    import numpy as np
    import pandas as pd

    from flarepipe.attribution.analysis import pil_mask, pil_scores
    from flarepipe.attribution.fulldisk import bin_field, pil_table

    frame = np.zeros((128, 128))
    frame[40:88, 32:64] = 500.0
    frame[40:88, 64:96] = -500.0
    frame[:4] = np.nan  # off-disk pixels count as 0 G
    field = bin_field(frame, 32)
    assert field.shape == (32, 32) and field[12, 10] == 500.0 and field[0, 0] == 0.0
    masks = pil_mask(field, threshold_g=150.0, dilation_px=1)
    cols = np.flatnonzero(masks["pil"].any(axis=0)).tolist()
    assert cols == [15, 16]  # the line between the lobes (x = 64 frame px = 16 input px)
    on_line = masks["pil"].astype(float)
    on_pole = np.zeros((32, 32))
    on_pole[12:20, 9:12] = 1.0
    rows = [
        {"sample_id": d, "map": name, **pil_scores(m, masks, 0.3)}
        for d in ("d1", "d2")
        for name, m in (("line", on_line), ("pole", on_pole))
    ]
    table = pil_table(pd.DataFrame(rows), iou_min=0.1).set_index("map")
    assert table.loc["line", "days"] == 2
    assert table.loc["line", "pil_mean"] == 1.0 and table.loc["line", "non_pil_mean"] == 0.0
    assert table.loc["line", "share_iou_min"] == 1.0 and table.loc["line", "pil_iou"] == 1.0
    assert table.loc["pole", "pil_mean"] == 0.0 and table.loc["pole", "share_iou_min"] == 0.0
    with pytest.raises(ValueError, match="does not bin to 48 px"):
        bin_field(frame, 48)
    with pytest.raises(ValueError, match="missing column"):
        pil_table(pd.DataFrame({"map": ["x"]}))
