"""The train, baseline and oracle rules (``rules/train.smk``): one job per (dataset, model, run).

Each function takes its rule's declared inputs and outputs; the workflow script calls one of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["run_train", "run_baseline", "run_oracle"]


def _out_dir(**outputs) -> Path:
    """The job folder of outputs the trainers name themselves (``predictions.csv``, ...)."""
    folders = {Path(p).parent for p in outputs.values()}
    if len(folders) != 1:
        raise ValueError(f"outputs must share one folder, got {sorted(map(str, folders))}")
    folder = folders.pop()
    for name, p in outputs.items():
        expected = {"predictions": "predictions.csv", "checkpoint": "model.ckpt"}[name]
        if Path(p).name != expected:
            raise ValueError(f"output {name} must be named {expected}, got {p}")
    return folder


def _sequence_width(model: str, network: Mapping | None, train) -> dict | None:
    """``network`` with ``n_features`` set to the shards' keyword count where the network takes
    one (the LSTM) and the config leaves it out: ``features.keywords`` with extra table keywords
    then needs no second setting (a value given is checked against them before any job).
    """
    from flarepipe.data.shards import ShardReader
    from flarepipe.models.registry import NETWORKS

    spec = NETWORKS[model]
    takes = "n_features" in (spec.params_schema.get("properties") or {})
    if not takes or "n_features" in (network or {}) or spec.input != "sequence":
        return None if network is None else dict(network)
    keywords = list(ShardReader(train).attrs.get("keywords", []))
    return {**dict(network or {}), **({"n_features": len(keywords)} if keywords else {})}


def _image_side(arch: str, network: Mapping | None, train) -> dict | None:
    """``network`` with ``image_size`` set to the side of the shards' images, for an image
    network the config gives none (the model then reads the ``features.image_size`` shards):
    the checkpoint records the side it was trained at (the attribution stage checks it); a
    constructor that takes no ``image_size`` is not given it
    (:func:`flarepipe.models.registry.build_model`). A given side must be that of the shards.
    """
    from flarepipe.data.shards import ShardReader
    from flarepipe.models.registry import NETWORKS

    if NETWORKS[arch].input != "image":
        return None if network is None else dict(network)
    reader = ShardReader(train)
    if "image" not in reader.inputs:
        return None if network is None else dict(network)  # the data module names the reason
    side = int(reader.image_shape[-1])
    given = (network or {}).get("image_size")
    if given is not None and int(given) != side:
        raise ValueError(
            f"network.image_size {given} but the shard {reader.path} holds {side}-px images: "
            "the shard rule of that side (rules/shard.smk) must give this model its inputs"
        )
    return {**dict(network or {}), "image_size": side}


def run_train(
    train,
    val,
    test,
    model: str,
    cfg: Mapping,
    seed: int,
    out_predictions,
    out_checkpoint,
    threads: int | None = None,
    plugins: list | tuple = (),
) -> dict:
    """Rule ``train``: a network on one dataset run; checkpoint, CSV log, predictions, summary.

    ``train``/``val``/``test`` are the run's shards (those of the model's image side), ``cfg``
    the model's ``models.<model>`` section (a variant's names its registered network in
    ``arch``: that network is trained, with the variant's settings), ``seed`` the job seed
    (:func:`flarepipe.core.seeds.job_seed`, rule ``train``).
    ``threads`` is the job's share of the cores: torch computes with ``train.cpu_threads`` threads
    whatever it is (so results do not depend on it), and a warning says when that is more than
    the job was given. ``plugins`` (the plug-in that registered ``model``, if any) are imported
    first.
    """
    import warnings

    from flarepipe.config import train_settings
    from flarepipe.core.registry import load_plugins
    from flarepipe.io.atomic import record_table, write_json
    from flarepipe.training.fit import train_one

    load_plugins(plugins)
    out_dir = _out_dir(predictions=out_predictions, checkpoint=out_checkpoint)
    shards = {"train": train, "val": val, "test": test}
    arch = str(cfg.get("arch") or model)  # a variant's registered network
    params = train_settings(arch, cfg.get("train"))  # filled already in a workflow job
    if threads and params.cpu_threads > int(threads):
        warnings.warn(
            f"models.{model}.train.cpu_threads is {params.cpu_threads} but the job has {threads} "
            "core(s): the threads share them (raise resources.train.cpus)",
            stacklevel=2,
        )
    network = _sequence_width(arch, cfg.get("network"), train)
    network = _image_side(arch, network, train)
    summary = train_one(shards, arch, network, params, out_dir, seed=int(seed))
    record_table(out_predictions)  # read_predictions verifies it
    write_json(summary, out_dir / "summary.json")
    return summary


def run_baseline(
    train,
    val,
    test,
    model: str,
    cfg: Mapping,
    seed: int,
    out_predictions,
    plugins: list | tuple = (),
) -> dict:
    """Rule ``baseline``: a registered baseline (``logreg``: keyword-only logistic regression).

    ``cfg`` is the ``models.<model>`` section, ``seed`` the job seed (rule ``logreg``).
    """
    from flarepipe.core.registry import load_plugins
    from flarepipe.io.atomic import record_table, write_json
    from flarepipe.training.registry import fit_baseline

    load_plugins(plugins)
    out_dir = _out_dir(predictions=out_predictions)
    shards = {"train": train, "val": val, "test": test}
    summary = fit_baseline(model, shards, out_dir, cfg, seed=int(seed))
    record_table(out_predictions)
    write_json(summary, out_dir / "summary.json")
    return summary


def run_oracle(
    samples, split, rates, manifest, out_predictions, out_ceilings: list | tuple = ()
) -> None:
    """Rule ``oracle``: predictions from the planted rates (``truth/rates.csv``, synthetic only),
    and those of the view ceilings (:mod:`flarepipe.evaluation.ceilings`; coefficients from the
    archive's ``manifest``): ``out_ceilings`` are their ``.../<ceiling>/run<k>/predictions.csv``,
    one per name of :data:`~flarepipe.evaluation.ceilings.VIEWS` (the folder names them).
    """
    import json

    from flarepipe.evaluation.ceilings import ceiling_coefficients, ceiling_split_predictions
    from flarepipe.evaluation.oracle import oracle_split_predictions, read_rates
    from flarepipe.io.atomic import record_table, write_csv
    from flarepipe.samples.labels import read_samples
    from flarepipe.samples.split import read_split

    table = read_split(split)
    all_samples, planted = read_samples(samples), read_rates(rates)
    preds = oracle_split_predictions(all_samples, table, planted)
    write_csv(preds, out_predictions)
    record_table(out_predictions)
    if not out_ceilings:
        return
    coefficients = ceiling_coefficients(json.loads(Path(manifest).read_text()))
    ceilings = ceiling_split_predictions(all_samples, table, planted, coefficients)
    for path in out_ceilings:
        name = Path(path).parent.parent.name
        if name not in ceilings:
            raise ValueError(f"{path}: {name!r} is no view ceiling; known: {sorted(ceilings)}")
        write_csv(ceilings[name], path)
        record_table(path)
