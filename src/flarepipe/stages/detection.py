"""Stage functions of rules/detection.smk (de Oliveira & Gradvohl 2020); each takes its rule's
declared inputs by name and writes its outputs atomically.

- :func:`run_detection_archive`: the synthetic full-disk frames with their region truth;
- :func:`run_detection_shard` (one job per frame split): the split's HDF5 shards, per part the
  frames with their true boxes and the region crops with their Mt. Wilson class;
- :func:`run_detection_evaluate` (one job per frame split): the classical detector, the learned
  detector and the crop classifier, trained and scored from those shards;
- :func:`run_detection_report`: the scores of every split beside the published ones, the confusion
  matrices and training curves, example test frames with true and predicted boxes;
- :func:`run_detection_annotate`: the integrated system on one FITS frame, with the random
  split's classifier.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flarepipe.io.atomic import atomic_path, write_csv, write_json, write_text

__all__ = [
    "run_detection_annotate",
    "run_detection_archive",
    "run_detection_evaluate",
    "run_detection_report",
    "run_detection_shard",
]


def run_detection_archive(
    *, det: Mapping[str, Any], out_records: str | os.PathLike, out_regions: str | os.PathLike
) -> None:
    """The synthetic frames of ``det['synthetic']`` (one a day) and their truth tables."""
    from flarepipe.archive.sources.synthetic import SyntheticParams
    from flarepipe.archive.sources.synthetic.fulldisk import FullDiskParams, generate_fulldisk

    syn = det["synthetic"]
    kw = {"scale": syn["scale"], "instruments": (syn["instrument"],), "seed": int(syn["seed"])}
    if syn.get("days") is not None:
        kw["days"] = float(syn["days"])
    size = {"size_hmi" if syn["instrument"] == "HMI" else "size_mdi": int(syn["size"])}
    root = Path(out_records).parent.parent
    generate_fulldisk(
        root, SyntheticParams(**kw), FullDiskParams(instruments=(syn["instrument"],), **size)
    )
    for made, want in (
        (root / "fulldisk" / "records.csv", out_records),
        (root / "truth" / "fulldisk_regions.csv", out_regions),
    ):
        if Path(made) != Path(want):
            raise ValueError(f"the generator wrote {made}, the rule declares {want}")


def run_detection_shard(
    *,
    records: str | os.PathLike,
    regions: str | os.PathLike,
    det: Mapping[str, Any],
    split_method: str,
    out_frames: Sequence[str | os.PathLike],
    out_crops: Sequence[str | os.PathLike],
    out_rejected: str | os.PathLike,
) -> dict:
    """One frame split's shards (:func:`flarepipe.studies.deoliveira2020.data.
    write_split_shards`): the frames with their true boxes and the region crops with their
    Mt. Wilson class, one file per part (train, val, test); the frames left out, with their
    reasons, in ``out_rejected``. Returns the samples per part.
    """
    from flarepipe.studies.deoliveira2020 import data

    frames = data.load_frames(
        records, regions, int(det["image_size"]), min_flux_mx=float(det["min_flux_mx"])
    )
    split = data.split_frames(frames.records, split_method, seed=int(det["seed"]))
    clf = det["classifier"]
    counts = data.write_split_shards(
        frames,
        split,
        crop_px=int(clf["crop_px"]),
        delta_as_class=bool(clf["delta_as_class"]),
        classes=tuple(clf["classes"]),
        out_frames=list(out_frames),
        out_crops=list(out_crops),
        attrs={"split_method": split_method, "seed": int(det["seed"])},
    )
    write_csv(frames.rejected, out_rejected)
    return counts


def run_detection_evaluate(
    *,
    frames: Sequence[str | os.PathLike],
    crops: Sequence[str | os.PathLike],
    det: Mapping[str, Any],
    split_method: str,
    out_scores: str | os.PathLike,
    out_detections: str | os.PathLike,
    out_confusion: str | os.PathLike,
    out_curves: str | os.PathLike,
    out_classifier: str | os.PathLike,
    out_test_predictions: str | os.PathLike,
) -> dict:
    """One frame split: the three experiments (module doc) on the split's shards (``frames`` and
    ``crops``: train, val, test), their scores as JSON; the boxes of both detectors on the test
    frames in ``out_detections`` (classical) and ``out_test_predictions`` (learned).
    """
    import torch

    from flarepipe.data.shards import ShardReader
    from flarepipe.studies.deoliveira2020 import experiment

    accel = det["accelerator"]
    if accel == "auto":
        accel = "gpu" if torch.cuda.is_available() else "cpu"
    common = {"accelerator": accel, "threads": int(det["threads"])}
    work = Path(out_scores).parent / ".work"
    frames, crops = list(frames), list(crops)
    classical = experiment.run_classical(frames[2], det["classical"])
    learned = experiment.run_learned(
        frames, {**det["learned"], **common}, work / "learned", int(det["seed"])
    )
    classes = tuple(det["classifier"]["classes"])
    clf = experiment.run_classifier(
        crops, {**det["classifier"], **common}, classes, work / "classifier", int(det["seed"])
    )
    counts = {p: len(ShardReader(f)) for p, f in zip(("train", "val", "test"), frames, strict=True)}
    scores = {
        "split": split_method,
        "frames": counts,
        "classical": classical["scores"],
        "learned": learned["scores"],
        "classifier": clf["scores"],
    }
    curves = pd.concat(
        [learned["curves"].assign(model="centernet"), clf["curves"].assign(model="classifier")],
        ignore_index=True,
    )
    write_csv(classical["detections"], out_detections)
    write_csv(learned["predictions"], out_test_predictions)
    write_csv(clf["confusion"].rename_axis("true").reset_index(), out_confusion)
    write_csv(curves, out_curves)
    with atomic_path(out_classifier) as tmp:
        torch.save(
            {
                "state_dict": clf["task"].network.state_dict(),
                "classes": list(classes),
                "width": int(det["classifier"]["width"]),
                "crop_px": int(det["classifier"]["crop_px"]),
            },
            tmp,
        )
    write_json(scores, out_scores)
    return scores


def _pct(x) -> str:
    return "" if x is None or x != x else f"{100 * x:.1f}%"


def run_detection_report(
    *,
    scores: Sequence[str | os.PathLike],
    confusion: Sequence[str | os.PathLike],
    curves: Sequence[str | os.PathLike],
    test_frames: Sequence[str | os.PathLike],
    classical: Sequence[str | os.PathLike],
    learned: Sequence[str | os.PathLike],
    regions: str | os.PathLike,
    srs: Sequence[str | os.PathLike] = (),
    det: Mapping[str, Any],
    out_report: str | os.PathLike,
    out_classes: str | os.PathLike,
    out_table: str | os.PathLike,
    out_figure: str | os.PathLike,
    out_examples: str | os.PathLike,
) -> pd.DataFrame:
    """Every split's scores beside the published ones (markdown and CSV), the truth's class mix
    beside NOAA's (``srs``: the SRS file of ``detection.srs``, or none), one figure of the
    confusion matrices and training curves, and one of example test frames (``test_frames``: each
    split's test shard) with their true boxes and those of both detectors (``classical``,
    ``learned``: each split's detections).
    """
    import json

    from flarepipe.studies.deoliveira2020.published import CLASSIFICATION, DETECTION

    rows = []
    for path in scores:
        s = json.loads(Path(path).read_text())
        for method in ("classical", "learned"):
            m = s[method]
            rows.append(
                {
                    "split": s["split"],
                    "method": f"{method} detector",
                    "precision": m["precision"],
                    "recall": m["recall"],
                    "f1": m["f1"],
                    "map50": m["map50"],
                    "map": m["map"],
                    "accuracy": float("nan"),
                    "n_test": m["n_true"],
                }
            )
        c = s["classifier"]
        rows.append(
            {
                "split": s["split"],
                "method": "crop classifier",
                "accuracy": c["accuracy"],
                "n_test": c["n_test"],
            }
        )
    rows.append({"split": "published (random)", "method": "detector (YOLO)", **DETECTION})
    rows.append(
        {"split": "published (random)", "method": "classifier (Inception)", **CLASSIFICATION}
    )
    table = pd.DataFrame(
        rows,
        columns=[
            "split",
            "method",
            "precision",
            "recall",
            "f1",
            "map50",
            "map",
            "accuracy",
            "n_test",
        ],
    )
    write_csv(table, out_table)
    lines = [
        "# De Oliveira & Gradvohl 2020: detection and Mt. Wilson classes",
        "",
        "Scores on each split's test frames (precision, recall, F1 at IoU 0.5 and COCO mAP from "
        "pycocotools; accuracy of the crop classifier), beside the published figures. The random "
        "split puts the same region's consecutive days in train and test, as the paper's random "
        "70/20/10 frame split did; the chronological split does not.",
        "",
        "| split | method | precision | recall | F1 | mAP50 | mAP | accuracy | test regions |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in table.itertuples():
        n = "" if r.n_test != r.n_test else f"{int(r.n_test)}"
        lines.append(
            f"| {r.split} | {r.method} | {_pct(r.precision)} | {_pct(r.recall)} | {_pct(r.f1)} | "
            f"{_pct(r.map50)} | {_pct(r.map)} | {_pct(r.accuracy)} | {n} |"
        )
    for path in confusion:
        m = pd.read_csv(path, index_col=0)
        lines += [
            "",
            f"Confusion matrix ({Path(path).parent.name} split; rows true, columns predicted):",
            "",
            "| true \\ predicted | " + " | ".join(m.columns) + " |",
            "|---|" + "---:|" * len(m.columns),
        ]
        lines += [f"| {i} | " + " | ".join(str(v) for v in row) + " |" for i, row in m.iterrows()]
    from flarepipe.studies.deoliveira2020.data import class_mix

    mix = class_mix(regions, list(srs)[0] if len(srs) else None)
    write_csv(mix, out_classes)
    lines += [
        "",
        "Mt. Wilson class mix of the spotted region-days (delta as a class): the synthetic "
        "truth" + (" beside NOAA's SRS" if "srs" in mix else " (detection.srs: null)") + ":",
        "",
    ]
    cols = [c for c in ("synthetic", "srs") if c in mix]
    lines += ["| class | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    lines += [
        f"| {r['class']} | " + " | ".join(_pct(r[c]) for c in cols) + " |"
        for r in mix.to_dict("records")
    ]
    lines += ["", "Region-days: " + ", ".join(f"{c} {int(mix['n_' + c].iloc[0])}" for c in cols)]
    lines += [
        "",
        f"Example test frames (`{Path(out_examples).name}`): true boxes green, the classical "
        f"detector's blue (dashed), the learned detector's red where its score is at least "
        f"{EXAMPLE_MIN_SCORE} (the score beside it); confusion matrices and training curves in "
        f"`{Path(out_figure).name}`.",
        "",
        f"![example test frames]({Path(out_examples).name})",
        "",
        f"![confusion matrices and training curves]({Path(out_figure).name})",
    ]
    write_text("\n".join(lines) + "\n", out_report)
    _figure(confusion, curves, out_figure)
    _examples(test_frames, classical, learned, out_examples)
    return table


#: the learned detector's boxes drawn on the example frames have at least this score
EXAMPLE_MIN_SCORE = 0.3
#: example test frames drawn per split (those with the most true regions)
EXAMPLE_FRAMES = 3


def _examples(test_frames: Sequence, classical: Sequence, learned: Sequence, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from flarepipe.data.shards import ShardReader

    n = len(test_frames)
    fig, axes = plt.subplots(
        n, EXAMPLE_FRAMES, figsize=(3.4 * EXAMPLE_FRAMES, 3.6 * n), squeeze=False
    )
    for k, (shard, cpath, lpath) in enumerate(zip(test_frames, classical, learned, strict=True)):
        reader = ShardReader(shard)
        boxes = reader.read_target("boxes")
        t_rec = reader.meta()["t_end"].tolist()
        pick = sorted(np.argsort(-boxes.counts(), kind="stable")[:EXAMPLE_FRAMES].tolist())
        found = {
            "classical": pd.read_csv(cpath, dtype={"frame": str}),
            "learned": pd.read_csv(lpath, dtype={"frame": str}),
        }
        split = reader.attrs.get("split_method", Path(shard).stem)
        for j in range(EXAMPLE_FRAMES):
            ax = axes[k, j]
            ax.set_axis_off()
            if j >= len(pick):
                continue
            i = pick[j]
            image = reader.read_batch([i], inputs=("image",), targets=())["image"][0, 0]
            ax.imshow(image, cmap="gray", vmin=-500, vmax=500, origin="lower")
            for x0, y0, x1, y1 in boxes.sample(i)[0]:
                ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="lime", lw=1.2))
            for r in found["classical"][found["classical"]["frame"] == t_rec[i]].itertuples():
                ax.add_patch(
                    Rectangle(
                        (r.x0, r.y0),
                        r.x1 - r.x0,
                        r.y1 - r.y0,
                        fill=False,
                        ec="deepskyblue",
                        ls="--",
                        lw=1.0,
                    )
                )
            mine = found["learned"][found["learned"]["frame"] == t_rec[i]]
            for r in mine[mine["score"] >= EXAMPLE_MIN_SCORE].itertuples():
                ax.add_patch(
                    Rectangle((r.x0, r.y0), r.x1 - r.x0, r.y1 - r.y0, fill=False, ec="red", lw=1.0)
                )
                ax.text(r.x0, r.y1 + 1, f"{r.score:.2f}", color="red", fontsize=6)
            ax.set_title(f"{split} test: {t_rec[i][:10]}", fontsize=8)
        reader.close()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _figure(confusion: Sequence, curves: Sequence, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(confusion)
    fig, axes = plt.subplots(2, n, figsize=(4.2 * n, 7.5), squeeze=False)
    for k, (cpath, tpath) in enumerate(zip(confusion, curves, strict=True)):
        m = pd.read_csv(cpath, index_col=0)
        ax = axes[0, k]
        ax.imshow(m.to_numpy(), cmap="Blues")
        for (i, j), v in pd.DataFrame(m.to_numpy()).stack().items():
            ax.text(j, i, str(v), ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(m.columns)), m.columns, fontsize=7)
        ax.set_yticks(range(len(m.index)), m.index, fontsize=7)
        ax.set_title(f"{Path(cpath).parent.name}: confusion (true rows)", fontsize=9)
        c = pd.read_csv(tpath)
        ax = axes[1, k]
        for model, g in c.groupby("model"):
            for col in ("train_loss", "val_loss"):
                if col in g and g[col].notna().any():
                    ax.plot(g["epoch"], g[col], label=f"{model} {col}")
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
        ax.legend(fontsize=6)
        ax.set_title("training curves", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def run_detection_annotate(
    *,
    frame: str | os.PathLike,
    classifier: str | os.PathLike,
    det: Mapping[str, Any],
    out_csv: str | os.PathLike,
    out_png: str | os.PathLike,
) -> pd.DataFrame:
    """The integrated system (:func:`flarepipe.detection.annotate.annotate_frame`) on ``frame``,
    classifying each detected region with the trained crop classifier.
    """
    import torch

    from flarepipe.detection.annotate import annotate_frame
    from flarepipe.detection.classical import DetectorSettings
    from flarepipe.models.googlenet import InceptionClassifier
    from flarepipe.studies.deoliveira2020.experiment import _net_input

    saved = torch.load(classifier, map_location="cpu", weights_only=True)
    net = InceptionClassifier(n_classes=len(saved["classes"]), width=saved["width"])
    net.load_state_dict(saved["state_dict"])
    net.eval()

    def classify(crops: np.ndarray):
        with torch.no_grad():
            p = torch.softmax(net(torch.from_numpy(_net_input(crops)).unsqueeze(1)), dim=1)
        conf, idx = p.max(dim=1)
        return [saved["classes"][i] for i in idx.tolist()], conf.tolist()

    out = Path(out_csv).parent
    result = annotate_frame(
        frame,
        out,
        settings=DetectorSettings(**det["classical"]),
        work_size=int(det["image_size"]),
        classifier=classify,
        crop_px=int(saved["crop_px"]),
    )
    for made, want in ((result.csv, out_csv), (result.png, out_png)):
        if Path(made) != Path(want):
            raise ValueError(f"annotate wrote {made}, the rule declares {want}")
    return result.regions
