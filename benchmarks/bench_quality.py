"""Quality's pixel checks: reading every magnetogram against taking the archive's ``pixels.csv``.

Generates a default-scale synthetic archive on a few regions (or takes ``--archive``), then runs
:func:`flarepipe.samples.quality.scan_fits` both ways, alternating, and prints the CPU
milliseconds per record (medians; ``time.process_time``, so load on a shared machine counts less).
Both ways must give the same table (checked).

Usage: python benchmarks/bench_quality.py [--archive DIR] [--regions 3] [--days 30] [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time

from flarepipe.archive.layout import load_archive, read_pixels
from flarepipe.archive.sources.synthetic import SyntheticParams, generate_archive
from flarepipe.samples.quality import scan_fits


def main() -> None:
    """Print ms/record for the pixel checks with and without ``pixels.csv``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive")
    ap.add_argument("--regions", type=int, default=3)
    ap.add_argument("--days", type=float, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    root = a.archive or tempfile.mkdtemp(prefix="bench_quality_")
    if not a.archive:
        generate_archive(root, SyntheticParams(n_regions=a.regions, days=a.days), workers=1)
    arc = load_archive(root)
    known = read_pixels(f"{root}/pixels.csv")
    times: dict[str, list[float]] = {"read every file": [], "pixels.csv": []}
    for _ in range(a.repeats):
        c = time.process_time()
        full = scan_fits(arc.records, root)
        times["read every file"].append(time.process_time() - c)
        c = time.process_time()
        fast = scan_fits(arc.records, root, known=known)
        times["pixels.csv"].append(time.process_time() - c)
        assert full.equals(fast), "pixels.csv disagrees with the files"
    n = len(arc.records)
    print(f"{n} records ({root})")
    for k, v in times.items():
        print(f"{k:16s} {statistics.median(v) / n * 1e3:8.3f} ms/record CPU (median)")
    if not a.archive:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
