"""Model inputs per sample, then per-split standardised shards.

Two steps, each a workflow stage:

1. :func:`extract_features` reads every labelled sample's last magnetogram once (through
   :func:`flarepipe.io.fitsio.read_patch`, the same reader for real and synthetic files),
   subsamples HMI patches 4x to MDI resolution where configured (S1 fusion: "pixel values
   unchanged"), resizes bilinearly to ``image_size`` and gathers the keyword sequence of the
   sample's record ids. The result, raw and unstandardised, is one store (the shard layout) for
   all samples. An archive without magnetogram files (the ``tables`` source) gives a store, and
   shards, without the ``image`` input.
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

from flarepipe.core.keywords import KEYWORD_COLUMNS
from flarepipe.data.shards import ShardReader, write_shard
from flarepipe.io.fitsio import read_patch
from flarepipe.io.parallel import map_chunked
from flarepipe.samples.registry import DATASETS

__all__ = [
    "FILL_METHODS",
    "IMAGE_CHANNELS",
    "NO_IMAGE_REASON",
    "build_shards",
    "extract_features",
    "resize_image",
    "standardise_keywords",
    "transform_images",
    "RESIZE_MODES",
]

#: Channel names of the ``image`` input written here (one: the patch's magnetogram).
IMAGE_CHANNELS: tuple[str, ...] = ("magnetogram",)

#: Why a feature store has no ``image`` input (stored as the ``no_image_reason`` attribute, and
#: quoted by the error a network that needs images raises).
NO_IMAGE_REASON = (
    "the archive's records have no magnetogram files (records.csv path empty, e.g. the tables "
    "source): only sequence models and the logistic regression can train on it"
)


#: Interpolations of :func:`resize_image` (``features.resize``; S1 bilinear, S2 bicubic).
RESIZE_MODES: tuple[str, ...] = ("bilinear", "bicubic")


def resize_image(img: np.ndarray, size: int, mode: str = "bilinear") -> np.ndarray:
    """Resize a 2-D image to ``size x size`` (NaN -> 0 first: blank pixels).

    torch's antialiased bilinear (or bicubic, ``mode``) interpolation; imported here, so that
    the shard jobs, which only slice and standardise stored inputs, never pay for importing torch.
    """
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize mode must be one of {list(RESIZE_MODES)}, got {mode!r}")
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.nan_to_num(img, nan=0.0).astype(np.float32))[None, None]
    out = F.interpolate(t, size=(size, size), mode=mode, align_corners=False, antialias=True)
    return out[0, 0].numpy()


#: below this many images a process pool costs more than it saves
_PARALLEL_MIN = 1000


def _read_subsampled(item: tuple[Path, str, str], hmi_subsample: int) -> np.ndarray:
    path, instrument, sample_id = item
    try:
        data, _ = read_patch(path)
    except ValueError as exc:
        raise ValueError(
            f"features: sample {sample_id}: its last record's magnetogram does not read: {exc}. "
            "The quality stage rejects such records (reason unreadable_file) when it reads the "
            "pixels: the file changed after quality ran; replace it or rerun from quality"
        ) from None
    if instrument == "HMI" and hmi_subsample > 1:
        data = data[::hmi_subsample, ::hmi_subsample]
    return data


#: how a missing or NaN sequence step is filled (``features.fill``)
FILL_METHODS: tuple[str, ...] = ("previous", "next")


def _sequences(
    records: pd.DataFrame, samples: pd.DataFrame, keywords: list[str], fill: str = "previous"
) -> np.ndarray:
    """Keyword sequences of the samples' record ids, gaps filled by ``fill``.

    Values of ``fill``::

    previous   the nearest earlier step, then (leading gaps) the nearest later one
    next       the nearest later step (the published S1 code; the last step always exists)
    """
    if fill not in FILL_METHODS:
        raise ValueError(f"features.fill must be one of {list(FILL_METHODS)}, got {fill!r}")
    vals = records[keywords].to_numpy(dtype=np.float64)
    ids = np.array(
        [[int(x) for x in str(s).split(";")] for s in samples["record_ids"]], dtype=np.int64
    )
    seq = np.where(ids[..., None] >= 0, vals[np.clip(ids, 0, None)], np.nan)
    seq = np.array(seq, dtype=np.float64, copy=True)
    for k in range(seq.shape[2]):
        df = pd.DataFrame(seq[:, :, k])
        filled = df.ffill(axis=1).bfill(axis=1) if fill == "previous" else df.bfill(axis=1)
        seq[:, :, k] = np.array(filled.to_numpy(), copy=True)
    return seq.astype(np.float32)


def _image_paths(records: pd.DataFrame, last: np.ndarray) -> tuple[list[str] | None, str]:
    """Magnetogram paths of the samples' last records, or ``None`` and why there is no image.

    ``None`` when no sample's last record has a file (:data:`NO_IMAGE_REASON`), or when only
    some have one and the others are keyword-only records (``nx = ny = 0``: a local archive of
    FITS exports and table rows): then the reason
    counts the samples without a file, and the store holds sequences only, which the sequence
    models and baselines train on; an image network names the reason when it is asked for.
    """
    if "path" not in records.columns:
        return None, NO_IMAGE_REASON
    paths = records["path"].astype("object").to_numpy()[last] if len(last) else np.array([])
    empty = np.array([p is None or pd.isna(p) or not str(p).strip() for p in paths], dtype=bool)
    if len(paths) == 0:
        return [], ""
    if empty.all():
        return None, NO_IMAGE_REASON
    keyword_only = empty.copy()
    if {"nx", "ny"} <= set(records.columns):
        size = records[["nx", "ny"]].apply(pd.to_numeric, errors="coerce").fillna(0).to_numpy()
        keyword_only &= (size[last] == 0).all(axis=1)
    if empty.any() and not keyword_only[empty].all():
        rows = last[empty & ~keyword_only]
        raise ValueError(
            f"records {rows[:5].tolist()} (row numbers in records.csv; {int(empty.sum())} of "
            f"{len(paths)} samples' last records) have no magnetogram path while the others have "
            "one; rerun the quality stage with require_file on, or fix the archive"
        )
    if empty.any():
        rows = last[empty]
        return None, (
            f"{int(empty.sum())} of {len(paths)} samples' last records (records.csv rows "
            f"{rows[:5].tolist()}, ...) are keyword-only (no magnetogram file): no image input; "
            "only sequence models and the logistic regression can train on it (for images, "
            "keep only records with files: quality.require_file on a FITS-only archive)"
        )
    return [str(p) for p in paths], ""


def extract_features(
    archive_root: str | os.PathLike,
    records: pd.DataFrame,
    samples: pd.DataFrame,
    out: str | os.PathLike,
    image_size: int = 64,
    hmi_subsample: int = 4,
    keywords: list[str] | None = None,
    threads: int = 2,
    fill: str = "previous",
    resize: str = "bilinear",
) -> Path:
    """Write the raw feature store of ``samples`` (a shard, unstandardised).

    Inputs: ``sequence`` [N,T,K] (the keywords of each sample's records, gaps filled as ``fill``
    says: ``previous``, the nearest earlier, then later step; ``next``, the nearest later step)
    and, when the archive has magnetogram files, ``image``
    [N,1,S,S] (the last record's patch, HMI subsampled ``hmi_subsample`` x, resized to
    ``image_size``). An archive whose records have no files at all (the ``tables`` source) gives
    a store without ``image`` (attribute ``no_image_reason``), and so does one where only some
    samples' last records have a file (FITS exports beside keyword-only table rows: the reason
    counts them). Target: binary ``label``.

    Parameters
    ----------
    archive_root
        Archive folder (``path`` in ``records`` is relative to it).
    records
        ``records.csv`` of the archive.
    samples
        Labelled samples (``record_ids``, ``last_record``, ``label``, meta columns).
    out
        The store to write (``results/features/features.h5``).
    image_size
        Side of the resized images.
    hmi_subsample
        HMI pixel step (4: MDI resolution, S1 fusion).
    keywords
        Keyword columns of the sequence (default: the four S1 keywords; ``features.keywords``:
        extra columns of a keyword table, e.g. ``totusjh``, may be named).
    threads
        Processes reading the FITS files; the store does not depend on it.
    fill
        Gap filling of the sequences, one of :data:`FILL_METHODS`.
    resize
        Interpolation of the image resize, one of :data:`RESIZE_MODES`.

    Returns
    -------
    Path
        The written store.

    Raises
    ------
    ValueError
        When a name of ``keywords`` is not a column of ``records``; when some samples' last
        records lost their magnetogram path (``nx``/``ny`` say they had an image) while others
        have one; or when a magnetogram does not read (naming the sample and the file).
    """
    keywords = list(keywords or KEYWORD_COLUMNS)
    absent = [k for k in keywords if k not in records.columns]
    if absent:
        raise ValueError(
            f"features.keywords {absent} are not columns of records.csv (its keyword columns: "
            f"{[c for c in records.columns if c not in ('series', 'instrument', 'region_id')]})"
        )
    archive_root = Path(archive_root)
    last = samples["last_record"].astype(int).to_numpy()
    rel_paths, no_image = _image_paths(records, last)
    inputs: dict[str, np.ndarray] = {"sequence": _sequences(records, samples, keywords, fill)}
    attrs: dict = {
        "keywords": keywords,
        "stage": "features (unstandardised)",
        "hmi_subsample": hmi_subsample,
        "resize": resize,
    }
    input_attrs: dict = {}
    if rel_paths is None:
        attrs["no_image_reason"] = no_image
    else:
        paths = [archive_root / p for p in rel_paths]
        inst = samples["instrument"].tolist()
        raw = map_chunked(
            partial(_read_subsampled, hmi_subsample=hmi_subsample),
            list(zip(paths, inst, samples["sample_id"].astype(str), strict=True)),
            workers=threads,
            min_items=_PARALLEL_MIN,
        )
        imgs = [resize_image(a, image_size, resize) for a in raw]
        inputs["image"] = (
            np.stack(imgs)[:, None].astype(np.float32)
            if imgs
            else np.zeros((0, 1, image_size, image_size), np.float32)
        )
        input_attrs["image"] = {"channels": list(IMAGE_CHANNELS)}
    meta = samples[["sample_id", "region_id", "instrument", "t_end"]].copy()
    # the last record's latitude (a dataset's hale_joy transform needs the hemisphere)
    lat = records["lat_fwt"] if "lat_fwt" in records.columns else pd.Series(np.nan, records.index)
    meta["lat_fwt"] = pd.to_numeric(lat, errors="coerce").to_numpy()[last]
    return write_shard(
        out,
        meta=meta,
        inputs=inputs,
        targets={"label": samples["label"].astype(int).to_numpy()},
        attrs=attrs,
        input_attrs=input_attrs,
    )


def _stats(x: np.ndarray, axis) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)  # USFLUXL ~ 1e22 Mx: its square overflows float32
    mean = np.nanmean(x, axis=axis)
    std = np.nanstd(x, axis=axis)
    return mean, np.where(np.isfinite(std) & (std > 0), std, 1.0)


def standardise_keywords(
    sequences: np.ndarray,
    instruments: np.ndarray,
    train_mask: np.ndarray,
    fallback_all: bool = False,
) -> tuple[np.ndarray, dict[str, dict[str, list[float]]]]:
    """Z-score keyword sequences per instrument with the training samples' statistics.

    Statistics are over all steps, computed in float64 (NaN ignored; a constant column gets
    std 1). An instrument with no training sample raises ``ValueError``, or with ``fallback_all``
    uses all its samples (a dataset whose second instrument only appears in validation/test).

    Returns
    -------
    tuple
        The float64 array and ``{instrument: {"mean": [...], "std": [...]}}``.
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


def transform_images(
    images: np.ndarray, transform: str, meta: pd.DataFrame, dataset: str = ""
) -> np.ndarray:
    """A dataset's image transform (:data:`flarepipe.samples.registry.IMAGE_TRANSFORMS`).

    ``images`` is ``[N, 1, H, W]`` (row 0 the southern edge, as the FITS arrays), ``meta`` the
    samples' rows (``lat_fwt``: the last record's latitude, degrees). ``reverse_polarity``
    negates every image; ``hale_joy`` mirrors the southern-hemisphere ones (``lat_fwt < 0``)
    north-south and negates them. A new array; the input is not changed.
    """
    if transform == "":
        return images
    if transform == "reverse_polarity":
        return -images
    if transform != "hale_joy":
        raise ValueError(f"dataset {dataset}: unknown image transform {transform!r}")
    if "lat_fwt" not in meta.columns:
        raise ValueError(
            f"dataset {dataset}: the hale_joy transform needs each sample's latitude (lat_fwt); "
            "the feature store has none: rerun the features stage"
        )
    lat = meta["lat_fwt"].to_numpy(dtype=float)
    if np.isnan(lat).any():
        i = int(np.flatnonzero(np.isnan(lat))[0])
        raise ValueError(
            f"dataset {dataset}: the hale_joy transform needs each sample's latitude, but "
            f"{int(np.isnan(lat).sum())} sample(s) have none in records.csv (lat_fwt), e.g. "
            f"{meta['sample_id'].iloc[i]}"
        )
    out = images.copy()
    south = lat < 0
    out[south] = -images[south][..., ::-1, :]
    return out


def build_shards(
    features: str | os.PathLike,
    split: pd.DataFrame,
    dataset: str,
    out_dir: str | os.PathLike,
    image_norm: str = "primary_train",
    log_keywords: list[str] | tuple = (),
) -> dict[str, Path]:
    """Write ``train.h5``, ``val.h5``, ``test.h5`` of one dataset run; return their paths.

    Sequences are z-scored per instrument with the training statistics
    (:func:`standardise_keywords`, falling back to all samples of an instrument absent from
    training). Images, when the feature store has them, are z-scored with one mean/std.

    Parameters
    ----------
    features
        The feature store (:func:`extract_features`).
    split
        ``sample_id, split`` rows (split in train/val/test) of this dataset run.
    dataset
        Dataset name (its primary instrument: :data:`flarepipe.samples.registry.DATASETS`).
    out_dir
        Folder of the three shards.
    image_norm
        ``primary_train`` (mean/std of the training images of the dataset's primary instrument)
        or ``global`` (all images in the feature store).
    log_keywords
        Keyword columns replaced by ``log10(max(x, 1e-30))`` before standardisation (flux and
        area span decades; S1 standardises raw values, so the paper's config leaves this empty).

    Raises
    ------
    ValueError
        On an unknown keyword or ``image_norm``, split samples absent from the store, or an
        empty split.
    """
    reader = ShardReader(features)
    wanted = ("sequence", "image") if "image" in reader.inputs else ("sequence",)
    data = reader.read_all(inputs=wanted, targets=("label",))
    names = list(reader.attrs.get("keywords", []))
    unknown = [k for k in log_keywords if k not in names]
    if unknown:
        raise ValueError(f"shard.log_keywords {unknown} not among the keywords {names}")
    for k in log_keywords:
        j = names.index(k)
        data["sequence"][:, :, j] = np.log10(np.maximum(data["sequence"][:, :, j], 1e-30))
    meta = reader.meta().reset_index(drop=True)
    labels = data["label"]
    pos = pd.Series(np.arange(len(meta)), index=meta["sample_id"])
    unknown = split.loc[~split["sample_id"].isin(pos.index), "sample_id"]
    if len(unknown):
        raise ValueError(
            f"split of {dataset}: {len(unknown)} sample(s) not in {features}, "
            f"e.g. {unknown.iloc[0]}"
        )
    idx = {
        s: pos[split.loc[split["split"] == s, "sample_id"]].to_numpy()
        for s in ("train", "val", "test")
    }
    empty = [s for s, ii in idx.items() if len(ii) == 0]
    if empty:
        sizes = ", ".join(f"{s} {len(ii)}" for s, ii in idx.items())
        raise ValueError(
            f"split of {dataset}: the {'/'.join(empty)} split is empty ({sizes} samples of "
            f"{len(split)} in the split file; the split stage refuses such a split: rerun it)"
        )
    tr = idx["train"]
    seq = data["sequence"].astype(np.float64)
    norm: dict = {"sequences": {}, "log_keywords": list(log_keywords)}
    train_mask = np.zeros(len(meta), dtype=bool)
    train_mask[tr] = True
    seq_std, norm["sequences"] = standardise_keywords(
        seq, meta["instrument"].to_numpy(), train_mask, fallback_all=True
    )
    seq_std = np.nan_to_num(seq_std, nan=0.0).astype(np.float32)
    # the dataset's primary instrument (val/test come from it), flarepipe.samples.registry
    primary = DATASETS[dataset].primary if dataset in DATASETS else None
    if image_norm not in ("primary_train", "global"):
        raise ValueError(f"shard.image_norm must be primary_train or global, got {image_norm!r}")
    img = data.get("image")
    spec = DATASETS[dataset] if dataset in DATASETS else None
    transform = spec.image_transform if spec is not None else ""
    if img is not None and transform:
        img = transform_images(img, transform, meta, dataset)
    attrs: dict = {"keywords": names, "normalisation": norm, "dataset": dataset}
    if transform:
        attrs["image_transform"] = transform
    input_attrs: dict = {}
    if img is not None:
        if image_norm == "global":
            ref = np.arange(len(meta))
        else:
            ref = tr[meta.loc[tr, "instrument"].to_numpy() == primary] if primary else tr
        im_mean, im_std = float(img[ref].mean()), float(img[ref].std() or 1.0)
        norm["image"] = {
            "mean": im_mean,
            "std": im_std,
            "reference": image_norm,
            "instrument": primary,
        }
        input_attrs["image"] = reader.input_attrs("image")
        input_attrs["image"].pop("axes", None)
    else:
        attrs["no_image_reason"] = reader.attrs.get("no_image_reason", f"{features} has none")
    out_dir = Path(out_dir)
    paths = {}
    for s, ii in idx.items():
        inputs = {"sequence": seq_std[ii]}
        if img is not None:
            inputs["image"] = (img[ii] - im_mean) / im_std
        paths[s] = write_shard(
            out_dir / f"{s}.h5",
            meta=meta.loc[ii],
            inputs=inputs,
            targets={"label": labels[ii]},
            attrs={**attrs, "split": s},
            input_attrs=input_attrs,
        )
    return paths
