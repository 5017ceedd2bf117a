"""The one adapter between attribution and the parts of flarepipe that are still moving.

Everything attribution needs from training, shards, features and the synthetic archive goes through
this module, so a change of the model registry, the shard layout or the generator is re-pointed here
and nowhere else:

* :func:`load_network` -- a trained checkpoint as its plain ``nn.Module`` (eval mode, on CPU) with
  the registry name, input kind and number of outputs; :func:`random_network` -- the same
  architecture freshly initialised (the Adebayo et al. 2018 sanity check);
* :class:`Preprocessing` -- the preprocessing the network saw: HMI subsampling, bilinear resize,
  the image z-score and the per-instrument keyword z-score of the run's shards, so probes and raw
  feature-store samples are standardised exactly like the training data;
* :func:`read_shard_samples`, :func:`read_feature_samples` -- samples by id from a shard or
  the unstandardised feature store;
* :func:`cause_mask` -- the planted-cause mask of a synthetic record (the generator's own,
  :func:`flarepipe.archive.sources.synthetic.cause_mask`);
* :func:`bipole_field`, :func:`b0_for_flux` -- the bipolar-region field the synthetic archive draws
  (:mod:`flarepipe.core.bipole`): probes use the same function.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from flarepipe.archive.sources.synthetic import cause_mask
from flarepipe.attribution.errors import AttributionInputError
from flarepipe.core.bipole import b0_for_flux, bipole_field

__all__ = [
    "CEA_PIXEL_DEG",
    "AttributionInputError",
    "Network",
    "Preprocessing",
    "b0_for_flux",
    "bipole_field",
    "cause_mask",
    "hmi_subsample_of",
    "resize_of",
    "load_network",
    "random_network",
    "read_feature_samples",
    "read_magnetogram",
    "read_shard_samples",
    "sample_meta",
]

#: CEA pixel size of each instrument's patches, degrees (SHARP 0.03°, SMARP 0.12°)
CEA_PIXEL_DEG: dict[str, float] = {"HMI": 0.03, "MDI": 0.12}


@dataclasses.dataclass
class Network:
    """A network ready for attribution.

    Attributes
    ----------
    module
        The plain ``nn.Module`` (eval mode).
    model
        Registry name (``"cnn"``, ``"lstm"``, ...).
    input_key
        ``"image"`` [B,1,H,W] or ``"sequence"`` [B,T,K].
    n_outputs
        2 (class scores) or 1 (one logit).
    model_params
        Constructor parameters (from the checkpoint).
    path
        The checkpoint file (None for a network built in memory).
    """

    module: nn.Module
    model: str
    input_key: str
    n_outputs: int
    model_params: dict
    path: Path | None = None


def load_network(checkpoint: str | os.PathLike, expect_model: str | None = None) -> Network:
    """Load a ``model.ckpt`` written by :func:`flarepipe.training.fit.train_one`.

    Parameters
    ----------
    checkpoint
        The checkpoint file.
    expect_model
        Registry name the checkpoint must hold (the job's ``model`` wildcard); None: any.

    Raises
    ------
    AttributionInputError
        When the file is missing, is not a flarepipe checkpoint, or holds another model (named).
    """
    from flarepipe.models import build_model, network_input, network_names

    path = Path(checkpoint)
    if not path.exists():
        raise AttributionInputError(f"checkpoint {path} does not exist; run the train stage first")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file
        raise AttributionInputError(f"checkpoint {path} cannot be read ({exc})") from exc
    hp = raw.get("hyper_parameters") if isinstance(raw, Mapping) else None
    if not isinstance(hp, Mapping) or "model" not in hp or "state_dict" not in raw:
        raise AttributionInputError(
            f"checkpoint {path} is not a flarepipe training checkpoint (no hyper_parameters.model "
            "or state_dict); it must come from the train rule"
        )
    if expect_model is not None and hp["model"] != expect_model:
        raise AttributionInputError(
            f"checkpoint {path} holds model {hp['model']!r}, this job explains {expect_model!r}"
        )
    if hp["model"] not in network_names():
        raise AttributionInputError(
            f"checkpoint {path} holds model {hp['model']!r}, not in the network registry "
            f"{sorted(network_names())}"
        )
    # The task (tasks.classification.FlareTask) keeps the network as ``network``; rebuilding the
    # plain module from the registry avoids importing Lightning in attribution jobs.
    prefix = "network."
    weights = {k[len(prefix) :]: v for k, v in raw["state_dict"].items() if k.startswith(prefix)}
    try:
        net = build_model(str(hp["model"]), **dict(hp.get("model_params") or {}))
        net.load_state_dict(weights, strict=True)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise AttributionInputError(
            f"checkpoint {path} does not load into model {hp['model']!r} ({exc})"
        ) from exc
    net = net.float().eval()
    return Network(
        module=net,
        model=str(hp["model"]),
        input_key=network_input(str(hp["model"])),
        n_outputs=int(net.n_outputs),
        model_params=dict(hp.get("model_params") or {}),
        path=path,
    )


def random_network(network: Network, seed: int = 0) -> Network:
    """The same architecture, freshly initialised from ``seed`` (weights ignored by nothing)."""
    from flarepipe.models import build_model

    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(int(seed))
        module = build_model(network.model, **network.model_params).float().eval()
    finally:
        torch.random.set_rng_state(state)
    return dataclasses.replace(network, module=module, path=None)


@dataclasses.dataclass
class Preprocessing:
    """The preprocessing between a native magnetogram (or raw keywords) and the network input.

    Mirrors :func:`flarepipe.data.features.extract_features` (HMI subsampling, ``resize``) and
    :func:`flarepipe.data.features.build_shards` (image z-score; ``log10`` of ``log_keywords``,
    keyword z-score per instrument, NaN -> 0) with the statistics stored in the run's shard.
    """

    image_size: int
    hmi_subsample: int
    image_mean: float
    image_std: float
    instrument: str | None
    keywords: list[str]
    log_keywords: list[str]
    sequence_stats: dict[str, dict[str, list[float]]]
    resize: str = "bilinear"

    @classmethod
    def from_shard(
        cls, shard: str | os.PathLike, hmi_subsample: int, resize: str = "bilinear"
    ) -> Preprocessing:
        """Read the normalisation of a shard written by the shard stage."""
        reader = _reader(shard)
        attrs = reader.attrs
        norm = attrs.get("normalisation") or {}
        image = norm.get("image") or {}
        if "mean" not in image or "std" not in image:
            raise AttributionInputError(
                f"shard {reader.path} carries no image normalisation (attrs.normalisation.image); "
                "it was not written by the shard stage"
            )
        if "image" not in reader.inputs:
            raise AttributionInputError(
                f"shard {reader.path} carries no image input ({reader.inputs}); the attribution "
                "stage needs the images the networks saw"
            )
        _, height, width = reader.image_shape
        if height != width:
            raise AttributionInputError(
                f"shard {reader.path} holds {height}x{width} images; the feature stage writes "
                "square ones"
            )
        return cls(
            image_size=int(height),
            hmi_subsample=int(hmi_subsample),
            image_mean=float(image["mean"]),
            image_std=float(image["std"]) or 1.0,
            instrument=image.get("instrument"),
            keywords=list(attrs.get("keywords") or []),
            log_keywords=list(norm.get("log_keywords") or []),
            sequence_stats=dict(norm.get("sequences") or {}),
            resize=str(resize),
        )

    # -- images ----------------------------------------------------------------------------
    def image_from_raw(self, raw: np.ndarray) -> np.ndarray:
        """Standardise a raw (resized, unstandardised) image [..., H, W] as the shards do."""
        return ((np.asarray(raw, dtype=np.float64) - self.image_mean) / self.image_std).astype(
            np.float32
        )

    def resized(self, bmap: np.ndarray, instrument: str) -> np.ndarray:
        """A native magnetogram (G) subsampled (HMI) and resized to the network's side, in G."""
        from flarepipe.data.features import resize_image

        data = np.asarray(bmap, dtype=np.float32)
        if instrument == "HMI" and self.hmi_subsample > 1:
            data = data[:: self.hmi_subsample, :: self.hmi_subsample]
        return resize_image(data, self.image_size, self.resize)

    def image(self, bmap: np.ndarray, instrument: str) -> np.ndarray:
        """Network input [1, S, S] of a native magnetogram (G) of ``instrument``."""
        return self.image_from_raw(self.resized(bmap, instrument))[None]

    def field_of(self, image: np.ndarray) -> np.ndarray:
        """Back from a standardised image to the field in G (on the network's grid)."""
        return np.asarray(image, dtype=np.float64) * self.image_std + self.image_mean

    def zero_field(self) -> float:
        """The standardised value of B = 0 G."""
        return (0.0 - self.image_mean) / self.image_std

    # -- keyword sequences -----------------------------------------------------------------
    def sequence_from_raw(self, raw: np.ndarray, instrument: str) -> np.ndarray:
        """Standardise a raw keyword sequence [T, K] (or [N, T, K]) of ``instrument``."""
        if instrument not in self.sequence_stats:
            raise AttributionInputError(
                f"no keyword statistics for instrument {instrument!r} in the shard "
                f"(has {sorted(self.sequence_stats)})"
            )
        seq = np.array(raw, dtype=np.float64, copy=True)
        for name in self.log_keywords:
            j = self.keywords.index(name)
            seq[..., j] = np.log10(np.maximum(seq[..., j], 1e-30))
        st = self.sequence_stats[instrument]
        seq = (seq - np.asarray(st["mean"])) / np.asarray(st["std"])
        return np.nan_to_num(seq, nan=0.0).astype(np.float32)

    def sequence_from_map(self, bmap: np.ndarray, instrument: str, steps: int) -> np.ndarray:
        """A constant ``steps``-long standardised sequence of the keywords of one magnetogram."""
        from flarepipe.core.magnetic import activity_mask, compute_keywords

        cdelt = CEA_PIXEL_DEG[instrument]
        kw = compute_keywords(bmap, cdelt, activity_mask(bmap, cdelt))
        by_column = {
            "usfluxl_mx": kw["USFLUXL"],
            "meangbl_g_per_px": kw["MEANGBL"],
            "r_value": kw["R_VALUE"],
            "area_uhem": kw["AREA"],
        }
        missing = [k for k in self.keywords if k not in by_column]
        if missing:
            raise AttributionInputError(
                f"keyword(s) {missing} of the shard cannot be computed from a magnetogram"
            )
        row = np.array([by_column[k] for k in self.keywords], dtype=np.float64)
        return self.sequence_from_raw(np.repeat(row[None], steps, axis=0), instrument)


def _reader(path: str | os.PathLike):
    from flarepipe.data.shards import ShardLayoutError, ShardReader

    try:
        return ShardReader(path)
    except (ShardLayoutError, FileNotFoundError) as exc:
        raise AttributionInputError(str(exc)) from exc


def read_shard_samples(
    shard: str | os.PathLike, input_key: str, sample_ids: Sequence[str] | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Metadata and network inputs of samples of a shard, by id (all when ``sample_ids`` is None).

    Returns
    -------
    (DataFrame, ndarray)
        ``sample_id, region_id, instrument, t_end, label`` in the requested order, and the inputs
        (images [N,1,H,W] or sequences [N,T,K]).

    Raises
    ------
    AttributionInputError
        For an unreadable shard or an id it does not hold (named).
    """
    reader = _reader(shard)
    meta = reader.meta()
    if sample_ids is None:
        idx = np.arange(len(meta))
    else:
        pos = pd.Series(np.arange(len(meta)), index=meta["sample_id"])
        unknown = [s for s in sample_ids if s not in pos.index]
        if unknown:
            raise AttributionInputError(
                f"sample id(s) {unknown[:5]} not in shard {reader.path} ({len(meta)} samples)"
            )
        idx = pos[list(sample_ids)].to_numpy()
    batch = reader.read_batch(idx, inputs=(input_key,), targets=())
    return meta.iloc[idx].reset_index(drop=True), batch[input_key]


def read_feature_samples(
    features: str | os.PathLike, input_key: str, sample_ids: Sequence[str]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Metadata and *raw* (unstandardised) inputs of samples of the feature store, by id."""
    return read_shard_samples(features, input_key, sample_ids)


def sample_meta(path: str | os.PathLike) -> pd.DataFrame:
    """Per-sample metadata (``sample_id, region_id, instrument, t_end, label``) of a shard or the
    feature store.
    """
    return _reader(path).meta()


def hmi_subsample_of(features: str | os.PathLike) -> int:
    """The HMI subsampling the feature stage applied (attribute of the feature store)."""
    attrs = _reader(features).attrs
    return int(attrs.get("hmi_subsample", 1))


def resize_of(features: str | os.PathLike) -> str:
    """The resize interpolation the feature stage applied (attribute of the feature store)."""
    return str(_reader(features).attrs.get("resize", "bilinear"))


def read_magnetogram(archive_root: str | os.PathLike, record: Mapping[str, Any]) -> np.ndarray:
    """The native magnetogram (G, NaN where blank) of one archive record (a ``records.csv`` row)."""
    from flarepipe.io.fitsio import read_patch

    data, _ = read_patch(Path(archive_root) / str(record["path"]))
    return data
