"""The features and shard rules (``rules/shard.smk``): model inputs, standardised HDF5 shards."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["run_features", "run_shard"]


def run_features(records, samples, cfg: Mapping, out, threads: int = 1) -> None:
    """Rule ``features``: raw model inputs of every labelled sample (``features`` section).

    ``records`` is the archive's ``records.csv`` (magnetograms are its ``path`` column, relative to
    its folder), ``samples`` the label stage's ``samples.csv``; ``threads`` processes read FITS.
    """
    from flarepipe.archive.layout import read_records
    from flarepipe.config import section
    from flarepipe.data.features import extract_features
    from flarepipe.samples.labels import read_samples

    s = section("features", cfg)
    extract_features(
        Path(records).parent,
        read_records(records),
        read_samples(samples),
        out,
        image_size=s["image_size"],
        hmi_subsample=s["hmi_subsample"],
        threads=threads,
        fill=s["fill"],
        keywords=list(s["keywords"]),
        resize=s["resize"],
    )


def run_shard(
    features,
    split,
    dataset: str,
    cfg: Mapping,
    out_train,
    out_val,
    out_test,
    plugins: list | tuple = (),
) -> None:
    """Rule ``shard``: standardised train/val/test shards of one dataset run (``shard`` section).

    ``plugins`` (the plug-in that registered ``dataset``, if any) are imported first.
    """
    from flarepipe.config import section
    from flarepipe.core.registry import load_plugins
    from flarepipe.data.features import build_shards
    from flarepipe.samples.split import read_split

    load_plugins(plugins)
    s = section("shard", cfg)
    outs = {"train": Path(out_train), "val": Path(out_val), "test": Path(out_test)}
    folder = outs["train"].parent
    expected = {name: folder / f"{name}.h5" for name in outs}
    if outs != expected:
        raise ValueError(
            f"shard outputs must be <folder>/{{train,val,test}}.h5, got "
            f"{[str(p) for p in outs.values()]}"
        )
    table = read_split(split)
    build_shards(
        features, table, dataset, folder, image_norm=s["image_norm"], log_keywords=s["log_keywords"]
    )
