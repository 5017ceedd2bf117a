"""Model inputs per sample, then per-split standardised shards.

Two steps, each a workflow stage:

1. :func:`extract_features` reads every labelled sample's last magnetogram once (through
   :func:`flarepipe.io.fitsio.read_patch`, the same reader for real and synthetic files), subsamples HMI
   patches 4x to MDI resolution where configured (S1 fusion: "pixel values unchanged"), resizes
   bilinearly to ``image_size`` and gathers the keyword sequence of the sample's record ids. The result,
   raw and unstandardised, is one store (the shard layout) for all samples.
2. :func:`build_shards` slices that store by a split file and standardises: keyword sequences are
   z-scored per instrument with that instrument's training statistics; images with the training
   statistics of the dataset's primary instrument (S1: "images z-scored with the SHARP pixel
   mean/std"), or global statistics when configured.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from flarepipe.archive.layout import KEYWORDS
from flarepipe.io.fitsio import read_patch
from flarepipe.io.parallel import map_chunked
from flarepipe.data.shards import ShardReader, write_shard
from flarepipe.samples.registry import DATASETS

__all__ = ["extract_features", "build_shards", "standardise_keywords", "resize_image"]


def resize_image(img: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of a 2-D image to ``size × size`` (NaN → 0 first: outside-disk/blank pixels)."""
    t = torch.from_numpy(np.nan_to_num(img, nan=0.0).astype(np.float32))[None, None]
    out = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return out[0, 0].numpy()


#: below this many images a process pool costs more than it saves
_PARALLEL_MIN = 1000


def _read_subsampled(item: tuple[Path, str], hmi_subsample: int) -> np.ndarray:
    path, instrument = item
    data, _ = read_patch(path)
    if instrument == "HMI" and hmi_subsample > 1:
        data = data[::hmi_subsample, ::hmi_subsample]
    return data


def _sequences(records: pd.DataFrame, samples: pd.DataFrame, keywords: list[str]) -> np.ndarray:
    vals = records[keywords].to_numpy(dtype=np.float64)
    ids = np.array([[int(x) for x in str(s).split(";")] for s in samples["record_ids"]], dtype=np.int64)
    seq = np.where(ids[..., None] >= 0, vals[np.clip(ids, 0, None)], np.nan)
    # a missing or NaN step takes the nearest earlier value, then the nearest later one (S1 allows ≤ 2)
    seq = np.array(seq, dtype=np.float64, copy=True)
    for k in range(seq.shape[2]):
        df = pd.DataFrame(seq[:, :, k])
        seq[:, :, k] = np.array(df.ffill(axis=1).bfill(axis=1).to_numpy(), copy=True)
    return seq.astype(np.float32)


def extract_features(archive_root: str | os.PathLike, records: pd.DataFrame, samples: pd.DataFrame,
                     out: str | os.PathLike, image_size: int = 64, hmi_subsample: int = 4,
                     keywords: list[str] | None = None, threads: int = 2) -> Path:
    """Write the raw feature store for ``samples`` (images [N,1,S,S], sequences [N,T,K], labels).

    ``threads`` processes read the FITS files; the store does not depend on it.
    """
    keywords = list(keywords or KEYWORDS)
    archive_root = Path(archive_root)
    last = samples["last_record"].astype(int).to_numpy()
    missing = [int(r) for r in last if not str(records.at[r, "path"]).strip()]
    if missing:
        raise ValueError(f"records {missing[:5]} (row numbers in records.csv) have no magnetogram path")
    paths = [archive_root / str(records.at[r, "path"]) for r in last]
    inst = samples["instrument"].tolist()
    raw = map_chunked(partial(_read_subsampled, hmi_subsample=hmi_subsample), list(zip(paths, inst)),
                      workers=threads, min_items=_PARALLEL_MIN)
    imgs = [resize_image(a, image_size) for a in raw]
    images = np.stack(imgs)[:, None].astype(np.float32) if imgs else np.zeros((0, 1, image_size, image_size), np.float32)
    seq = _sequences(records, samples, keywords)
    meta = samples[["sample_id", "region_id", "instrument", "t_end"]].copy()
    return write_shard(out, images, seq, samples["label"].astype(int).to_numpy(), meta,
                       {"keywords": keywords, "stage": "features (unstandardised)",
                        "hmi_subsample": hmi_subsample})


def _stats(x: np.ndarray, axis) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)  # USFLUXL ~ 1e22 Mx: its square overflows float32
    mean = np.nanmean(x, axis=axis)
    std = np.nanstd(x, axis=axis)
    return mean, np.where(np.isfinite(std) & (std > 0), std, 1.0)


def standardise_keywords(sequences: np.ndarray, instruments: np.ndarray, train_mask: np.ndarray,
                         fallback_all: bool = False) -> tuple[np.ndarray, dict[str, dict[str, list[float]]]]:
    """Z-score keyword sequences per instrument with the training samples' statistics (all steps).

    Statistics are computed in float64 (NaN ignored; a constant column gets std 1). An instrument with
    no training sample raises ``ValueError``, or with ``fallback_all`` uses all its samples (a
    dataset whose second instrument only appears in validation/test). Returns the float64 array and
    ``{instrument: {"mean": [...], "std": [...]}}``.
    """
    seq = np.asarray(sequences, dtype=np.float64)
    instruments = np.asarray(instruments)
    out = np.empty_like(seq)
    stats: dict[str, dict[str, list[float]]] = {}
    for inst in sorted(np.unique(instruments)):
        rows = instruments == inst
        ref = rows & np.asarray(train_mask, dtype=bool)
        if not ref.any():
            if not fallback_all:
                raise ValueError(f"no training sample of instrument {inst} to standardise it with")
            ref = rows
        m, s = _stats(seq[ref].reshape(-1, seq.shape[2]), axis=0)
        out[rows] = (seq[rows] - m) / s
        stats[str(inst)] = {"mean": m.tolist(), "std": s.tolist()}
    return out, stats


def build_shards(features: str | os.PathLike, split: pd.DataFrame, dataset: str, out_dir: str | os.PathLike,
                 image_norm: str = "primary_train", log_keywords: list[str] | tuple = ()) -> dict[str, Path]:
    """Write ``train.h5``, ``val.h5``, ``test.h5`` of one dataset run; return their paths.

    ``image_norm``: ``primary_train`` (mean/std of the training images of the dataset's primary
    instrument) or ``global`` (all images in the feature store). ``log_keywords``: keyword columns
    replaced by ``log10(max(x, 1e-30))`` before standardisation (flux and area span decades; S1
    standardises raw values, so the paper's config leaves this empty).
    """
    reader = ShardReader(features)
    data = reader.read_all()
    names = list(reader.attrs.get("keywords", []))
    unknown = [k for k in log_keywords if k not in names]
    if unknown:
        raise ValueError(f"config.yaml: shard.log_keywords {unknown} not among the keywords {names}")
    for k in log_keywords:
        j = names.index(k)
        data["sequences"][:, :, j] = np.log10(np.maximum(data["sequences"][:, :, j], 1e-30))
    meta = reader.meta().reset_index(drop=True)
    labels = reader.labels
    pos = pd.Series(np.arange(len(meta)), index=meta["sample_id"])
    unknown = split.loc[~split["sample_id"].isin(pos.index), "sample_id"]
    if len(unknown):
        raise ValueError(f"split of {dataset}: {len(unknown)} sample(s) not in {features}, e.g. {unknown.iloc[0]}")
    idx = {s: pos[split.loc[split["split"] == s, "sample_id"]].to_numpy() for s in ("train", "val", "test")}
    for s, ii in idx.items():
        if len(ii) == 0:
            raise ValueError(f"split of {dataset}: the {s} split is empty")
    tr = idx["train"]
    seq, img = data["sequences"].astype(np.float64), data["images"]
    norm: dict = {"sequences": {}, "image": {}, "log_keywords": list(log_keywords)}
    train_mask = np.zeros(len(meta), dtype=bool)
    train_mask[tr] = True
    seq_std, norm["sequences"] = standardise_keywords(seq, meta["instrument"].to_numpy(), train_mask,
                                                      fallback_all=True)
    seq_std = np.nan_to_num(seq_std, nan=0.0).astype(np.float32)
    # the dataset's primary instrument (val/test come from it), flarepipe.samples.registry
    primary = DATASETS[dataset].primary if dataset in DATASETS else None
    if image_norm == "global":
        ref = np.arange(len(meta))
    elif image_norm == "primary_train":
        ref = tr[meta.loc[tr, "instrument"].to_numpy() == primary] if primary else tr
    else:
        raise ValueError(f"config.yaml: shard.image_norm must be primary_train or global, got {image_norm!r}")
    im_mean, im_std = float(img[ref].mean()), float(img[ref].std() or 1.0)
    norm["image"] = {"mean": im_mean, "std": im_std, "reference": image_norm, "instrument": primary}
    out_dir = Path(out_dir)
    paths = {}
    for s, ii in idx.items():
        paths[s] = write_shard(out_dir / f"{s}.h5", (img[ii] - im_mean) / im_std, seq_std[ii], labels[ii],
                               meta.loc[ii], {"keywords": reader.attrs.get("keywords", []),
                                              "normalisation": norm, "dataset": dataset, "split": s})
    return paths
