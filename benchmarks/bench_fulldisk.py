"""Full-disk throughput: frames/s for reading + resizing, and the shard size per 1,000 days.

Renders ``--frames`` synthetic MDI-like frames (``--size``, default 1024, RICE as JSOC exports),
then times :func:`flarepipe.io.fulldisk.read_fulldisk` + :func:`flarepipe.data.fulldisk.frame_input`
on them and on the real 4096² HMI frame (``--real``, default the shared data's, when present);
writes the daily shard of the synthetic frames (``--input-size``, default 512) and prints its size
scaled to 1,000 days. Rendering is timed too (the synthetic archive's cost per frame).

    PYTHONPATH=src python benchmarks/bench_fulldisk.py [--frames 6] [--size 1024]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pandas as pd


def main() -> None:
    """Print the figures."""
    from flarepipe.archive.sources.synthetic import INSTRUMENTS, SyntheticParams
    from flarepipe.archive.sources.synthetic.fulldisk import (
        FullDiskParams,
        RegionPlan,
        fulldisk_filename,
        render_frame,
    )
    from flarepipe.core.disk import fulldisk_series_of
    from flarepipe.data.fulldisk import frame_input, write_daily_shard
    from flarepipe.io.fitsio import write_patch
    from flarepipe.io.fulldisk import read_fulldisk

    real_default = (
        Path(__file__).resolve().parents[1].parent
        / "shared/data/real/fulldisk/hmi.M_720s.20160707_010000_TAI.magnetogram.fits"
    )
    real_env = os.environ.get("FLAREPIPE_REAL_DATA")
    if real_env:
        real_default = Path(real_env) / "fulldisk" / real_default.name
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--size", type=int, default=1024, help="synthetic MDI frame side (px)")
    ap.add_argument("--input-size", type=int, default=512, help="model input side (px)")
    ap.add_argument("--real", default=str(real_default), help="a real full-disk FITS file")
    args = ap.parse_args()

    params = SyntheticParams(scale="small", seed=1, instruments=("MDI",))
    fd = FullDiskParams(size_mdi=args.size, instruments=("MDI",))
    series = fulldisk_series_of("MDI")
    regions = RegionPlan.all(params, "MDI")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows, textures = [], {}
        t0 = time.perf_counter()
        for d in range(args.frames):
            t = pd.Timestamp(INSTRUMENTS["MDI"].start) + pd.Timedelta(days=10 + d)
            data, cards, _ = render_frame(params, fd, "MDI", t, regions, textures=textures)
            name = fulldisk_filename(series, cards["T_REC"])
            write_patch(root / name, data, cards, bscale=series.bscale, compress=True)
            rows.append(
                {
                    "sample_id": f"MDI-{d}",
                    "region_id": f"MDI-{d}",
                    "instrument": "MDI",
                    "t_end": str(t),
                    "path": name,
                    "label": d % 2,
                }
            )
        render_s = (time.perf_counter() - t0) / args.frames
        t0 = time.perf_counter()
        for r in rows:
            frame_input(read_fulldisk(root / r["path"]), args.input_size)
        read_s = (time.perf_counter() - t0) / args.frames
        file_mb = sum((root / r["path"]).stat().st_size for r in rows) / len(rows) / 1e6
        print(
            f"synthetic MDI {args.size}^2: render+write {render_s:.2f} s/frame | "
            f"read+resize to {args.input_size}: {1 / read_s:.2f} frames/s | "
            f"FITS (RICE) {file_mb:.2f} MB/frame"
        )
        out = root / "shard" / "daily.h5"
        write_daily_shard(pd.DataFrame(rows), root, out, size=args.input_size)
        per_day = out.stat().st_size / len(rows)
        print(
            f"shard at {args.input_size}^2: {per_day / 1e6:.3f} MB/day, "
            f"{per_day * 1000 / 1e9:.2f} GB per 1,000 days"
        )
    real = Path(args.real)
    if real.exists():
        t0 = time.perf_counter()
        frame = read_fulldisk(real)
        t1 = time.perf_counter()
        frame_input(frame, args.input_size)
        t2 = time.perf_counter()
        print(
            f"real {real.name} {frame.data.shape[0]}^2: read {t1 - t0:.2f} s + resize "
            f"{t2 - t1:.2f} s = {1 / (t2 - t0):.2f} frames/s"
        )
    else:
        print(f"real frame not found ({real}): skipped")


if __name__ == "__main__":
    main()
