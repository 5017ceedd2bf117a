"""Published results of Bhattacharjee et al. 2020 (SCIENCE.md S2) and the report's comparison.

Keys use the workflow's registered names (dataset ``SHARP_ONLY``, network ``cnn2``), so the
evaluation's ``metrics.md`` rows find them. The cross-validation TSS is the mean ± sd over the
10x3 validation folds, which this workflow reports as the ``val`` split of its 30 runs; the test
TSS is that of the 2015-10..2018 interval. Every CNN-2 model of a run is compared at its own
image side (``cnn2`` and variants such as ``cnn2_256: {arch: cnn2, network: {image_size: 256}}``),
so one run compares the paper's two sides.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

__all__ = [
    "NETWORK",
    "PUBLISHED_CV_TSS",
    "PUBLISHED_TEST_TSS",
    "compared_models",
    "comparison_markdown",
    "comparison_table",
]

#: CNN-2 cross-validation TSS (mean, sd over the 10x3 folds) by input image side.
PUBLISHED_CV_TSS: dict[int, tuple[float, float]] = {128: (0.45, 0.07), 256: (0.51, 0.06)}
#: Test TSS, by (dataset, model); no spread published.
PUBLISHED_TEST_TSS: dict[tuple[str, str], tuple[float, float]] = {
    ("SHARP_ONLY", "cnn2"): (0.52, math.nan),
}


#: The registered network the published values are of.
NETWORK = "cnn2"


def compared_models(
    image_sizes: Mapping[str, int], architectures: Mapping[str, str] | None = None
) -> dict[str, int]:
    """The CNN-2 models of a run and their image sides: ``cnn2`` and its variants
    (``models.<name>: {arch: cnn2}``), in ``image_sizes`` order.
    """
    arch = dict(architectures or {})
    return {m: int(s) for m, s in image_sizes.items() if arch.get(m, m) == NETWORK}


def comparison_table(
    tidy: pd.DataFrame,
    image_sizes: Mapping[str, int],
    architectures: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Measured CNN-2 TSS beside the published one: CV (val folds) and test, mean ± sd over runs.

    Parameters
    ----------
    tidy
        The evaluation's tidy table (``dataset, model, run, split, metric, value``).
    image_sizes
        Image side of each image network of the run (``models.<model>.network.image_size``,
        default ``features.image_size``); every CNN-2 model among them is compared, its CV value
        with the paper's at its side (128 or 256; none published at other sides), its test value
        with the paper's one test TSS (published without a side).
    architectures
        The registered network of each model (a variant's ``arch``); default: the model's name.

    Returns
    -------
    pandas.DataFrame
        One row per model and figure: ``figure, dataset, model, split, image_size, runs,
        measured_mean, measured_sd, published_mean, published_sd``.
    """
    rows = []
    models = compared_models(image_sizes, architectures)
    tss = tidy[tidy["metric"] == "TSS"]
    for dataset in dict.fromkeys(tss["dataset"]):
        for model, size in models.items():
            own = tss[(tss["dataset"] == dataset) & (tss["model"] == model)]
            if own.empty:
                continue
            for split, figure, pub in (
                ("val", "CV TSS (10x3 folds)", PUBLISHED_CV_TSS.get(size)),
                ("test", "test TSS (2015-10..2018)", PUBLISHED_TEST_TSS.get((dataset, NETWORK))),
            ):
                v = own[own["split"] == split]["value"].dropna()
                rows.append(
                    {
                        "figure": figure,
                        "dataset": dataset,
                        "model": model,
                        "split": split,
                        "image_size": size,
                        "runs": int(len(v)),
                        "measured_mean": float(v.mean()) if len(v) else math.nan,
                        "measured_sd": float(v.std()) if len(v) > 1 else math.nan,
                        "published_mean": pub[0] if pub else math.nan,
                        "published_sd": pub[1] if pub else math.nan,
                    }
                )
    columns = ["figure", "dataset", "model", "split", "image_size", "runs"]
    columns += ["measured_mean", "measured_sd", "published_mean", "published_sd"]
    return pd.DataFrame(rows, columns=columns)


def _pm(mean: float, sd: float) -> str:
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.2f}" if math.isnan(sd) else f"{mean:.2f} ± {sd:.2f}"


def comparison_markdown(
    tidy: pd.DataFrame,
    image_sizes: Mapping[str, int],
    architectures: Mapping[str, str] | None = None,
) -> str:
    """The markdown section of :func:`comparison_table` (appended to ``metrics.md``)."""
    table = comparison_table(tidy, image_sizes, architectures)
    sides = sorted(set(compared_models(image_sizes, architectures).values()))
    lines = [
        "",
        "## Bhattacharjee et al. 2020: measured beside published",
        "",
        f"CNN-2 at {', '.join(map(str, sides)) or 'no'} px. Published: CV TSS 0.45 ± 0.07 at "
        "128 px, 0.51 ± 0.06 at 256 px; test TSS 0.52.",
        "",
        "| figure | dataset | model | image size | runs | measured | published |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in table.itertuples(index=False):
        lines.append(
            f"| {r.figure} | {r.dataset} | {r.model} | {r.image_size} | {r.runs} | "
            f"{_pm(r.measured_mean, r.measured_sd)} | {_pm(r.published_mean, r.published_sd)} |"
        )
    return "\n".join(lines) + "\n"
