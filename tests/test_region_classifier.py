"""The GoogLeNet-style region classifier: its inception modules, and training on synthetic crops
built to their Mt. Wilson class (deterministic on CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import cpu_trainer
from flarepipe.archive.sources.synthetic.mtwilson import render_class
from flarepipe.models.googlenet import Inception, InceptionClassifier
from flarepipe.tasks.multiclass import ClassTask

CLASSES = [("alpha", False), ("beta", False), ("beta-gamma", False), ("beta-gamma", True)]


def test_inception_module_concatenates_its_four_branches():
    m = Inception(8, 4, 3, 5, 2, 6, 7)
    out = m(torch.zeros(2, 8, 10, 10))
    assert out.shape == (2, 4 + 5 + 6 + 7, 10, 10) and m.out_channels == 22
    kernels = sorted(c.kernel_size[0] for c in m.modules() if isinstance(c, torch.nn.Conv2d))
    assert kernels == [1, 1, 1, 1, 3, 5]  # 1x1, the two reductions, the pool projection


def test_classifier_output_and_checks():
    net = InceptionClassifier(n_classes=4, width=16)
    assert net(torch.zeros(3, 1, 64, 64)).shape == (3, 4)
    with pytest.raises(ValueError, match="n_classes >= 2"):
        InceptionClassifier(n_classes=1)
    with pytest.raises(ValueError, match="class_weight has 2 values for 4 classes"):
        ClassTask(InceptionClassifier, {"n_classes": 4}, list("abcd"), class_weight=[1, 2])


def _crops(n_per, seed):
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for k, combo in enumerate(CLASSES):
        for _ in range(n_per):
            field = render_class(*combo, rng=rng).reshape(64, 2, 64, 2).mean(axis=(1, 3))
            xs.append(np.clip(field / 1000.0, -3, 3))
            ys.append(k)
    return torch.tensor(np.array(xs), dtype=torch.float32).unsqueeze(1), torch.tensor(ys)


def _loader(x, y, batch, order):
    batches = [
        {"image": x[order[i : i + batch]], "mw_class": y[order[i : i + batch]]}
        for i in range(0, len(y), batch)
    ]
    return torch.utils.data.DataLoader(batches, batch_size=None, collate_fn=lambda b: b)


def test_classifier_learns_constructed_classes(tmp_path):
    """8 epochs on 30 crops a class: val accuracy 0.975-1.0 over five seeds (chance 0.25; after
    5 epochs on 20 a class still 0.25); the bound 0.7 is far below the worst seed."""
    import pytorch_lightning as pl

    pl.seed_everything(0, verbose=False)
    xtr, ytr = _crops(30, 100)
    xva, yva = _crops(20, 200)
    task = ClassTask(InceptionClassifier, {"n_classes": 4, "width": 16}, list("abcd"), lr=2e-3)
    trainer = cpu_trainer(tmp_path, max_epochs=8)
    order = np.random.default_rng(0).permutation(len(ytr))
    trainer.fit(
        task,
        train_dataloaders=_loader(xtr, ytr, 16, order),
        val_dataloaders=_loader(xva, yva, 40, np.arange(len(yva))),
    )
    assert trainer.callback_metrics["val_acc"] > 0.7
    task.eval()
    with torch.no_grad():
        pred = task(xva).argmax(1).numpy()
    matrix = task.confusion(yva.numpy(), pred)
    assert matrix.shape == (4, 4) and matrix.sum() == len(yva)
    assert np.trace(matrix) / matrix.sum() > 0.7
