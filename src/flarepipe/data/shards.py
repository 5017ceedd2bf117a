"""HDF5 shards: the one module that knows the on-disk layout (and the only one importing h5py).

A shard holds one split of one dataset run (``results/shards/<dataset>/run<run>/<split>.h5``):

==============  =====================  ==================================================
dataset         dtype / shape          storage
==============  =====================  ==================================================
``images``      float32 [N,1,H,W]      chunked, one sample per chunk, no compression by
                                       default (``lzf`` optional)
``sequences``   float32 [N,T,K]        contiguous (a sample is a few hundred bytes: one
                                       chunk per sample would cost more in index than data)
``labels``      int64 [N]              contiguous
``sample_id``   utf-8 str [N]          contiguous
``region_id``   utf-8 str [N]          contiguous
``instrument``  utf-8 str [N]          contiguous
``t_end``       utf-8 str [N]          contiguous, ISO 8601 UTC
==============  =====================  ==================================================

File attributes: ``layout_version`` (:data:`LAYOUT_VERSION`), ``image_size`` (H, or [H, W] when not
square), ``keywords`` (K names), ``normalisation`` (JSON object of means/stds), plus whatever the
writer passes. Dict-valued attributes are stored as JSON strings and decoded on reading.

Reading is built for PyTorch loader workers: :class:`ShardReader` validates the file when it is
made, then closes it; the file is reopened lazily on the first read in whichever process reads
(forked or spawned workers included), so a reader pickles cleanly before and after use.
Uncompressed single-sample image chunks are read with one direct chunk read (no HDF5 selection
machinery), which is what makes lazy per-sample loading fast.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from flarepipe.io.atomic import atomic_path

__all__ = [
    "LAYOUT_VERSION",
    "META_COLUMNS",
    "ShardLayoutError",
    "ShardReader",
    "write_shard",
]

#: Version of the layout written by :func:`write_shard`; readers refuse any other.
LAYOUT_VERSION: int = 1

#: String metadata datasets, one value per sample, in this order.
META_COLUMNS: tuple[str, ...] = ("sample_id", "region_id", "instrument", "t_end")

_ARRAYS: tuple[str, ...] = ("images", "sequences", "labels")
_REQUIRED: tuple[str, ...] = _ARRAYS + META_COLUMNS
_COMPRESSIONS = (None, "none", "lzf", "gzip")


class ShardLayoutError(ValueError):
    """A shard file does not have the layout this version of flarepipe reads."""


def _check_inputs(
    images: np.ndarray, sequences: np.ndarray, labels: np.ndarray, meta: pd.DataFrame
) -> int:
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"images must have shape [N,1,H,W], got {images.shape}")
    if sequences.ndim != 3:
        raise ValueError(f"sequences must have shape [N,T,K], got {sequences.shape}")
    n = images.shape[0]
    if sequences.shape[0] != n or labels.shape != (n,) or len(meta) != n:
        raise ValueError(
            f"sample counts differ: images {images.shape[0]}, sequences {sequences.shape[0]}, "
            f"labels {labels.shape}, meta {len(meta)} rows"
        )
    missing = [c for c in META_COLUMNS if c not in meta.columns]
    if missing:
        raise ValueError(f"meta lacks column(s) {missing}; it needs {list(META_COLUMNS)}")
    if n and not np.isin(labels, (0, 1)).all():
        raise ValueError(f"labels must be 0 or 1, got values {np.unique(labels)[:10]}")
    return n


def _encode_attr(value: Any) -> Any:
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, default=float)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return np.array(value, dtype=h5py.string_dtype("utf-8"))
    return value


def _decode_attr(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, str) and value.startswith("{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "OS":
            return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in value]
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_shard(
    path: str | os.PathLike,
    images: np.ndarray,
    sequences: np.ndarray,
    labels: np.ndarray,
    meta: pd.DataFrame,
    attrs: Mapping[str, Any] | None = None,
    compression: str | None = None,
) -> Path:
    """Write one shard atomically (temporary file, then rename onto ``path``).

    Parameters
    ----------
    path
        Target file, e.g. ``results/shards/SHARP_ONLY/run0/train.h5``.
    images
        float32 [N,1,H,W], already resized and standardised.
    sequences
        float32 [N,T,K] keyword sequences, already standardised.
    labels
        [N] of 0/1; stored as int64.
    meta
        DataFrame with (at least) ``sample_id, region_id, instrument, t_end``, one row per sample
        in the order of the arrays. ``t_end`` may be strings or timestamps (written as ISO UTC).
    attrs
        File attributes, e.g. ``keywords`` (list of K names), ``normalisation`` (dict, stored as
        JSON). ``layout_version`` and ``image_size`` are always set by this function; a missing
        ``keywords`` becomes ``["k0", ...]`` and a missing ``normalisation`` becomes ``{}``.
    compression
        ``None``/``"none"`` (default: fastest random reads, see ``benchmarks/bench_loader.py``),
        ``"lzf"`` or ``"gzip"`` for the images. Sequences are never compressed.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ValueError
        On inconsistent shapes, labels other than 0/1, missing meta columns or an unknown
        compression. Nothing is written then; if writing fails midway no file appears at ``path``.
    """
    if compression not in _COMPRESSIONS:
        raise ValueError(f"compression must be one of {_COMPRESSIONS}, got {compression!r}")
    if compression == "none":
        compression = None
    images = np.ascontiguousarray(images, dtype=np.float32)
    sequences = np.ascontiguousarray(sequences, dtype=np.float32)
    labels = np.asarray(labels).astype(np.int64)
    n = _check_inputs(images, sequences, labels, meta)
    _, _, h, w = images.shape
    k = sequences.shape[2]

    file_attrs: dict[str, Any] = dict(attrs or {})
    file_attrs.setdefault("keywords", [f"k{i}" for i in range(k)])
    file_attrs.setdefault("normalisation", {})
    if len(file_attrs["keywords"]) != k:
        raise ValueError(
            f"attrs['keywords'] names {len(file_attrs['keywords'])} keywords, sequences have K={k}"
        )
    file_attrs["layout_version"] = LAYOUT_VERSION
    file_attrs["image_size"] = h if h == w else [h, w]

    str_dt = h5py.string_dtype("utf-8")
    path = Path(path)
    with atomic_path(path, suffix=".h5.part") as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset(
                "images",
                data=images,
                chunks=(1, 1, h, w) if n else None,
                compression=compression,
            )
            f.create_dataset("sequences", data=sequences)
            f.create_dataset("labels", data=labels)
            for col in META_COLUMNS:
                values = meta[col]
                if col == "t_end" and not pd.api.types.is_string_dtype(values):
                    values = pd.to_datetime(values, utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
                f.create_dataset(
                    col, data=np.asarray(values.astype(str), dtype=object), dtype=str_dt
                )
            for key, value in file_attrs.items():
                f.attrs[key] = _encode_attr(value)
    return path


class ShardReader:
    """Random access to one shard, safe to hand to DataLoader workers.

    The file is checked (required datasets, layout version) when the reader is made and then
    closed; it is reopened lazily on the first :meth:`read` in each process. Labels are cached in
    memory. Pickling drops the open handle.

    Parameters
    ----------
    path
        Shard file written by :func:`write_shard`.
    cache_sequences
        Hold all sequences in memory (read once per process on first use: a whole-array read
        costs less than a few dozen single-sample reads). ``None`` (default): when they take at
        most :attr:`SEQUENCE_CACHE_BYTES`.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ShardLayoutError
        When a dataset is missing, shapes disagree, or ``layout_version`` differs from
        :data:`LAYOUT_VERSION`; the message names the file.
    """

    #: Largest sequence array cached in memory when ``cache_sequences`` is None.
    SEQUENCE_CACHE_BYTES: int = 256 * 2**20

    def __init__(self, path: str | os.PathLike, cache_sequences: bool | None = None) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"shard {self.path} does not exist; run the shard stage first")
        with h5py.File(self.path, "r") as f:
            self._validate(f)
            self._attrs = {k: _decode_attr(v) for k, v in f.attrs.items()}
            self._labels = f["labels"][...].astype(np.int64)
            self._image_shape = tuple(f["images"].shape[1:])
            self._sequence_shape = tuple(f["sequences"].shape[1:])
            img = f["images"]
            self._direct = (
                img.chunks == (1, *self._image_shape)
                and img.compression is None
                and not img.scaleoffset
                and img.dtype == np.float32
            )
        if cache_sequences is None:
            nbytes = 4 * len(self._labels) * int(np.prod(self._sequence_shape))
            cache_sequences = nbytes <= self.SEQUENCE_CACHE_BYTES
        self.cache_sequences = bool(cache_sequences)
        self._sequences: np.ndarray | None = None
        self._file: h5py.File | None = None
        self._dsets: dict[str, h5py.Dataset] = {}
        self._pid: int | None = None

    def _validate(self, f: h5py.File) -> None:
        version = f.attrs.get("layout_version")
        if version is None or int(version) != LAYOUT_VERSION:
            raise ShardLayoutError(
                f"shard {self.path} has layout_version {version!r}, this flarepipe reads "
                f"{LAYOUT_VERSION}; delete the shard and rerun the shard stage"
            )
        missing = [d for d in _REQUIRED if d not in f]
        if missing:
            raise ShardLayoutError(
                f"shard {self.path} lacks dataset(s) {missing}; a layout-{LAYOUT_VERSION} shard "
                f"has {list(_REQUIRED)}; delete it and rerun the shard stage"
            )
        n = f["labels"].shape[0]
        bad = {d: f[d].shape for d in _REQUIRED if f[d].shape[0] != n}
        if bad or f["images"].ndim != 4 or f["sequences"].ndim != 3:
            raise ShardLayoutError(
                f"shard {self.path} has inconsistent dataset shapes (labels N={n}; {bad or ''} "
                f"images {f['images'].shape}, sequences {f['sequences'].shape})"
            )

    # -- lifecycle -------------------------------------------------------------------------
    def _h5(self) -> h5py.File:
        pid = os.getpid()
        if self._file is None or self._pid != pid:
            # A handle inherited through fork is not usable: open afresh in this process.
            self._file = h5py.File(self.path, "r")
            self._dsets = {}
            self._pid = pid
        return self._file

    def _dset(self, name: str) -> h5py.Dataset:
        # Looking a dataset up by name costs ~100 us in h5py; keep the handles.
        f = self._h5()
        dset = self._dsets.get(name)
        if dset is None:
            dset = self._dsets[name] = f[name]
        return dset

    def close(self) -> None:
        """Close the file handle of this process (reopened on the next read)."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None
        self._dsets = {}
        self._pid = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_sequences"] = None
        state["_dsets"] = {}
        state["_pid"] = None
        return state

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

    # -- access ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._labels.shape[0])

    @property
    def attrs(self) -> dict[str, Any]:
        """File attributes (``normalisation`` decoded from JSON, ``keywords`` as a list)."""
        return dict(self._attrs)

    @property
    def labels(self) -> np.ndarray:
        """All labels, int64 [N] (cached; no file access)."""
        return self._labels

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """Shape of one image, ``(1, H, W)``."""
        return self._image_shape  # type: ignore[return-value]

    @property
    def sequence_shape(self) -> tuple[int, int]:
        """Shape of one sequence, ``(T, K)``."""
        return self._sequence_shape  # type: ignore[return-value]

    def read_image(self, i: int) -> np.ndarray:
        """Image ``i`` as float32 ``[1, H, W]``."""
        dset = self._dset("images")
        if self._direct:
            _, raw = dset.id.read_direct_chunk((i, 0, 0, 0))
            return np.frombuffer(raw, dtype="<f4").reshape(self._image_shape).astype(np.float32)
        return dset[i]

    def read_sequence(self, i: int) -> np.ndarray:
        """Sequence ``i`` as float32 ``[T, K]``."""
        if self.cache_sequences:
            return self._cached_sequences()[i].copy()
        return self._dset("sequences")[i]

    def _cached_sequences(self) -> np.ndarray:
        if self._sequences is None:
            self._sequences = self._dset("sequences")[...]
        return self._sequences

    def _check_indices(self, indices: Any) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        idx = np.where(idx < 0, idx + n, idx)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"indices out of range for shard {self.path} with {n} samples")
        return idx

    def read_batch(
        self, indices: Any, inputs: tuple[str, ...] = ("image", "sequence")
    ) -> dict[str, np.ndarray]:
        """Read the samples ``indices`` (any order) into batched arrays.

        Parameters
        ----------
        indices
            Sample indices (sequence or 1-d array of ints).
        inputs
            Which arrays to read: any of ``"image"``, ``"sequence"``.

        Returns
        -------
        dict
            ``labels`` int64 [B], and ``images`` float32 [B,1,H,W] and/or ``sequences`` float32
            [B,T,K], in the order of ``indices``.
        """
        idx = self._check_indices(indices)
        out: dict[str, np.ndarray] = {"labels": self._labels[idx]}
        if "image" in inputs:
            images = np.empty((len(idx), *self._image_shape), dtype=np.float32)
            dset = self._dset("images")
            for j, i in enumerate(idx.tolist()):
                if self._direct:
                    _, raw = dset.id.read_direct_chunk((i, 0, 0, 0))
                    images[j] = np.frombuffer(raw, dtype="<f4").reshape(self._image_shape)
                else:
                    images[j] = dset[i]
            out["images"] = images
        if "sequence" in inputs:
            if self.cache_sequences:
                out["sequences"] = self._cached_sequences()[idx]
            elif len(idx):
                order = np.argsort(idx)
                uniq, inverse = np.unique(idx[order], return_inverse=True)
                block = self._dset("sequences")[uniq]  # h5py needs increasing indices
                seq = np.empty((len(idx), *self._sequence_shape), dtype=np.float32)
                seq[order] = block[inverse]
                out["sequences"] = seq
            else:
                out["sequences"] = np.empty((0, *self._sequence_shape), dtype=np.float32)
        return out

    def read(self, i: int, inputs: tuple[str, ...] = ("image", "sequence")) -> dict[str, Any]:
        """Read sample ``i``.

        Parameters
        ----------
        i
            Index in ``[0, len)``; negative indices count from the end.
        inputs
            Which arrays to read: any of ``"image"``, ``"sequence"``.

        Returns
        -------
        dict
            ``image`` float32 [1,H,W] and/or ``sequence`` float32 [T,K], and ``label`` (int).
        """
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"index {i} out of range for shard {self.path} with {n} samples")
        out: dict[str, Any] = {"label": int(self._labels[i])}
        if "image" in inputs:
            out["image"] = self.read_image(i)
        if "sequence" in inputs:
            out["sequence"] = self.read_sequence(i)
        return out

    def read_all(self, inputs: tuple[str, ...] = ("image", "sequence")) -> dict[str, np.ndarray]:
        """Read whole arrays: ``images`` [N,1,H,W], ``sequences`` [N,T,K], ``labels`` [N].

        Parameters
        ----------
        inputs
            Which arrays to read besides the labels: any of ``"image"``, ``"sequence"``.
        """
        f = self._h5()
        out: dict[str, np.ndarray] = {"labels": self._labels.copy()}
        if "image" in inputs:
            out["images"] = f["images"][...]
        if "sequence" in inputs:
            out["sequences"] = f["sequences"][...]
        return out

    def meta(self) -> pd.DataFrame:
        """Per-sample metadata: ``sample_id, region_id, instrument, t_end, label``."""
        f = self._h5()
        df = pd.DataFrame(
            {
                c: f[c].asstr()[...] if len(self) else np.array([], dtype=object)
                for c in META_COLUMNS
            }
        )
        df["label"] = self._labels
        return df

    def __repr__(self) -> str:
        return (
            f"ShardReader({str(self.path)!r}, n={len(self)}, image={self._image_shape}, "
            f"sequence={self._sequence_shape})"
        )
