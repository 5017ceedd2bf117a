"""Training overhead: flarepipe's ``train_one`` (Lightning) against a bare PyTorch loop.

Both train the same registered network on the same preloaded tensors for the same epochs, batch
size and optimiser (Adam), with one validation pass per epoch; they alternate ``--repeats`` times
and the medians are compared, so machine load hits both alike. ``train_one`` also reports its
own ``fit_seconds`` (``trainer.fit`` only); the job's wall time beyond that (imports, checks,
prediction, checkpoint moves) is printed as the fold job's overhead.

Usage::

    python benchmarks/bench_train.py [--model lstm cnn] [--device cpu|cuda] [--n 2048]
        [--size 32] [--width 0.125] [--epochs 3] [--batch 64] [--repeats 3] [--precision 32-true]

Printed per model: median seconds of the bare loop, of ``trainer.fit`` and of the whole
``train_one`` call, and their ratios (the performance issue's goal: fit / bare <= 1.1); then the
same in CPU seconds of the process (``time.process_time``), which other jobs on a shared machine
move far less than wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_loader import synthetic_arrays  # noqa: E402

from flarepipe.config import train_settings  # noqa: E402
from flarepipe.data.shards import ShardReader, write_shard  # noqa: E402
from flarepipe.models.registry import build_model, network_input  # noqa: E402
from flarepipe.training.fit import train_one  # noqa: E402


def write_shards(folder: Path, n: int, size: int) -> dict[str, Path]:
    """train/val/test shards of ``n``, ``n/4``, ``n/4`` samples (images and sequences)."""
    out = {}
    for split, m, seed in (("train", n, 0), ("val", n // 4, 1), ("test", n // 4, 2)):
        images, sequences, labels, meta = synthetic_arrays(m, size, seed)
        out[split] = write_shard(
            folder / f"{split}.h5",
            meta=meta,
            inputs={"image": images, "sequence": sequences},
            targets={"label": labels},
        )
    return out


#: (wall, CPU) seconds of each ``pl.Trainer.fit`` call, recorded by :func:`_timed_fit`.
FIT_TIMES: list[tuple[float, float]] = []
_FIT = pl.Trainer.fit


def _timed_fit(self, *args, **kwargs):
    """``pl.Trainer.fit`` recording its wall and CPU seconds in :data:`FIT_TIMES`."""
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        return _FIT(self, *args, **kwargs)
    finally:
        FIT_TIMES.append((time.perf_counter() - t0, time.process_time() - c0))


pl.Trainer.fit = _timed_fit  # the same instrument for any flarepipe on PYTHONPATH


def bare_loop(model_name, params, shards, epochs, batch, device, bf16) -> tuple[float, float]:
    """(wall, CPU) seconds of a plain loop (Adam, cross-entropy, shuffled batches, a val pass)."""
    key = network_input(model_name)
    data = {}
    for split in ("train", "val"):
        arrays = ShardReader(shards[split]).read_all([key], ["label"])
        x = torch.from_numpy(np.asarray(arrays[key], np.float32)).to(device)
        y = torch.from_numpy(np.asarray(arrays["label"], np.int64)).to(device)
        data[split] = (x, y)
    torch.manual_seed(0)
    net = build_model(model_name, **params).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, y = data["train"]
    gen = torch.Generator().manual_seed(0)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(y), generator=gen).to(device)
        for i in range(0, len(perm) - batch + 1, batch):
            idx = perm[i : i + batch]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = torch.nn.functional.cross_entropy(net(x[idx]).float(), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            xv, yv = data["val"]
            for i in range(0, len(yv), batch):
                net(xv[i : i + batch]).argmax(1)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    """Alternate the bare loop and ``train_one``; print medians and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", nargs="+", default=["lstm", "cnn"])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--width", type=float, default=0.125, help="CNN channel multiplier (1: S1)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--precision", default="32-true", help="32-true or bf16-mixed")
    args = ap.parse_args()
    device = torch.device(args.device)
    accelerator = "gpu" if device.type == "cuda" else "cpu"
    bf16 = args.precision.startswith("bf16")
    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs, device {device}"
        + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else "")
        + f"; {args.n} train samples, {args.epochs} epochs, batch {args.batch}, {args.precision}"
    )
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        shards = write_shards(Path(tmp), args.n, args.size)
        for model in args.model:
            params = {"width": args.width} if model.startswith("cnn") else {}
            settings = train_settings(
                model,
                {
                    "max_epochs": args.epochs,
                    "patience": args.epochs,
                    "batch_size": args.batch,
                    "accelerator": accelerator,
                    "precision": args.precision,
                    "deterministic": False,
                },
            )
            bare, fit, whole = [], [], []
            for r in range(args.repeats):
                bare.append(bare_loop(model, params, shards, args.epochs, args.batch, device, bf16))
                t0, c0 = time.perf_counter(), time.process_time()
                train_one(shards, model, params, settings, Path(tmp) / f"{model}{r}")
                whole.append((time.perf_counter() - t0, time.process_time() - c0))
                fit.append(FIT_TIMES[-1])
            for i, unit in enumerate(("s", "CPU-s")):
                b, f, w = (statistics.median(t[i] for t in v) for v in (bare, fit, whole))
                print(
                    f"{model:5s} bare loop {b:7.2f} {unit} | trainer.fit {f:7.2f} {unit} "
                    f"({f / b:.2f}x bare) | train_one {w:7.2f} {unit} ({w / b:.2f}x bare; "
                    f"job overhead beyond fit {w - f:.2f} {unit})"
                )


if __name__ == "__main__":
    main()
