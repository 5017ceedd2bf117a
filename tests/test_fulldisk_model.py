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
