"""End-to-end training on a tiny synthetic separable problem, and train_one's input checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from flarepipe.config import ConfigError, train_settings
from flarepipe.data.shards import write_shard
from flarepipe.tasks.classification import FlareTask
from flarepipe.training.fit import resolve_precision
from flarepipe.training.fit import train_one as _train_one

torch.set_num_threads(1)

SIZE, T, K = 32, 16, 4


def _write_split(
    path: Path,
    n: int,
    seed: int,
    labels: np.ndarray | None = None,
    scramble: bool = False,
    image_cue: float = 0.5,
) -> Path:
    """Separable synthetic samples: image mean sign and keyword slope sign both give the label.

    The images are unit Gaussian noise plus ``image_cue`` times the label's sign (+1 / -1). With
    ``scramble`` the labels written are a permutation of the ones the inputs encode.
    """
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2) if labels is None else labels
    sign = np.where(y == 1, 1.0, -1.0).astype(np.float32)
    images = rng.standard_normal((n, 1, SIZE, SIZE)).astype(np.float32)
    images += image_cue * sign[:, None, None, None]
    t = np.linspace(-1, 1, T, dtype=np.float32)
    slope = sign * rng.uniform(0.5, 1.5, n).astype(np.float32)
    sequences = slope[:, None, None] * t[None, :, None] + 0.3 * rng.standard_normal((n, T, K))
    meta = pd.DataFrame(
        {
            "sample_id": [f"{path.stem}_{i}" for i in range(n)],
            "region_id": [f"HARP{seed}{i // 4}" for i in range(n)],
            "instrument": "HMI",
            "t_end": "2012-03-07T00:00:00.000",
        }
    )
    if scramble:
        y = rng.permutation(y)
    inputs = {"image": images, "sequence": sequences.astype(np.float32)}
    return write_shard(path, meta=meta, inputs=inputs, targets={"label": y})


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("shards")
    return {
        "train": _write_split(d / "train.h5", 256, 1),
        "val": _write_split(d / "val.h5", 96, 2),
        "test": _write_split(d / "test.h5", 96, 3),
    }


def train_one(shards, model, model_params, train_params, out_dir, **kw):
    """:func:`flarepipe.training.fit.train_one` with ``train_params`` filled as a job fills them."""
    return _train_one(
        shards, model, model_params, train_settings(model, train_params), out_dir, **kw
    )


def test_train_one_refuses_unfilled_params(shards: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"missing \[.*'patience'.*flarepipe\.config\.train_settings"
    ):
        _train_one(shards, "lstm", {}, {"max_epochs": 1}, tmp_path / "m")


@pytest.mark.parametrize(
    ("model", "model_params", "train_params"),
    [
        ("lstm", {"hidden": 16}, {"preload": True, "lr": 0.01}),
        ("cnn", {"width": 0.125}, {"preload": False}),
    ],
)
def test_train_one_learns(
    shards: dict[str, Path],
    tmp_path: Path,
    model: str,
    model_params: dict,
    train_params: dict,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    import flarepipe.training.fit as fit

    loads: list = []  # torch.load calls made by flarepipe's own training code
    real_load = torch.load

    def spy(*args, **kwargs):
        if sys._getframe(1).f_code.co_filename == fit.__file__:
            loads.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    out = tmp_path / model
    summary = train_one(
        shards,
        model,
        model_params,
        {"max_epochs": 4, "patience": 2, "batch_size": 32, **train_params},
        out,
        seed=0,
    )
    assert summary["best_val_tss"] > 0.8, summary
    assert summary["device"] == "cpu" and summary["precision"] == "32-true"
    assert sorted(p.name for p in out.iterdir()) == ["metrics.csv", "model.ckpt", "predictions.csv"]

    preds = pd.read_csv(out / "predictions.csv")
    assert list(preds.columns) == ["sample_id", "split", "label", "prob"]
    assert (preds["split"].value_counts() == 96).all() and set(preds["split"]) == {"val", "test"}
    assert preds["prob"].between(0, 1).all()
    test = preds[preds["split"] == "test"]
    tss = ((test.prob >= 0.5) & (test.label == 1)).sum() / (test.label == 1).sum() - (
        (test.prob >= 0.5) & (test.label == 0)
    ).sum() / (test.label == 0).sum()
    assert tss > 0.8
    assert test["sample_id"].iloc[5] == "test_5" and test["label"].iloc[5] == 1

    metrics = pd.read_csv(out / "metrics.csv")
    assert {"val_tss", "val_loss", "train_loss", "epoch"} <= set(metrics.columns)
    assert metrics["epoch"].tolist() == list(range(summary["epochs_run"]))  # one row per epoch
    assert metrics[["val_tss", "train_loss"]].notna().all().all()
    # The checkpoint is the best-val-TSS epoch and rebuilds the network.
    assert summary["best_val_tss"] == pytest.approx(metrics["val_tss"].max())
    best = FlareTask.load_from_checkpoint(out / "model.ckpt", map_location="cpu")
    assert best.hparams.model == model and best.input_key in ("image", "sequence")
    # no pickle code is run to read a checkpoint: tensors and plain hyperparameters only
    assert loads and all(w is True for w in loads), loads
    ckpt = real_load(out / "model.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["hyper_parameters"]["model"] == model and "state_dict" in ckpt


def test_scrambled_val_labels_give_low_tss(shards: dict[str, Path], tmp_path: Path) -> None:
    """Negative control: val labels unrelated to the inputs cannot be predicted."""
    scrambled = _write_split(tmp_path / "val.h5", 96, 2, scramble=True)
    summary = train_one(
        {**shards, "val": scrambled},
        "lstm",
        {"hidden": 16},
        {"max_epochs": 3, "patience": 2, "batch_size": 32, "lr": 0.01},
        tmp_path / "m",
    )
    assert summary["best_val_tss"] < 0.5, summary
    preds = pd.read_csv(tmp_path / "m" / "predictions.csv")
    test = preds[preds.split == "test"]
    assert ((test.prob >= 0.5) == (test.label == 1)).mean() > 0.9  # the model itself did learn


def test_same_seed_same_predictions(shards: dict[str, Path], tmp_path: Path) -> None:
    params = {"max_epochs": 1, "patience": 1, "batch_size": 64}
    train_one(shards, "lstm", {"hidden": 8}, params, tmp_path / "a", seed=3)
    train_one(shards, "lstm", {"hidden": 8}, params, tmp_path / "b", seed=3)
    a = pd.read_csv(tmp_path / "a" / "predictions.csv")
    b = pd.read_csv(tmp_path / "b" / "predictions.csv")
    pd.testing.assert_frame_equal(a, b)


def test_results_do_not_depend_on_the_cores_a_job_gets(
    shards: dict[str, Path], tmp_path: Path
) -> None:
    """train_one computes with ``cpu_threads`` threads whatever torch was set to before.

    Without that, the two runs differ: with ``cpu_threads: 2`` the same run gives other
    probabilities on a 2-core machine (measured when this test was written), as the thread
    count changes the order of the convolutions' float sums.
    """
    params = {"max_epochs": 1, "patience": 1, "batch_size": 32}
    probs = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        out = tmp_path / f"t{threads}"
        train_one(shards, "cnn", {"width": 0.25}, params, out, seed=3)
        probs[threads] = pd.read_csv(out / "predictions.csv")["prob"].to_numpy()
    torch.set_num_threads(1)
    np.testing.assert_array_equal(probs[1], probs[2])


def test_single_class_split_is_named(shards: dict[str, Path], tmp_path: Path) -> None:
    bad = _write_split(tmp_path / "val.h5", 10, 4, labels=np.zeros(10, dtype=int))
    with pytest.raises(ValueError, match=r"val\.h5 \(val\) holds only class 0"):
        train_one({**shards, "val": bad}, "lstm", {}, {"max_epochs": 1}, tmp_path / "m")
    assert not (tmp_path / "m" / "predictions.csv").exists()


def test_empty_split_is_named(shards: dict[str, Path], tmp_path: Path) -> None:
    empty = _write_split(tmp_path / "test.h5", 0, 5)
    with pytest.raises(ValueError, match=r"test\.h5 \(test\) is empty"):
        train_one({**shards, "test": empty}, "cnn", {}, {}, tmp_path / "m")


def test_train_params() -> None:
    """Training defaults come from the schema, overlaid by the network's registered ones."""
    assert train_settings("lstm").patience == 5
    assert train_settings("cnn").patience == 10
    assert train_settings("cnn", {"patience": 3}).patience == 3
    assert train_settings("cnn").batch_size == 64 and train_settings("lstm").lr == 1e-3
    with pytest.raises(ConfigError, match=r"models\.cnn\.train.*epochs"):
        train_settings("cnn", {"epochs": 3})
    with pytest.raises(ConfigError, match=r"models\.cnn\.train\.batch_size must be >= 1"):
        train_settings("cnn", {"batch_size": 0})
    with pytest.raises(ValueError, match="unknown network 'nope'"):
        train_settings("nope")
    assert resolve_precision("32-true") == "32-true"
    expected = (
        "bf16-mixed" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "32-true"
    )
    assert resolve_precision("auto", "auto", "cnn") == expected
    assert resolve_precision("auto", "auto", "lstm") == "32-true"


def test_augment_images_per_sample() -> None:
    from flarepipe.tasks.classification import augment_images

    torch.manual_seed(0)
    x = torch.randn(400, 1, 5, 7)
    for kind, op in (
        ("hflip", lambda a: a.flip(-1)),
        ("vflip", lambda a: a.flip(-2)),
        ("sign", lambda a: -a),
    ):
        y = augment_images(x, [kind])
        same = (y == x).flatten(1).all(1)
        changed = (y == op(x)).flatten(1).all(1)
        assert bool((same | changed).all())  # each sample is either left alone or transformed whole
        assert 0.35 < changed.float().mean() < 0.65
    assert augment_images(x, []) is x
    with pytest.raises(ValueError, match="rot90"):
        augment_images(x, ["rot90"])
    with pytest.raises(ValueError, match="rot90"):
        FlareTask("cnn", {"width": 0.125}, augment=["rot90"])


# The sign-flip test (below): its settings, measured over seeds in the test's docstring.
SIGN_CUE = 0.1  # image mean offset per label sign, in units of the per-pixel noise
SIGN_TRAIN = {"max_epochs": 6, "patience": 6, "batch_size": 32}  # same budget for both branches
SIGN_SEEDS = (0, 1, 2, 3)  # the no-information control is judged on its mean over these


@pytest.fixture(scope="module")
def weak_cue_shards(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("weak_cue")
    return {
        split: _write_split(d / f"{split}.h5", n, seed, image_cue=SIGN_CUE)
        for split, n, seed in (("train", 256, 1), ("val", 96, 2), ("test", 96, 3))
    }


def test_sign_augmentation_hides_a_sign_cue(
    weak_cue_shards: dict[str, Path], tmp_path: Path
) -> None:
    """The image cue is the sign of the mean field: mirrors keep it, a sign flip erases it.

    So a CNN trained with mirrors learns it, and one trained with sign flips cannot: the
    augmentation really reaches the training batches.

    With sign flips the training images carry no information on the label, so the network's
    response to the field's sign random-walks (Adam turns even a pure-noise gradient into
    full-size steps), and validation TSS at threshold 0.5 amplifies the walk: the probabilities
    sit at 0.5 and every validation image carries the cue. With the old setting (cue 0.5 noise
    sigma, one run of 3 epochs) the sign-flip control scored 0.60, 0.00, 0.75 for seeds 0-2. Weight
    decay, 4x more training samples and larger batches did not tame the walk; a weaker cue does,
    and the control is judged on its mean over 4 seeds. Measured with this configuration, seeds
    0-23 (CPU, deterministic): mirrors 0.958-1.000 (bound > 0.8); sign flips 0.138 +- 0.129 per
    seed (max 0.500), and the mean of 4 consecutive seeds at most 0.276 (bound < 0.5).
    """
    mirrors = train_one(
        weak_cue_shards,
        "cnn",
        {"width": 0.125},
        {**SIGN_TRAIN, "augment": ["hflip", "vflip"]},
        tmp_path / "mirrors",
        seed=SIGN_SEEDS[0],
    )
    assert mirrors["best_val_tss"] > 0.8, mirrors
    sign = [
        train_one(
            weak_cue_shards,
            "cnn",
            {"width": 0.125},
            {**SIGN_TRAIN, "augment": ["sign"]},
            tmp_path / f"sign{seed}",
            seed=seed,
        )["best_val_tss"]
        for seed in SIGN_SEEDS
    ]
    assert np.mean(sign) < 0.5, sign
