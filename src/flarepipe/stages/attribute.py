"""The attribute and attribution_summary rules (rules/attribute.smk).

Each function takes its rule's declared inputs and outputs; the workflow script calls one of them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["run_attribute", "run_attribution_summary", "run_probe_datasets"]


def run_attribute(
    checkpoint: str | os.PathLike,
    predictions: str | os.PathLike,
    shard: str | os.PathLike,
    features: str | os.PathLike,
    samples: str | os.PathLike,
    records: str | os.PathLike,
    summary: str | os.PathLike,
    model: str,
    dataset: str,
    run: int,
    cfg: Mapping[str, Any],
    synthetic: bool,
    threads: int | None = None,
    flares: str | os.PathLike | None = None,
    plugins: list | tuple = (),
) -> dict[str, Any]:
    """Explain one trained network; every output lands beside ``summary`` (its ``summary.json``).

    ``flares`` (the archive's ``flares.csv``) gives the GOES flares of the region timelines.
    ``plugins`` (the plug-in that registered ``model``, if any) are imported first, as in the
    train rule.
    """
    from flarepipe.attribution.job import explain_run
    from flarepipe.core.registry import load_plugins

    load_plugins(plugins)

    return explain_run(
        checkpoint=checkpoint,
        predictions=predictions,
        shard=shard,
        features=features,
        samples=samples,
        records=records,
        out_dir=Path(summary).parent,
        model=model,
        dataset=dataset,
        run=int(run),
        cfg=cfg,
        synthetic=bool(synthetic),
        threads=threads,
        flares=flares,
    )


def run_attribution_summary(
    stats: Sequence[str | os.PathLike],
    probes: Sequence[str | os.PathLike],
    summary: str | os.PathLike,
    dataset: str,
    model: str,
    cfg: Mapping[str, Any],
) -> dict[str, Any]:
    """Tables and figures over the runs of one (dataset, model), beside ``summary``."""
    from flarepipe.attribution.summary import summarise

    return summarise(stats, probes, Path(summary).parent, dataset, model, cfg)


def run_probe_datasets(model: str, out_table, out_figures, **probes) -> None:
    """Rule ``probe_datasets``: one model's probe sweeps by training dataset (S2 Fig 11).

    ``probes`` maps each dataset to its ``attribution/<dataset>/<model>/summary/probes.csv``
    (:func:`flarepipe.attribution.summary.compare_probes`).
    """
    from flarepipe.attribution.summary import compare_probes

    compare_probes(probes, out_table, out_figures, model=model)
