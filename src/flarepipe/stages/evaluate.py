"""The stack and evaluate rules (``rules/evaluate.smk``): ensembles, skill scores, tests, plots."""

from __future__ import annotations

import os
from pathlib import Path

from flarepipe.io.atomic import write_csv, write_json, write_text

__all__ = ["run_stack", "parse_prediction_path", "run_evaluate"]


def run_stack(first, second, criteria, template: str, out: list) -> dict:
    """Rule ``stack``: S1 ensembles of two models' predictions, one ``predictions.csv`` each.

    ``first``/``second`` are the two models' ``predictions.csv``; ``template`` is the ensemble
    folder with ``{ensemble}`` for its name; ``out`` the rule's outputs (checked against it).
    """
    from flarepipe.evaluation.evaluate import ensembles, read_predictions

    res = ensembles(read_predictions(first), read_predictions(second), criteria=tuple(criteria))
    planned = {Path(template.format(ensemble=name)) / "predictions.csv" for name in res}
    if planned != {Path(p) for p in out}:
        raise ValueError(f"stack: ensembles {sorted(res)} do not match the rule's outputs "
                         f"{sorted(map(str, out))}")
    alphas = {}
    for name, r in res.items():
        folder = Path(template.format(ensemble=name))
        write_csv(r.predictions, folder / "predictions.csv")
        alphas[name] = r.alpha
        write_json({"alpha": r.alpha, "criterion": r.criterion}, folder / "summary.json")
    return alphas


def parse_prediction_path(path: str | os.PathLike) -> tuple[str, str, int]:
    """``.../models/<dataset>/<model>/run<k>/predictions.csv`` → (dataset, model, k)."""
    p = Path(path)
    return p.parts[-4], p.parts[-3], int(p.parts[-2].removeprefix("run"))


def run_evaluate(predictions: list, out_metrics, out_table, out_plots,
                 tests: list | None = None) -> None:
    """Rule ``evaluate``: skill scores per run, mean ± sd table, paired tests, verification plots.

    ``predictions`` are the ``.../models/<dataset>/<model>/run<k>/predictions.csv`` files;
    ``tests`` pairs ``[[dataset, model], [dataset, model]]`` for one-sided paired t-tests.
    """
    from flarepipe.evaluation.evaluate import (
        evaluate_runs,
        paired_test,
        read_predictions,
        write_evaluation,
    )
    from flarepipe.evaluation.plots import (
        metrics_bar,
        reliability_diagram,
        roc_plot,
        skill_profile_plot,
    )

    entries = [(*parse_prediction_path(p), str(p)) for p in predictions]
    tidy = evaluate_runs(entries)
    summary = write_evaluation(tidy, out_metrics, out_table)
    lines = []
    for a, b in tests or []:
        try:
            t = paired_test(tidy, tuple(a), tuple(b))
            lines.append(f"- {a[0]} {a[1]} > {b[0]} {b[1]} (test TSS, one-sided paired t, "
                         f"n={t.n}): mean diff {t.mean_diff:+.3f}, t = {t.statistic:.2f}, "
                         f"p = {t.pvalue:.3g}")
        except (ValueError, KeyError) as exc:
            lines.append(f"- {a} vs {b}: not computed ({exc})")
    if lines:
        text = Path(out_table).read_text() + "\n## Paired tests\n" + "\n".join(lines) + "\n"
        write_text(text, out_table)
    plot_dir = Path(out_plots)
    plot_dir.mkdir(parents=True, exist_ok=True)
    for dataset in sorted({e[0] for e in entries}):
        preds = {m: read_predictions(p) for d, m, k, p in entries if d == dataset and k == 0}
        title = f"{dataset}: %s (run 0, test)"
        reliability_diagram(preds, plot_dir / f"{dataset}_reliability.png", title % "reliability")
        roc_plot(preds, plot_dir / f"{dataset}_roc.png", title % "ROC")
        skill_profile_plot(preds, plot_dir / f"{dataset}_skill_profile.png",
                           title % "TSS/HSS vs threshold")
    metrics_bar(summary, plot_dir / "tss_bar.png", title="Test TSS, mean ± sd over runs")
