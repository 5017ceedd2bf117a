"""The stack and evaluate rules (rules/evaluate.smk): ensembles, skill scores, tests, plots.

Each function takes its rule's declared inputs and outputs; the workflow script calls one of them."""

from __future__ import annotations

import os
from pathlib import Path


from flarepipe.io.atomic import write_csv, write_json

__all__ = ["run_stack", "parse_prediction_path", "run_evaluate"]


def run_stack(first_csv, second_csv, criteria, out_dir_template: str) -> dict:
    """S1 ensembles of two models' predictions; one predictions.csv per ensemble name."""
    from flarepipe.evaluation.evaluate import ensembles, read_predictions

    res = ensembles(read_predictions(first_csv), read_predictions(second_csv), criteria=tuple(criteria))
    alphas = {}
    for name, r in res.items():
        out = Path(out_dir_template.format(ensemble=name))
        write_csv(r.predictions, out / "predictions.csv")
        alphas[name] = r.alpha
        write_json({"alpha": r.alpha, "criterion": r.criterion}, out / "summary.json")
    return alphas


def parse_prediction_path(path: str | os.PathLike) -> tuple[str, str, int]:
    """``.../models/<dataset>/<model>/run<k>/predictions.csv`` → (dataset, model, k)."""
    p = Path(path)
    return p.parts[-4], p.parts[-3], int(p.parts[-2].removeprefix("run"))


def run_evaluate(prediction_files: list, out_csv, out_md, plot_dir, tests: list | None = None) -> None:
    """Skill scores per run, mean ± sd table, paired tests and verification plots."""
    from flarepipe.evaluation.evaluate import evaluate_runs, paired_test, read_predictions, write_evaluation
    from flarepipe.evaluation.plots import metrics_bar, reliability_diagram, roc_plot, skill_profile_plot

    entries = [(*parse_prediction_path(p), str(p)) for p in prediction_files]
    tidy = evaluate_runs(entries)
    summary = write_evaluation(tidy, out_csv, out_md)
    lines = []
    for a, b in tests or []:
        try:
            t = paired_test(tidy, tuple(a), tuple(b))
            lines.append(f"- {a[0]} {a[1]} > {b[0]} {b[1]} (test TSS, one-sided paired t, n={t.n}): "
                         f"mean diff {t.mean_diff:+.3f}, t = {t.statistic:.2f}, p = {t.pvalue:.3g}")
        except (ValueError, KeyError) as exc:
            lines.append(f"- {a} vs {b}: not computed ({exc})")
    if lines:
        with open(out_md, "a") as fh:
            fh.write("\n## Paired tests\n" + "\n".join(lines) + "\n")
    plot_dir = Path(plot_dir)
    plot_dir.mkdir(parents=True, exist_ok=True)
    for dataset in sorted({e[0] for e in entries}):
        preds = {m: read_predictions(p) for d, m, k, p in entries if d == dataset and k == 0}
        reliability_diagram(preds, plot_dir / f"{dataset}_reliability.png", f"{dataset}: reliability (run 0, test)")
        roc_plot(preds, plot_dir / f"{dataset}_roc.png", f"{dataset}: ROC (run 0, test)")
        skill_profile_plot(preds, plot_dir / f"{dataset}_skill_profile.png", f"{dataset}: TSS/HSS vs threshold (run 0, test)")
    metrics_bar(summary, plot_dir / "tss_bar.png", title="Test TSS, mean ± sd over runs")
