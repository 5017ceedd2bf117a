"""Loader throughput over a temporary shard: lazy vs preloaded, 0/1/2 workers, none vs lzf.

Usage::

    python benchmarks/bench_loader.py [--n 4000] [--size 128] [--batch 64] [--workers 0 1 2]

Prints samples/s of one shuffled epoch through ``FlareDataModule.train_dataloader()`` (the second
epoch, so persistent workers are already up; worker start-up is printed separately). The shard is
freshly written, so it is in the page cache: these are decode/loader-overhead figures, not disk.

With CUDA it also times CNN training (full-width ``CNNNet``, Adam) fed from the shard by the lazy
loader versus from GPU-resident tensors, in fp32 and in bf16 autocast with channels-last.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from flarepipe.data.datamodule import FlareDataModule, InMemoryDataset
from flarepipe.data.shards import write_shard
from flarepipe.models import CNNNet


def synthetic_arrays(n: int, size: int, seed: int = 0):
    """Magnetogram-like images (smooth bipoles + noise), 16x4 sequences, balanced labels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    images = np.empty((n, 1, size, size), np.float32)
    for i in range(n):
        cx, cy, d, w = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.05, 0.2), 0.05
        pos = np.exp(-((xx - cx - d) ** 2 + (yy - cy) ** 2) / w)
        neg = np.exp(-((xx - cx + d) ** 2 + (yy - cy) ** 2) / w)
        images[i, 0] = 3 * (pos - neg) + 0.1 * rng.standard_normal((size, size))
    sequences = rng.standard_normal((n, 16, 4)).astype(np.float32)
    labels = np.arange(n) % 2
    meta = pd.DataFrame(
        {
            "sample_id": [f"S{i}" for i in range(n)],
            "region_id": [f"HARP{i // 20}" for i in range(n)],
            "instrument": "HMI",
            "t_end": "2012-01-01T00:00:00.000",
        }
    )
    return images, sequences, labels, meta


def loader_rate(folder: Path, batch: int, workers: int, preload: bool) -> tuple[float, float]:
    """(samples/s of the second epoch, seconds to set up and run the first epoch)."""
    dm = FlareDataModule(folder, batch_size=batch, num_workers=workers, preload=preload)
    t0 = time.perf_counter()
    dm.setup("fit")
    loader = dm.train_dataloader()
    n = sum(b["label"].shape[0] for b in loader)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    n = sum(b["label"].shape[0] for b in loader)
    rate = n / (time.perf_counter() - t0)
    del loader, dm
    return rate, first


def train_rate(batches, steps: int, bf16: bool, channels_last: bool) -> float:
    """CNN training samples/s on CUDA over ``steps`` batches from the iterable ``batches``."""
    dev = torch.device("cuda")
    torch.manual_seed(0)
    model = CNNNet().to(dev)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    def step(b):
        x = b["image"].to(dev, non_blocking=True).contiguous(memory_format=fmt)
        y = b["label"].to(dev, non_blocking=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    it = iter(batches)
    for _ in range(5):  # warm-up (cudnn autotuning, allocator)
        step(next(it))
    torch.cuda.synchronize()
    n, t0 = 0, time.perf_counter()
    for _ in range(steps):
        b = next(it)
        step(b)
        n += b["label"].shape[0]
    torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def _cycle(loader):
    while True:
        yield from loader


def main() -> None:
    """Run the benchmark and print a table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--compression", nargs="+", default=["none", "lzf"])
    ap.add_argument("--steps", type=int, default=60, help="CUDA training steps per timing")
    args = ap.parse_args()

    images, sequences, labels, meta = synthetic_arrays(args.n, args.size)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, cuda={torch.cuda.is_available()}")
    print(
        f"shard: {args.n} samples, images 1x{args.size}x{args.size}, sequences 16x4, "
        f"batch {args.batch}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for comp in args.compression:
            folder = Path(tmp) / comp
            t0 = time.perf_counter()
            for split in ("train", "val", "test"):
                write_shard(
                    folder / f"{split}.h5",
                    meta=meta,
                    inputs={"image": images, "sequence": sequences},
                    targets={"label": labels},
                    compression=comp,
                )
            write_s = (time.perf_counter() - t0) / 3
            mb = (folder / "train.h5").stat().st_size / 1e6
            print(f"\n[{comp}] write {write_s:.2f} s, {mb:.0f} MB")
            for preload in (False, True):
                for w in args.workers:
                    rate, first = loader_rate(folder, args.batch, w, preload)
                    mode = "preload" if preload else "lazy"
                    print(
                        f"  {mode:7s} workers={w}: {rate:9.0f} samples/s "
                        f"(setup + first epoch {first:.2f} s)"
                    )

        if torch.cuda.is_available():
            folder = Path(tmp) / args.compression[0]
            torch.backends.cudnn.benchmark = True
            print(
                f"\nCNN training on {torch.cuda.get_device_name()} (full width, "
                f"{args.size}x{args.size}, batch {args.batch})"
            )
            resident = InMemoryDataset(folder / "train.h5", ("image",), device="cuda")
            gen = torch.Generator().manual_seed(0)

            def resident_batches():
                while True:
                    perm = torch.randperm(len(resident), generator=gen)
                    for i in range(0, len(perm) - args.batch + 1, args.batch):
                        yield resident.__getitems__(perm[i : i + args.batch].tolist())

            for bf16, cl in ((False, False), (True, True)):
                label = "bf16+channels_last" if bf16 else "fp32"
                gpu = train_rate(resident_batches(), args.steps, bf16, cl)
                print(f"  {label:18s} GPU-resident tensors: {gpu:8.0f} samples/s")
                for w in args.workers:
                    dm = FlareDataModule(
                        folder, batch_size=args.batch, num_workers=w, inputs=("image",)
                    )
                    dm.setup("fit")
                    shard = train_rate(_cycle(dm.train_dataloader()), args.steps, bf16, cl)
                    print(
                        f"  {label:18s} lazy shard, workers={w}: {shard:8.0f} samples/s "
                        f"(GPU-resident / shard = {gpu / shard:.2f})"
                    )


if __name__ == "__main__":
    main()
