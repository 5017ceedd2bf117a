"""Paper scale on paper: estimated wall time, GPU hours and disk, from measured costs.

For each config (merged over ``config.yaml`` as the workflow merges it) the script

1. counts the workflow's jobs per rule (``snakemake -n``);
2. plans its synthetic archive without rendering it (the generator's own region plan and flare
   draws): records, pixels and flares per instrument, then labels the planned records with the
   config's ``labels`` section (the label stage's own code; quality filtering is not applied, so
   sample counts are upper bounds by the bad-record rate, a few per cent);
3. measures here, on this machine: the archive's render + write CPU seconds per megapixel and its
   bytes per pixel on disk (a two-region archive of the same scale), and each configured network's
   training CPU seconds per sample on one thread (forward + backward at the config's sizes);
4. takes the GPU's training samples/s from ``--gpu-samples-per-s`` (what ``benchmarks/gpu.sh``
   prints, ``bench_train.py``'s bare loop) or, without it, from the network's counted FLOPs at an
   **assumed** sustained ``--gpu-tflops``, at least an **assumed** ``--gpu-step-ms`` per optimiser
   step (kernel launches: small networks are latency-bound), printed as such;
5. prints, per config: the archive (records, disk size, CPU hours), the training jobs (samples per
   epoch, job hours on one CPU thread and on one GPU, GPU hours in all) and the wall time on one
   GPU node and on clusters of N GPU nodes through the Slurm profile (archive on one node's cores,
   then training jobs in waves of nodes x GPUs per node, each job also paying the measured start-up
   and the Slurm profile's status-poll latency).

Epochs are ``max_epochs`` (early stopping only shortens a job), so times are upper bounds on
training. Stages other than archive and training (quality, labels, features, shards, evaluation)
are not modelled; on the default archive they are under a fifth of the run.

Usage::

    python benchmarks/paper_scale.py [--config config/studies/sun2022.yaml ...] [--nodes 1 4 16]
        [--gpus-per-node 4] [--cpus-per-node 32] [--gpu-samples-per-s lstm=20000 cnn=900]
        [--gpu-tflops 60] [--gpu-step-ms 2] [--startup-s 6] [--poll-s 40]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from flarepipe.archive.sources.synthetic import SyntheticParams, generate_archive  # noqa: E402
from flarepipe.archive.sources.synthetic.generate import _trec_tai  # noqa: E402
from flarepipe.archive.sources.synthetic.images import patch_shape  # noqa: E402
from flarepipe.archive.sources.synthetic.params import INSTRUMENTS  # noqa: E402
from flarepipe.archive.sources.synthetic.regions import (  # noqa: E402
    plan_regions,
    region_geometry,
    simulate_region,
)
from flarepipe.config import load_config, settings  # noqa: E402
from flarepipe.core.flareclass import flux_to_class  # noqa: E402
from flarepipe.core.timeutil import tai_to_utc  # noqa: E402
from flarepipe.models.flops import count_flops  # noqa: E402
from flarepipe.models.registry import NETWORKS, build_model, network_input  # noqa: E402
from flarepipe.samples.labels import apply_task, label_windows  # noqa: E402
from flarepipe.samples.registry import DATASETS  # noqa: E402

DEFAULT_CONFIGS = ("config.yaml", "config/studies/sun2022.yaml")


def job_counts(config: str) -> Counter:
    """Jobs per rule of ``snakemake -n`` for ``config`` (overlaid on config.yaml)."""
    cmd = [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--quiet", "rules"]
    if config != "config.yaml":
        cmd += ["--configfile", config]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    text = out.stdout + out.stderr
    counts = Counter()
    for line in text.splitlines():  # the first job-stats table (Snakemake prints it twice)
        m = re.match(r"^([A-Za-z_][\w]*)\s+(\d+)\s*$", line.strip())
        if m and m.group(1) == "total" and counts:
            break
        if m and m.group(1) != "total":
            counts[m.group(1)] += int(m.group(2))
    if not counts:
        raise SystemExit(f"snakemake -n for {config} printed no job table:\n{text[-2000:]}")
    return counts


def plan_archive(params: SyntheticParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Records (region, time, patch shape) and flares of a synthetic archive, without rendering.

    Follows the generator's plan and cadence (``generate._region_job``): same regions, times and
    patch shapes (size jitter, a few pixels, is left out) and the same flares.
    """
    rows, flares = [], []
    for job in plan_regions(params):
        _, inst_name, index, t_birth, span, number, noaa = job[:7]
        inst = INSTRUMENTS[inst_name]
        reg = simulate_region(params, inst, index, t_birth, span)
        if reg["t"].size == 0:
            continue
        start = pd.Timestamp(inst.start)
        for t0, _tp, _t1, peak, u in reg["flares"]:
            ar = (
                None
                if (u < params.p_flare_no_region or not noaa)
                else noaa[int(u * 997) % len(noaa)]
            )
            flares.append(
                {
                    "start_utc": start + pd.Timedelta(days=t0),
                    "goes_class": flux_to_class(peak),
                    "peak_flux_wm2": float(peak),
                    "noaa_ar": ar,
                }
            )
        geo = region_geometry(params, reg)
        nx, ny = patch_shape(reg, geo, inst, params.resolved()["max_patch_deg"])
        t_tai = pd.DatetimeIndex([_trec_tai(inst, tt) for tt in reg["t"]])
        minutes = np.round((t_tai - t_tai.normalize()).total_seconds() / 60.0).astype(int)
        keep = minutes % params.cadence_min == 0
        if not keep.any():
            continue
        t_utc = tai_to_utc(t_tai[keep])
        noaa_str = ",".join(str(n) for n in noaa)
        rid = f"{inst.prefix}{number}"
        rows.append(
            pd.DataFrame(
                {
                    "region_id": rid,
                    "instrument": inst.name,
                    "series": inst.series,
                    "t_rec": t_utc,
                    "noaa_ars": noaa_str,
                    "pixels": nx * ny,
                }
            )
        )
    records = pd.concat(rows, ignore_index=True)
    fl = pd.DataFrame(flares)
    fl["start_utc"] = tai_to_utc(pd.DatetimeIndex(fl["start_utc"])).round("1min")
    fl["noaa_ar"] = fl["noaa_ar"].astype("Int64")
    return records, fl


def archive_costs(params: SyntheticParams) -> tuple[float, float]:
    """Render + write CPU seconds per megapixel and bytes per pixel, from a two-region archive."""
    days = min(int(params.resolved()["days"]), 40)
    small = dataclasses.replace(params, n_regions=2, days=days)
    out = tempfile.mkdtemp(prefix="paper_scale_")
    try:
        c0 = time.process_time()
        generate_archive(out, small, workers=1)
        cpu = time.process_time() - c0
        rec = pd.read_csv(Path(out) / "records.csv", usecols=["nx", "ny", "path"])
        px = float((rec["nx"] * rec["ny"]).sum())
        size = sum((Path(out) / p).stat().st_size for p in rec["path"])
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return cpu / (px / 1e6), size / px


def network_costs(name: str, cfg: dict, n_steps: int) -> dict:
    """Training FLOPs per sample and CPU seconds per sample (one thread) of a configured network."""
    params = dict((cfg["models"].get(name) or {}).get("network") or {})
    net = build_model(name, **params)
    kind = network_input(name)
    if kind == "image":
        size = int(params.get("image_size") or cfg["features"]["image_size"])
        shape = (1, size, size)
    elif kind == "sequence":
        shape = (n_steps, int(params.get("n_features", 4)))
    else:
        raise ValueError(f"{name}: input {kind!r} not modelled")
    flops = count_flops(net, (2, *shape), backward=True) / 2
    # FlopCounterMode does not see recurrent cells: 2·4·H·(I+H) per step and layer, forward
    # (input and hidden gates), times 3 with the backward pass
    for mod in net.modules():
        if isinstance(mod, torch.nn.LSTM):
            dirs = 2 if mod.bidirectional else 1
            for layer in range(mod.num_layers):
                inp = mod.input_size if layer == 0 else mod.hidden_size * dirs
                flops += 3 * dirs * 2 * 4 * mod.hidden_size * (inp + mod.hidden_size) * shape[0]
    torch.set_num_threads(1)
    batch = 8 if kind == "image" else 64
    x = torch.randn(batch, *shape)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    times = []
    for _ in range(4):  # CPU time of this thread: comparable on shared, busy cores
        t0 = time.thread_time()
        loss = net(x).float().square().mean()  # any scalar: the cost is the passes
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.thread_time() - t0)
    return {"flops": flops, "cpu_s": float(np.median(times[1:])) / batch}


def sample_counts(cfg: dict, records: pd.DataFrame, flares: pd.DataFrame) -> pd.DataFrame:
    """Labelled samples per instrument and label (quality filter not applied)."""
    s = settings("labels", cfg["labels"])
    records = records.copy()
    records["t_rec"] = pd.to_datetime(records["t_rec"])
    cand = label_windows(records, flares, s)
    samples = apply_task(cand, s.task)
    inst = samples["region_id"].str[:4].map({"HARP": "HMI", "TARP": "MDI"})
    return (
        samples.assign(instrument=inst)
        .groupby(["instrument", "label"])
        .size()
        .unstack(fill_value=0)
    )


def per_epoch(counts: pd.DataFrame, dataset: str, split: dict) -> tuple[float, float]:
    """Training and validation samples per epoch of one run (negatives undersampled)."""
    spec = DATASETS.get(dataset)
    ratio = float(split.get("undersample_ratio") or 0) or None
    frac_train = 1.0 - float(split.get("test_frac", 0.2)) - float(split.get("val_frac", 0.2))

    def kept(pos, neg):
        return pos + (min(neg, ratio * pos) if ratio else neg)

    def row(i):
        return (
            (int(counts.loc[i].get(1, 0)), int(counts.loc[i].get(0, 0)))
            if i in counts.index
            else (0, 0)
        )

    p, n = row(spec.primary)
    train = frac_train * kept(p, n)
    val = float(split.get("val_frac", 0.2)) * kept(p, n)
    for extra in spec.extra:
        train += kept(*row(extra))
    return train, val


def fmt_h(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", nargs="+", default=list(DEFAULT_CONFIGS))
    ap.add_argument("--nodes", nargs="+", type=int, default=[1, 4, 16])
    ap.add_argument("--gpus-per-node", type=int, default=4)
    ap.add_argument("--cpus-per-node", type=int, default=32)
    ap.add_argument("--gpu-samples-per-s", nargs="*", default=[], metavar="NET=RATE")
    ap.add_argument("--gpu-tflops", type=float, default=60.0, help="assumed sustained rate")
    ap.add_argument("--gpu-step-ms", type=float, default=2.0, help="assumed floor per step")
    ap.add_argument("--startup-s", type=float, default=6.0, help="a training job's start-up")
    ap.add_argument("--poll-s", type=float, default=40.0, help="Slurm status-poll latency")
    args = ap.parse_args()
    measured_gpu = {k: float(v) for k, v in (a.split("=", 1) for a in args.gpu_samples_per_s)}
    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs here; node: {args.gpus_per_node} GPUs, "
        f"{args.cpus_per_node} cores"
    )
    for path in args.config:
        cfg = load_config(*(["config.yaml"] if path == "config.yaml" else ["config.yaml", path]))
        print(f"\n=== {path}")
        jobs = job_counts(path)
        print(
            f"jobs: {sum(jobs.values())} ({', '.join(f'{k} {v}' for k, v in sorted(jobs.items()))})"
        )
        arch = cfg["archive"]
        if arch.get("source", "synthetic") != "synthetic":
            print(
                f"archive.source {arch.get('source')}: not a synthetic plan; archive not modelled"
            )
            continue
        scfg = {k: v for k, v in arch["synthetic"].items() if k != "workers"}
        if "instruments" in scfg:
            scfg["instruments"] = tuple(scfg["instruments"])
        params = SyntheticParams(**scfg)
        t0 = time.perf_counter()
        records, flares = plan_archive(params)
        cpu_per_mpx, bytes_per_px = archive_costs(params)
        mpx = records["pixels"].sum() / 1e6
        arch_cpu = mpx * cpu_per_mpx
        workers = int(arch["synthetic"].get("workers") or args.cpus_per_node)
        w = min(workers, args.cpus_per_node)
        per_inst = records.groupby("instrument").size().to_dict()
        print(
            f"archive: {len(records):,} records ({per_inst}), {len(flares):,} flares, "
            f"{mpx * 1e6 * bytes_per_px / 1e9:.1f} GB on disk ({bytes_per_px:.2f} B/px measured); "
            f"render+write {cpu_per_mpx:.3f} CPU-s/Mpx measured -> {arch_cpu / 3600:.2f} CPU-h, "
            f"{fmt_h(arch_cpu / w)} on {w} workers  [plan {time.perf_counter() - t0:.0f} s]"
        )
        if not jobs.get("train"):
            print("no `train` jobs (this study trains in its own rules): training not modelled")
            continue
        counts = sample_counts(cfg, records, flares)
        print("samples (before quality):", counts.to_dict(orient="index"))
        lab = cfg["labels"]
        n_steps = int(lab["obs_hours"] * 60 // lab["step_minutes"])
        exp = cfg["experiments"]
        nets = [m for m in exp["models"] if m in NETWORKS]
        runs = int(exp["runs"])
        job_s_cpu, job_s_gpu = [], []
        for net in nets:
            c = network_costs(net, cfg, n_steps)
            gpu_rate = measured_gpu.get(net)
            train_cfg = (cfg["models"].get(net) or {}).get("train") or {}
            epochs = int(train_cfg.get("max_epochs", 20))
            batch = int(train_cfg.get("batch_size", 64))
            if gpu_rate:
                gpu_s, src = 1.0 / gpu_rate, "measured"
            else:  # compute at the assumed rate, or the per-step launch floor if that is more
                gpu_s = max(c["flops"] / (args.gpu_tflops * 1e12), args.gpu_step_ms / 1e3 / batch)
                src = f"ASSUMED {args.gpu_tflops:g} TFLOP/s, >= {args.gpu_step_ms:g} ms/step"
            for ds in exp["datasets"]:
                train, val = per_epoch(counts, ds, cfg["split"])
                work = epochs * (train + val / 3.0)  # a forward pass ~ a third of a training step
                job_s_cpu += [work * c["cpu_s"] + args.startup_s] * runs
                job_s_gpu += [work * gpu_s + args.startup_s] * runs
                print(
                    f"  {net:6s} {ds:12s} {runs} runs x {epochs} epochs x {train:,.0f} train "
                    f"samples: {c['flops'] / 1e6:,.3g} MFLOP/sample, CPU {c['cpu_s'] * 1e3:.2f} "
                    f"ms/sample (1 thread, measured) -> {fmt_h(work * c['cpu_s'])} per job; GPU "
                    f"{gpu_s * 1e6:.3g} us/sample ({src}) -> {fmt_h(work * gpu_s)} per job"
                )
        gpu_hours = sum(job_s_gpu) / 3600
        print(
            f"training: {len(job_s_gpu)} network jobs, {gpu_hours:.2f} GPU-h in all, start-up "
            f"included ({sum(job_s_cpu) / 3600:.2f} CPU-thread-h on CPUs instead)"
        )
        arch_wall = arch_cpu / min(workers, args.cpus_per_node)
        for n in args.nodes:
            slots = n * args.gpus_per_node
            # longest-first onto the least loaded GPU
            load = [0.0] * slots
            for s in sorted(job_s_gpu, reverse=True):
                i = int(np.argmin(load))
                load[i] += s + args.poll_s
            wall = arch_wall + (max(load) if load else 0.0)
            print(
                f"  {n:3d} node(s) x {args.gpus_per_node} GPUs: wall {fmt_h(wall)} "
                f"(archive {fmt_h(arch_wall)}, training {fmt_h(max(load) if load else 0)})"
            )


if __name__ == "__main__":
    main()
