"""A user adds a network, a label task and a dataset with one registered module and a config block:
the tiny workflow runs them end to end (label, split, shard, train, a stacking pair with a
baseline, a configured paired test, the report)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from flarepipe.evaluation.ceilings import ceiling_names

REPO = Path(__file__).resolve().parents[1]

#: The user's module: one network, registered by decorator (a file next to the config).
TOY_NET = '''
"""A toy network for flarepipe (mean over time of the keyword sequence, one hidden layer), a label
task that keeps weak-flare windows as negatives, and an HMI dataset trained with MDI added."""
import torch
from torch import nn

from flarepipe.models import register_network
from flarepipe.samples.registry import register_dataset, register_task


@register_task("strong_vs_rest", description="toy: STRONG prediction window vs every other window")
def strong_vs_rest(candidates):
    kept = candidates[candidates["dropped"].fillna("") == ""].copy()
    kept["label"] = (kept["pred_type"] == "STRONG").astype("int64")
    return kept


register_dataset("TOY_FUSED", "HMI", ["MDI"], description="toy: HMI split, MDI added to training")


@register_network(
    "toy_mlp",
    input="sequence",
    train_defaults={"max_epochs": 2, "patience": 1},
    params_schema={"properties": {"n_features": {"type": "integer", "minimum": 1},
                                  "hidden": {"type": "integer", "minimum": 1, "maximum": 64}}},
    description="toy: MLP on the time-averaged keywords",
)
class ToyMLP(nn.Module):
    n_outputs = 2

    def __init__(self, n_features: int = 4, hidden: int = 8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.mean(dim=1))
'''

OVERRIDES = {
    "plugins": ["toy_net.py"],
    "labels": {"task": "strong_vs_rest"},
    "experiments": {
        "datasets": ["TOY_FUSED"],
        "models": ["toy_mlp", "logreg"],
        "runs": 1,
        "stacking": {"pair": ["toy_mlp", "logreg"], "criteria": ["tss", "auc"]},
        "paired_tests": [{"a": ["TOY_FUSED", "toy_mlp"], "b": ["TOY_FUSED", "logreg"]}],
    },
    "models": {"toy_mlp": {"network": {"hidden": 6}, "train": {"lr": 0.01, "batch_size": 16}}},
}


def _smk(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(REPO / "config/tiny.yaml"),
        str(workdir / "toy.yaml"),
        "--cores",
        "2",
        *args,
    ]
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=1500)


@pytest.fixture(scope="module")
def toy_workdir(tmp_path_factory) -> Path:
    wd = tmp_path_factory.mktemp("toy")
    shutil.copy(REPO / "config.yaml", wd / "config.yaml")
    (wd / "toy_net.py").write_text(TOY_NET)
    (wd / "toy.yaml").write_text(yaml.safe_dump(OVERRIDES))
    return wd


def test_bad_block_of_the_plugin_network_fails_before_any_job(toy_workdir: Path, tmp_path: Path):
    bad = {**OVERRIDES, "models": {"toy_mlp": {"network": {"hidden": 100}}}}
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(bad))
    shutil.copy(toy_workdir / "toy_net.py", tmp_path / "toy_net.py")
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    res = _smk(tmp_path, "-n")
    assert res.returncode != 0
    assert "models.toy_mlp.network.hidden must be <= 64" in res.stdout + res.stderr


def test_plugin_network_runs_through_the_tiny_workflow(toy_workdir: Path) -> None:
    res = _smk(toy_workdir)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-6000:]
    out = toy_workdir / "results" / "tiny"
    # the plug-in task labelled the windows: weak-flare windows are kept, as negatives
    samples = pd.read_csv(out / "labels" / "samples.csv")
    weak = samples[samples["pred_type"] == "WEAK"]
    assert len(weak) > 0 and (weak["label"] == 0).all()
    assert (samples["label"] == (samples["pred_type"] == "STRONG")).all()
    # the plug-in dataset split HMI regions and added every MDI sample to training
    split = pd.read_csv(out / "splits" / "TOY_FUSED" / "split_0.csv")
    assert set(split.loc[split["instrument"] == "MDI", "split"]) == {"train"}
    assert {"val", "test"} <= set(split.loc[split["instrument"] == "HMI", "split"])
    run = out / "models" / "TOY_FUSED" / "toy_mlp" / "run0"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["model"] == "toy_mlp" and summary["epochs_run"] <= 2
    assert (run / "model.ckpt").stat().st_size > 0
    metrics = pd.read_csv(out / "evaluation" / "metrics.csv")
    assert set(metrics["model"]) == {
        "toy_mlp",
        "logreg",
        "stack_tss",
        "stack_auc",
        "avg",
        "best_tss",
        "oracle",
        *ceiling_names(),
    }
    pred = pd.read_csv(run / "predictions.csv")
    assert pred["prob"].between(0, 1).all() and set(pred["split"]) == {"val", "test"}
    stack = json.loads(
        (out / "models" / "TOY_FUSED" / "stack_tss" / "run0" / "summary.json").read_text()
    )
    assert stack["pair"] == ["toy_mlp", "logreg"] and 0.0 <= stack["alpha"] <= 1.0
    md = (out / "evaluation" / "metrics.md").read_text()
    assert "| TOY_FUSED | toy_mlp | test | 1 |" in md
    assert "- TOY_FUSED toy_mlp > TOY_FUSED logreg (test TSS, one-sided paired t, n=1)" in md
    # the train job got the plug-in as a param; a second invocation has nothing to do
    again = _smk(toy_workdir, "-n")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
