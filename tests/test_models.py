"""Network shapes, registry, FLOP count, and the task's loss/metric plumbing."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from flarepipe.models import (
    NETWORKS,
    CNN2Net,
    CNNNet,
    LSTMNet,
    build_model,
    count_flops,
    model_defaults,
    network_input,
    network_spec,
    register_network,
)
from flarepipe.tasks.classification import FlareTask, tss

torch.set_num_threads(1)


def test_lstm_shape() -> None:
    net = LSTMNet()
    assert net(torch.zeros(3, 16, 4)).shape == (3, 2)
    assert net.lstm.num_layers == 2 and net.lstm.hidden_size == 64


@pytest.mark.parametrize("size", [32, 64, 128, (48, 80)])
def test_cnn_shapes(size: int | tuple[int, int]) -> None:
    h, w = (size, size) if isinstance(size, int) else size
    x = torch.randn(2, 1, h, w)
    cnn = CNNNet(width=0.125).eval()
    assert cnn(x).shape == (2, 2)
    cnn2 = CNN2Net(width=0.25).eval()
    assert cnn2(x).shape == (2, 1)


def test_cnn_too_small() -> None:
    with pytest.raises(ValueError, match="at least 32x32"):
        CNNNet(width=0.125)(torch.zeros(2, 1, 16, 16))


def test_registered_min_image_size_is_what_the_networks_take() -> None:
    """The size config validation checks (``min_image_size``) is the real limit of each network."""
    from flarepipe.models.registry import NETWORKS, build_model

    for spec in NETWORKS.values():
        if spec.input != "image" or spec.target is None or spec.name not in ("cnn", "cnn2"):
            continue
        net = build_model(spec.name, width=0.125).eval()
        smallest = spec.min_image_size or 8  # the schema's smallest features.image_size
        assert net(torch.zeros(1, 1, smallest, smallest)).shape[0] == 1
        if spec.min_image_size is not None:
            below = spec.min_image_size - 1
            with pytest.raises(ValueError):
                net(torch.zeros(1, 1, below, below))


def test_image_size_reaches_only_the_networks_that_take_one() -> None:
    """``network.image_size`` is the side a model reads (every image network's block takes it):
    a constructor without one (CNN-2) is built without it, CNN-1's linear layer follows it; a
    sequence network is not given it silently."""
    from flarepipe.models.registry import build_model

    a = build_model("cnn2", width=0.125, image_size=48)
    b = build_model("cnn2", width=0.125)
    assert [p.shape for p in a.parameters()] == [p.shape for p in b.parameters()]
    assert a(torch.zeros(1, 1, 48, 48)).shape == (1, 1)
    assert build_model("cnn1", image_size=16).image_size == 16
    with pytest.raises(ValueError, match=r"network 'lstm' has no parameter\(s\) \['image_size'\]"):
        build_model("lstm", image_size=16)


def test_cnn_architecture_matches_published() -> None:
    net = CNNNet()
    convs = [m for m in net.convs if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size[0] for c in convs] == [11, 11, 3, 3, 3]
    assert [c.out_channels for c in convs] == [64] * 5
    bns = [m for m in net.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))]
    linears = [m for m in net.linears if isinstance(m, torch.nn.Linear)]
    assert len(bns) == 5 + 2  # after every conv and every hidden linear layer
    assert [m.out_features for m in linears] == [128, 64, 2]
    assert linears[0].in_features == 64 * 4 * 4  # the published flatten size at 128x128
    assert not any(isinstance(m, torch.nn.ReLU) for m in net.linears)
    assert [m.p for m in net.linears if isinstance(m, torch.nn.Dropout)] == [0.5, 0.5]
    assert [c.out_channels for c in CNNNet(width=0.25).convs if isinstance(c, torch.nn.Conv2d)] == [
        16
    ] * 5


def test_full_cnn_flops_at_128(capsys: pytest.CaptureFixture) -> None:
    net = CNNNet()
    fwd = count_flops(net, (1, 1, 128, 128))
    train = count_flops(net, (2, 1, 128, 128), backward=True) / 2
    with capsys.disabled():
        print(
            f"\nCNNNet (published widths) at 128x128: {fwd / 1e9:.2f} GFLOP forward, "
            f"{train / 1e9:.2f} GFLOP per training sample (fwd+bwd)"
        )
    # conv2 alone: 2 * 64*64*11*11 * 64*64 = 4.06 GFLOP.
    assert 4.3e9 < fwd < 4.5e9
    assert 12.5e9 < train < 13.5e9


def test_registry() -> None:
    assert isinstance(build_model("lstm", hidden=8), LSTMNet)
    assert isinstance(build_model("cnn", width=0.1), CNNNet)
    assert isinstance(build_model("cnn2"), CNN2Net)
    assert model_defaults("lstm")["hidden"] == 64
    with pytest.raises(ValueError, match=r"unknown network 'resnet'; registered: \['lstm'"):
        build_model("resnet")
    with pytest.raises(ValueError, match="no parameter.*hiden"):
        build_model("lstm", hiden=3)
    assert [network_input(n) for n in ("lstm", "cnn", "cnn2")] == ["sequence", "image", "image"]


@pytest.mark.parametrize(
    "name", ["lstm", "cnn", "cnn2", "cnn1", "cnn1_identity", "cnn2_identity", "yi_densenet"]
)
def test_registered_schema_matches_constructor(name: str) -> None:
    """The registered parameter schema names exactly the constructor's parameters, and the
    constructor's defaults satisfy it (the schema cannot drift from the class)."""
    import jsonschema

    spec = network_spec(name)
    defaults = model_defaults(name)
    assert set(spec.params_schema["properties"]) == set(defaults)
    assert spec.params_schema["additionalProperties"] is False
    as_json = {k: list(v) if isinstance(v, tuple) else v for k, v in defaults.items()}
    jsonschema.validate(as_json, spec.params_schema)
    assert {"max_epochs", "patience"} <= set(spec.train_defaults)


def test_registry_imports_without_torch() -> None:
    """Config validation reads the registry at Snakemake start-up and in every job: no torch."""
    code = (
        "import sys; import flarepipe.models, flarepipe.config.registries; "
        "from flarepipe.config import load_config; load_config('config.yaml'); "
        "bad = [m for m in ('torch', 'sklearn', 'scipy', 'h5py') if m in sys.modules]; "
        "assert not bad, bad"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr


def test_plugin_network_by_decorator_and_by_string(tmp_path: Path, monkeypatch) -> None:
    """A network registered in a user module (by decorator, or lazily by 'module:Class')
    trains through the task like a built-in one."""
    (tmp_path / "lazy_nets.py").write_text(
        "import torch\n"
        "class MeanNet(torch.nn.Module):\n"
        "    n_outputs = 1\n"
        "    def __init__(self, n_features: int = 4):\n"
        "        super().__init__()\n"
        "        self.linear = torch.nn.Linear(n_features, 1)\n"
        "    def forward(self, x):\n"
        "        return self.linear(x.mean(dim=1))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        register_network(
            "mean_net",
            "lazy_nets:MeanNet",
            input="sequence",
            train_defaults={"max_epochs": 1, "patience": 0},
        )
        task = FlareTask("mean_net", {"n_features": 4})
        assert task.input_key == "sequence" and task.n_outputs == 1
        p = task.predict_step({"sequence": torch.randn(3, 16, 4)}, 0)
        assert p.shape == (3,)
        with pytest.raises(ValueError, match="already registered"):
            register_network("mean_net", "lazy_nets:Other", input="sequence")

        @register_network("bad_net", input="image")
        class BadNet(torch.nn.Module):  # no n_outputs
            def forward(self, x):
                return x

        with pytest.raises(ValueError, match="must set n_outputs"):
            build_model("bad_net")
        with pytest.raises(ValueError, match="input must be one of"):
            register_network("vid", "x:Y", input="video")
    finally:
        NETWORKS.unregister("mean_net")
        NETWORKS.unregister("bad_net")


def test_tss() -> None:
    y = torch.tensor([1, 1, 0, 0, 0])
    p = torch.tensor([0.9, 0.2, 0.1, 0.7, 0.4])
    assert tss(y, p) == pytest.approx(0.5 - 1 / 3)
    assert tss(y, y.float()) == 1.0
    assert math.isnan(tss(torch.tensor([1, 1]), torch.tensor([0.1, 0.9])))


def test_task_routes_inputs_and_losses() -> None:
    batch = {
        "image": torch.randn(4, 1, 32, 32),
        "sequence": torch.randn(4, 16, 4),
        "label": torch.tensor([0, 1, 0, 1]),
    }
    lstm = FlareTask("lstm")
    assert lstm.input_key == "sequence"  # from the registry
    p = lstm.predict_step(batch, 0)
    assert p.shape == (4,) and ((p >= 0) & (p <= 1)).all()
    cnn2 = FlareTask("cnn2", {"width": 0.25}, pos_weight=4.5)
    cnn2.eval()
    logits = cnn2(batch["image"])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        logits[:, 0], batch["label"].float(), pos_weight=torch.tensor([4.5])
    )
    torch.testing.assert_close(cnn2.loss(logits, batch["label"]), expected)
    cnn = FlareTask("cnn", {"width": 0.125}, class_weight=[1.0, 3.0])
    logits = torch.randn(4, 2)
    expected = torch.nn.functional.cross_entropy(
        logits, batch["label"], weight=torch.tensor([1.0, 3.0])
    )
    torch.testing.assert_close(cnn.loss(logits, batch["label"]), expected)
