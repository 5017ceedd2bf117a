"""The full-disk daily study's rules (``rules/fulldisk.smk``, Yi et al. 2021), one function each.

Archive (synthetic frames or a local folder) -> frame quality and one frame a day with its daily
label -> chronological split -> daily shards -> ``yi_densenet`` (rule ``fulldisk_train``, through
:func:`flarepipe.stages.train.run_train`) and the daily baselines -> Table 1 beside the published
row, and its figure. ``cfg`` is always the validated ``fulldisk`` section. The archive folder's
``fulldisk/records.csv`` names each frame by a ``path`` relative to the archive folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from flarepipe.core.keywords import KEYWORD_COLUMNS
from flarepipe.io.markdown import pipe_table

__all__ = [
    "SPLITS",
    "run_fulldisk_archive",
    "run_fulldisk_jsoc_unit",
    "run_fulldisk_jsoc_archive",
    "run_fulldisk_samples",
    "run_fulldisk_split",
    "run_fulldisk_shard",
    "run_fulldisk_baselines",
    "run_fulldisk_evaluate",
    "run_fulldisk_figure",
    "run_fulldisk_attribute",
    "run_fulldisk_train",
]

SPLITS = ("train", "val", "test")
_IDS = {"sample_id": str, "region_id": str}


def _read_samples(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=_IDS)


def _day(value) -> pd.Timestamp:
    """The UTC day of a YAML date, an ISO string or a T_REC (config ``time_or_null``)."""
    return pd.Timestamp(str(value)[:10].replace(".", "-"))


def run_fulldisk_jsoc_unit(cfg: Mapping, jsoc: Mapping, unit: str, out) -> Path:
    """Rule ``fulldisk_jsoc_unit``: one unit of the JSOC full-disk download, into the folder of
    ``out`` (``<jsoc dir>/units/<unit>/unit.json``).

    ``cfg`` holds the ``fulldisk`` section's ``jsoc`` and ``daily`` (the day rule), ``jsoc`` is
    the validated ``archive.jsoc`` (server, timeouts, retry budget; the e-mail from
    ``$FLAREPIPE_JSOC_EMAIL``). Returns ``units/<unit>/unit.json``
    (:func:`~flarepipe.archive.sources.jsoc.fulldisk.fetch_fulldisk_unit`), which must be the
    rule's ``out``.
    """
    from flarepipe.archive.sources.jsoc import JsocSettings, make_client, resolve_email
    from flarepipe.archive.sources.jsoc.fulldisk import (
        FullDiskJsocSettings,
        fetch_fulldisk_unit,
        get_fulldisk_unit,
    )

    settings = JsocSettings.from_section(jsoc)
    fd = FullDiskJsocSettings.from_section(cfg)
    done = fetch_fulldisk_unit(
        get_fulldisk_unit(fd, unit),
        make_client(settings),
        Path(out).parent.parent.parent,
        settings=settings,
        fd=fd,
        email=resolve_email(jsoc),
    )
    if done.resolve() != Path(out).resolve():
        raise ValueError(f"fulldisk jsoc unit {unit}: wrote {done}, the rule declares {out}")
    return done


def _build_folder(out, build) -> dict:
    """``build(tmp)`` into a fresh folder beside ``out``, renamed onto ``out`` once complete (an
    earlier ``out`` goes only then; a failed build leaves no folder); returns ``build``'s summary.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", suffix=".part", dir=out.parent))
    try:
        summary = build(tmp)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return summary


def run_fulldisk_archive(cfg: Mapping, out) -> dict:
    """Rule ``fulldisk_archive`` (synthetic, local): the archive folder ``out`` (written beside,
    then renamed onto it).

    ``synthetic``: :func:`~flarepipe.archive.sources.synthetic.fulldisk.generate_fulldisk` with
    ``flares.csv``; ``local``: the FITS of ``local.dir``
    (:func:`~flarepipe.archive.sources.local_fulldisk.build_local_fulldisk`) and the flare list
    ``local.flares`` as ``flares.csv``. Returns a summary for the log. The jsoc source's rule
    runs :func:`run_fulldisk_jsoc_archive`.
    """

    def build(tmp: Path) -> dict:
        if cfg["source"] == "synthetic":
            from flarepipe.archive.sources.synthetic import SyntheticParams
            from flarepipe.archive.sources.synthetic.fulldisk import (
                FullDiskParams,
                generate_fulldisk,
            )

            syn = cfg["synthetic"]
            days = int(syn["days"])
            params = SyntheticParams(
                scale="small",
                seed=int(syn["seed"]),
                days=days,
                n_regions=max(1, int(round(float(syn["regions_per_day"]) * days))),
                c0=float(syn["c0"]),
            )
            fd = FullDiskParams(
                instruments=tuple(syn["instruments"]),
                size_mdi=int(syn["size_mdi"]),
                size_hmi=int(syn["size_hmi"]),
            )
            generate_fulldisk(tmp, params, fd, write_flares=True)
            return {"source": "synthetic", "days": days}
        if cfg["source"] != "local":
            raise ValueError(f"fulldisk.source {cfg['source']!r}: not built by this rule")
        from flarepipe.archive.catalogues.flares import read_flare_file
        from flarepipe.archive.sources.local_fulldisk import build_local_fulldisk
        from flarepipe.io.atomic import write_csv

        local = cfg["local"]
        records, rejected = build_local_fulldisk(local["dir"], tmp, link=local["link"])
        flares = read_flare_file(local["flares"], local["flare_format"]).flares
        write_csv(flares, tmp / "flares.csv")
        return {"source": "local", "frames": len(records), "rejected": len(rejected)}

    return _build_folder(out, build)


def run_fulldisk_jsoc_archive(units: Sequence[str], flares, cfg: Mapping, out) -> dict:
    """Rule ``fulldisk_archive`` (jsoc): the finished ``units`` (their ``unit.json``) and the
    catalogue's ``flares`` merged into the archive folder ``out``
    (:func:`~flarepipe.archive.sources.jsoc.fulldisk.merge_fulldisk_units`, written beside, then
    renamed onto it). Returns the manifest's counts for the log.
    """
    from flarepipe.archive.sources.jsoc.fulldisk import merge_fulldisk_units

    def build(tmp: Path) -> dict:
        manifest = merge_fulldisk_units(list(units), tmp, flares, link=cfg["jsoc"]["link"])
        return {"source": "jsoc", **manifest["counts"]}

    return _build_folder(out, build)


def _with_download_days(rejected: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The sampler's rejected days plus those the jsoc source found no record for
    (``fulldisk/rejected_days.csv``; its reason and detail, which win for a day both list).
    """
    if not path.exists():
        return rejected
    dl = pd.read_csv(path, dtype=str, keep_default_na=False)
    dl = pd.DataFrame(
        {
            "day": dl["day"],
            "instrument": dl["instrument"],
            "reason": "missing",
            "detail": "at download: " + dl["reason"] + " (" + dl["detail"] + ")",
        }
    )
    both = pd.concat([dl, rejected], ignore_index=True)
    both = both.drop_duplicates(["day", "instrument"], keep="first")
    return both.sort_values(["instrument", "day"], kind="stable").reset_index(drop=True)


def run_fulldisk_samples(archive, cfg: Mapping, out_samples, out_frames, out_rejected) -> dict:
    """Rule ``fulldisk_samples``: frame quality, one frame a day and its daily label.

    ``out_frames`` lists every record with its flags and ``reasons``; ``out_rejected`` every day
    without a usable frame (``day, instrument, reason, detail``: the rejected frames and their
    reasons, or no record in the window, or, for the jsoc source, what the download found:
    ``fulldisk/rejected_days.csv``); ``out_samples`` the labelled days.
    """
    from flarepipe.io.atomic import write_csv
    from flarepipe.samples.fulldisk import (
        DailyLabelSettings,
        FullDiskQualitySettings,
        daily_frames,
        daily_labels,
        flag_frames,
        scan_frames,
    )

    root = Path(archive)
    records = pd.read_csv(root / "fulldisk" / "records.csv")
    d = cfg["daily"]
    mask = d["quality_mask"]
    q = FullDiskQualitySettings(
        quality_mask=int(mask, 16) if isinstance(mask, str) else int(mask),
        max_nan_fraction=float(d["max_nan_fraction"]),
        max_lag_h=float(d["max_lag_h"]),
    )
    flagged = flag_frames(records, q, scan_frames(records, root), root)
    chosen, rejected = daily_frames(flagged, q)
    rejected = _with_download_days(rejected, root / "fulldisk" / "rejected_days.csv")
    if chosen.empty:
        raise ValueError(
            f"{archive}: no day has a usable full-disk frame ({len(rejected)} rejected)"
        )
    lab = cfg["label"]
    settings = DailyLabelSettings(
        min_class=lab["min_class"],
        start_h=float(lab["start_h"]),
        window_h=float(lab["window_h"]),
        time_column=lab["time_column"],
    )
    samples = daily_labels(chosen, pd.read_csv(root / "flares.csv"), settings)
    write_csv(flagged, out_frames)
    write_csv(rejected, out_rejected)
    write_csv(samples, out_samples)
    return {
        "frames": len(flagged),
        "frames_rejected": int((~flagged["keep"].astype(bool)).sum()),
        "days": len(samples),
        "days_rejected": len(rejected),
        "event_rate": float(samples["label"].mean()),
    }


def chronological_split(samples: pd.DataFrame, split: Mapping) -> pd.Series:
    """``train``/``val``/``test`` per sample (the ``fulldisk.split`` section's rule)."""
    import numpy as np

    t = pd.DatetimeIndex(pd.to_datetime(samples["t_end"]))
    if split["test_start"] is not None:
        test = np.asarray(t >= _day(split["test_start"]))
    else:
        test = (samples["instrument"].astype(str) == split["test_instrument"]).to_numpy()
    if split["val_start"] is not None:
        val = ~test & np.asarray(t >= _day(split["val_start"]))
    else:
        rest = np.sort(t[~test].to_numpy())
        n_val = int(round(float(split["val_frac"]) * len(rest)))
        val = ~test & (t.to_numpy() >= rest[len(rest) - n_val]) if n_val else np.zeros_like(test)
    out = pd.Series("train", index=samples.index)
    out[val] = "val"
    out[test] = "test"
    return out


def run_fulldisk_split(samples, cfg: Mapping, out) -> dict:
    """Rule ``fulldisk_split``: ``sample_id, t_end, instrument, label, split`` (chronological)."""
    from flarepipe.io.atomic import write_csv

    table = _read_samples(samples)
    table["split"] = chronological_split(table, cfg["split"]).to_numpy()
    counts = table["split"].value_counts()
    empty = [s for s in SPLITS if counts.get(s, 0) == 0]
    if empty:
        raise ValueError(
            f"fulldisk.split leaves the {empty} split(s) empty ({counts.to_dict()} days); "
            "check fulldisk.split and the archive's interval"
        )
    write_csv(table[["sample_id", "t_end", "instrument", "label", "split"]], out)
    rates = table.groupby("split")["label"].agg(["size", "mean"])
    return {
        s: {"n": int(rates.loc[s, "size"]), "rate": float(rates.loc[s, "mean"])} for s in SPLITS
    }


def run_fulldisk_shard(archive, samples, split, cfg: Mapping, part: str, out_shard, out_table):
    """Rule ``fulldisk_shard``: the daily shard of split ``part`` and its sample table.

    ``out_table`` is the written samples (shard order) with the disk flux ``usflux_mx`` and the
    frames that could not be read listed in the log (the returned ``failed`` table).
    """
    from flarepipe.data.fulldisk import write_daily_shard
    from flarepipe.io.atomic import write_csv

    table = _read_samples(samples)
    which = pd.read_csv(split, dtype=_IDS).set_index("sample_id")["split"]
    sel = table[table["sample_id"].map(which) == part].sort_values("t_end", kind="stable")
    inp = cfg["input"]
    written, failed = write_daily_shard(
        sel,
        Path(archive),
        out_shard,
        size=int(inp["size"]),
        clip_g=float(inp["clip_g"]),
        mode=inp["mode"],
        flux_threshold_g=float(inp["flux_threshold_g"]),
    )
    write_csv(written, out_table)
    return failed


def run_fulldisk_baselines(train, test, out) -> None:
    """Rule ``fulldisk_baselines``: climatology, persistence, logistic regression on disk flux."""
    from flarepipe.io.atomic import write_csv
    from flarepipe.training.daily_baselines import baseline_predictions

    tr, te = _read_samples(train), _read_samples(test)
    write_csv(baseline_predictions(tr, te), out)


def table1_of_runs(
    runs: Sequence[pd.DataFrame], baselines: pd.DataFrame, model: str, threshold: float
) -> pd.DataFrame:
    """Table 1: the network's test rows (mean over ``runs``), the baselines, the published row."""
    from flarepipe.evaluation.daily import TABLE1_COLUMNS, table1, with_published
    from flarepipe.studies.yi2021 import PUBLISHED, PUBLISHED_LABEL

    per_run = [
        table1(p[p["split"] == "test"].assign(model=model), threshold=threshold) for p in runs
    ]
    net = pd.concat(per_run, ignore_index=True)
    row = net[list(TABLE1_COLUMNS)].mean().to_frame().T
    row.insert(0, "model", model)
    row["runs"] = len(per_run)
    row["TSS_std"] = float(net["TSS"].std(ddof=1)) if len(per_run) > 1 else float("nan")
    base = table1(baselines, threshold=threshold).assign(runs=1, TSS_std=float("nan"))
    table = pd.concat([row, base], ignore_index=True)
    table["N"] = table["N"].astype(int)
    out = with_published(table[["model", *TABLE1_COLUMNS]], PUBLISHED, PUBLISHED_LABEL)
    out["N"] = out["N"].astype("Int64")
    out["runs"] = pd.array([*table["runs"].astype(int), pd.NA], dtype="Int64")
    out["TSS_std"] = [*table["TSS_std"], float("nan")]
    return out


def run_fulldisk_evaluate(
    predictions: Sequence, baselines, cfg: Mapping, out_csv, out_md
) -> pd.DataFrame:
    """Rule ``fulldisk_evaluate``: Table 1 at the natural event rate as CSV and Markdown."""
    from flarepipe.io.atomic import write_csv, write_text

    paths = [predictions] if isinstance(predictions, str | os.PathLike) else list(predictions)
    runs = [pd.read_csv(p, dtype=_IDS) for p in paths]
    table = table1_of_runs(
        runs, pd.read_csv(baselines, dtype=_IDS), cfg["model"], float(cfg["threshold"])
    )
    write_csv(table, out_csv)
    lab = cfg["label"]
    head = (
        "# Yi et al. 2021, Table 1 (daily full-disk forecast)\n\n"
        f"Test days at their natural event rate; label: a flare >= {lab['min_class']} in "
        f"[{lab['start_h']:g}, {lab['start_h'] + lab['window_h']:g}) h after 00:00 UT; threshold "
        f"{float(cfg['threshold']):g}; archive: {cfg['source']}. The network's row is the mean "
        f"of {len(runs)} run(s). The published row holds only the figures the paper states.\n\n"
    )
    write_text(head + pipe_table(table) + "\n", out_md)
    return table


def run_fulldisk_figure(metrics, out) -> None:
    """Rule ``fulldisk_figure``: TSS, HSS and ApSS of every Table 1 row, published row dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from flarepipe.io.atomic import atomic_path
    from flarepipe.studies.yi2021 import PUBLISHED_LABEL

    table = pd.read_csv(metrics)
    rows = table[table["model"] != PUBLISHED_LABEL]
    cols = ["TSS", "HSS", "ApSS"]
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    x = np.arange(len(rows))
    for i, c in enumerate(cols):
        ax.bar(x + (i - 1) * 0.27, rows[c].to_numpy(dtype=float), 0.27, label=c)
    pub = table[table["model"] == PUBLISHED_LABEL]
    if len(pub) and np.isfinite(float(pub["TSS"].iloc[0])):
        ax.axhline(float(pub["TSS"].iloc[0]), ls="--", c="k", lw=1, label="published TSS")
    ax.set_xticks(x, rows["model"].tolist(), rotation=15)
    ax.axhline(0, c="grey", lw=0.5)
    ax.set_ylabel("skill (test days)")
    ax.legend(fontsize=8, ncol=4)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


#: the layer whose Grad-CAM the attribution stage takes, per network (yi_densenet: its last conv)
GRADCAM_LAYERS = {"yi_densenet": "blocks.4.layers.conv3"}
#: region keywords of ``truth/fulldisk_regions.csv`` correlated with the regions' Grad-CAM maxima
REGION_KEYWORDS = (*KEYWORD_COLUMNS, "rate_c_per_day")


def run_fulldisk_attribute(
    checkpoint,
    predictions,
    shard,
    table,
    archive,
    cfg: Mapping,
    out_summary,
    out_regions,
    out_figure,
    pil: Mapping | None = None,
    out_pil=None,
    out_table2=None,
    out_crops=None,
    out_scatter=None,
) -> dict:
    """Rule ``fulldisk_attribute``: Grad-CAM and guided backprop of one run on the test days.

    Per test day with region boxes: the Grad-CAM maximum (positive class, :data:`GRADCAM_LAYERS`)
    on a region that flared that day (>= ``label.min_class`` in the label window) against the
    chance of that (the share of the disk those boxes cover); per region the Grad-CAM maximum in
    its box (``out_regions``) and Spearman's r with :data:`REGION_KEYWORDS` (``out_summary``);
    ``out_figure`` one overlay per forecast case (hit, false alarm, miss, null) found.

    Table 2 (``pil``: the ``attribution.pil`` settings): per test day the strong-field PIL, its
    polarity boundaries and the rest of the frame's field binned to the input grid
    (:func:`~flarepipe.attribution.fulldisk.bin_field`), the mean 0-1 normalised attribution of
    guided backprop and of Grad-CAM for both labels (positive; negative class without ReLU) on each,
    and the IoU of the PIL with the thresholded map: one row per (day, map) in ``out_pil``, the
    day means in ``out_table2`` (markdown) and ``summary["pil"]``. ``out_crops`` is Fig. 5 (the
    regions of the test day forecast most confidently, cropped from the input and the maps);
    ``out_scatter`` Figs. 6-7 (the regions' Grad-CAM maxima against their planted flare rate and
    their unsigned flux).
    """
    import numpy as np

    from flarepipe.attribution.analysis import pil_mask, pil_scores
    from flarepipe.attribution.fulldisk import (
        bin_field,
        boxes_on_input,
        forecast_case,
        keyword_correlations,
        max_on_flaring,
        overlay_figure,
        pil_table,
        region_crops_figure,
        region_maxima,
        scatter_figure,
    )
    from flarepipe.attribution.inputs import load_network
    from flarepipe.attribution.methods import MethodSettings, attribute
    from flarepipe.attribution.postprocess import normalise_abs
    from flarepipe.core.flareclass import class_to_flux
    from flarepipe.core.noaa import parse_noaa_ars
    from flarepipe.data.shards import ShardReader
    from flarepipe.io.atomic import write_csv, write_json, write_text
    from flarepipe.io.fulldisk import read_fulldisk

    root = Path(archive)
    days = _read_samples(table)
    pred = pd.read_csv(predictions, dtype=_IDS)
    prob = pred[pred["split"] == "test"].set_index("sample_id")["prob"]
    boxes_all = pd.read_csv(root / "truth" / "fulldisk_regions.csv")
    flares = pd.read_csv(root / "flares.csv")
    lab = cfg["label"]
    ft = pd.to_datetime(flares[lab["time_column"]], utc=True).dt.tz_convert(None)
    strong = flares[flares["peak_flux_wm2"] >= class_to_flux(lab["min_class"]) * (1 - 1e-9)]
    ft = ft[strong.index]
    size = int(cfg["input"]["size"])
    net = load_network(checkpoint, expect_model=cfg["model"])
    if cfg["model"] not in GRADCAM_LAYERS:
        raise ValueError(
            f"fulldisk.attribute: no Grad-CAM layer known for fulldisk.model {cfg['model']!r} "
            f"(known: {sorted(GRADCAM_LAYERS)}); set fulldisk.attribute: false"
        )
    layer = GRADCAM_LAYERS[cfg["model"]]
    ms = MethodSettings(gradcam_layers=[layer], gradcam_negative_layer=layer)
    ps = {"threshold_g": 150.0, "min_gradient_g_per_px": 0.0, "dilation_px": 1}
    ps |= {"attr_threshold": 0.3, "iou_min": 0.1} | dict(pil or {})
    images = ShardReader(shard).read_all(inputs=("image",), targets=())["image"]
    hits, chances, regions, panels, pil_rows = [], [], [], {}, []
    best = None  # (prob, crops figure arguments) of the most confident test day
    for i, row in enumerate(days.itertuples(index=False)):
        b = boxes_all[boxes_all["t_rec_tai"] == row.t_rec_tai].reset_index(drop=True)
        if b.empty:
            continue
        d0 = pd.Timestamp(row.t_end).normalize() + pd.Timedelta(hours=float(lab["start_h"]))
        d1 = d0 + pd.Timedelta(hours=float(lab["window_h"]))
        ars = set(strong.loc[(ft >= d0) & (ft < d1), "noaa_ar"].dropna().astype(int))
        flaring = [bool(set(parse_noaa_ars(n)) & ars) for n in b["noaa_ars"].fillna("")]
        frame = read_fulldisk(root / row.path)
        side = frame.data.shape[0]
        f = side // size
        on = frame.on_disk.reshape(size, f, size, f).mean(axis=(1, 3)) > 0.5
        field = bin_field(frame.data, size)
        del frame
        x = images[i : i + 1]
        (cam,) = attribute(net, x, "gradcam", ms)
        (neg,) = attribute(net, x, "gradcam_negative", ms)
        (gb,) = attribute(net, x, "guided_backprop", ms)
        cam_map = cam.maps[0, 0]
        maps = {
            "guided_backprop": gb.maps[0, 0],
            "gradcam": cam_map,
            "gradcam_negative": neg.maps[0, 0],
        }
        masks = pil_mask(
            field,
            float(ps["threshold_g"]),
            float(ps["min_gradient_g_per_px"]),
            int(ps["dilation_px"]),
        )
        for name, m in maps.items():
            scores = pil_scores(np.where(on, m, 0.0), masks, float(ps["attr_threshold"]))
            pil_rows.append({"sample_id": row.sample_id, "map": name, **scores})
        boxes = boxes_on_input(b, side, size)
        p_day = float(prob.get(row.sample_id, np.nan))
        if np.isfinite(p_day) and (best is None or p_day > best[0]):
            shown = {k: normalise_abs(v[None])[0] for k, v in maps.items()}
            best = (p_day, x[0, 0], shown, boxes, [str(r) for r in b["region_id"]])
        maxima = region_maxima(cam_map, boxes)
        for j, r in b.iterrows():
            regions.append(
                {
                    "sample_id": row.sample_id,
                    "region_id": r["region_id"],
                    "flaring": flaring[j],
                    "max_gradcam": float(maxima[j]),
                    **{k: r[k] for k in REGION_KEYWORDS if k in b.columns},
                }
            )
        if any(flaring):
            hit, chance = max_on_flaring(cam_map, boxes, flaring, on)
            hits.append(hit)
            chances.append(chance)
        case = forecast_case(int(row.label), float(prob.get(row.sample_id, np.nan)))
        if case not in panels:
            g = np.abs(gb.maps[0, 0])
            panels[case] = {
                "title": f"{row.sample_id}: {case.replace('_', ' ')}",
                "image": x[0, 0],
                "gradcam": cam_map,
                "guided": g / g.max() if g.max() > 0 else g,
                "boxes": boxes[np.asarray(flaring, dtype=bool)],
            }
    reg = pd.DataFrame(regions)
    if reg.empty:
        raise ValueError(f"{table}: no test day has a region box in truth/fulldisk_regions.csv")
    write_csv(reg, out_regions)
    cols = [k for k in REGION_KEYWORDS if k in reg.columns]
    corr = keyword_correlations(reg, cols)
    overlay_figure(
        out_figure, [panels[c] for c in ("hit", "false_alarm", "miss", "null") if c in panels]
    )
    pil_days = pd.DataFrame(pil_rows)
    table2 = pil_table(pil_days, float(ps["iou_min"]))
    if out_pil is not None:
        write_csv(pil_days, out_pil)
    if out_table2 is not None:
        write_text(_table2_markdown(table2, ps), out_table2)
    if out_crops is not None and best is not None:
        _, image, shown, boxes, names = best
        region_crops_figure(out_crops, image, shown, boxes, names)
    if out_scatter is not None:
        xs = [c for c in ("rate_c_per_day", "usfluxl_mx") if c in reg.columns]
        scatter_figure(out_scatter, reg, xs or cols[:1])
    summary = {
        "layer": layer,
        "pil": table2.replace({np.nan: None}).to_dict(orient="records"),
        "test_days": len(days),
        "days_with_flaring_region": len(hits),
        "gradcam_max_on_flaring": float(np.mean(hits)) if hits else None,
        "chance": float(np.mean(chances)) if chances else None,
        "spearman": corr.replace({np.nan: None}).to_dict(orient="records"),
        "cases": sorted(panels),
    }
    write_json(summary, out_summary)
    return summary


def _table2_markdown(table: pd.DataFrame, ps: Mapping) -> str:
    """Table 2 as markdown, with the PIL rule it was computed with."""
    head = (
        "# PIL analysis (Yi et al. 2021 Table 2)\n\n"
        f"Strong field |B| >= {ps['threshold_g']:g} G on the input grid, polarity masks dilated by "
        f"{ps['dilation_px']} px, gradient >= {ps['min_gradient_g_per_px']:g} G/px; maps absolute "
        f"and 0-1 normalised; attribution mask >= {ps['attr_threshold']:g}; share of days with IoU "
        f">= {ps['iou_min']:g} (Yi et al.: the PIL and the map overlap when IoU >= 0.1).\n\n"
    )
    return head + pipe_table(table) + "\n"


def run_fulldisk_train(
    *,
    train,
    val,
    test,
    model: str,
    cfg: Mapping,
    seed: int,
    out_predictions,
    out_checkpoint,
    threads: int | None = None,
) -> dict:
    """Rule ``fulldisk_train``: the full-disk network on the daily shards of one run, through the
    train stage every network uses (:func:`flarepipe.stages.train.run_train`).
    """
    from flarepipe.stages.train import run_train

    return run_train(
        train,
        val,
        test,
        model=model,
        cfg=cfg,
        seed=seed,
        out_predictions=out_predictions,
        out_checkpoint=out_checkpoint,
        threads=threads,
    )
