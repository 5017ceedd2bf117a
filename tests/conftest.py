"""Shared fixtures: a tiny synthetic archive (made once per session) and the real-data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL = Path(os.environ.get("FLAREPIPE_REAL_DATA", REPO.parent / "shared" / "data" / "real"))


def real_path(*parts: str) -> Path:
    """A file of the shared real data, or skip the test with the reason."""
    p = REAL.joinpath(*parts)
    if not p.exists():
        pytest.skip(
            f"real data not available: {p} (set FLAREPIPE_REAL_DATA to the shared data/real folder)"
        )
    return p


@pytest.fixture(scope="session")
def tiny_archive(tmp_path_factory):
    """A tiny synthetic archive (both instruments, a few regions, 5 days)."""
    from flarepipe.archive.sources.synthetic import SyntheticParams, generate_archive

    out = tmp_path_factory.mktemp("tiny_archive")
    params = SyntheticParams(scale="tiny", n_regions=4, days=5, c0=0.0)
    manifest = generate_archive(out, params, workers=2)
    return out, params, manifest


def cpu_trainer(root, max_epochs: int):
    """A quiet, deterministic one-thread CPU Lightning trainer (no logger, no checkpoints), for
    tests that fit a task directly on prepared batches."""
    import pytorch_lightning as pl
    import torch

    torch.set_num_threads(1)
    return pl.Trainer(
        max_epochs=max_epochs,
        accelerator="cpu",
        deterministic=True,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
    )


def run_study(
    workdir, configfiles, *targets, timeout: int = 900, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the workflow in ``workdir`` (given the repository's ``config.yaml``) with the config
    overlays ``configfiles`` on 2 cores, for ``targets``; the finished process is returned (the
    caller asserts on it)."""
    import shutil

    workdir = Path(workdir)
    if not (workdir / "config.yaml").exists():
        shutil.copy(REPO / "config.yaml", workdir / "config.yaml")
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
    cmd += ["--directory", str(workdir), "--configfile", *map(str, configfiles), "--cores", "2"]
    cmd += ["--", *map(str, targets)] if targets else []
    full_env = {**os.environ, "PYTHONPATH": str(REPO / "src"), **(env or {})}
    return subprocess.run(
        cmd, cwd=workdir, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def run_rule_script(name: str, smk, monkeypatch) -> tuple[int, str]:
    """Run ``workflow/scripts/<name>.py`` as Snakemake runs it, with ``smk`` as its ``snakemake``
    object; return its exit status (0 when it returns) and what it wrote to the console."""
    import io

    console = io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", console)
    monkeypatch.setattr(sys, "stderr", sys.stderr)  # restored after the script redirects them
    monkeypatch.setattr(sys, "stdout", sys.stdout)
    script = REPO / "workflow" / "scripts" / f"{name}.py"
    code, before = 0, sys.stdout
    try:
        exec(compile(script.read_text(), str(script), "exec"), {"snakemake": smk})
    except SystemExit as ex:
        code = int(ex.code or 0)
    finally:
        if sys.stdout is not before:
            sys.stdout.close()  # the rule's log
    return code, console.getvalue()
