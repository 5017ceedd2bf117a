"""The stack and evaluate rules (rules/evaluate.smk): ensembles, skill scores, tests, plots.

Each function takes its rule's declared inputs and outputs; the workflow script calls one of them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from flarepipe.io.atomic import write_csv, write_json

__all__ = ["run_stack", "parse_prediction_path", "run_evaluate"]


def run_stack(predictions: Mapping[str, str | os.PathLike], stacking: list, out_dir_template: str,
              plugins: list | tuple = ()) -> dict:
    """Ensembles of configured pairs; one predictions.csv (and summary.json) per ensemble name.

    ``predictions`` maps model name to its ``predictions.csv``; each entry of ``stacking`` is
    ``{"pair": [first, second], "criteria": [...], "prefix": "", "best": "tss"}``
    (:meth:`flarepipe.config.experiments.StackPlan.as_dict`). ``plugins`` (those that registered
    the criteria) are imported first.
    """
    from flarepipe.core.registry import load_plugins
    from flarepipe.evaluation.evaluate import ensembles, read_predictions

    load_plugins(plugins)
    frames = {m: read_predictions(p) for m, p in predictions.items()}
    alphas = {}
    for entry in stacking:
        first, second = entry["pair"]
        res = ensembles(frames[first], frames[second], criteria=tuple(entry["criteria"]),
                        best_criterion=entry.get("best", "tss"), prefix=entry.get("prefix", ""))
        for name, r in res.items():
            out = Path(out_dir_template.format(ensemble=name))
            write_csv(r.predictions, out / "predictions.csv")
            alphas[name] = r.alpha
            write_json({"alpha": r.alpha, "criterion": r.criterion, "pair": [first, second]},
                       out / "summary.json")
    return alphas


def parse_prediction_path(path: str | os.PathLike) -> tuple[str, str, int]:
    """``.../models/<dataset>/<model>/run<k>/predictions.csv`` → (dataset, model, k)."""
    p = Path(path)
    return p.parts[-4], p.parts[-3], int(p.parts[-2].removeprefix("run"))


def run_evaluate(prediction_files: list, out_csv, out_md, plot_dir, tests: list | None = None,
                 published: Mapping | None = None) -> None:
    """Skill scores per run, mean ± sd table, paired tests and verification plots.

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

    entries = [(*parse_prediction_path(p), str(p)) for p in prediction_files]
    tidy = evaluate_runs(entries)
    summary = write_evaluation(tidy, out_csv, out_md,
                               published=PUBLISHED_TSS if published is None else published,
                               sections=paired_tests_markdown(tidy, tests or []))
    plot_dir = Path(plot_dir)
    plot_dir.mkdir(parents=True, exist_ok=True)
    for dataset in sorted({e[0] for e in entries}):
        preds = {m: read_predictions(p) for d, m, k, p in entries if d == dataset and k == 0}
        reliability_diagram(preds, plot_dir / f"{dataset}_reliability.png", f"{dataset}: reliability (run 0, test)")
        roc_plot(preds, plot_dir / f"{dataset}_roc.png", f"{dataset}: ROC (run 0, test)")
        skill_profile_plot(preds, plot_dir / f"{dataset}_skill_profile.png", f"{dataset}: TSS/HSS vs threshold (run 0, test)")
    metrics_bar(summary, plot_dir / "tss_bar.png", title="Test TSS, mean ± sd over runs")
