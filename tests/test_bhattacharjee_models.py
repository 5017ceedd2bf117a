"""S2 (Bhattacharjee et al. 2020): CNN-1 and CNN-2 against the paper's description, the
identity-activation variants, the Appendix A loss against a hand computation, and SGD."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from flarepipe.config import train_settings
from flarepipe.models import build_model, network_spec
from flarepipe.models.cnn1 import CNN1Net
from flarepipe.models.cnn2 import CNN2Net, InceptionBlock
from flarepipe.tasks.classification import FlareTask
from flarepipe.tasks.losses import batch_skill_factor, skill_weighted_mse

torch.set_num_threads(1)


def _layers(net: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, kind)]


def test_cnn1_is_two_convs_a_2x2_pool_after_the_first_and_one_linear_layer() -> None:
    net = CNN1Net(image_size=32).eval()
    names = list(net.features._modules)
    assert names == ["conv1", "pool1", "conv2"]  # the pool sits after the first convolution
    assert len(_layers(net, nn.Conv2d)) == 2
    (pool,) = _layers(net, nn.MaxPool2d)
    assert pool.kernel_size == 2 and pool.stride == 2
    (fc,) = _layers(net, nn.Linear)
    assert fc.out_features == 1 and net.n_outputs == 1  # one sigmoid output
    assert fc.in_features == 32 * 16 * 16  # every pixel of the pooled map
    assert len(_layers(net, nn.BatchNorm2d)) == 2 and len(_layers(net, nn.LeakyReLU)) == 2
    assert net(torch.randn(3, 1, 32, 32)).shape == (3, 1)
    with pytest.raises(ValueError, match="built for 32x32 images"):
        net(torch.randn(1, 1, 48, 48))


def test_cnn2_is_the_published_inception_network() -> None:
    net = CNN2Net(width=0.25).eval()
    seq = list(net.features._modules.items())
    kinds = [type(m).__name__ for _, m in seq]
    # conv 7x7, conv 3x3, inception, inception; a 3x3 max-pool after each of the first three
    assert kinds == [
        "Sequential",
        "MaxPool2d",
        "Sequential",
        "MaxPool2d",
        "InceptionBlock",
        "MaxPool2d",
        "InceptionBlock",
    ]
    assert seq[0][1][0].kernel_size == (7, 7) and seq[2][1][0].kernel_size == (3, 3)
    for _, m in seq:
        if isinstance(m, nn.MaxPool2d):
            assert m.kernel_size == 3
    for block in _layers(net, InceptionBlock):
        assert [b[0].kernel_size for b in block.branches] == [(3, 3), (5, 5), (7, 7)]
        assert block.pool.kernel_size == 3
        x = torch.randn(2, block.branches[0][0].in_channels, 9, 9)
        assert block(x).shape[1] == block.out_channels  # branches concatenated on channels
    assert isinstance(net.gap, nn.AdaptiveAvgPool2d) and net.linear.out_features == 1
    convs = _layers(net, nn.Conv2d)
    assert len(_layers(net, nn.BatchNorm2d)) == len(convs) == 2 + 2 * 3
    assert len(_layers(net, nn.LeakyReLU)) == len(convs)
    for size in (32, 128):  # global average pooling: any size
        assert net(torch.randn(2, 1, size, size)).shape == (2, 1)


@pytest.mark.parametrize("name", ["cnn1_identity", "cnn2_identity"])
def test_identity_variants_have_no_nonlinearity_before_the_sigmoid(name: str) -> None:
    params = {"image_size": 16} if name.startswith("cnn1") else {"width": 0.25}
    net = build_model(name, activation="identity", **params).eval()
    assert not _layers(net, nn.LeakyReLU)
    # without max-pools the network would be affine; CNN-1's is: f(a+b) = f(a)+f(b)-f(0)
    if name.startswith("cnn1"):
        net.features.pool1 = nn.Identity()
        net.linear = nn.Linear(net.linear.in_features * 4, 1)
        a, b, z = torch.randn(1, 1, 16, 16), torch.randn(1, 1, 16, 16), torch.zeros(1, 1, 16, 16)
        torch.testing.assert_close(net(a + b), net(a) + net(b) - net(z), atol=1e-4, rtol=1e-4)
    # the registered default of the variant's block is the identity
    schema = network_spec(name).params_schema
    assert schema["properties"]["activation"]["default"] == "identity"


def test_s2_training_defaults_are_registered() -> None:
    for name in ("cnn1", "cnn2", "cnn1_identity", "cnn2_identity"):
        s = train_settings(name, {})
        assert (s.pos_weight, s.optimizer, s.lr, s.batch_size) == (4.5, "sgd", 5e-4, 64)
        assert s.loss == "log_loss"
    assert train_settings("cnn", {}).optimizer == "adam"  # S1 unchanged


def test_skill_weighted_mse_against_a_hand_computation() -> None:
    labels = torch.tensor([1, 1, 0, 0, 0])
    probs = torch.tensor([0.9, 0.3, 0.6, 0.2, 0.1], requires_grad=True)
    # at 0.5: TP=1 (0.9), FN=1 (0.3), FP=1 (0.6), TN=2
    tp, fn, fp, tn = 1, 1, 1, 2
    tss = tp / (tp + fn) - fp / (fp + tn)  # 0.5 - 1/3 = 1/6
    hss = 2 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))  # 2/12
    lam = 4.5 * math.exp(hss) * math.exp(tss)
    assert batch_skill_factor(labels, probs, 4.5) == pytest.approx(lam)
    sq = [(0.9 - 1) ** 2, (0.3 - 1) ** 2, 0.6**2, 0.2**2, 0.1**2]
    expected = (lam * (sq[0] + sq[1]) + sq[2] + sq[3] + sq[4]) / 5
    loss = skill_weighted_mse(labels, probs, 4.5)
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-6)
    loss.backward()  # lambda is a constant: d/dp_i = 2 w_i (p_i - y_i) / 5
    assert float(probs.grad[1]) == pytest.approx(2 * lam * (0.3 - 1) / 5, rel=1e-5)
    assert float(probs.grad[2]) == pytest.approx(2 * 0.6 / 5, rel=1e-5)
    # a one-class batch: both scores undefined, lambda = C
    only_neg = torch.tensor([0, 0])
    assert batch_skill_factor(only_neg, torch.tensor([0.7, 0.1]), 4.5) == pytest.approx(4.5)


def test_task_uses_the_configured_loss_and_optimizer() -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 1, 16, 16)
    labels = torch.tensor([0, 1, 0, 1])
    task = FlareTask(
        "cnn1", {"image_size": 16}, pos_weight=4.5, loss="skill_weighted_mse", optimizer="sgd"
    ).eval()
    logits = task(x)
    expected = skill_weighted_mse(labels, torch.sigmoid(logits[:, 0]), 4.5)
    torch.testing.assert_close(task.loss(logits, labels), expected)
    opt = task.configure_optimizers()
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["lr"] == 1e-3
    assert isinstance(
        FlareTask("cnn1", {"image_size": 16}).configure_optimizers(), torch.optim.Adam
    )
    with pytest.raises(ValueError, match="loss must be one of"):
        FlareTask("cnn1", {"image_size": 16}, loss="hinge")


def _keyword_shard(path, n: int, seed: int):
    """Keyword-only shard: the area (last keyword) carries the label, the others are noise."""
    import numpy as np
    import pandas as pd

    from flarepipe.core.keywords import KEYWORD_COLUMNS
    from flarepipe.data.shards import write_shard

    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    seq = rng.standard_normal((n, 1, len(KEYWORD_COLUMNS))).astype(np.float32)
    seq[:, 0, KEYWORD_COLUMNS.index("area_uhem")] += 3.0 * (2 * y - 1)
    meta = pd.DataFrame(
        {
            "sample_id": [f"{path.stem}_{i}" for i in range(n)],
            "region_id": [f"HARP{seed}{i}" for i in range(n)],
            "instrument": "HMI",
            "t_end": "2012-03-07T00:00:00.000",
        }
    )
    return write_shard(
        path,
        meta=meta,
        inputs={"sequence": seq},
        targets={"label": y},
        attrs={"keywords": list(KEYWORD_COLUMNS)},
    )


def test_svm_baselines_read_the_configured_keywords(tmp_path) -> None:
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    from flarepipe.config import load_config
    from flarepipe.training.registry import fit_baseline

    shards = {s: _keyword_shard(tmp_path / f"{s}.h5", 80, i) for i, s in enumerate(SPLITS)}
    cfg = load_config("config.yaml")
    assert cfg["models"]["svm_area_flux"]["keywords"] == ["area_uhem", "usfluxl_mx"]
    aucs = {}
    for name, params in [
        ("svm", cfg["models"]["svm"]),
        ("svm_area_flux", cfg["models"]["svm_area_flux"]),
        ("svm", {"keywords": ["r_value", "meangbl_g_per_px"]}),  # no cue: chance
    ]:
        out = tmp_path / f"{name}_{len(aucs)}"
        out.mkdir()
        fit_baseline(name, shards, out, params, seed=0)
        pred = pd.read_csv(out / "predictions.csv")
        test = pred[pred["split"] == "test"]
        aucs[len(aucs)] = roc_auc_score(test["label"], test["prob"])
    assert aucs[0] > 0.9 and aucs[1] > 0.9  # separation 6 sd: AUC ~0.99
    assert aucs[2] < 0.75
    with pytest.raises(ValueError, match="not in the shard"):
        fit_baseline("svm", shards, tmp_path, {"keywords": ["totusjh"]})


SPLITS = ("train", "val", "test")
