"""The stack and evaluate rules (``rules/evaluate.smk``): ensembles, skill scores, tests, plots."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from flarepipe.io.atomic import write_csv, write_json

__all__ = ["run_stack", "parse_prediction_path", "run_evaluate"]


def run_stack(
    stacking: list,
    template: str,
    out: list,
    plugins: list | tuple = (),
    /,
    **predictions: str | os.PathLike,
) -> dict:
    """Rule ``stack``: ensembles of configured pairs; one predictions.csv (and summary.json) each.

    ``predictions`` (keywords: the rule's inputs) maps model name to its ``predictions.csv``;
    each entry of ``stacking`` is
    ``{"pair": [first, second], "criteria": [...], "prefix": "", "best": "tss"}``
    (:meth:`flarepipe.config.experiments.StackPlan.as_dict`); ``template`` is the ensemble folder
    with ``{ensemble}`` for its name; ``out`` the rule's outputs (checked against the ensembles).
    ``plugins`` (those that registered the criteria) are imported first.
    """
    from flarepipe.core.registry import load_plugins
    from flarepipe.evaluation.evaluate import ensembles, read_predictions

    load_plugins(plugins)
    frames = {m: read_predictions(p) for m, p in predictions.items()}
    results = {}
    for entry in stacking:
        first, second = entry["pair"]
        res = ensembles(
            frames[first],
            frames[second],
            criteria=tuple(entry["criteria"]),
            best_criterion=entry.get("best", "tss"),
            prefix=entry.get("prefix", ""),
        )
        results.update({name: (r, first, second) for name, r in res.items()})
    planned = {Path(template.format(ensemble=name)) / "predictions.csv" for name in results}
    if planned != {Path(p) for p in out}:
        raise ValueError(
            f"stack: ensembles {sorted(results)} do not match the rule's outputs "
            f"{sorted(map(str, out))}"
        )
    alphas = {}
    for name, (r, first, second) in results.items():
        folder = Path(template.format(ensemble=name))
        write_csv(r.predictions, folder / "predictions.csv")
        alphas[name] = r.alpha
        write_json(
            {"alpha": r.alpha, "criterion": r.criterion, "pair": [first, second]},
            folder / "summary.json",
        )
    return alphas


def parse_prediction_path(path: str | os.PathLike) -> tuple[str, str, int]:
    """``.../models/<dataset>/<model>/run<k>/predictions.csv`` → (dataset, model, k)."""
    p = Path(path)
    return p.parts[-4], p.parts[-3], int(p.parts[-2].removeprefix("run"))


def run_evaluate(
    predictions: list,
    out_metrics,
    out_table,
    out_plots,
    tests: list | None = None,
    published: Mapping | None = None,
) -> None:
    """Rule ``evaluate``: skill scores per run, mean ± sd table, paired tests, verification plots.

    ``predictions`` are the ``.../models/<dataset>/<model>/run<k>/predictions.csv`` files;
    ``tests`` are ``experiments.paired_tests`` entries (``{"a": [dataset, model], "b": ...}``);
    ``published`` (``{(dataset, model): (mean, sd)}``, default Sun et al. 2022's test TSS,
    :data:`flarepipe.studies.sun2022.published.PUBLISHED_TSS`) fills the table's published column.
    """
    from flarepipe.evaluation.evaluate import (
        evaluate_runs,
        paired_tests_markdown,
        read_predictions,
        write_evaluation,
    )
    from flarepipe.evaluation.plots import (
        metrics_bar,
        reliability_diagram,
        roc_plot,
        skill_profile_plot,
    )
    from flarepipe.studies.sun2022.published import PUBLISHED_TSS

    entries = [(*parse_prediction_path(p), str(p)) for p in predictions]
    tidy = evaluate_runs(entries)
    summary = write_evaluation(
        tidy,
        out_metrics,
        out_table,
        published=PUBLISHED_TSS if published is None else published,
        sections=paired_tests_markdown(tidy, tests or []),
    )
    plot_dir = Path(out_plots)
    plot_dir.mkdir(parents=True, exist_ok=True)
    for dataset in sorted({e[0] for e in entries}):
        preds = {m: read_predictions(p) for d, m, k, p in entries if d == dataset and k == 0}
        title = f"{dataset}: %s (run 0, test)"
        reliability_diagram(preds, plot_dir / f"{dataset}_reliability.png", title % "reliability")
        roc_plot(preds, plot_dir / f"{dataset}_roc.png", title % "ROC")
        skill_profile_plot(
            preds, plot_dir / f"{dataset}_skill_profile.png", title % "TSS/HSS vs threshold"
        )
    metrics_bar(summary, plot_dir / "tss_bar.png", title="Test TSS, mean ± sd over runs")
