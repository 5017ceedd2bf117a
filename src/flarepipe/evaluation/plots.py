"""Verification plots: reliability diagram, ROC curve, skill-score profile, metrics bar chart.

Every function takes the predictions of one model (a ``sample_id, split, label, prob`` frame) or of
several (a ``{model name: frame}`` mapping), an output path and a title, keeps the rows of one split
(``test`` by default), and writes a PNG atomically. Matplotlib runs on the Agg backend.
"""

from __future__ import annotations

import os
import warnings
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
    "RunPredictions",
    "reliability_bands",
    "roc_bands",
    "profile_bands",
    "spread_plots",
    "box_plot",
    "alpha_plot",
    "accuracy_by_alpha",
    "stacking_plot",
    "reliability_diagram",
    "roc_plot",
    "skill_profile_plot",
    "metrics_bar",
    "save_figure",
]

#: One predictions frame, or several by model name.
Predictions = pd.DataFrame | Mapping[str, pd.DataFrame]
#: Several runs of each model: ``{model name: [frame of run 0, frame of run 1, ...]}``.
RunPredictions = Mapping[str, Sequence[pd.DataFrame]]


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


# --------------------------------------------------------------------------------------------
# spread over runs: mean ± sd bands
# --------------------------------------------------------------------------------------------


def _shaded(ax, x, mean, sd, **line_kw):
    """Plot ``mean`` against ``x`` with a shaded ``mean ± sd`` band in the line's colour."""
    line = ax.plot(x, mean, **line_kw)[0]
    ax.fill_between(x, mean - sd, mean + sd, color=line.get_color(), alpha=0.2)
    return line


def _runs(frames: Sequence[pd.DataFrame], split: str | None) -> list[tuple[np.ndarray, np.ndarray]]:
    if not frames:
        raise ValueError("no runs to plot")
    return list(_models({str(i): f for i, f in enumerate(frames)}, split).values())


def _band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample sd (ddof 1; 0 with one run) over axis 0, NaN entries left out."""
    values = np.asarray(values, dtype=float)
    n = np.isfinite(values).sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(values, axis=0)
        sd = np.nanstd(values, axis=0, ddof=1)
    return np.where(n > 0, mean, np.nan), np.where(n > 1, sd, 0.0)


def reliability_bands(
    frames: Sequence[pd.DataFrame], n_bins: int = 10, split: str | None = "test"
) -> pd.DataFrame:
    """Reliability curve of each run on equal-width bins, and its mean ± sd over runs.

    Returns one row per bin: ``lo, hi, forecast`` (mean over runs of the bin's mean forecast),
    ``observed`` and ``observed_sd`` (mean and sd over runs of the bin's observed frequency, runs
    with an empty bin left out), ``count`` (samples in the bin, summed over runs), ``runs``. A
    frame with a ``weight`` column (e.g. test negatives weighted to the true event rate,
    :mod:`flarepipe.evaluation.rates`) gives weighted bin means; ``count`` stays unweighted.
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    fc, ob, cnt = [], [], []
    for frame, (y, p) in zip(frames, _runs(frames, split), strict=True):
        if split is not None and "split" in frame.columns:
            frame = frame[frame["split"] == split]
        w = frame["weight"].to_numpy(float) if "weight" in frame.columns else np.ones(y.size)
        idx = np.clip(np.digitize(p, edges[1:-1], right=False), 0, n_bins - 1)
        c = np.bincount(idx, minlength=n_bins).astype(float)
        sw = np.bincount(idx, weights=w, minlength=n_bins)
        with np.errstate(invalid="ignore", divide="ignore"):
            fc.append(
                np.where(c > 0, np.bincount(idx, weights=w * p, minlength=n_bins) / sw, np.nan)
            )
            ob.append(
                np.where(c > 0, np.bincount(idx, weights=w * y, minlength=n_bins) / sw, np.nan)
            )
        cnt.append(c)
    f_mean, _ = _band(np.array(fc))
    o_mean, o_sd = _band(np.array(ob))
    return pd.DataFrame(
        {
            "lo": edges[:-1],
            "hi": edges[1:],
            "forecast": f_mean,
            "observed": o_mean,
            "observed_sd": o_sd,
            "count": np.sum(cnt, axis=0).astype(np.int64),
            "runs": np.sum(np.array(cnt) > 0, axis=0).astype(np.int64),
        }
    )


def roc_bands(
    frames: Sequence[pd.DataFrame], grid: Sequence[float] | None = None, split: str | None = "test"
) -> pd.DataFrame:
    """ROC of each run interpolated on a false-positive-rate grid; mean ± sd of the TPR over runs.

    Columns ``fpr, tpr, tpr_sd, runs``; ``grid`` defaults to 101 points on ``[0, 1]``. Runs
    whose split has one class are left out.
    """
    fpr_grid = np.linspace(0.0, 1.0, 101) if grid is None else np.asarray(grid, float)
    curves = []
    for y, p in _runs(frames, split):
        if np.unique(y).size < 2:
            continue
        fpr, tpr, _ = roc_curve(y, p)
        curves.append(np.interp(fpr_grid, fpr, tpr))
    if not curves:
        nan = np.full(fpr_grid.size, np.nan)
        return pd.DataFrame({"fpr": fpr_grid, "tpr": nan, "tpr_sd": nan, "runs": 0})
    mean, sd = _band(np.array(curves))
    return pd.DataFrame({"fpr": fpr_grid, "tpr": mean, "tpr_sd": sd, "runs": len(curves)})


def profile_bands(
    frames: Sequence[pd.DataFrame],
    thresholds: Sequence[float] | None = None,
    split: str | None = "test",
) -> pd.DataFrame:
    """TSS and HSS against the threshold per run; mean ± sd over runs.

    Columns ``threshold, TSS, TSS_sd, HSS, HSS_sd``
    (:func:`flarepipe.evaluation.metrics.skill_profile` of each run).
    """
    thr = np.linspace(0.0, 1.0, 101) if thresholds is None else np.asarray(thresholds, float)
    profs = [skill_profile(y, p, thr) for y, p in _runs(frames, split)]
    out = pd.DataFrame({"threshold": thr})
    for m in ("TSS", "HSS"):
        mean, sd = _band(np.array([pr[m].to_numpy(dtype=float) for pr in profs]))
        out[m], out[f"{m}_sd"] = mean, sd
    return out


def spread_plots(
    runs: RunPredictions,
    out_dir: str | os.PathLike,
    stem: str,
    title: str,
    n_bins: int = 10,
    split: str = "test",
    figures: Sequence[str] = ("reliability", "roc", "skill_profile"),
) -> list[str]:
    """Reliability (with bin counts), ROC and TSS/HSS profile, mean ± sd over runs per model.

    Writes ``<stem>_<figure>.png`` under ``out_dir`` for each of ``figures`` (``reliability``,
    ``roc``, ``skill_profile``); returns their paths. ``title`` gets the figure's name appended.
    """
    unknown = sorted(set(figures) - {"reliability", "roc", "skill_profile"})
    if unknown:
        raise ValueError(f"unknown figures {unknown}")
    if not runs:
        raise ValueError("no predictions to plot")
    out_dir = os.fspath(out_dir)
    n = max(len(v) for v in runs.values())
    note = f" ({split}, mean ± sd over {n} run{'s' if n != 1 else ''})"
    paths: list[str] = []
    if "reliability" in figures:
        fig, (ax, axh) = plt.subplots(
            2, 1, figsize=(5.5, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
        )
        ax.plot([0, 1], [0, 1], ls="--", color="0.5", lw=1, label="perfect reliability")
        width = 1.0 / n_bins / len(runs)
        for i, (name, frames) in enumerate(runs.items()):
            b = reliability_bands(frames, n_bins, split)
            ok = b["count"] > 0
            line = _shaded(
                ax,
                b["forecast"][ok],
                b["observed"][ok],
                b["observed_sd"][ok],
                marker="o",
                label=name,
            )
            axh.bar(
                b["lo"] + i * width,
                b["count"],
                width=width,
                align="edge",
                color=line.get_color(),
                alpha=0.7,
            )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_ylabel("observed frequency")
        ax.set_title(title + ": reliability" + note)
        ax.legend(loc="upper left", fontsize="small")
        axh.set_yscale("log")
        axh.set_xlabel("forecast probability")
        axh.set_ylabel("count (all runs)")
        paths.append(os.path.join(out_dir, f"{stem}_reliability.png"))
        save_figure(fig, paths[-1])
    if "roc" in figures:
        fig, ax = plt.subplots(figsize=(5.5, 5.5))
        ax.plot([0, 1], [0, 1], ls="--", color="0.5", lw=1, label="no skill")
        for name, frames in runs.items():
            b = roc_bands(frames, split=split)
            auc = [roc_auc_score(y, p) for y, p in _runs(frames, split) if np.unique(y).size > 1]
            label = f"{name} (AUC {np.mean(auc):.3f})" if auc else f"{name} (AUC n/a)"
            _shaded(ax, b["fpr"], b["tpr"], b["tpr_sd"], label=label)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_xlabel("false-positive rate")
        ax.set_ylabel("true-positive rate")
        ax.set_title(title + ": ROC" + note)
        ax.legend(loc="lower right", fontsize="small")
        paths.append(os.path.join(out_dir, f"{stem}_roc.png"))
        save_figure(fig, paths[-1])
    if "skill_profile" in figures:
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        for name, frames in runs.items():
            b = profile_bands(frames, split=split)
            line = _shaded(ax, b["threshold"], b["TSS"], b["TSS_sd"], label=f"{name} TSS")
            ax.plot(b["threshold"], b["HSS"], ls="--", color=line.get_color(), label=f"{name} HSS")
        ax.axvline(0.5, color="0.6", lw=0.8, ls=":")
        ax.set_xlim(0, 1)
        ax.set_xlabel("probability threshold")
        ax.set_ylabel("skill score")
        ax.set_title(title + ": TSS/HSS vs threshold" + note)
        ax.legend(fontsize="small", ncol=2)
        paths.append(os.path.join(out_dir, f"{stem}_skill_profile.png"))
        save_figure(fig, paths[-1])
    return paths


def box_plot(
    tidy: pd.DataFrame,
    out: str | os.PathLike,
    models: Sequence[str],
    metric: str = "TSS",
    split: str = "test",
    title: str | None = None,
    n_base: int | None = None,
) -> None:
    """Box plots of a metric over runs, one panel per dataset, one box per model (S1 Fig. 9).

    ``tidy`` is :func:`flarepipe.evaluation.evaluate.evaluate_runs` output; ``models`` the boxes
    in order (base learners, then meta learners); models without values are left out. With
    ``n_base``, a dashed line separates the first ``n_base`` models (base learners) from the rest.
    """
    s = tidy[(tidy["metric"] == metric) & (tidy["split"] == split)]
    datasets = list(dict.fromkeys(s["dataset"]))
    if not datasets:
        raise ValueError(f"no {metric} on split {split!r} to plot")
    fig, axes = plt.subplots(
        1,
        len(datasets),
        figsize=(1.0 + 0.7 * len(models) * len(datasets), 4.5),
        squeeze=False,
        sharey=True,
    )
    for ax, d in zip(axes[0], datasets, strict=True):
        data, names = [], []
        for m in models:
            v = s[(s["dataset"] == d) & (s["model"] == m)]["value"].dropna().to_numpy(float)
            if v.size:
                data.append(v)
                names.append(m)
        ax.boxplot(data)
        ax.set_xticks(np.arange(1, len(names) + 1), names, rotation=40, ha="right")
        if n_base is not None:
            base = sum(1 for m in names if m in set(models[:n_base]))
            if 0 < base < len(names):
                ax.axvline(base + 0.5, color="0.5", ls="--", lw=0.8)
        ax.set_title(d)
    axes[0][0].set_ylabel(f"{split} {metric}")
    fig.suptitle(title or f"{split} {metric} over runs (box: quartiles; whiskers: 1.5 IQR)")
    save_figure(fig, out)


def alpha_plot(alphas: pd.DataFrame, out: str | os.PathLike, title: str | None = None) -> None:
    """Distribution of the fitted stacking weight alpha per criterion and dataset (S1 Fig. 10).

    ``alphas`` has columns ``dataset, ensemble, run, alpha`` (the ``summary.json`` of each
    ``stack_<criterion>`` ensemble); one strip of points and a box per (ensemble, dataset).
    """
    if alphas.empty:
        raise ValueError("no fitted alpha to plot")
    ens = list(dict.fromkeys(alphas["ensemble"]))
    datasets = list(dict.fromkeys(alphas["dataset"]))
    fig, ax = plt.subplots(figsize=(1.5 + 0.6 * len(ens) * len(datasets), 4.5))
    width = 0.8 / len(datasets)
    rng = np.random.default_rng(0)  # jitter only
    for j, d in enumerate(datasets):
        pos, data = [], []
        for i, e in enumerate(ens):
            v = alphas[(alphas["dataset"] == d) & (alphas["ensemble"] == e)]["alpha"]
            v = v.dropna().to_numpy(float)
            if v.size:
                x = i + (j - (len(datasets) - 1) / 2) * width
                pos.append(x)
                data.append(v)
        color = f"C{j}"
        if data:
            ax.boxplot(data, positions=pos, widths=width * 0.8, manage_ticks=False)
            for x, v in zip(pos, data, strict=True):
                ax.plot(
                    x + rng.uniform(-0.1, 0.1, v.size) * width, v, "o", color=color, alpha=0.6, ms=4
                )
        ax.plot([], [], "o", color=color, label=d)
    ax.set_xticks(np.arange(len(ens)), ens, rotation=20, ha="right")
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("alpha (weight of the first model)")
    ax.set_title(title or "Fitted stacking weight alpha over runs")
    ax.legend(fontsize="small")
    save_figure(fig, out)


def _pair_frame(first: pd.DataFrame, second: pd.DataFrame, split: str) -> pd.DataFrame:
    a = first[first["split"] == split][["sample_id", "label", "prob"]]
    b = second[second["split"] == split][["sample_id", "prob"]]
    m = a.merge(b, on="sample_id", suffixes=("_first", "_second"), validate="one_to_one")
    if len(m) != len(a) or len(m) != len(b):
        raise ValueError(f"the two models' {split} predictions cover different samples")
    return m


def accuracy_by_alpha(
    first: Sequence[pd.DataFrame],
    second: Sequence[pd.DataFrame],
    split: str = "test",
    grid: Sequence[float] | None = None,
) -> pd.DataFrame:
    """ACC of ``alpha * p_first + (1 - alpha) * p_second >= 0.5`` on ``split`` per alpha.

    ``first`` and ``second`` are the runs of the two stacked models (same order); columns
    ``alpha, ACC, ACC_sd`` (mean ± sd over runs); ``grid`` defaults to 101 points on [0, 1].
    """
    if len(first) != len(second) or not first:
        raise ValueError("accuracy_by_alpha needs the same, non-zero number of runs of each model")
    alphas = np.linspace(0.0, 1.0, 101) if grid is None else np.asarray(grid, float)
    acc = []
    for a, b in zip(first, second, strict=True):
        m = _pair_frame(a, b, split)
        r = (
            alphas[:, None] * m["prob_first"].to_numpy()
            + (1 - alphas[:, None]) * m["prob_second"].to_numpy()
        )
        acc.append(np.mean((r >= 0.5) == (m["label"].to_numpy() == 1)[None, :], axis=1))
    mean, sd = _band(np.array(acc))
    return pd.DataFrame({"alpha": alphas, "ACC": mean, "ACC_sd": sd})


def stacking_plot(
    first: Sequence[pd.DataFrame],
    second: Sequence[pd.DataFrame],
    names: tuple[str, str],
    alphas: Mapping[str, float],
    out: str | os.PathLike,
    title: str = "Stacking",
) -> None:
    """S1 Fig. 11: test probabilities of the two stacked models against each other (run 0) with
    the decision boundary ``alpha p_first + (1 - alpha) p_second = 0.5`` of each ensemble
    (``alphas``: name → alpha of run 0), and ACC(alpha) on validation and test (mean ± sd).
    """
    m = _pair_frame(first[0], second[0], "test")
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.8))
    pos = m["label"].to_numpy() == 1
    ax.scatter(m["prob_second"][~pos], m["prob_first"][~pos], s=8, alpha=0.5, label="negative")
    ax.scatter(m["prob_second"][pos], m["prob_first"][pos], s=8, alpha=0.5, label="positive")
    x = np.linspace(0, 1, 201)
    for i, (name, a) in enumerate(alphas.items()):
        color = f"C{i + 2}"
        if a > 0:  # p_first = (0.5 - (1 - a) x) / a
            ax.plot(x, (0.5 - (1 - a) * x) / a, color=color, label=f"{name} (α={a:.2f})")
        else:
            ax.axvline(0.5, color=color, label=f"{name} (α=0)")
        ax2.axvline(a, color=color, ls=":", lw=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"p {names[1]}")
    ax.set_ylabel(f"p {names[0]}")
    ax.set_title(f"{title}: test, run 0")
    ax.legend(fontsize="x-small", loc="lower left")
    for split in ("val", "test"):
        if not all((f["split"] == split).any() for f in first):
            continue
        b = accuracy_by_alpha(first, second, split)
        _shaded(ax2, b["alpha"], b["ACC"], b["ACC_sd"], label=split)
    ax2.set_xlabel(f"α (weight of {names[0]})")
    ax2.set_ylabel("ACC")
    ax2.set_title(f"ACC(α), mean ± sd over {len(first)} run(s)")
    ax2.legend(fontsize="small")
    save_figure(fig, out)
