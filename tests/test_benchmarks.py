"""The benchmark scripts run (figures are not checked: benchmarks print, tests do not time)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO / "src")}


def test_gpu_script_parses_and_refuses_a_missing_gpu() -> None:
    script = REPO / "benchmarks" / "gpu.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    res = subprocess.run(
        ["bash", str(script)],
        capture_output=True,
        text=True,
        env={**_env(), "CUDA_VISIBLE_DEVICES": "", "PY": sys.executable},
        timeout=300,
    )
    assert res.returncode != 0 and "no CUDA device: use --device cpu" in res.stderr


def test_bench_train_prints_both_loops_and_their_ratio() -> None:
    res = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_train.py"), "--device", "cpu"]
        + ["--model", "lstm", "--n", "128", "--epochs", "1", "--repeats", "1"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    line = next(x for x in res.stdout.splitlines() if x.startswith("lstm "))
    assert re.search(r"bare loop +[\d.]+ s \| trainer\.fit +[\d.]+ s \([\d.]+x bare\)", line)
