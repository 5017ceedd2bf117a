"""One function per workflow stage: read the stage's input files, call the pure core, write outputs.

The workflow's scripts (``workflow/scripts/*.py``) call exactly one of these; tests call them too.
Every output is written atomically by the functions underneath.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import write_csv, write_json

__all__ = [
    "run_archive", "run_quality", "run_label", "run_features", "run_split", "run_shard",
    "run_train", "run_logreg", "run_oracle", "run_stack", "run_evaluate", "run_synthetic_figure",
]


def _archive_dir(records_csv: str | os.PathLike) -> Path:
    return Path(records_csv).parent


def run_archive(cfg: dict, out_dir: str | os.PathLike, workers: int = 1) -> dict:
    """Build the configured archive (``archive`` config section) into ``out_dir``."""
    from .archive import build_archive

    return build_archive(cfg, out_dir, workers=workers)


def run_quality(records_csv, cfg: dict, out_flagged, out_summary, scan_pixels: bool = True,
                workers: int = 1) -> None:
    """Flag records (``quality`` config section); write the flagged table and counts per reason.

    ``workers`` processes read the FITS files for the pixel checks.
    """
    from .archive import load_archive
    from .quality import flag_records, scan_fits, summarise

    arc = load_archive(_archive_dir(records_csv))
    pixel = scan_fits(arc.records, arc.root, workers=workers) if scan_pixels else None
    flagged = flag_records(arc.records, cfg, pixel_checks=pixel, archive_dir=arc.root)
    out = flagged.copy()
    out["t_rec"] = [t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] for t in out["t_rec"]]
    write_csv(out, out_flagged)
    write_csv(summarise(flagged), out_summary)


def run_label(records_csv, flagged_csv, cfg: dict, out_samples, out_counts, out_drops=None) -> None:
    """Slide windows, type them, apply the task (``label`` config section)."""
    from .archive import load_archive
    from .labels import apply_task, drop_counts, evolution_counts, label_windows, write_samples

    arc = load_archive(_archive_dir(records_csv))
    flagged = pd.read_csv(flagged_csv, usecols=["keep"])
    flagged.index = arc.records.index
    cand = label_windows(arc.records, arc.flares, flagged, cfg)
    samples = apply_task(cand, cfg)
    if samples.empty:
        raise ValueError(f"label: task {cfg.get('task', 'strong_vs_quiet')} produced no samples from {records_csv}")
    write_samples(samples, out_samples)
    write_csv(evolution_counts(cand), out_counts)
    if out_drops:
        write_csv(drop_counts(cand), out_drops)


def run_features(records_csv, samples_csv, cfg: dict, out, threads: int = 2) -> None:
    """Raw model inputs of every labelled sample (``features`` config section)."""
    from .archive import load_archive
    from .features import extract_features
    from .labels import read_samples

    arc = load_archive(_archive_dir(records_csv))
    samples = read_samples(samples_csv)
    extract_features(arc.root, arc.records, samples, out, image_size=int(cfg.get("image_size", 64)),
                     hmi_subsample=int(cfg.get("hmi_subsample", 4)), threads=threads)


def run_split(samples_csv, dataset: str, run: int, cfg: dict, out) -> None:
    """Split one dataset for one run (``split`` config section); fail on leakage."""
    from .labels import read_samples
    from .split import make_dataset_splits, write_split

    samples = read_samples(samples_csv)
    write_split(make_dataset_splits(samples, dataset, cfg, int(run)), out)


def run_shard(features_h5, split_csv, dataset: str, cfg: dict, out_dir) -> None:
    """Standardised train/val/test shards of one dataset run (``shard`` config section)."""
    from .features import build_shards

    split = pd.read_csv(split_csv, dtype={"sample_id": str, "region_id": str})
    build_shards(features_h5, split, dataset, out_dir, image_norm=cfg.get("image_norm", "primary_train"),
                 log_keywords=cfg.get("log_keywords", []))


def run_train(shard_dir, model: str, model_cfg: dict, out_dir, seed: int, threads: int | None = None) -> dict:
    """Train a network on one dataset run and write checkpoint, CSV log and predictions.

    ``threads`` caps torch's CPU threads at the job's share (Snakemake ``threads``), so parallel jobs
    do not oversubscribe the cores.
    """
    import torch

    from .train import train_one

    if threads:
        torch.set_num_threads(int(threads))

    shard_dir = Path(shard_dir)
    shards = {s: shard_dir / f"{s}.h5" for s in ("train", "val", "test")}
    summary = train_one(shards, model, model_cfg.get("network", {}), model_cfg.get("train", {}),
                        out_dir, seed=int(seed))
    write_json(summary, Path(out_dir) / "summary.json")
    return summary


def run_logreg(shard_dir, cfg: dict, out_dir, seed: int) -> dict:
    """The keyword-only logistic-regression baseline on the same shards."""
    from .baseline import train_logreg

    shard_dir = Path(shard_dir)
    shards = {s: shard_dir / f"{s}.h5" for s in ("train", "val", "test")}
    summary = train_logreg(shards, out_dir, C=float(cfg.get("C", 1.0)),
                           class_weight=cfg.get("class_weight", "balanced"), seed=int(seed))
    write_json(summary, Path(out_dir) / "summary.json")
    return summary


def run_oracle(samples_csv, split_csv, rates_csv, out) -> None:
    """Oracle predictions from the planted rates (synthetic archives only)."""
    from .labels import read_samples
    from .oracle import oracle_split_predictions, read_rates

    samples = read_samples(samples_csv)
    split = pd.read_csv(split_csv, dtype={"sample_id": str, "region_id": str})
    preds = oracle_split_predictions(samples, split, read_rates(rates_csv))
    write_csv(preds, out)


def run_stack(first_csv, second_csv, criteria, out_dir_template: str) -> dict:
    """S1 ensembles of two models' predictions; one predictions.csv per ensemble name."""
    from .evaluate import ensembles, read_predictions

    res = ensembles(read_predictions(first_csv), read_predictions(second_csv), criteria=tuple(criteria))
    alphas = {}
    for name, r in res.items():
        out = Path(out_dir_template.format(ensemble=name))
        write_csv(r.predictions, out / "predictions.csv")
        alphas[name] = r.alpha
        write_json({"alpha": r.alpha, "criterion": r.criterion}, out / "summary.json")
    return alphas


def parse_prediction_path(path: str | os.PathLike) -> tuple[str, str, int]:
    """``.../models/<dataset>/<model>/run<k>/predictions.csv`` → (dataset, model, k)."""
    p = Path(path)
    return p.parts[-4], p.parts[-3], int(p.parts[-2].removeprefix("run"))


def run_evaluate(prediction_files: list, out_csv, out_md, plot_dir, tests: list | None = None) -> None:
    """Skill scores per run, mean ± sd table, paired tests and verification plots."""
    from .evaluate import evaluate_runs, paired_test, read_predictions, write_evaluation
    from .plots import metrics_bar, reliability_diagram, roc_plot, skill_profile_plot

    entries = [(*parse_prediction_path(p), str(p)) for p in prediction_files]
    tidy = evaluate_runs(entries)
    summary = write_evaluation(tidy, out_csv, out_md)
    lines = []
    for a, b in tests or []:
        try:
            t = paired_test(tidy, tuple(a), tuple(b))
            lines.append(f"- {a[0]} {a[1]} > {b[0]} {b[1]} (test TSS, one-sided paired t, n={t.n}): "
                         f"mean diff {t.mean_diff:+.3f}, t = {t.statistic:.2f}, p = {t.pvalue:.3g}")
        except (ValueError, KeyError) as exc:
            lines.append(f"- {a} vs {b}: not computed ({exc})")
    if lines:
        with open(out_md, "a") as fh:
            fh.write("\n## Paired tests\n" + "\n".join(lines) + "\n")
    plot_dir = Path(plot_dir)
    plot_dir.mkdir(parents=True, exist_ok=True)
    for dataset in sorted({e[0] for e in entries}):
        preds = {m: read_predictions(p) for d, m, k, p in entries if d == dataset and k == 0}
        reliability_diagram(preds, plot_dir / f"{dataset}_reliability.png", f"{dataset}: reliability (run 0, test)")
        roc_plot(preds, plot_dir / f"{dataset}_roc.png", f"{dataset}: ROC (run 0, test)")
        skill_profile_plot(preds, plot_dir / f"{dataset}_skill_profile.png", f"{dataset}: TSS/HSS vs threshold (run 0, test)")
    metrics_bar(summary, plot_dir / "tss_bar.png", title="Test TSS, mean ± sd over runs")


def run_synthetic_figure(archive_dir, out_png, region_id: str | None = None) -> str:
    """A figure of one synthetic patch and its region's flares and keywords (README, report)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .archive import load_archive
    from .atomic import atomic_path
    from .fitsio import read_patch
    from .quality import parse_noaa_ars

    arc = load_archive(archive_dir)
    rec = arc.records
    rates = pd.read_csv(Path(archive_dir) / "truth" / "rates.csv")
    if region_id is None:  # the HMI region with most ≥C flares
        fl = arc.flares[arc.flares["peak_flux_wm2"] >= 1e-6].dropna(subset=["noaa_ar"])
        counts = {}
        for rid, noaa in rec.groupby("region_id")["noaa_ars"].first().items():
            nums = parse_noaa_ars(noaa)
            counts[rid] = int(fl["noaa_ar"].isin(nums).sum()) if nums else 0
        hmi = {k: v for k, v in counts.items() if k.startswith("HARP")} or counts
        region_id = max(hmi, key=hmi.get)
    r = rec[rec["region_id"] == region_id]
    nums = parse_noaa_ars(r["noaa_ars"].iloc[0])
    fl = arc.flares[arc.flares["noaa_ar"].isin(nums)]
    mid = r.iloc[len(r) // 2]
    img, hdr = read_patch(Path(archive_dir) / mid["path"])
    rr = rates[rates["region_id"] == region_id]
    fig = plt.figure(figsize=(11, 6.5))
    import matplotlib.dates as mdates

    ax0 = fig.add_axes([0.05, 0.42, 0.36, 0.52])
    vmax = float(np.nanpercentile(np.abs(img), 99.5))
    im = ax0.imshow(img, origin="lower", cmap="gray", vmin=-vmax, vmax=vmax)
    fig.colorbar(im, cax=fig.add_axes([0.42, 0.45, 0.012, 0.45]), label="B_LOS/μ (G)")
    ax0.set_title(f"{mid['path'].split('/')[-1]}\nNOAA {mid['noaa_ars']}, LON_FWT {mid['lon_fwt']:.1f}°", fontsize=8)
    ax0.set_xlabel("x (CEA px, 0.03°)")
    ax1 = fig.add_axes([0.55, 0.72, 0.42, 0.22])
    t = pd.to_datetime(r["t_rec"])
    ax1.plot(t, r["usfluxl_mx"], "k-", label="USFLUXL (Mx)")
    ax1.set_ylabel("USFLUXL (Mx)")
    ax1b = ax1.twinx()
    ax1b.plot(t, r["r_value"], "C1-", lw=1)
    ax1b.set_ylabel("R_VALUE", color="C1")
    ax1.axvline(pd.Timestamp(mid["t_rec"]), color="C2", ls=":")
    ax2 = fig.add_axes([0.55, 0.42, 0.42, 0.22], sharex=ax1)
    ax2.semilogy(pd.to_datetime(rr["t_utc"]), rr["rate_m_per_day"], "C3-", label="planted ≥M1 rate / day")
    ax2.semilogy(pd.to_datetime(rr["t_utc"]), rr["rate_c_per_day"], "C0-", label="planted ≥C1 rate / day")
    ax2.legend(fontsize=7, loc="upper left")
    ax3 = fig.add_axes([0.55, 0.08, 0.42, 0.26], sharex=ax1)
    ax3.vlines(pd.to_datetime(fl["peak_utc"]), 1e-7, fl["peak_flux_wm2"], color="C3")
    ax3.set_yscale("log")
    ax3.set_ylim(1e-7, 1e-3)
    ax3.set_ylabel("GOES peak flux (W/m²)")
    for y, c in ((1e-6, "C"), (1e-5, "M"), (1e-4, "X")):
        ax3.axhline(y, color="0.8", lw=0.5)
        ax3.text(ax3.get_xlim()[0], y * 1.2, c, fontsize=7)
    ax3.set_title(f"{len(fl)} flares of NOAA {','.join(map(str, nums))}", fontsize=8)
    axk = fig.add_axes([0.05, 0.08, 0.42, 0.25])
    axk.axis("off")
    info = json.loads(json.dumps({k: hdr.get(k) for k in ("T_REC", "HARPNUM", "QUALITY", "USFLUXL", "MEANGBL", "R_VALUE", "AREA")}, default=str))
    axk.text(0, 1, "\n".join(f"{k:8s} = {v}" for k, v in info.items()), family="monospace", fontsize=8, va="top")
    locator = mdates.AutoDateLocator(maxticks=6)
    for ax in (ax1, ax2, ax3):
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        for lab in ax.get_xticklabels():
            lab.set_fontsize(7)
    with atomic_path(out_png, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return region_id
