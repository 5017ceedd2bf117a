"""Yi et al. 2021 on a small synthetic full-disk archive, end to end, outside the workflow.

Renders daily MDI-like and HMI-like frames (``--days`` each), picks one frame a day, labels the
day (>= C1.0), trains the DenseNet on MDI (chronological: the first ``--train-frac`` of the MDI
days; validation the rest) and tests on HMI, prints Table 1 (ACC, HSS, ApSS, TSS, FB, event
rate) with the three baselines beside the published row, and the share of HMI test frames whose
Grad-CAM maximum (positive class, last conv layer) falls on a region that flared that day, against
the chance of that (the share of the disk those regions' boxes cover).

    PYTHONPATH=src python benchmarks/yi2021_synthetic.py [--days 60] [--size 256] [--input 128]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    """Run and print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--size", type=int, default=256, help="rendered frame side (px)")
    ap.add_argument("--input", type=int, default=128, help="network input side (px)")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--train-frac", type=float, default=0.7)
    ap.add_argument("--c0", type=float, default=-1.6, help="planted log-rate intercept")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--out", default=None, help="keep the archive and results here")
    args = ap.parse_args()

    import torch

    from flarepipe.archive.sources.synthetic import SyntheticParams
    from flarepipe.archive.sources.synthetic.fulldisk import FullDiskParams, generate_fulldisk
    from flarepipe.attribution.fulldisk import boxes_on_input, max_on_flaring
    from flarepipe.attribution.inputs import load_network
    from flarepipe.attribution.methods import MethodSettings, attribute
    from flarepipe.config import train_settings
    from flarepipe.core.noaa import parse_noaa_ars
    from flarepipe.data.fulldisk import write_daily_shard
    from flarepipe.data.shards import ShardReader
    from flarepipe.evaluation.daily import table1, with_published
    from flarepipe.io.fulldisk import read_fulldisk
    from flarepipe.samples.fulldisk import (
        DailyLabelSettings,
        FullDiskQualitySettings,
        daily_frames,
        daily_labels,
        flag_frames,
        scan_frames,
    )
    from flarepipe.studies.yi2021 import PUBLISHED, PUBLISHED_LABEL
    from flarepipe.training.daily_baselines import baseline_predictions
    from flarepipe.training.fit import train_one

    torch.set_num_threads(2)
    tmp = tempfile.TemporaryDirectory()
    root = Path(args.out) if args.out else Path(tmp.name)
    params = SyntheticParams(
        scale="small", seed=args.seed, days=args.days, n_regions=int(1.2 * args.days), c0=args.c0
    )
    fd = FullDiskParams(size_mdi=args.size, size_hmi=args.size)
    t0 = time.perf_counter()
    generate_fulldisk(root, params, fd, write_flares=True)
    t_gen = time.perf_counter() - t0
    rec = pd.read_csv(root / "fulldisk" / "records.csv")
    q = FullDiskQualitySettings()
    chosen, rejected = daily_frames(flag_frames(rec, q, scan_frames(rec, root), root), q)
    flares = pd.read_csv(root / "flares.csv")
    samples = daily_labels(chosen, flares, DailyLabelSettings())
    mdi = samples[samples["instrument"] == "MDI"].sort_values("t_end")
    n_tr = int(round(args.train_frac * len(mdi)))
    parts = {
        "train": mdi.iloc[:n_tr],
        "val": mdi.iloc[n_tr:],
        "test": samples[samples["instrument"] == "HMI"],
    }
    shards = {}
    for name, part in parts.items():
        shards[name] = root / "shards" / f"{name}.h5"
        parts[name], _ = write_daily_shard(part, root, shards[name], size=args.input)
    print(
        f"archive: {args.days} days x 2 instruments at {args.size}^2 in {t_gen:.0f} s; "
        f"{len(samples)} daily samples, {len(rejected)} days rejected; event rate "
        + ", ".join(f"{k} {v['label'].mean():.2f} (n={len(v)})" for k, v in parts.items())
    )
    settings = train_settings(
        "yi_densenet", {"max_epochs": args.epochs, "batch_size": 8, "cpu_threads": 2}
    )
    t0 = time.perf_counter()
    summary = train_one(
        shards, "yi_densenet", {"width": args.width}, settings, root / "model", seed=args.seed
    )
    print(f"trained {summary['epochs_run']} epochs in {time.perf_counter() - t0:.0f} s")
    pred = pd.read_csv(root / "model" / "predictions.csv")
    test = pred[pred["split"] == "test"].assign(model="yi_densenet")
    base = baseline_predictions(parts["train"], parts["test"])
    table = with_published(table1(pd.concat([test, base])), PUBLISHED, PUBLISHED_LABEL)
    with pd.option_context("display.width", 120, "display.precision", 3):
        print(table.to_string(index=False))

    # Grad-CAM maximum on a flaring region vs chance, HMI test frames with a flaring region
    net = load_network(root / "model" / "model.ckpt", expect_model="yi_densenet")
    last = "blocks.4.layers.conv3"
    ms = MethodSettings(gradcam_layers=[last])
    boxes = pd.read_csv(root / "truth" / "fulldisk_regions.csv")
    reader = ShardReader(shards["test"])
    images = reader.read_all(inputs=("image",), targets=())["image"]
    hits, chances = [], []
    for i, row in enumerate(parts["test"].itertuples(index=False)):
        b = boxes[boxes["t_rec_tai"] == row.t_rec_tai]
        day0 = pd.Timestamp(row.t_end)
        fl = flares[
            (pd.to_datetime(flares["start_utc"]) >= day0)
            & (pd.to_datetime(flares["start_utc"]) < day0 + pd.Timedelta(days=1))
            & (flares["peak_flux_wm2"] >= 1e-6)
        ]
        ars = set(fl["noaa_ar"].dropna().astype(int))
        flaring = [bool(set(parse_noaa_ars(n)) & ars) for n in b["noaa_ars"].fillna("")]
        if not any(flaring):
            continue
        frame = read_fulldisk(root / row.path)
        f = frame.data.shape[0] // args.input
        on = frame.on_disk.reshape(args.input, f, args.input, f).mean(axis=(1, 3)) > 0.5
        (cam,) = attribute(net, images[i : i + 1], "gradcam", ms)
        hit, chance = max_on_flaring(
            cam.maps[0, 0], boxes_on_input(b, frame.data.shape[0], args.input), flaring, on
        )
        hits.append(hit)
        chances.append(chance)
    if hits:
        print(
            f"Grad-CAM maximum on a flaring region: {np.mean(hits):.2f} of {len(hits)} frames "
            f"(chance {np.mean(chances):.2f})"
        )
    else:
        print("no test frame with a flaring region")
    tmp.cleanup()


if __name__ == "__main__":
    main()
