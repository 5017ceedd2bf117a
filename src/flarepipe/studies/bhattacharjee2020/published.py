"""Published results of Bhattacharjee et al. 2020 (SCIENCE.md S2) and the report's comparison.

Keys use the workflow's registered names (dataset ``SHARP_ONLY``, network ``cnn2``), so the
evaluation's ``metrics.md`` rows find them. The cross-validation TSS is the mean ± sd over the
10x3 validation folds, which this workflow reports as the ``val`` split of its 30 runs; the test
TSS is that of the 2015-10..2018 interval.
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["PUBLISHED_CV_TSS", "PUBLISHED_TEST_TSS", "comparison_markdown", "comparison_table"]

#: CNN-2 cross-validation TSS (mean, sd over the 10x3 folds) by input image side.
PUBLISHED_CV_TSS: dict[int, tuple[float, float]] = {128: (0.45, 0.07), 256: (0.51, 0.06)}
#: Test TSS, by (dataset, model); no spread published.
PUBLISHED_TEST_TSS: dict[tuple[str, str], tuple[float, float]] = {
    ("SHARP_ONLY", "cnn2"): (0.52, math.nan),
}


def comparison_table(tidy: pd.DataFrame, image_size: int, model: str = "cnn2") -> pd.DataFrame:
    """Measured CNN-2 TSS beside the published one: CV (val folds) and test, mean ± sd over runs.

    Parameters
    ----------
    tidy
        The evaluation's tidy table (``dataset, model, run, split, metric, value``).
    image_size
        The run's ``features.image_size``: the CV value is compared with the paper's at that
        side (128 or 256; none published at other sides).
    model
        The network compared (``cnn2``).

    Returns
    -------
    pandas.DataFrame
        One row per figure: ``figure, dataset, model, split, image_size, runs, measured_mean,
        measured_sd, published_mean, published_sd``.
    """
    rows = []
    tss = tidy[(tidy["metric"] == "TSS") & (tidy["model"] == model)]
    for dataset in dict.fromkeys(tss["dataset"]):
        for split, figure, pub in (
            ("val", "CV TSS (10x3 folds)", PUBLISHED_CV_TSS.get(int(image_size))),
            ("test", "test TSS (2015-10..2018)", PUBLISHED_TEST_TSS.get((dataset, model))),
        ):
            v = tss[(tss["dataset"] == dataset) & (tss["split"] == split)]["value"].dropna()
            rows.append(
                {
                    "figure": figure,
                    "dataset": dataset,
                    "model": model,
                    "split": split,
                    "image_size": int(image_size),
                    "runs": int(len(v)),
                    "measured_mean": float(v.mean()) if len(v) else math.nan,
                    "measured_sd": float(v.std()) if len(v) > 1 else math.nan,
                    "published_mean": pub[0] if pub else math.nan,
                    "published_sd": pub[1] if pub else math.nan,
                }
            )
    return pd.DataFrame(rows)


def _pm(mean: float, sd: float) -> str:
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.2f}" if math.isnan(sd) else f"{mean:.2f} ± {sd:.2f}"


def comparison_markdown(tidy: pd.DataFrame, image_size: int) -> str:
    """The markdown section of :func:`comparison_table` (appended to ``metrics.md``)."""
    table = comparison_table(tidy, image_size)
    lines = [
        "",
        "## Bhattacharjee et al. 2020: measured beside published",
        "",
        f"CNN-2 at {int(image_size)} px. Published: CV TSS 0.45 ± 0.07 at 128 px, 0.51 ± 0.06 at "
        "256 px; test TSS 0.52.",
        "",
        "| figure | dataset | image size | runs | measured | published |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in table.itertuples(index=False):
        lines.append(
            f"| {r.figure} | {r.dataset} | {r.image_size} | {r.runs} | "
            f"{_pm(r.measured_mean, r.measured_sd)} | {_pm(r.published_mean, r.published_sd)} |"
        )
    return "\n".join(lines) + "\n"
