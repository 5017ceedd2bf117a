"""The workflow tested like code: lint, dry run, a full run on the tiny config, partial reruns."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def smk(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = SNAKEMAKE + ["--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
                       "--configfile", str(REPO / "config/tiny.yaml"), "--cores", "2", *args]
    res = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=900)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-5000:]}")
    return res


def dry_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Rule → job count of a dry run (empty when nothing to do)."""
    out = smk(workdir, "-n", "--quiet", "rules", *args).stdout
    counts = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total", "job"):
            counts[parts[0]] = int(parts[1])
    return counts


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    wd = tmp_path_factory.mktemp("wf")
    shutil.copy(REPO / "config.yaml", wd / "config.yaml")
    return wd


def test_lint(workdir):
    res = smk(workdir, "--lint", check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_invalid_config_fails_before_any_job(workdir, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: {cnn: {train: {lr: -1}}}\n")
    res = smk(workdir, "-n", "--configfile", str(REPO / "config/tiny.yaml"), str(bad), check=False)
    assert res.returncode != 0
    assert "models.cnn.train.lr must be > 0" in res.stdout + res.stderr


def test_full_run_then_nothing_to_do_then_partial_reruns(workdir):
    assert dry_jobs(workdir).get("archive") == 1
    smk(workdir)
    res_dir = workdir / "results" / "tiny"
    metrics = pd.read_csv(res_dir / "evaluation" / "metrics.csv")
    assert {"lstm", "cnn", "logreg", "oracle", "avg"} <= set(metrics["model"])
    assert (res_dir / "figures" / "synthetic_region.png").stat().st_size > 10_000
    assert "| SHARP_ONLY | lstm | test |" in (res_dir / "evaluation" / "metrics.md").read_text()
    # a second invocation has nothing to do
    assert dry_jobs(workdir) == {}

    # a changed model hyperparameter reruns only that model's train job (and what reads it)
    extra = workdir / "lstm_change.yaml"
    extra.write_text("models: {lstm: {train: {max_epochs: 2, patience: 1, lr: 0.002}}}\n")
    jobs = dry_jobs(workdir, "--configfile", str(REPO / "config/tiny.yaml"), str(extra))
    assert jobs.get("train") == 2 and "shard" not in jobs and "archive" not in jobs
    assert set(jobs) <= {"train", "stack", "evaluate", "all"}

    # a changed quality threshold reruns from quality down, not the archive
    q = workdir / "quality_change.yaml"
    q.write_text("quality: {max_cm_distance_deg: 60}\n")
    jobs = dry_jobs(workdir, "--configfile", str(REPO / "config/tiny.yaml"), str(q))
    assert "archive" not in jobs and jobs.get("quality") == 1 and jobs.get("label") == 1
    assert jobs.get("train") == 4

    # a deleted intermediate is rebuilt without rerunning what does not depend on it
    (res_dir / "splits" / "SHARP_ONLY" / "split_0.csv").unlink()
    jobs = dry_jobs(workdir)
    assert jobs.get("split") == 1 and "archive" not in jobs and "label" not in jobs and "features" not in jobs
