"""Attribution seconds per sample per method, on CPU (and on CUDA where a GPU exists).

Usage::

    python benchmarks/bench_attribution.py [--samples 16] [--threads 1] \
        [--cnn 32:0.25 128:1.0] [--ig-steps 32] [--occlusion 8:4]

Times :func:`flarepipe.attribution.methods.attribute` for every method on randomly initialised
networks of the registry (weights do not change the cost): the CNN at each ``size:width`` given
(32:0.25 is the default config's network, 128:1.0 the paper's) and the S1 LSTM (16 steps x 4
keywords). The occlusion window and stride scale with the image (``8:4`` at 32 px becomes
``32:16`` at 128 px). One untimed warm-up call per method precedes the timed one.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from flarepipe.attribution.inputs import Network
from flarepipe.attribution.methods import METHODS, MethodSettings, attribute
from flarepipe.models import build_model


def _time(net: Network, x: np.ndarray, method: str, settings: MethodSettings, device: str) -> float:
    attribute(net, x[:2], method, settings, device)  # warm-up (hooks, allocator, cudnn)
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    attribute(net, x, method, settings, device)
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / len(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cnn", nargs="+", default=["32:0.25", "128:1.0"])
    ap.add_argument("--ig-steps", type=int, default=32)
    ap.add_argument("--occlusion", default="8:4", help="window:stride at 32 px")
    ap.add_argument("--devices", nargs="+", default=None, help="default: cpu, and cuda if present")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    devices = args.devices or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    win, stride = (int(v) for v in args.occlusion.split(":"))
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    nets = []
    for spec in args.cnn:
        size, width = spec.split(":")
        size, width = int(size), float(width)
        params = {"width": width, "pooled_size": max(1, size // 32)}
        x = rng.standard_normal((args.samples, 1, size, size)).astype(np.float32)
        s = MethodSettings(
            ig_steps=args.ig_steps,
            occlusion_window=win * size // 32,
            occlusion_stride=max(1, stride * size // 32),
        )
        nets.append(
            (
                f"cnn {size}px width {width}",
                Network(build_model("cnn", **params).eval(), "cnn", "image", 2, params),
                x,
                s,
            )
        )
    x = rng.standard_normal((args.samples, 16, 4)).astype(np.float32)
    lstm = {"hidden": 64, "layers": 2}
    nets.append(
        (
            "lstm 2x64",
            Network(build_model("lstm", **lstm).eval(), "lstm", "sequence", 2, lstm),
            x,
            MethodSettings(ig_steps=args.ig_steps),
        )
    )
    print(
        f"seconds per sample ({args.samples} samples, {args.threads} CPU thread(s), "
        f"IG {args.ig_steps} steps, torch {torch.__version__})"
    )
    header = f"{'network':<24} {'device':<6} " + " ".join(f"{m[:12]:>12}" for m in METHODS)
    print(header)
    for device in devices:
        for name, net, xs, s in nets:
            cells = []
            for m in METHODS:
                if net.input_key not in METHODS[m]:
                    cells.append(f"{'-':>12}")
                    continue
                cells.append(f"{_time(net, xs, m, s, device):>12.4f}")
            print(f"{name:<24} {device:<6} " + " ".join(cells))


if __name__ == "__main__":
    main()
