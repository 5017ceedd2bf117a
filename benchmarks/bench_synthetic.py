"""Records and pixels generated per second per core by the synthetic archive, default and large.

Each scale's patch sizes and physics are used as configured, on a subset of its regions so the
benchmark takes a minute or two; throughput is per record (and per pixel, since realistic HMI
patches are ~10x larger than model-1 ones), so a subset measures the same rate. Besides wall-clock
rates it prints the CPU seconds used (this process and its workers): on shared, busy cores
records per CPU-second is the comparable figure.
Usage: python benchmarks/bench_synthetic.py [n_regions_per_instrument=6] [workers=1,2]
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import tempfile
import time

import pandas as pd

from flarepipe.archive.sources.synthetic import SCALES, SyntheticParams, generate_archive


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the worker processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    """Print one line per (scale, workers): records, seconds, records/s/core, Mpixel/s/core."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    workers = [int(w) for w in (sys.argv[2] if len(sys.argv) > 2 else "1,2").split(",")]
    print(f"cores available: {os.cpu_count()}")
    print(
        f"{'scale':8s} {'workers':>7s} {'records':>8s} {'seconds':>8s} {'rec/s':>8s} "
        f"{'rec/s/core':>10s} {'Mpx/s/core':>10s} {'cpu s':>7s} {'rec/cpu-s':>9s} "
        f"{'Mpx/cpu-s':>9s}  pixels/record"
    )
    for scale in ("default", "large"):
        days = SCALES[scale]["days"]
        for w in workers:
            out = tempfile.mkdtemp(prefix=f"bench_{scale}_")
            params = SyntheticParams(scale=scale, n_regions=n, days=min(days, 60))
            t0, c0 = time.perf_counter(), _cpu()
            m = generate_archive(out, params, workers=w)
            dt, cpu = time.perf_counter() - t0, _cpu() - c0
            rec = pd.read_csv(os.path.join(out, "records.csv"), usecols=["nx", "ny"])
            px = rec["nx"] * rec["ny"]
            r = m["counts"]["records"]
            print(
                f"{scale:8s} {w:7d} {r:8d} {dt:8.1f} {r / dt:8.1f} {r / dt / w:10.1f} "
                f"{px.sum() / dt / w / 1e6:10.2f} {cpu:7.1f} {r / cpu:9.1f} "
                f"{px.sum() / cpu / 1e6:9.2f}  {int(px.mean())}"
            )
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
