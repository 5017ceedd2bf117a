"""HDF5 shards: the one module that knows the on-disk layout (and the only one importing h5py).

A shard holds samples (one split of one dataset run, ``results/shards/<dataset>/run<run>/
<split>.h5``, or the raw feature store ``results/features/features.h5``). Layout version 2:

=========================  =======================  ============================================
path                       dtype / shape            notes
=========================  =======================  ============================================
``inputs/image``           float32 [N,C,H,W]        optional; one sample per chunk, uncompressed
                                                    by default (``lzf``/``gzip`` optional);
                                                    attr ``channels`` (C names)
``inputs/sequence``        float32 [N,T,K]          optional; contiguous (a sample is a few
                                                    hundred bytes); keyword names in the file
                                                    attr ``keywords``
``inputs/<other>``         float32 [N,...]          room for more inputs: 4-d ones are chunked
                                                    like ``image``, others stored like
                                                    ``sequence``
``targets/label``          int64 [N]                ``kind="binary"``: 0/1
``targets/<name>``         int64 [N]                ``kind="class"``: ``[0, C)`` or -1 (unknown);
                                                    attr ``class_names``
``targets/<name>/``        group                    ``kind="boxes"``, attrs ``class_names``,
  ``offsets``              int64 [N+1]              ``box_format="xyxy"``: sample ``i`` owns rows
  ``boxes``                float32 [M,4]            ``offsets[i]:offsets[i+1]`` of ``boxes`` and
  ``labels``               int64 [M]                ``labels``
``meta/sample_id``         utf-8 str [N]            also ``meta/region_id``, ``meta/instrument``,
                                                    ``meta/t_end`` (ISO 8601 UTC)
=========================  =======================  ============================================

File attributes: ``layout_version`` (:data:`LAYOUT_VERSION`), ``n_samples``, ``inputs`` and
``targets`` (names present), ``keywords`` (K names, when there is a sequence), ``normalisation``
(JSON object of means/stds), plus whatever the writer passes. Dict-valued attributes are stored as
JSON strings and decoded on reading. Every input and target is optional; a shard holds at least
one input.

Layout version 1 (flarepipe before the v2 layout: top-level ``images`` [N,1,H,W], ``sequences``,
``labels``, ``sample_id``, ``region_id``, ``instrument``, ``t_end``) is still read, mapped onto the
v2 names (``image``, ``sequence``, binary ``label``). Any other version is refused with a message
saying which rule to rerun.

Reading is built for PyTorch loader workers: :class:`ShardReader` validates the file when it is
made, then closes it; the file is reopened lazily on the first read in whichever process reads
(forked or spawned workers included), so a reader pickles cleanly before and after use.
Uncompressed single-sample image chunks are read with one direct chunk read (no HDF5 selection
machinery), which is what makes lazy per-sample loading fast.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from flarepipe.data.targets import (
    TARGET_KINDS,
    BinaryTarget,
    BoxTarget,
    ClassTarget,
    Target,
    as_target,
)
from flarepipe.io.atomic import (
    IntegrityError,
    atomic_path,
    record_integrity,
    require_free_space,
    verify_integrity,
)

__all__ = [
    "BinaryTarget",
    "BoxTarget",
    "ClassTarget",
    "IMAGE_LIKE_NDIM",
    "INPUT_AXES",
    "LAYOUT_VERSION",
    "META_COLUMNS",
    "READABLE_VERSIONS",
    "ShardContentError",
    "ShardLayoutError",
    "ShardReader",
    "write_shard",
]

#: Version of the layout written by :func:`write_shard`.
LAYOUT_VERSION: int = 2
#: Layout versions :class:`ShardReader` reads (1 is mapped onto the version-2 names).
READABLE_VERSIONS: tuple[int, ...] = (1, 2)

#: String metadata, one value per sample, in this order.
META_COLUMNS: tuple[str, ...] = ("sample_id", "region_id", "instrument", "t_end")

#: Axes of the well-known inputs (sample axis first); other input names are accepted.
INPUT_AXES: dict[str, str] = {"image": "NCHW", "sequence": "NTK"}
#: Inputs with this many dimensions ([N,C,H,W]) are stored one sample per chunk.
IMAGE_LIKE_NDIM: int = 4

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_COMPRESSIONS = (None, "none", "lzf", "gzip")

# Version-1 files: flat datasets, mapped onto version-2 paths.
_V1_INPUTS = {"image": "images", "sequence": "sequences"}
_V1_TARGETS = {"label": "labels"}


class ShardLayoutError(ValueError):
    """A shard file does not have a layout this version of flarepipe reads."""


class ShardContentError(ValueError):
    """A shard lacks an input or target a caller asked for (the message names what it has)."""


def _rerun_hint(path: Path) -> str:
    rule = "features" if path.name == "features.h5" else "shard"
    return f"delete it and rerun the {rule} rule (snakemake --forcerun {rule})"


# -- attributes ----------------------------------------------------------------------------------
def _encode_attr(value: Any) -> Any:
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, default=float)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return np.array(value, dtype=h5py.string_dtype("utf-8"))
    if isinstance(value, (list, tuple)) and not value:
        return np.array([], dtype=h5py.string_dtype("utf-8"))
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


def _names_of(values: Any) -> list[str]:
    decoded = _decode_attr(values)
    return [decoded] if isinstance(decoded, str) else list(decoded)


# -- writing -------------------------------------------------------------------------------------
def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"{what} name {name!r} must match {_NAME.pattern} (e.g. 'image')")


def _prepare_inputs(inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, value in inputs.items():
        _check_name(name, "input")
        arr = np.ascontiguousarray(value, dtype=np.float32)
        axes = INPUT_AXES.get(name)
        if axes is not None and arr.ndim != len(axes):
            shape = "[" + ",".join(axes) + "]"
            raise ValueError(f"input {name!r} must have shape {shape}, got {arr.shape}")
        if arr.ndim < 2:
            raise ValueError(f"input {name!r} must be [N, ...] (at least 2 axes), got {arr.shape}")
        out[name] = arr
    return out


def _check_counts(
    inputs: Mapping[str, np.ndarray], targets: Mapping[str, Target], meta: pd.DataFrame
) -> int:
    counts = {f"input {k}": v.shape[0] for k, v in inputs.items()}
    counts.update({f"target {k}": len(v) for k, v in targets.items()})
    counts["meta"] = len(meta)
    if len(set(counts.values())) > 1:
        listing = ", ".join(f"{k} {v}" for k, v in counts.items())
        raise ValueError(f"sample counts differ: {listing}")
    return len(meta)


def write_shard(
    path: str | os.PathLike,
    *,
    meta: pd.DataFrame,
    inputs: Mapping[str, Any],
    targets: Mapping[str, Any] | None = None,
    attrs: Mapping[str, Any] | None = None,
    input_attrs: Mapping[str, Mapping[str, Any]] | None = None,
    compression: str | None = None,
) -> Path:
    """Write one shard (layout version 2) atomically: temporary file, then rename onto ``path``.

    Parameters
    ----------
    path
        Target file, e.g. ``results/shards/SHARP_ONLY/run0/train.h5``.
    meta
        DataFrame with (at least) ``sample_id, region_id, instrument, t_end``, one row per sample
        in the order of the arrays. ``t_end`` may be strings or timestamps (written as ISO UTC).
    inputs
        Model inputs by name, each with the sample axis first, stored as float32: ``image``
        [N,C,H,W] and/or ``sequence`` [N,T,K] (already standardised), or further names. At least
        one is needed.
    targets
        Targets by name: :class:`BinaryTarget`, :class:`ClassTarget`, :class:`BoxTarget`, or an
        array of 0/1 (a binary target). The binary flare label is called ``label``.
    attrs
        File attributes, e.g. ``keywords`` (list of K names), ``normalisation`` (dict, stored as
        JSON). ``layout_version``, ``n_samples``, ``inputs`` and ``targets`` are always set here;
        with a sequence, a missing ``keywords`` becomes ``["k0", ...]``; a missing
        ``normalisation`` becomes ``{}``.
    input_attrs
        Attributes of single inputs, e.g. ``{"image": {"channels": ["magnetogram"]}}``.
    compression
        ``None``/``"none"`` (default: fastest random reads, see ``benchmarks/bench_loader.py``),
        ``"lzf"`` or ``"gzip"`` for image-like (4-d) inputs. Others are never compressed.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ValueError
        On no input, bad names or shapes, differing sample counts, invalid target values, missing
        meta columns or an unknown compression. Nothing is written then; if writing fails midway
        no file appears at ``path``.
    """
    if compression not in _COMPRESSIONS:
        raise ValueError(f"compression must be one of {_COMPRESSIONS}, got {compression!r}")
    if compression == "none":
        compression = None
    if not inputs:
        raise ValueError(f"shard {path}: needs at least one input (e.g. 'image' or 'sequence')")
    arrays = _prepare_inputs(inputs)
    typed: dict[str, Target] = {}
    for name, value in (targets or {}).items():
        _check_name(name, "target")
        if name in arrays or name in META_COLUMNS:
            raise ValueError(f"target name {name!r} is already an input or a meta column")
        typed[name] = as_target(name, value)
    missing = [c for c in META_COLUMNS if c not in meta.columns]
    if missing:
        raise ValueError(f"meta lacks column(s) {missing}; it needs {list(META_COLUMNS)}")
    n = _check_counts(arrays, typed, meta)
    extra = dict(input_attrs or {})
    unknown = sorted(set(extra) - set(arrays))
    if unknown:
        raise ValueError(f"input_attrs names input(s) {unknown}; the inputs are {list(arrays)}")

    file_attrs: dict[str, Any] = dict(attrs or {})
    if "sequence" in arrays:
        k = arrays["sequence"].shape[2]
        file_attrs.setdefault("keywords", [f"k{i}" for i in range(k)])
        if len(file_attrs["keywords"]) != k:
            raise ValueError(
                f"attrs['keywords'] names {len(file_attrs['keywords'])} keywords, "
                f"sequences have K={k}"
            )
    file_attrs.setdefault("normalisation", {})
    file_attrs["layout_version"] = LAYOUT_VERSION
    file_attrs["n_samples"] = n
    file_attrs["inputs"] = list(arrays)
    file_attrs["targets"] = list(typed)

    str_dt = h5py.string_dtype("utf-8")
    path = Path(path)
    # uncompressed size as the bound: h5py crashes (no error) when the disk fills mid-write
    need = sum(a.nbytes for a in arrays.values()) + int(meta.memory_usage(deep=True).sum())
    require_free_space(path.parent, need, f"shard {path}")
    with atomic_path(path, suffix=".h5.part") as tmp:
        with h5py.File(tmp, "w") as f:
            group = f.create_group("inputs")
            for name, arr in arrays.items():
                image_like = arr.ndim == IMAGE_LIKE_NDIM
                dset = group.create_dataset(
                    name,
                    data=arr,
                    chunks=(1, *arr.shape[1:]) if image_like and n else None,
                    compression=compression if image_like else None,
                )
                if name in INPUT_AXES:
                    dset.attrs["axes"] = INPUT_AXES[name]
                for key, value in extra.get(name, {}).items():
                    dset.attrs[key] = _encode_attr(value)
            group = f.create_group("targets")
            for name, target in typed.items():
                if isinstance(target, BoxTarget):
                    sub = group.create_group(name)
                    sub.create_dataset("offsets", data=target.offsets)
                    sub.create_dataset("boxes", data=target.boxes)
                    sub.create_dataset("labels", data=target.labels)
                    sub.attrs["box_format"] = target.box_format
                    sub.attrs["class_names"] = _encode_attr(list(target.names))
                else:
                    sub = group.create_dataset(name, data=target.values)
                    if isinstance(target, ClassTarget):
                        sub.attrs["class_names"] = _encode_attr(list(target.names))
                sub.attrs["kind"] = target.kind
            group = f.create_group("meta")
            for col in META_COLUMNS:
                values = meta[col]
                if col == "t_end" and not pd.api.types.is_string_dtype(values):
                    values = pd.to_datetime(values, utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
                group.create_dataset(
                    col, data=np.asarray(values.astype(str), dtype=object), dtype=str_dt
                )
            for key, value in file_attrs.items():
                f.attrs[key] = _encode_attr(value)
    record_integrity(path, checksum=False)  # the size: ShardReader refuses a truncated shard
    return path


def _open_h5(path: Path) -> h5py.File:
    """Open a shard read-only; a file h5py cannot read is an error naming it, with the fix."""
    try:
        verify_integrity(path)
        return h5py.File(path, "r")
    except (OSError, IntegrityError) as exc:
        raise ShardLayoutError(
            f"shard {path} cannot be read ({str(exc).splitlines()[0]}); {_rerun_hint(path)}"
        ) from None


# -- reading -------------------------------------------------------------------------------------
class ShardReader:
    """Random access to one shard (layout 2, or 1 mapped onto 2), safe for DataLoader workers.

    The file is checked (layout version, required groups, consistent sample counts) when the
    reader is made and then closed; it is reopened lazily on the first read in each process.
    Binary and class targets are cached in memory; box targets on first use. Pickling drops the
    open handle and the caches that are filled on use.

    Parameters
    ----------
    path
        Shard file written by :func:`write_shard`.
    cache_sequences
        Hold the inputs that are not image-like (``sequence`` and other non-4-d inputs) in memory
        (read once per process on first use: a whole-array read costs less than a few dozen
        single-sample reads). ``None`` (default): when each takes at most
        :attr:`SEQUENCE_CACHE_BYTES`.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ShardLayoutError
        When the layout version is not in :data:`READABLE_VERSIONS`, a required dataset is
        missing, or shapes disagree; the message names the file and the rule to rerun.

    Notes
    -----
    Reads take ``inputs`` and ``targets`` (names; ``None``: all the shard has) and return dicts
    keyed by those names: ``image``, ``sequence``, ``label``, ... Asking for a name the shard lacks
    raises :class:`ShardContentError` naming the file and what it holds.
    """

    #: Largest non-image input cached in memory when ``cache_sequences`` is None.
    SEQUENCE_CACHE_BYTES: int = 256 * 2**20

    def __init__(self, path: str | os.PathLike, cache_sequences: bool | None = None) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(
                f"shard {self.path} does not exist; run the shard (or features) rule first"
            )
        with _open_h5(self.path) as f:
            version = self._version(f)
            self.layout_version = version
            if version == 1:
                self._input_paths = {k: v for k, v in _V1_INPUTS.items() if v in f}
                self._target_paths = dict(_V1_TARGETS)
                self._meta_paths = {c: c for c in META_COLUMNS}
                self._kinds = {"label": BinaryTarget.kind}
            else:
                self._input_paths = {k: f"inputs/{k}" for k in f.get("inputs", {})}
                self._target_paths = {k: f"targets/{k}" for k in f.get("targets", {})}
                self._meta_paths = {c: f"meta/{c}" for c in META_COLUMNS}
                self._kinds = {}
            self._validate(f)
            self._attrs = {k: _decode_attr(v) for k, v in f.attrs.items()}
            if version == 2:  # the writer's order (HDF5 lists group members alphabetically)
                self._input_paths = {k: self._input_paths[k] for k in self._attrs["inputs"]}
                self._target_paths = {k: self._target_paths[k] for k in self._attrs["targets"]}
            self._shapes = {k: tuple(f[p].shape[1:]) for k, p in self._input_paths.items()}
            self._input_attrs = {
                k: {a: _decode_attr(v) for a, v in f[p].attrs.items()}
                for k, p in self._input_paths.items()
            }
            self._direct = {}
            for k, p in self._input_paths.items():
                dset = f[p]
                self._direct[k] = (
                    dset.ndim == IMAGE_LIKE_NDIM
                    and dset.chunks == (1, *self._shapes[k])
                    and dset.compression is None
                    and not dset.scaleoffset
                    and dset.dtype == np.dtype("<f4")
                )
            self._class_names: dict[str, tuple[str, ...]] = {}
            self._vectors: dict[str, np.ndarray] = {}
            for name, p in self._target_paths.items():
                if self._kinds[name] == BoxTarget.kind:
                    self._class_names[name] = tuple(_names_of(f[p].attrs["class_names"]))
                    continue
                self._vectors[name] = f[p][...].astype(np.int64)
                if self._kinds[name] == ClassTarget.kind:
                    self._class_names[name] = tuple(_names_of(f[p].attrs["class_names"]))
        if version == 1:
            self._attrs["inputs"] = list(self._input_paths)
            self._attrs["targets"] = list(self._target_paths)
            self._attrs.setdefault("normalisation", {})
        self._cache_small = cache_sequences
        self._cached = {name: self._decide_cache(name) for name in self._shapes}
        self._cache: dict[str, np.ndarray] = {}
        self._boxes: dict[str, BoxTarget] = {}
        self._file: h5py.File | None = None
        self._dsets: dict[str, h5py.Dataset] = {}
        self._pid: int | None = None

    @property
    def cache_sequences(self) -> bool:
        """Whether the sequence input is held in memory once read (False without one)."""
        return "sequence" in self._shapes and self._cached_input("sequence")

    def _cached_input(self, name: str) -> bool:
        return self._cached[name]

    def _decide_cache(self, name: str) -> bool:
        if len(self._shapes[name]) + 1 == IMAGE_LIKE_NDIM:
            return False
        if self._cache_small is not None:
            return bool(self._cache_small)
        nbytes = 4 * self._n * int(np.prod(self._shapes[name]))
        return nbytes <= self.SEQUENCE_CACHE_BYTES

    # -- validation ----------------------------------------------------------------------------
    def _version(self, f: h5py.File) -> int:
        stored = _decode_attr(f.attrs.get("layout_version"))
        try:
            version = int(stored)
        except (TypeError, ValueError):
            version = None
        if version not in READABLE_VERSIONS:
            raise ShardLayoutError(
                f"shard {self.path} has layout_version {stored!r}; this "
                f"flarepipe reads layouts {list(READABLE_VERSIONS)} (writes {LAYOUT_VERSION}): "
                f"{_rerun_hint(self.path)}"
            )
        return version

    def _fail(self, what: str) -> ShardLayoutError:
        return ShardLayoutError(
            f"shard {self.path} (layout {self.layout_version}) {what}; {_rerun_hint(self.path)}"
        )

    def _validate(self, f: h5py.File) -> None:
        if self.layout_version == 1:
            needed = [*_V1_INPUTS.values(), *_V1_TARGETS.values(), *META_COLUMNS]
            missing = [d for d in needed if d not in f]
            if missing:
                raise self._fail(f"lacks dataset(s) {missing}; a layout-1 shard has {needed}")
        else:
            missing = [g for g in ("inputs", "targets", "meta") if g not in f]
            missing += [p for p in self._meta_paths.values() if "meta" in f and p not in f]
            if missing:
                raise self._fail(f"lacks {missing}")
            if not self._input_paths:
                raise self._fail("holds no input")
            for key, found in (("inputs", self._input_paths), ("targets", self._target_paths)):
                listed = _names_of(f.attrs.get(key, []))
                if sorted(listed) != sorted(found):
                    raise self._fail(f"attribute {key}={listed} disagrees with its {key}/ group")
            for name, p in self._target_paths.items():
                kind = _decode_attr(f[p].attrs.get("kind"))
                if kind not in TARGET_KINDS:
                    raise self._fail(
                        f"target {name!r} has kind {kind!r}, not one of {sorted(TARGET_KINDS)}"
                    )
                self._kinds[name] = kind
                if kind == BoxTarget.kind:
                    parts = [d for d in ("offsets", "boxes", "labels") if d not in f[p]]
                    if parts or "class_names" not in f[p].attrs:
                        raise self._fail(f"box target {name!r} lacks {parts or 'class_names'}")
                elif kind == ClassTarget.kind and "class_names" not in f[p].attrs:
                    raise self._fail(f"class target {name!r} lacks the class_names attribute")
        n = f[self._meta_paths["sample_id"]].shape[0]
        self._n = int(n)
        shapes = {p: f[p].shape for p in (*self._input_paths.values(), *self._meta_paths.values())}
        for name, p in self._target_paths.items():
            if self._kinds[name] == BoxTarget.kind:
                shapes[f"{p}/offsets"] = (f[f"{p}/offsets"].shape[0] - 1,)
            else:
                shapes[p] = f[p].shape
        bad = {p: s for p, s in shapes.items() if not s or s[0] != n}
        if bad:
            raise self._fail(f"has datasets whose sample count differs from N={n}: {bad}")
        for name, p in self._input_paths.items():
            axes = INPUT_AXES.get(name)
            if axes is not None and f[p].ndim != len(axes):
                raise self._fail(f"input {name!r} has shape {f[p].shape}, expected [{axes}]")

    # -- lifecycle -----------------------------------------------------------------------------
    def _h5(self) -> h5py.File:
        pid = os.getpid()
        if self._file is None or self._pid != pid:
            # A handle inherited through fork is not usable: open afresh in this process.
            self._file = _open_h5(self.path)
            self._dsets = {}
            self._pid = pid
        return self._file

    def _dset(self, path: str) -> h5py.Dataset:
        # Looking a dataset up by name costs ~100 us in h5py; keep the handles.
        f = self._h5()
        dset = self._dsets.get(path)
        if dset is None:
            dset = self._dsets[path] = f[path]
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
        state["_cache"] = {}
        state["_boxes"] = {}
        state["_dsets"] = {}
        state["_pid"] = None
        return state

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

    # -- what the shard holds ------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    @property
    def attrs(self) -> dict[str, Any]:
        """File attributes (``normalisation`` decoded from JSON, name lists as lists)."""
        return dict(self._attrs)

    @property
    def inputs(self) -> tuple[str, ...]:
        """Names of the inputs this shard holds, e.g. ``("image", "sequence")``."""
        return tuple(self._input_paths)

    @property
    def targets(self) -> dict[str, str]:
        """Targets this shard holds: name -> kind (``binary``, ``class`` or ``boxes``)."""
        return {k: self._kinds[k] for k in self._target_paths}

    def _describe(self) -> str:
        inputs = ", ".join(self.inputs) or "none"
        targets = ", ".join(f"{k} ({v})" for k, v in self.targets.items()) or "none"
        return f"it has inputs: {inputs}; targets: {targets}"

    def require(
        self,
        inputs: Iterable[str] = (),
        targets: Iterable[str] = (),
        needed_by: str | None = None,
    ) -> None:
        """Raise :class:`ShardContentError` unless the shard holds all ``inputs`` and ``targets``.

        Parameters
        ----------
        inputs, targets
            Names asked for.
        needed_by
            Who asks (e.g. ``"model 'cnn'"``), for the message.
        """
        lacking = [f"input {n!r}" for n in inputs if n not in self._input_paths]
        lacking += [f"target {n!r}" for n in targets if n not in self._target_paths]
        if not lacking:
            return
        who = f" that {needed_by} needs" if needed_by else ""
        reason = self._attrs.get("no_image_reason") if "input 'image'" in lacking else None
        why = f" ({reason})" if reason else ""
        raise ShardContentError(
            f"shard {self.path} has no {' and no '.join(lacking)}{who}{why}; {self._describe()}"
        )

    def _select(self, inputs: Iterable[str] | None, targets: Iterable[str] | None):
        ins = self.inputs if inputs is None else tuple(inputs)
        tgs = tuple(self._target_paths) if targets is None else tuple(targets)
        if not all(n in self._input_paths for n in ins) or not all(
            n in self._target_paths for n in tgs
        ):
            self.require(ins, tgs)
        return ins, tgs

    def input_shape(self, name: str) -> tuple[int, ...]:
        """Shape of one sample of input ``name`` (e.g. ``(C, H, W)`` for ``image``)."""
        self.require((name,))
        return self._shapes[name]

    def input_attrs(self, name: str) -> dict[str, Any]:
        """Attributes of input ``name`` (e.g. ``axes``, ``channels``)."""
        self.require((name,))
        return dict(self._input_attrs[name])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """Shape of one image, ``(C, H, W)``."""
        return self.input_shape("image")  # type: ignore[return-value]

    @property
    def sequence_shape(self) -> tuple[int, int]:
        """Shape of one sequence, ``(T, K)``."""
        return self.input_shape("sequence")  # type: ignore[return-value]

    @property
    def labels(self) -> np.ndarray:
        """The binary ``label`` target, int64 [N] (cached; no file access)."""
        self.require(targets=("label",))
        if self._kinds["label"] != BinaryTarget.kind:
            raise ShardContentError(
                f"shard {self.path}: target 'label' is of kind {self._kinds['label']}, not binary"
            )
        return self._vectors["label"]

    def class_names(self, name: str) -> tuple[str, ...]:
        """Class names of the class or box target ``name``."""
        self.require(targets=(name,))
        if name not in self._class_names:
            raise ShardContentError(f"shard {self.path}: target {name!r} has no class names")
        return self._class_names[name]

    # -- reading -------------------------------------------------------------------------------
    def _check_indices(self, indices: Any) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        idx = np.where(idx < 0, idx + n, idx)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"indices out of range for shard {self.path} with {n} samples")
        return idx

    def _whole_input(self, name: str) -> np.ndarray:
        if self._cached_input(name):
            arr = self._cache.get(name)
            if arr is None:
                arr = self._cache[name] = self._dset(self._input_paths[name])[...]
            return arr
        return self._dset(self._input_paths[name])[...]

    def _read_input(self, name: str, idx: np.ndarray) -> np.ndarray:
        shape = self._shapes[name]
        if self._cached_input(name):
            return self._whole_input(name)[idx]
        dset = self._dset(self._input_paths[name])
        out = np.empty((len(idx), *shape), dtype=np.float32)
        if self._direct[name]:
            origin = (0,) * len(shape)
            for j, i in enumerate(idx.tolist()):
                _, raw = dset.id.read_direct_chunk((i, *origin))
                out[j] = np.frombuffer(raw, dtype="<f4").reshape(shape)
        elif len(shape) + 1 == IMAGE_LIKE_NDIM:
            for j, i in enumerate(idx.tolist()):
                out[j] = dset[i]
        elif len(idx):
            order = np.argsort(idx)
            uniq, inverse = np.unique(idx[order], return_inverse=True)
            block = dset[uniq]  # h5py needs increasing indices
            out[order] = block[inverse]
        return out

    def _box_target(self, name: str) -> BoxTarget:
        target = self._boxes.get(name)
        if target is None:
            g = self._h5()[self._target_paths[name]]
            target = self._boxes[name] = BoxTarget(
                g["offsets"][...], g["boxes"][...], g["labels"][...], self._class_names[name]
            )
        return target

    def read_target(self, name: str, indices: Any = None) -> np.ndarray | BoxTarget:
        """Target ``name`` of the samples ``indices`` (all when ``None``).

        Returns
        -------
        numpy.ndarray or BoxTarget
            int64 [B] for binary and class targets; a :class:`BoxTarget` of the ``B`` samples
            (offsets local to them) for box targets.
        """
        self.require(targets=(name,))
        idx = np.arange(len(self)) if indices is None else self._check_indices(indices)
        return self._target(name, idx)

    def _target(self, name: str, idx: np.ndarray) -> np.ndarray | BoxTarget:
        vector = self._vectors.get(name)
        if vector is None:
            return self._box_target(name).take(idx)
        return vector[idx]

    def read_batch(
        self,
        indices: Any,
        inputs: Iterable[str] | None = None,
        targets: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Read the samples ``indices`` (any order, repeats allowed) into batched arrays.

        Parameters
        ----------
        indices
            Sample indices (sequence or 1-d array of ints; negative ones count from the end).
        inputs
            Input names to read (``None``: all the shard has).
        targets
            Target names to read (``None``: all the shard has).

        Returns
        -------
        dict
            One entry per name asked for: inputs float32 ``[B, ...]`` (``image`` [B,C,H,W],
            ``sequence`` [B,T,K]); binary/class targets int64 [B]; box targets a
            :class:`BoxTarget` of the batch.
        """
        ins, tgs = self._select(inputs, targets)
        idx = self._check_indices(indices)
        out: dict[str, Any] = {name: self._read_input(name, idx) for name in ins}
        for name in tgs:
            out[name] = self._target(name, idx)
        return out

    def read(
        self,
        i: int,
        inputs: Iterable[str] | None = None,
        targets: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Read sample ``i``.

        Parameters
        ----------
        i
            Index in ``[0, len)``; negative indices count from the end.
        inputs, targets
            Names to read (``None``: all the shard has).

        Returns
        -------
        dict
            Inputs as float32 arrays of one sample (``image`` [C,H,W], ``sequence`` [T,K]);
            binary/class targets as int; box targets as ``{"boxes": [m,4], "labels": [m]}``.
        """
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for shard {self.path} with {n} samples")
        batch = self.read_batch([i], inputs, targets)
        out: dict[str, Any] = {}
        for name, value in batch.items():
            if isinstance(value, BoxTarget):
                boxes, labels = value.sample(0)
                out[name] = {"boxes": boxes, "labels": labels}
            elif name in self._target_paths and name not in self._input_paths:
                out[name] = int(value[0])
            else:
                out[name] = value[0]
        return out

    def read_all(
        self, inputs: Iterable[str] | None = None, targets: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """Read whole arrays: each input ``[N, ...]`` and each target (see :meth:`read_batch`).

        Parameters
        ----------
        inputs, targets
            Names to read (``None``: all the shard has).
        """
        ins, tgs = self._select(inputs, targets)
        out: dict[str, Any] = {}
        for name in ins:
            arr = self._whole_input(name)
            out[name] = arr.copy() if name in self._cache else arr
        for name in tgs:
            out[name] = self.read_target(name)
            if isinstance(out[name], np.ndarray):
                out[name] = out[name].copy()
        return out

    def meta(self) -> pd.DataFrame:
        """Per-sample metadata: ``sample_id, region_id, instrument, t_end``, then one column per
        binary or class target (``label``, ...).
        """
        f = self._h5()
        df = pd.DataFrame(
            {
                c: f[p].asstr()[...] if len(self) else np.array([], dtype=object)
                for c, p in self._meta_paths.items()
            }
        )
        for name, values in self._vectors.items():
            df[name] = values
        return df

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={v}" for k, v in self._shapes.items())
        targets = ", ".join(f"{k}:{v}" for k, v in self.targets.items())
        return f"ShardReader({str(self.path)!r}, n={len(self)}, {shapes}, targets=[{targets}])"
