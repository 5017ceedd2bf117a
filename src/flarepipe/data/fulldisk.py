"""Model inputs of daily full-disk samples (Yi et al. 2021), streamed frame by frame into a shard.

Input (:func:`frame_input`): the line-of-sight field with off-disk and blank pixels at 0 G,
resized to ``size`` (the mean of ``f × f`` blocks when the side is ``f`` times ``size``, as
4096 → 512; else antialiased bilinear, :func:`flarepipe.data.features.resize_image`), then

- ``bytescale`` (the paper's): clipped to ``±clip_g`` (100 G) and scaled to ``[0, 255]``
  (``0 G → 127.5``);
- ``raw``: the field in G, unclipped.

MDI and HMI frames go into the same input (one model for both instruments); the instrument is in
``meta/instrument``. :func:`disk_flux` is the total unsigned line-of-sight flux of the disk (Mx),
the logistic-regression baseline's one feature, computed on the full-resolution frame.

:func:`write_daily_shard` reads one frame at a time, keeps only its resized input (in a
memory-mapped scratch file beside the target, so that no archive is held in memory: the peak is
one full-resolution frame) and writes the shard (layout 2, :mod:`flarepipe.data.shards`) with the
binary target ``label``; frames that fail to read are listed, with the reader's reason, in the
returned table instead of being written.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from flarepipe.core.disk import ARCSEC
from flarepipe.data.features import resize_image
from flarepipe.data.shards import write_shard
from flarepipe.io.fulldisk import FullDiskFrame, read_fulldisk

__all__ = ["INPUT_MODES", "frame_input", "disk_flux", "write_daily_shard"]

INPUT_MODES = ("bytescale", "raw")


def frame_input(
    frame: FullDiskFrame | np.ndarray, size: int, clip_g: float = 100.0, mode: str = "bytescale"
) -> np.ndarray:
    """The model input ``[size, size]`` float32 of one frame (module docstring)."""
    if mode not in INPUT_MODES:
        raise ValueError(f"features.fulldisk.mode must be one of {INPUT_MODES}, got {mode!r}")
    if not clip_g > 0:
        raise ValueError(f"features.fulldisk.clip_g must be > 0, got {clip_g}")
    data = frame.data if isinstance(frame, FullDiskFrame) else np.asarray(frame, np.float32)
    n, size = data.shape[0], int(size)
    if data.shape[0] == data.shape[1] and n % size == 0 and n > size:
        f = n // size  # area average over f x f blocks (4096 -> 512: 8 x 8), exact and fast
        img = np.nan_to_num(data, nan=0.0).reshape(size, f, size, f).mean(axis=(1, 3))
    else:
        img = resize_image(data, size)
    if mode == "raw":
        return img.astype(np.float32)
    return ((np.clip(img, -clip_g, clip_g) + clip_g) * (255.0 / (2.0 * clip_g))).astype(np.float32)


def disk_flux(frame: FullDiskFrame, threshold_g: float = 0.0) -> float:
    """Total unsigned line-of-sight flux (Mx) of the on-disk pixels with ``|B| > threshold_g``.

    Each pixel's projected area on the Sun is ``(CDELT·DSUN_OBS)²`` (the LOS flux through the
    plane of the sky).
    """
    h = frame.header
    side_cm = float(h["CDELT1"]) * ARCSEC * float(h["DSUN_OBS"]) * 100.0
    b = np.abs(frame.data[frame.on_disk])
    b = b[np.isfinite(b) & (b > threshold_g)]
    return float(b.sum(dtype=np.float64) * side_cm * side_cm)


def write_daily_shard(
    samples: pd.DataFrame,
    root: str | os.PathLike | None,
    out: str | os.PathLike,
    size: int = 512,
    clip_g: float = 100.0,
    mode: str = "bytescale",
    flux_threshold_g: float = 0.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stream the daily samples' frames into the shard ``out``: ``(written, failed)``.

    ``samples`` needs ``sample_id, region_id, instrument, t_end, path, label``
    (:func:`flarepipe.samples.fulldisk.daily_labels`); paths are relative to ``root``. ``written``
    is ``samples`` (in shard order) with ``usflux_mx`` (:func:`disk_flux`) added; ``failed`` has
    ``sample_id``, ``path`` and ``reason``.
    """
    need = ["sample_id", "region_id", "instrument", "t_end", "path", "label"]
    missing = [c for c in need if c not in samples.columns]
    if missing:
        raise ValueError(
            f"daily samples: missing column(s) {missing}; have {list(samples.columns)}"
        )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = len(samples)
    fd, scratch = tempfile.mkstemp(prefix=out.name + ".", suffix=".scratch", dir=out.parent)
    os.close(fd)
    try:
        buf = np.memmap(scratch, dtype=np.float32, mode="w+", shape=(max(n, 1), 1, size, size))
        kept, flux, failed = [], [], []
        for i, row in enumerate(samples.itertuples(index=False)):
            path = Path(root) / row.path if root else Path(row.path)
            try:
                frame = read_fulldisk(path)
            except ValueError as exc:
                failed.append({"sample_id": row.sample_id, "path": row.path, "reason": str(exc)})
                continue
            buf[len(kept), 0] = frame_input(frame, size, clip_g, mode)
            flux.append(disk_flux(frame, flux_threshold_g))
            kept.append(i)
            del frame
        written = samples.iloc[kept].reset_index(drop=True).assign(usflux_mx=flux)
        if not kept:
            raise ValueError(f"{out}: no daily frame could be read ({len(failed)} failed)")
        buf.flush()
        write_shard(
            out,
            meta=written,
            inputs={"image": buf[: len(kept)]},
            targets={"label": written["label"].astype(int).to_numpy()},
            attrs={
                "fulldisk": {"size": int(size), "clip_g": float(clip_g), "mode": mode},
                "usflux_mx": [float(x) for x in flux],
            },
            input_attrs={"image": {"channels": ["magnetogram_los"]}},
        )
        del buf
    finally:
        Path(scratch).unlink(missing_ok=True)
    return written, pd.DataFrame(failed, columns=["sample_id", "path", "reason"])
