"""One attribution job per (dataset, model, run), and the per-(dataset, model) summary.

:func:`explain_run` writes into ``results/attribution/<dataset>/<model>/run<k>/``:

``maps.npz``
    ``sample_id`` [N], ``inputs`` (the standardised network inputs), and one array per map key
    (``integrated_gradients``, ``gradcam@convs.conv3``, ...) for the trained network, and
    ``random/<key>`` for the randomly initialised one; each of the input's shape.
``stats.csv``
    Tidy per-sample statistics, one row per (sample, map, network; network ``none`` with map
    ``field_abs`` is the reference map |B| of image networks): ``sum_abs, max_abs, sum,
    delta`` (IG/DeepLIFT completeness error), ``random_correlation`` (trained rows), and for
    image networks the planted-truth scores (``mask_area, mask_share, enrichment,
    pointing_hit``; synthetic archives) and the PIL scores (``pil_mean, non_pil_mean,
    boundary_mean, pil_ratio, pil_boundary_ratio, pil_iou``).
``probes.csv``
    Flare probability of every synthetic probe (:mod:`flarepipe.attribution.probes`).
``timeline.csv``, ``timeline.npz``
    Predicted probability of every sample of the chosen test regions (out-of-sample for this run)
    and attribution frames at chosen times.
``figures/``
    ``<method>__maps.png``, ``integrated_gradients__contours.png``, ``<method>__movie.gif``,
    ``planted_truth__enrichment.png``, ``probes__<family>.png``, ``timeline__<region>.png``.
``summary.json``
    Methods run and skipped, seconds per sample per method, sample counts.

Everything is written under ``.attribute_tmp/`` first and moved into place, each file atomically,
so a failed job leaves nothing that looks complete.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from flarepipe.attribution import analysis, figures
from flarepipe.attribution.inputs import (
    AttributionInputError,
    Network,
    Preprocessing,
    cause_mask,
    hmi_subsample_of,
    load_network,
    random_network,
    read_feature_samples,
    read_magnetogram,
    read_shard_samples,
    resize_of,
    sample_meta,
)
from flarepipe.attribution.methods import (
    METHODS,
    MapSet,
    MethodSettings,
    ScoreHead,
    applicable,
    attribute,
    check_layers,
)
from flarepipe.attribution.probes import probe_table
from flarepipe.attribution.settings import resolve_settings
from flarepipe.io.atomic import write_csv, write_json, write_npz

__all__ = ["PREDICTION_TOLERANCE", "explain_run"]

#: largest |p(checkpoint on shard) - p(predictions.csv)| accepted (bf16-trained GPU runs differ
#: by ~1e-3; a checkpoint of another run, dataset or shard layout by far more)
PREDICTION_TOLERANCE = 0.05


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise AttributionInputError("attribution.device is cuda but no CUDA device is available")
    return torch.device(name)


def _method_settings(s: Mapping[str, Any], pre: Preprocessing) -> MethodSettings:
    occ = s["occlusion"]
    return MethodSettings(
        ig_steps=int(s["ig_steps"]),
        baseline=str(s["baseline"]),
        zero_field_value=pre.zero_field(),
        blur_sigma_px=float(s["blur_sigma_px"]),
        sequence_baseline=str(s["sequence_baseline"]),
        occlusion_window=int(occ["window"]),
        occlusion_stride=int(occ["stride"]),
        occlusion_sequence_window=tuple(int(v) for v in occ["sequence_window"]),
        gradcam_layers=list(s["gradcam_layers"]) if s.get("gradcam_layers") else None,
        gradcam_negative_layer=s.get("gradcam_negative_layer"),
        internal_batch_size=int(s["batch_size"]),
    )


def _probabilities(
    network: Network, x: np.ndarray, device: torch.device, batch: int = 256
) -> np.ndarray:
    head = ScoreHead(network.module, network.n_outputs, probability=True).to(device).eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = torch.from_numpy(np.ascontiguousarray(x[i : i + batch])).to(device)
            out.append(head(xb)[:, 1].float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def _read_predictions(path: str | os.PathLike, split: str) -> pd.DataFrame:
    df = pd.read_csv(path, dtype={"sample_id": str})
    missing = sorted({"sample_id", "split", "label", "prob"} - set(df.columns))
    if missing:
        raise AttributionInputError(f"predictions {path} lack column(s) {missing}")
    df = df[df["split"] == split]
    if df.empty:
        raise AttributionInputError(
            f"predictions {path} hold no {split!r} rows (attribution.split); they hold "
            f"{sorted(set(pd.read_csv(path)['split']))}"
        )
    return df.reset_index(drop=True)


def _stats_row(a: np.ndarray) -> dict[str, float]:
    a = np.asarray(a, dtype=np.float64)
    return {
        "sum_abs": float(np.abs(a).sum()),
        "max_abs": float(np.abs(a).max()),
        "sum": float(a.sum()),
    }


def _label(row: Mapping[str, Any]) -> str:
    return f"{row['sample_id']}\n{row['reason']} p={row['prob']:.2f}"


def _timeline_regions(sel: Mapping[str, Any], merged: pd.DataFrame) -> list[str]:
    want = sel["regions"]
    regions = sorted(set(merged["region_id"].astype(str)))
    if isinstance(want, int):
        pos = merged.groupby("region_id")["label"].sum().reindex(regions).fillna(0)
        ranked = sorted(regions, key=lambda r: (-float(pos[r]), r))
        return ranked[: int(want)]
    return [str(r) for r in want if str(r) in regions]


def explain_run(
    *,
    checkpoint: str | os.PathLike,
    predictions: str | os.PathLike,
    shard: str | os.PathLike,
    features: str | os.PathLike,
    samples: str | os.PathLike,
    records: str | os.PathLike,
    out_dir: str | os.PathLike,
    model: str,
    dataset: str,
    run: int,
    cfg: Mapping[str, Any] | None = None,
    synthetic: bool = False,
    threads: int | None = None,
    flares: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Explain one trained network: maps, statistics, probes, timelines and figures.

    Parameters
    ----------
    checkpoint, predictions
        ``model.ckpt`` and ``predictions.csv`` of the train rule.
    shard
        The shard of ``attribution.split`` (``test.h5`` by default) of the same dataset run.
    features
        The feature store (unstandardised inputs of every labelled sample: region timelines).
    samples, records
        ``samples.csv`` (record ids per sample) and the archive's ``records.csv`` (the archive
        folder holding it is where the magnetograms are read from).
    out_dir
        ``results/attribution/<dataset>/<model>/run<k>``.
    model, dataset, run
        The job's wildcards (the checkpoint must hold ``model``, or for a variant its network;
        ``shard`` and ``features`` must be those of the model's image side).
    cfg
        The ``attribution`` section (:func:`resolve_settings` fills defaults).
    synthetic
        The archive is synthetic: score maps against the planted causes.
    threads
        torch CPU threads.
    flares
        The archive's ``flares.csv`` (GOES flares of the region timelines); default: beside
        ``records``.

    Returns
    -------
    dict
        The ``summary.json`` content.

    Raises
    ------
    AttributionInputError
        For a checkpoint of another model or run, a shard of another layout, an unknown sample
        id, region, method or layer, or an empty selection; nothing is left in ``out_dir`` then.
    """
    t_start = time.perf_counter()
    s = resolve_settings(cfg)
    if threads:
        torch.set_num_threads(int(threads))
    device = _device(s["device"])
    out_dir = Path(out_dir)
    work = out_dir / ".attribute_tmp"
    if work.exists():
        shutil.rmtree(work)
    archive_root = Path(records).parent
    where = f"{dataset}/{model}/run{run}"

    # a variant (models.<model>: {arch: ...}) holds its registered network: any one then
    from flarepipe.models import network_names

    net = load_network(checkpoint, expect_model=model if model in network_names() else None)
    key = net.input_key
    pre = Preprocessing.from_shard(shard, hmi_subsample_of(features), resize_of(features))
    side = net.model_params.get("image_size")
    if key == "image" and side is not None and int(side) != pre.image_size:
        raise AttributionInputError(
            f"checkpoint {checkpoint} was trained on {int(side)}-px images but shard {shard} "
            f"holds {pre.image_size}-px ones: give the job the shard and feature store of the "
            "model's image side (models.<model>.network.image_size)"
        )
    preds = _read_predictions(predictions, s["split"])
    meta = sample_meta(shard)
    extra = sorted(set(preds["sample_id"]) - set(meta["sample_id"]))
    if extra or len(preds) != len(meta):
        raise AttributionInputError(
            f"predictions {predictions} ({len(preds)} {s['split']} rows) and shard {shard} "
            f"({len(meta)} samples) disagree (e.g. {extra[:3]}); they come from different runs "
            "or datasets"
        )
    merged = preds.merge(meta[["sample_id", "region_id", "instrument", "t_end"]], on="sample_id")
    recs = sample_rows = None
    if key == "image":  # magnetograms, planted causes and movies need the archive records
        from flarepipe.archive.layout import load_archive
        from flarepipe.samples.labels import read_samples

        recs = load_archive(archive_root).records
        sample_rows = read_samples(samples).set_index("sample_id")
        unknown = sorted(set(merged["sample_id"]) - set(sample_rows.index))
        if unknown:
            raise AttributionInputError(
                f"sample id(s) {unknown[:3]} of shard {shard} are not in {samples}"
            )
    flare_table = region_recs = None  # read at the first region timeline
    planted = bool(synthetic and key == "image" and s["planted_truth"])
    sel_cfg = s["select"]
    extra = {}
    if planted and int(sel_cfg["planted"]) > 0:
        extra["planted"] = _planted_candidates(
            merged, recs, sample_rows, archive_root, int(sel_cfg["planted"])
        )
    selection = analysis.select_samples(
        merged,
        {c: sel_cfg[c] for c in analysis.CATEGORIES},
        top_k=int(sel_cfg["top_k"]),
        regions=list(sel_cfg["regions"]),
        per_region=int(sel_cfg["per_region"]),
        sample_ids=list(sel_cfg["samples"]),
        threshold=float(s["threshold"]),
        extra=extra,
    )
    _, x = read_shard_samples(shard, key, selection["sample_id"].tolist())
    try:
        p_now = _probabilities(net, x, device)
    except (RuntimeError, ValueError) as exc:
        raise AttributionInputError(
            f"checkpoint {checkpoint} does not run on the inputs of shard {shard} ({exc}); "
            "the shard and the network come from different layouts or configurations"
        ) from exc
    diff = float(np.max(np.abs(p_now - selection["prob"].to_numpy())))
    if diff > PREDICTION_TOLERANCE:
        raise AttributionInputError(
            f"checkpoint {checkpoint} does not reproduce {predictions} on shard {shard} "
            f"(largest probability difference {diff:.3f} > {PREDICTION_TOLERANCE}); the "
            "checkpoint, predictions and shard must come from the same dataset run"
        )

    methods = [m for m in s["methods"] if applicable(m, key)]
    skipped = [m for m in s["methods"] if m not in methods]
    if not methods:
        raise AttributionInputError(
            f"attribution.methods: none of {list(s['methods'])} applies to {model} ({key} input); "
            f"methods for {key} networks: {[m for m, k in METHODS.items() if key in k]}"
        )
    if "gradcam" in methods or "hirescam" in methods:
        check_layers(net, s.get("gradcam_layers"), "attribution.gradcam_layers")
    if "gradcam_negative" in methods and s.get("gradcam_negative_layer"):
        check_layers(net, [s["gradcam_negative_layer"]], "attribution.gradcam_negative_layer")
    ms = _method_settings(s, pre)

    def run_methods(network: Network, inputs: np.ndarray) -> tuple[dict[str, MapSet], dict]:
        maps, secs = {}, {}
        for m in methods:
            t0 = time.perf_counter()
            for mset in attribute(network, inputs, m, ms, device):
                maps[mset.key] = mset
            secs[m] = (time.perf_counter() - t0) / max(len(inputs), 1)
        return maps, secs

    trained, seconds = run_methods(net, x)
    rand_cfg = s["randomised_check"]
    random: dict[str, MapSet] = {}
    if rand_cfg["enabled"]:
        rnet = random_network(net, seed=int(rand_cfg["seed"]) + int(run))
        random, _ = run_methods(rnet, x)

    # planted causes and PIL masks on the network grid (image networks)
    masks: list[np.ndarray | None] = [None] * len(selection)
    pil_masks: list[dict | None] = [None] * len(selection)
    if key == "image":
        side = x.shape[-1]
        for i, sid in enumerate(selection["sample_id"]):
            rec = recs.iloc[int(sample_rows.at[sid, "last_record"])]
            if planted:
                sub = pre.hmi_subsample if rec["instrument"] == "HMI" else 1
                masks[i] = analysis.resize_mask(
                    cause_mask(archive_root, rec), (side, side), sub, int(s["planted_dilation_px"])
                )
            pc = s["pil"]
            pil_masks[i] = analysis.pil_mask(
                pre.field_of(x[i, 0]),
                float(pc["threshold_g"]),
                float(pc["min_gradient_g_per_px"]),
                int(pc["dilation_px"]),
            )

    rows = []
    for network_name, sets in (("trained", trained), ("random", random)):
        for mkey, mset in sets.items():
            for i, srow in enumerate(selection.to_dict("records")):
                a = mset.maps[i]
                row = {
                    "dataset": dataset,
                    "model": model,
                    "run": int(run),
                    "sample_id": srow["sample_id"],
                    "region_id": srow["region_id"],
                    "category": srow["category"],
                    "reason": srow["reason"],
                    "label": int(srow["label"]),
                    "prob": float(srow["prob"]),
                    "network": network_name,
                    "map": mkey,
                    "method": mset.method,
                    "layer": mset.layer,
                    **_stats_row(a),
                    "delta": float(mset.delta[i]) if mset.delta is not None else np.nan,
                }
                if network_name == "trained" and mkey in random:
                    row["random_correlation"] = analysis.rank_correlation(a, random[mkey].maps[i])
                if key == "image":
                    if masks[i] is not None:
                        row.update(analysis.mask_scores(a[0], masks[i]))
                        row["mask_pixels"] = int(masks[i].sum())
                    row.update(
                        analysis.pil_scores(a[0], pil_masks[i], float(s["pil"]["attr_threshold"]))
                    )
                rows.append(row)
    if key == "image":  # reference: the field itself, |B| (no network), scored like a map
        for i, srow in enumerate(selection.to_dict("records")):
            fld = np.abs(pre.field_of(x[i, 0]))
            row = {
                "dataset": dataset, "model": model, "run": int(run),
                "sample_id": srow["sample_id"], "region_id": srow["region_id"],
                "category": srow["category"], "reason": srow["reason"],
                "label": int(srow["label"]), "prob": float(srow["prob"]),
                "network": "none", "map": "field_abs", "method": "field_abs", "layer": "",
                **_stats_row(fld), "delta": np.nan,
            }  # fmt: skip
            if masks[i] is not None:
                row.update(analysis.mask_scores(fld, masks[i]))
                row["mask_pixels"] = int(masks[i].sum())
            row.update(analysis.pil_scores(fld, pil_masks[i], float(s["pil"]["attr_threshold"])))
            rows.append(row)
    stats = pd.DataFrame(rows)

    try:
        work.mkdir(parents=True)
        fig_dir = work / "figures"
        fig_dir.mkdir()
        arrays = {"sample_id": selection["sample_id"].to_numpy(dtype=str), "inputs": x}
        arrays.update({k: v.maps for k, v in trained.items()})
        arrays.update({f"random/{k}": v.maps for k, v in random.items()})
        write_npz(work / "maps.npz", arrays, f"attribution maps {out_dir / 'maps.npz'}")
        write_csv(stats, work / "stats.csv", float_format="%.6g")

        # -- probes ----------------------------------------------------------------------------
        probes = pd.DataFrame(columns=["run", "family", "parameter", "value", "prob"])
        if s["probes"]["enabled"]:
            instrument = pre.instrument or str(merged["instrument"].mode().iloc[0])
            pcfg = {k: v for k, v in s["probes"].items() if k != "enabled"}
            probes = probe_table(
                net,
                pre,
                instrument,
                pcfg,
                steps=x.shape[1] if key == "sequence" else None,
                device=device,
            )
            probes.insert(0, "run", int(run))
            for fam in sorted(set(probes["family"])):
                figures.probe_figure(
                    fig_dir / f"probes__{fam}.png", probes, fam, f"{fam} probes, {model}, {where}"
                )
        write_csv(probes, work / "probes.csv", float_format="%.6g")

        # -- region timelines (regions of this split: out-of-sample for this run) ----------------
        tl_rows, tl_arrays = [], {}
        fmeta = sample_meta(features)
        for region in _timeline_regions(s["timeline"], merged):
            ids = fmeta[fmeta["region_id"].astype(str) == region].sort_values("t_end")
            rmeta, raw = read_feature_samples(features, key, ids["sample_id"].tolist())
            if key == "image":
                xs = pre.image_from_raw(raw)
            else:
                xs = np.stack(
                    [
                        pre.sequence_from_raw(r, inst)
                        for r, inst in zip(raw, rmeta["instrument"], strict=True)
                    ]
                )
            probs = _probabilities(net, xs, device)
            in_split = rmeta["sample_id"].isin(set(merged["sample_id"])).to_numpy()
            for j, r in enumerate(rmeta.to_dict("records")):
                tl_rows.append(
                    {
                        "run": int(run),
                        "region_id": region,
                        "sample_id": r["sample_id"],
                        "t_end": r["t_end"],
                        "label": int(r["label"]),
                        "prob": float(probs[j]),
                        "in_split": bool(in_split[j]),
                    }
                )
            n_frames = min(int(s["timeline"]["frames"]), len(xs))
            frame_idx = (
                np.unique(np.linspace(0, len(xs) - 1, n_frames).round().astype(int))
                if n_frames
                else np.zeros(0, int)
            )
            frames = []
            if len(frame_idx) and "integrated_gradients" in methods:
                fmaps = attribute(net, xs[frame_idx], "integrated_gradients", ms, device)[0].maps
                for j, fi in enumerate(frame_idx):
                    sid = rmeta["sample_id"].iloc[fi]
                    tl_arrays[f"{region}/{sid}/input"] = xs[fi]
                    tl_arrays[f"{region}/{sid}/integrated_gradients"] = fmaps[j]
                    img = pre.field_of(xs[fi][0]) if key == "image" else xs[fi]
                    amap = fmaps[j][0] if key == "image" else fmaps[j]
                    frames.append(
                        (f"{str(rmeta['t_end'].iloc[fi])[:16]} p={probs[fi]:.2f}", img, amap)
                    )
            tl = pd.DataFrame([r for r in tl_rows if r["region_id"] == region])
            if flare_table is None:
                from flarepipe.archive.layout import read_flares, read_records

                flare_table = read_flares(flares or archive_root / "flares.csv")
                region_recs = recs if recs is not None else read_records(records)
            figures.timeline_figure(
                fig_dir / f"timeline__{region}.png",
                tl,
                _region_flares(region_recs, flare_table, region),
                frames,
                f"region {region}: {model}, {where} (out-of-sample)",
                sequence=key == "sequence",
            )
        write_csv(
            pd.DataFrame(
                tl_rows,
                columns=["run", "region_id", "sample_id", "t_end", "label", "prob", "in_split"],
            ),
            work / "timeline.csv",
            float_format="%.6g",
        )
        write_npz(
            work / "timeline.npz", tl_arrays, f"attribution timeline {out_dir / 'timeline.npz'}"
        )

        # -- figures of the selected samples ---------------------------------------------------
        n_fig = min(int(s["figures"]["samples"]), len(selection))
        labels = [_label(r) for r in selection.head(n_fig).to_dict("records")]
        if key == "image":
            mags = []
            for sid in selection["sample_id"].head(n_fig):
                rec = recs.iloc[int(sample_rows.at[sid, "last_record"])]
                mags.append(np.nan_to_num(read_magnetogram(archive_root, rec), nan=0.0))
            families: dict[str, list[str]] = {}
            for mkey, mset in trained.items():
                families.setdefault(mset.method, []).append(mkey)
            for method, keys in families.items():
                cols = {
                    k.split("@")[-1] if "@" in k else "trained": trained[k].maps[:n_fig, 0]
                    for k in keys
                }
                if (
                    method
                    in (
                        "integrated_gradients",
                        "deeplift",
                        "guided_backprop",
                        "deconvolution",
                        "occlusion",
                    )
                    and keys[0] in random
                ):
                    cols["random network"] = random[keys[0]].maps[:n_fig, 0]
                figures.maps_figure(
                    fig_dir / f"{method}__maps.png",
                    mags,
                    cols,
                    labels,
                    f"{method}: {model}, {where} (|map| 0-1, upsampled to the patch)",
                )
            if "occlusion" in trained:
                figures.occlusion_overlay_figure(
                    fig_dir / "occlusion__overlay.png",
                    mags,
                    trained["occlusion"].maps[:n_fig, 0],
                    labels,
                    f"occlusion: {model}, {where}",
                    threshold=float(s["occlusion"]["overlay_threshold"]),
                )
            if "integrated_gradients" in trained:
                figures.contour_figure(
                    fig_dir / "integrated_gradients__contours.png",
                    mags,
                    trained["integrated_gradients"].maps[:n_fig, 0],
                    labels,
                    f"integrated gradients, smoothed (sigma {s['smooth_sigma_px']} px): "
                    f"{model}, {where}",
                    sigma_px=float(s["smooth_sigma_px"]),
                )
            if (
                synthetic
                and s["planted_truth"]
                and "enrichment" in stats
                and stats["enrichment"].notna().any()
            ):
                figures.planted_figure(
                    fig_dir / "planted_truth__enrichment.png",
                    stats[stats["enrichment"].notna()],
                    f"planted causes: {model}, {where}",
                )
            # movies: the CNN on every frame of the sample's observation window
            for sid in selection["sample_id"].head(int(s["movie"]["samples"])):
                ids = [
                    int(v) for v in str(sample_rows.at[sid, "record_ids"]).split(";") if int(v) >= 0
                ]
                recs_seq = [recs.iloc[i] for i in ids]
                natives = [
                    np.nan_to_num(read_magnetogram(archive_root, r), nan=0.0) for r in recs_seq
                ]
                xs = np.stack(
                    [pre.image(b, r["instrument"]) for b, r in zip(natives, recs_seq, strict=True)]
                )
                method = "integrated_gradients" if "integrated_gradients" in methods else methods[0]
                mv = attribute(net, xs, method, ms, device)[0].maps[:, 0]
                figures.movie(
                    fig_dir / f"{method}__movie.gif",
                    natives,
                    list(mv),
                    [str(r["t_rec"])[:16] for r in recs_seq],
                    f"{method}: {model}, {where}, {sid}",
                    sigma_px=float(s["smooth_sigma_px"]),
                )
        else:
            seq_maps = {k: v.maps[:n_fig] for k, v in trained.items()}
            figures.sequence_maps_figure(
                fig_dir / "sequence__maps.png",
                seq_maps,
                pre.keywords,
                labels,
                f"time steps x keywords: {model}, {where}",
            )

        summary = {
            "dataset": dataset,
            "model": model,
            "run": int(run),
            "split": s["split"],
            "device": str(device),
            "methods": methods,
            "skipped_methods": skipped,
            "maps": sorted(trained),
            "n_samples": int(len(selection)),
            "seconds_per_sample": {m: round(v, 5) for m, v in seconds.items()},
            "randomised_check": bool(random),
            "planted_truth": planted,
            "probes": int(len(probes)),
            "timeline_regions": sorted({r["region_id"] for r in tl_rows}),
            "max_probability_difference": round(diff, 6),
            "seconds": round(time.perf_counter() - t_start, 2),
        }
        write_json(summary, work / "summary.json")
        _move_into_place(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return summary


def _planted_candidates(
    merged: pd.DataFrame,
    recs: pd.DataFrame,
    sample_rows: pd.DataFrame,
    archive_root: Path,
    n: int,
) -> list[str]:
    """Up to ``n`` samples whose last magnetogram shows a planted cause, spread over regions.

    Rule: samples ordered by label (positives first), then descending probability, then id; the
    regions holding such samples are visited in that order, one sample per region per round, so
    the planted-truth scores are not the consecutive frames of one region.
    """
    order = merged.sort_values(
        ["label", "prob", "sample_id"], ascending=[False, False, True], kind="stable"
    )
    by_region: dict[str, list[str]] = {}
    for sid, region in zip(order["sample_id"], order["region_id"].astype(str), strict=True):
        rec = recs.iloc[int(sample_rows.at[sid, "last_record"])]
        if cause_mask(archive_root, rec).any():
            by_region.setdefault(region, []).append(sid)
    out: list[str] = []
    queues = list(by_region.values())
    while len(out) < n and any(queues):
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop(0))
    return out


def _region_flares(records: pd.DataFrame, flares: pd.DataFrame, region: str) -> pd.DataFrame:
    """The flares of ``region``'s NOAA numbers (from its records)."""
    from flarepipe.samples.quality import parse_noaa_ars

    r = records[records["region_id"].astype(str) == region]
    nums = sorted({n for v in r["noaa_ars"] for n in parse_noaa_ars(v)})
    return flares[flares["noaa_ar"].isin(nums)]


def _move_into_place(work: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "figures"
    if target.exists():
        shutil.rmtree(target)
    os.replace(work / "figures", target)
    for name in (
        "maps.npz",
        "probes.csv",
        "timeline.csv",
        "timeline.npz",
        "stats.csv",
        "summary.json",
    ):
        os.replace(work / name, out_dir / name)
    shutil.rmtree(work, ignore_errors=True)
