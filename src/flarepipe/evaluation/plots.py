"""Verification plots: reliability diagram, ROC curve, skill-score profile, metrics bar chart.

Every function takes the predictions of one model (a ``sample_id, split, label, prob`` frame) or of
several (a ``{model name: frame}`` mapping), an output path and a title, keeps the rows of one split
(``test`` by default), and writes a PNG atomically. Matplotlib runs on the Agg backend.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import roc_auc_score, roc_curve  # noqa: E402

from flarepipe.evaluation.metrics import check_inputs, skill_profile  # noqa: E402
from flarepipe.io.atomic import atomic_path  # noqa: E402

__all__ = [
    "Predictions",
    "reliability_diagram",
    "roc_plot",
    "skill_profile_plot",
    "metrics_bar",
    "save_figure",
]

#: One predictions frame, or several by model name.
Predictions = pd.DataFrame | Mapping[str, pd.DataFrame]


def save_figure(fig: Figure, out: str | os.PathLike, dpi: int = 120) -> None:
    """Save a figure as PNG atomically and close it."""
    try:
        with atomic_path(out, suffix=".png") as tmp:
            fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)


def _models(preds: Predictions, split: str | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    items = {"model": preds} if isinstance(preds, pd.DataFrame) else dict(preds)
    if not items:
        raise ValueError("no predictions to plot")
    out = {}
    for name, df in items.items():
        missing = [c for c in ("label", "prob") if c not in df.columns]
        if missing:
            raise ValueError(f"predictions of {name!r} lack columns {missing}")
        if split is not None and "split" in df.columns:
            df = df[df["split"] == split]
        out[str(name)] = check_inputs(df["label"].to_numpy(), df["prob"].to_numpy())
    return out


def reliability_diagram(
    preds: Predictions,
    out: str | os.PathLike,
    title: str = "Reliability diagram",
    n_bins: int = 10,
    split: str | None = "test",
) -> None:
    """Observed event frequency against forecast probability, with bin counts underneath.

    Forecasts are binned on ``n_bins`` equal-width bins of ``[0, 1]``; each point is (mean
    forecast, observed frequency) of a non-empty bin. The lower panel is a histogram of the
    forecasts (log count axis) per model.

    Parameters
    ----------
    preds : DataFrame or mapping of name to DataFrame
        Predictions (``label``, ``prob``, optionally ``split``).
    out : path-like
        PNG to write.
    title : str
        Figure title.
    n_bins : int, default 10
        Number of probability bins.
    split : str or None, default "test"
        Rows of this split only (None: all rows).
    """
    models = _models(preds, split)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    fig, (ax, axh) = plt.subplots(
        2, 1, figsize=(5.5, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.plot([0, 1], [0, 1], ls="--", color="0.5", lw=1, label="perfect reliability")
    width = (edges[1] - edges[0]) / max(len(models), 1)
    for i, (name, (y, p)) in enumerate(models.items()):
        idx = np.clip(np.digitize(p, edges[1:-1], right=False), 0, n_bins - 1)
        counts = np.bincount(idx, minlength=n_bins)
        sum_p = np.bincount(idx, weights=p, minlength=n_bins)
        sum_y = np.bincount(idx, weights=y.astype(float), minlength=n_bins)
        ok = counts > 0
        line = ax.plot(sum_p[ok] / counts[ok], sum_y[ok] / counts[ok], marker="o", label=name)[0]
        axh.bar(
            edges[:-1] + i * width,
            counts,
            width=width,
            align="edge",
            color=line.get_color(),
            alpha=0.7,
            label=name,
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("observed frequency")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize="small")
    axh.set_yscale("log")
    axh.set_xlabel("forecast probability")
    axh.set_ylabel("count")
    fig.align_ylabels()
    save_figure(fig, out)


def roc_plot(
    preds: Predictions,
    out: str | os.PathLike,
    title: str = "ROC curve",
    split: str | None = "test",
) -> None:
    """ROC curves (TPR against FPR), the AUC of each model in the legend.

    Parameters are those of :func:`reliability_diagram` (without ``n_bins``). A model whose split
    has a single class is listed in the legend with ``AUC n/a`` and no curve.
    """
    models = _models(preds, split)
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.plot([0, 1], [0, 1], ls="--", color="0.5", lw=1, label="no skill")
    for name, (y, p) in models.items():
        if np.unique(y).size < 2:
            ax.plot([], [], label=f"{name} (AUC n/a: one class)")
            continue
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{name} (AUC = {roc_auc_score(y, p):.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize="small")
    save_figure(fig, out)


def skill_profile_plot(
    preds: Predictions,
    out: str | os.PathLike,
    title: str = "Skill-score profile",
    split: str | None = "test",
    thresholds: Sequence[float] | None = None,
) -> None:
    """TSS (solid) and HSS (dashed) against the probability threshold, per model.

    Parameters are those of :func:`reliability_diagram`; ``thresholds`` defaults to 101 points on
    ``[0, 1]``. The maximum TSS of each model is marked.
    """
    models = _models(preds, split)
    thr = np.linspace(0.0, 1.0, 101) if thresholds is None else np.asarray(thresholds, float)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, (y, p) in models.items():
        prof = skill_profile(y, p, thr)
        line = ax.plot(prof["threshold"], prof["TSS"], label=f"{name} TSS")[0]
        ax.plot(
            prof["threshold"], prof["HSS"], ls="--", color=line.get_color(), label=f"{name} HSS"
        )
        if prof["TSS"].notna().any():
            k = int(prof["TSS"].idxmax())
            ax.plot(
                prof.loc[k, "threshold"], prof.loc[k, "TSS"], marker="o", color=line.get_color()
            )
    ax.axvline(0.5, color="0.6", lw=0.8, ls=":")
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability threshold")
    ax.set_ylabel("skill score")
    ax.set_title(title)
    ax.legend(fontsize="small", ncol=2)
    save_figure(fig, out)


def metrics_bar(
    summary: pd.DataFrame,
    out: str | os.PathLike,
    metric: str = "TSS",
    split: str = "test",
    title: str | None = None,
) -> None:
    """Bar chart of a metric's mean ± sd over runs, grouped by dataset, one bar per model.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`flarepipe.evaluation.evaluate.summary_table` output (``dataset, model, split,
        metric, mean, sd``).
    out : path-like
        PNG to write.
    metric, split : str
        Which score on which split.
    title : str, optional
        Defaults to ``"<metric> on <split> (mean ± sd over runs)"``.
    """
    s = summary[(summary["metric"] == metric) & (summary["split"] == split)]
    if s.empty:
        raise ValueError(f"summary has no {metric} on split {split!r}")
    datasets = list(dict.fromkeys(s["dataset"]))
    models = list(dict.fromkeys(s["model"]))
    width = 0.8 / len(models)
    x = np.arange(len(datasets))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(datasets) * max(1, len(models)) / 2), 4.5))
    for i, model in enumerate(models):
        sub = s[s["model"] == model].set_index("dataset").reindex(datasets)
        ax.bar(
            x + (i - (len(models) - 1) / 2) * width,
            sub["mean"].to_numpy(dtype=float),
            width=width,
            yerr=sub["sd"].fillna(0).to_numpy(dtype=float),
            capsize=3,
            label=model,
        )
    ax.set_xticks(x, datasets, rotation=20, ha="right")
    ax.set_ylabel(metric)
    ax.set_title(title or f"{metric} on {split} (mean ± sd over runs)")
    ax.axhline(0, color="0.3", lw=0.8)
    ax.legend(fontsize="small", ncol=min(len(models), 4))
    save_figure(fig, out)
