"""Detection frames and region crops of a full-disk archive with region truth.

:func:`load_frames` reads the good frames (:func:`flarepipe.samples.fulldisk.flag_frames`) of a
``fulldisk/records.csv`` and their true boxes (``truth/fulldisk_regions.csv``, 0-based inclusive
pixels), binned to ``image_size`` (block mean; off-disk pixels 0), boxes scaled to pixel edges on
that grid. :func:`split_frames` assigns frames to train/val/test, at random (the paper's 70/20/10
by frame: the same region on consecutive days falls in train and test, which flatters every
score) or chronologically (no such leak). :func:`region_crops` cuts a square crop around every
true region with its Mt. Wilson class. :func:`write_split_shards` writes one split's frames and
crops as HDF5 shards (:mod:`flarepipe.data.shards`, one file per part): the frames with their boxes
(:class:`~flarepipe.data.targets.BoxTarget`), the crops with their class
(:class:`~flarepipe.data.targets.ClassTarget` ``mw_class``), the field in G as read (the networks
scale it on loading).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flarepipe.archive.catalogues.srs import class_label, parse_mag_type

__all__ = [
    "BOX_CLASSES",
    "Frames",
    "PARTS",
    "REJECTED_COLUMNS",
    "SPLIT_METHODS",
    "load_frames",
    "region_crops",
    "split_frames",
    "write_split_shards",
]

SPLIT_METHODS = ("random", "chronological")
#: the parts of a split, one shard each
PARTS = ("train", "val", "test")
#: columns of the rejected table (:func:`load_frames`): frames (``region_id`` empty) and boxes
REJECTED_COLUMNS = ("t_rec", "path", "region_id", "reasons", "detail")
#: class names of the frames' box target (the detectors find regions, whatever their class)
BOX_CLASSES = ("region",)


@dataclass
class Frames:
    """Frames binned to one side: ``images`` [n, s, s] float32 (G), per frame the true ``boxes``
    [m, 4] (pixel edges on the binned grid) and their ``classes`` (SRS strings, "" spotless),
    ``records`` (the frames' rows of records.csv), ``factor`` (binning of each frame), the frames
    left out with their reasons (``rejected``) and the true regions' ids (``region_ids``, as
    ``boxes``; empty where unknown).
    """

    images: np.ndarray
    boxes: list[np.ndarray]
    classes: list[list[str]]
    records: pd.DataFrame
    factor: np.ndarray
    rejected: pd.DataFrame = field(default_factory=pd.DataFrame)
    region_ids: list[list[str]] = field(default_factory=list)


def load_frames(
    records_csv: str | os.PathLike,
    regions_csv: str | os.PathLike,
    image_size: int,
    *,
    min_flux_mx: float = 0.0,
) -> Frames:
    """The good frames of an archive and their true boxes, binned to ``image_size`` (module doc).

    Regions below ``min_flux_mx`` of total flux are left out of the truth (too weak to be an
    active region on any detector's terms); frames flagged by quality (bad QUALITY bits, a missing
    or unreadable file, one without its WCS cards, NaN on the disk) are left out, and so are true
    boxes that lie outside the image or hold no on-disk pixel. Both are listed in
    ``Frames.rejected`` (:data:`REJECTED_COLUMNS`): a frame with its ``reasons`` (quality's) and
    ``detail`` (the reader's error, e.g. the WCS keywords it lacks); a region with its
    ``region_id``, ``reasons`` ``box_outside_image`` or ``box_off_disk`` and its box as ``detail``.
    """
    from flarepipe.io.fulldisk import read_fulldisk
    from flarepipe.samples.fulldisk import FullDiskQualitySettings, flag_frames, scan_frames

    root = Path(records_csv).parent.parent
    records = pd.read_csv(records_csv)
    regions = pd.read_csv(regions_csv, dtype={"mtwilson": str})
    flagged = flag_frames(records, FullDiskQualitySettings(), scan_frames(records, root), root)
    good = flagged[flagged["keep"]].reset_index(drop=True)
    if good.empty:
        raise ValueError(f"{records_csv}: no good full-disk frame (every one flagged)")
    images, boxes, classes, factors, ids, bad_regions = [], [], [], [], [], []
    for rec in good.itertuples():
        frame = read_fulldisk(root / rec.path)
        data = np.nan_to_num(np.asarray(frame.data, np.float32))
        n = data.shape[0]
        if data.shape[0] != data.shape[1] or n % image_size:
            raise ValueError(
                f"{rec.path}: a {data.shape[1]}x{data.shape[0]} frame does not bin to "
                f"{image_size} px (detection.image_size must divide the frame's side)"
            )
        f = n // image_size
        images.append(data.reshape(image_size, f, image_size, f).mean(axis=(1, 3)))
        mine = regions[(regions["t_rec"] == rec.t_rec) & (regions["instrument"] == rec.instrument)]
        mine = mine[mine["phi_mx"] >= min_flux_mx]
        b = mine[["x_min", "y_min", "x_max", "y_max"]].to_numpy(float)
        reasons = [_box_reason(box, frame.on_disk) for box in b]
        for rid, box, why in zip(mine["region_id"], b, reasons, strict=True):
            if why:
                x0, y0, x1, y1 = box
                detail = f"box x {x0:g}..{x1:g}, y {y0:g}..{y1:g} on a {n} px frame"
                bad_regions.append([rec.t_rec, rec.path, str(rid), why, detail])
        keep = np.array([not r for r in reasons], dtype=bool)
        mine, b = mine[keep], np.clip(b[keep], 0, n - 1)
        b[:, 2:] += 1.0  # inclusive pixels -> edges
        boxes.append((b / f).astype(np.float32))
        classes.append([str(c) if isinstance(c, str) else "" for c in mine["mtwilson"]])
        ids.append([str(r) for r in mine["region_id"]])
        factors.append(f)
    bad = flagged.loc[~flagged["keep"]]
    detail = bad["read_error"] if "read_error" in bad else pd.Series("", index=bad.index)
    rejected = pd.concat(
        [
            pd.DataFrame(
                {
                    "t_rec": bad["t_rec"],
                    "path": bad["path"],
                    "region_id": "",
                    "reasons": bad["reasons"],
                    "detail": detail.fillna("").astype(str),
                },
                columns=list(REJECTED_COLUMNS),
            ),
            pd.DataFrame(bad_regions, columns=list(REJECTED_COLUMNS)),
        ],
        ignore_index=True,
    )
    return Frames(
        np.stack(images).astype(np.float32),
        boxes,
        classes,
        good,
        np.array(factors),
        rejected,
        ids,
    )


def _box_reason(box: np.ndarray, on_disk: np.ndarray) -> str:
    """Why a true box (inclusive pixels ``x_min, y_min, x_max, y_max``) is no region of the
    frame whose on-disk mask is ``on_disk``: ``box_outside_image``, ``box_off_disk`` or ``""``.
    """
    ny, nx = on_disk.shape
    x0, y0, x1, y1 = box
    if not np.isfinite(box).all() or x1 < 0 or y1 < 0 or x0 > nx - 1 or y0 > ny - 1:
        return "box_outside_image"
    xs = slice(int(max(x0, 0)), int(min(x1, nx - 1)) + 1)
    ys = slice(int(max(y0, 0)), int(min(y1, ny - 1)) + 1)
    return "" if on_disk[ys, xs].any() else "box_off_disk"


def split_frames(
    records: pd.DataFrame, method: str, fractions=(0.7, 0.2, 0.1), seed: int = 0
) -> np.ndarray:
    """``train``/``val``/``test`` per frame: at random (seeded) or by time (oldest in train)."""
    if method not in SPLIT_METHODS:
        raise ValueError(f"detection split method must be one of {SPLIT_METHODS}, got {method!r}")
    n = len(records)
    if n < 3:
        raise ValueError(f"{n} good frames cannot be split into train, val and test")
    n_train = max(1, int(round(fractions[0] * n)))
    n_val = max(1, int(round(fractions[1] * n)))
    n_train = min(n_train, n - 2)
    n_val = min(n_val, n - n_train - 1)
    order = (
        np.random.default_rng(seed).permutation(n)
        if method == "random"
        else np.argsort(pd.to_datetime(records["t_rec"]).to_numpy(), kind="stable")
    )
    out = np.empty(n, dtype=object)
    out[order[:n_train]] = "train"
    out[order[n_train : n_train + n_val]] = "val"
    out[order[n_train + n_val :]] = "test"
    return out


def region_crops(
    frames: Frames, crop_px: int, delta_as_class: bool, classes: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Crops ``crop_px`` square around every true region with a class in ``classes``.

    Returns ``(crops [n, crop_px, crop_px], labels [n] (index into classes), frame index [n],
    box index [n] (the region's row in its frame's boxes))``; spotless regions and classes outside
    ``classes`` are left out.
    """
    xs, ys, fi, bi = [], [], [], []
    half = crop_px // 2
    for i, (img, bx, cl) in enumerate(
        zip(frames.images, frames.boxes, frames.classes, strict=True)
    ):
        padded = np.pad(img, half)
        for k, (box, text) in enumerate(zip(bx, cl, strict=True)):
            if not text:
                continue
            base, delta = parse_mag_type(text)
            label = class_label(base, delta, delta_as_class=delta_as_class)
            if label not in classes:
                continue
            cx, cy = int((box[0] + box[2]) / 2), int((box[1] + box[3]) / 2)
            xs.append(padded[cy : cy + crop_px, cx : cx + crop_px])
            ys.append(classes.index(label))
            fi.append(i)
            bi.append(k)
    if not xs:
        empty = np.zeros(0, int)
        return np.zeros((0, crop_px, crop_px), np.float32), empty, empty, empty
    return np.stack(xs).astype(np.float32), np.array(ys), np.array(fi), np.array(bi)


def write_split_shards(
    frames: Frames,
    split: np.ndarray,
    *,
    crop_px: int,
    delta_as_class: bool,
    classes: Sequence[str],
    out_frames: Sequence[str | os.PathLike],
    out_crops: Sequence[str | os.PathLike],
    attrs: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, int]]:
    """One split's shards, one file per part (:data:`PARTS` order in ``out_frames`` and
    ``out_crops``).

    Frames: ``image`` [n, 1, s, s] (G, as binned), box target ``boxes`` (pixel edges,
    class :data:`BOX_CLASSES`), meta ``sample_id`` ``<instrument>_<t_rec>``, ``region_id`` the
    true regions' ids joined by ``;``, ``t_end`` the frame's ``t_rec``. Crops
    (:func:`region_crops` of the frames of that part): ``image`` [n, 1, crop_px, crop_px] (G),
    class target ``mw_class`` over ``classes``, meta ``region_id`` of the crop's region. Every file
    has the attributes ``part`` and ``attrs``. Returns the samples per part of each.
    """
    from flarepipe.data.shards import write_shard
    from flarepipe.data.targets import BoxTarget, ClassTarget

    classes = tuple(classes)
    if len(out_frames) != len(PARTS) or len(out_crops) != len(PARTS):
        raise ValueError(f"a split needs one frames and one crops shard per part {PARTS}")
    crops, labels, frame_of, box_of = region_crops(frames, crop_px, delta_as_class, classes)
    recs = frames.records.reset_index(drop=True)
    ids = frames.region_ids or [[""] * len(b) for b in frames.boxes]
    counts: dict[str, dict[str, int]] = {"frames": {}, "crops": {}}
    for part, f_path, c_path in zip(PARTS, out_frames, out_crops, strict=True):
        file_attrs = {**dict(attrs or {}), "part": part}
        idx = np.flatnonzero(split == part)
        inst = recs["instrument"].to_numpy()[idx].astype(str)
        t_rec = recs["t_rec"].to_numpy()[idx].astype(str)
        meta = pd.DataFrame(
            {
                "sample_id": [f"{a}_{t}" for a, t in zip(inst, t_rec, strict=True)],
                "region_id": [";".join(ids[i]) for i in idx],
                "instrument": inst,
                "t_end": t_rec,
            }
        )
        write_shard(
            f_path,
            meta=meta,
            inputs={"image": frames.images[idx][:, None]},
            targets={
                "boxes": BoxTarget.from_lists([frames.boxes[i] for i in idx], None, BOX_CLASSES)
            },
            attrs=file_attrs,
            input_attrs={"image": {"channels": ["magnetogram_g"]}},
        )
        mine = np.flatnonzero(np.isin(frame_of, idx))
        c_inst = recs["instrument"].to_numpy()[frame_of[mine]].astype(str)
        c_t = recs["t_rec"].to_numpy()[frame_of[mine]].astype(str)
        c_region = [ids[frame_of[k]][box_of[k]] for k in mine]
        write_shard(
            c_path,
            meta=pd.DataFrame(
                {
                    "sample_id": [
                        f"{a}_{t}_{r}" for a, t, r in zip(c_inst, c_t, c_region, strict=True)
                    ],
                    "region_id": c_region,
                    "instrument": c_inst,
                    "t_end": c_t,
                }
            ),
            inputs={"image": crops[mine][:, None]},
            targets={"mw_class": ClassTarget(labels[mine], classes)},
            attrs={**file_attrs, "crop_px": int(crop_px), "delta_as_class": bool(delta_as_class)},
            input_attrs={"image": {"channels": ["magnetogram_g"]}},
        )
        counts["frames"][part], counts["crops"][part] = len(idx), len(mine)
    return counts


def class_mix(regions_csv: str | os.PathLike, srs_csv: str | os.PathLike | None) -> pd.DataFrame:
    """Mt. Wilson class fractions of the spotted region-days of the synthetic truth, beside those
    of NOAA's SRS (:func:`flarepipe.archive.catalogues.srs.class_frequencies`, delta as a class)
    when ``srs_csv`` is given.
    """
    from flarepipe.archive.catalogues.srs import class_frequencies, read_srs

    truth = pd.read_csv(regions_csv, dtype={"mtwilson": str})
    spotted = truth["mtwilson"].dropna()
    parsed = [parse_mag_type(t) for t in spotted if t]
    synth = pd.DataFrame(parsed, columns=["mw_class", "delta"])
    out = pd.DataFrame({"synthetic": class_frequencies(synth, delta_as_class=True)})
    out["n_synthetic"] = len(synth)
    if srs_csv is not None:
        real = read_srs(srs_csv).regions
        out["srs"] = class_frequencies(real, delta_as_class=True)
        out["n_srs"] = len(real)
    return out.rename_axis("class").reset_index()
