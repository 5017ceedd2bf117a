"""Evaluation stage: ensembles of base models, scores per run, summaries and significance tests.

Inputs are prediction frames as written by the train stage (``docs/FILES.md``): columns
``sample_id, split, label, prob`` with ``split`` in {val, test} and ``prob`` the probability of
the positive class. Outputs are the tidy table ``dataset, model, run, split, metric, value``
(``results/evaluation/metrics.csv``) and a markdown table of mean ± sd over runs
(``results/evaluation/metrics.md``).

Ensembles of any pair of models (Sun et al. 2022, S1 in ``SCIENCE.md``, stack the LSTM and the
CNN), all fitted on the **validation** split only and applied unchanged to the test split:

* ``stack_<criterion>``: ``r = alpha * p_first + (1 - alpha) * p_second`` with ``alpha`` on a grid
  in ``[0, 1]`` (101 points by default) chosen to optimise the criterion on validation; criteria
  are registered in :data:`flarepipe.evaluation.criteria.CRITERIA` (``cross_entropy``
  (minimised), ``bss``, ``auc``, ``tss`` (maximised)). Ties (TSS and AUC are flat over ranges of
  ``alpha``) are broken by taking the middle one of the tied grid points, the choice farthest
  from the edges of the optimal range.
* ``avg``: ``alpha = 0.5``.
* ``best_<criterion>``: the base model that is better on validation by the criterion
  (``alpha`` is 1 for the first model, 0 for the second; ties go to the first).

Paired tests (:func:`paired_test`, :func:`paired_tests_markdown`) compare two (dataset, model)
rows across runs; the workflow takes the list from ``experiments.paired_tests``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from flarepipe.evaluation.criteria import CRITERIA, Criterion, ensemble_names
from flarepipe.evaluation.metrics import SCORE_NAMES, check_inputs, metrics_with_reasons
from flarepipe.io.atomic import verify_integrity, write_csv, write_text

__all__ = [
    "PREDICTION_COLUMNS",
    "TIDY_COLUMNS",
    "CRITERIA",
    "DEFAULT_TABLE_METRICS",
    "StackResult",
    "PairedTest",
    "read_predictions",
    "criterion_score",
    "stack_predictions",
    "average_predictions",
    "best_predictions",
    "ensembles",
    "evaluate_predictions",
    "evaluate_runs",
    "summary_table",
    "to_markdown",
    "paired_test",
    "paired_tests_markdown",
    "write_evaluation",
]

#: Columns of a predictions frame (``predictions.csv``).
PREDICTION_COLUMNS: tuple[str, ...] = ("sample_id", "split", "label", "prob")
#: Columns of the tidy evaluation table (``metrics.csv``).
TIDY_COLUMNS: tuple[str, ...] = ("dataset", "model", "run", "split", "metric", "value")
#: Metrics shown by default in the markdown table.
DEFAULT_TABLE_METRICS: tuple[str, ...] = ("ACC", "TSS", "HSS", "AUC", "BSS")


# --------------------------------------------------------------------------------------------
# predictions
# --------------------------------------------------------------------------------------------
def _check_predictions(df: pd.DataFrame, what: str) -> pd.DataFrame:
    missing = [c for c in PREDICTION_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"{what}: predictions need columns {list(PREDICTION_COLUMNS)}; missing {missing}"
        )
    out = df.loc[:, list(PREDICTION_COLUMNS)].copy()
    out["sample_id"] = out["sample_id"].astype(str)
    out["split"] = out["split"].astype(str)
    try:
        check_inputs(out["label"].to_numpy(), out["prob"].to_numpy())
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
    out["label"] = out["label"].astype(np.int64)
    out["prob"] = out["prob"].astype(np.float64)
    dup = out.duplicated(["sample_id", "split"])
    if dup.any():
        raise ValueError(
            f"{what}: sample {out.loc[dup, 'sample_id'].iloc[0]!r} appears twice in one split"
        )
    return out


def read_predictions(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a ``predictions.csv`` (columns ``sample_id, split, label, prob``).

    The stages that write one record its row count and SHA-256 beside it
    (:func:`flarepipe.io.atomic.record_table`); a file cut or edited since is an
    :class:`flarepipe.io.atomic.IntegrityError` naming it (a file without that record is read
    as it is).
    """
    verify_integrity(path)
    df = pd.read_csv(path, dtype={"sample_id": str, "split": str})
    verify_integrity(path, rows=len(df))
    return _check_predictions(df, str(path))


def _paired(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Join two prediction frames on (sample_id, split); labels must agree."""
    a = _check_predictions(a, "first model")
    b = _check_predictions(b, "second model")
    m = a.merge(b, on=["sample_id", "split"], how="outer", suffixes=("_a", "_b"), indicator=True)
    lonely = m["_merge"] != "both"
    if lonely.any():
        row = m.loc[lonely].iloc[0]
        side = "first" if row["_merge"] == "left_only" else "second"
        raise ValueError(
            f"{int(lonely.sum())} samples are predicted by one model only (e.g. "
            f"{row['sample_id']!r} in split {row['split']!r}, only in the {side}); both models "
            "must be trained on the same split file"
        )
    bad = m["label_a"] != m["label_b"]
    if bad.any():
        raise ValueError(
            f"labels disagree between the two models for sample {m.loc[bad, 'sample_id'].iloc[0]!r}"
        )
    return m.drop(columns=["_merge", "label_b"]).rename(columns={"label_a": "label"})


def _criterion(name: str) -> Criterion:
    if name not in CRITERIA:
        raise ValueError(f"unknown criterion {name!r}; choose one of {sorted(CRITERIA)}")
    return CRITERIA[name]


def criterion_score(y: np.ndarray, p: np.ndarray, criterion: str) -> float:
    """Value of a registered stacking criterion (``cross_entropy``, ``bss``, ``auc``, ``tss``).

    Returns NaN where it is undefined (e.g. one class only, except for cross-entropy).
    """
    _criterion(criterion)
    return float(_criterion_grid(np.asarray(y), np.asarray(p, float)[None, :], criterion)[0])


def _criterion_grid(y: np.ndarray, r: np.ndarray, criterion: str) -> np.ndarray:
    """Criterion for each row of ``r`` (shape [n_alpha, n_samples]) against labels ``y``."""
    spec = _criterion(criterion)
    y = y.astype(np.int64)
    n = y.size
    out = np.full(r.shape[0], np.nan)
    if n == 0:
        return out
    n_pos = int(y.sum())
    if spec.needs_both_classes and (n_pos == 0 or n_pos == n):
        return out
    return np.asarray(spec.grid(y, r), dtype=np.float64)


@dataclass
class StackResult:
    """An ensemble of two base models.

    Attributes
    ----------
    name : str
        Model name for the tidy table, e.g. ``stack_tss``, ``avg``, ``best_auc``.
    alpha : float
        Weight of the first model: ``prob = alpha * p_first + (1 - alpha) * p_second``.
    predictions : pandas.DataFrame
        Combined predictions ``sample_id, split, label, prob`` (all splits of the inputs).
    criterion : str or None
        Criterion used to choose ``alpha`` (None for ``avg``).
    grid : pandas.DataFrame
        Validation criterion per candidate ``alpha`` (columns ``alpha, score``).
    """

    name: str
    alpha: float
    predictions: pd.DataFrame
    criterion: str | None
    grid: pd.DataFrame


def _combine(m: pd.DataFrame, alpha: float) -> pd.DataFrame:
    out = m[["sample_id", "split", "label"]].copy()
    out["prob"] = np.clip(
        alpha * m["prob_a"].to_numpy() + (1 - alpha) * m["prob_b"].to_numpy(), 0.0, 1.0
    )
    return out.reset_index(drop=True)


def _val(m: pd.DataFrame, val_split: str) -> pd.DataFrame:
    v = m[m["split"] == val_split]
    if v.empty:
        raise ValueError(
            f"no predictions in split {val_split!r}: ensembles are fitted on validation data"
        )
    return v


def _pick(alphas: np.ndarray, scores: np.ndarray, higher: bool, atol: float = 1e-12) -> float:
    """Best grid point; among ties the middle one (see the module docstring)."""
    if np.all(np.isnan(scores)):
        raise ValueError("the criterion is undefined on the validation set (one class only?)")
    s = scores if higher else -scores
    best = np.nanmax(s)
    tied = np.flatnonzero(s >= best - atol)
    return float(alphas[tied[(tied.size - 1) // 2]])


def stack_predictions(
    first: pd.DataFrame,
    second: pd.DataFrame,
    criterion: str = "tss",
    n_grid: int = 101,
    val_split: str = "val",
) -> StackResult:
    """Linear stacking of two base models, weight chosen on validation.

    Parameters
    ----------
    first, second : pandas.DataFrame
        Predictions of the two base models (``sample_id, split, label, prob``) on the same samples;
        in S1 ``first`` is the LSTM and ``second`` the CNN.
    criterion : str
        A registered criterion (``tss``, ``auc``, ``bss``, ``cross_entropy``, ...) optimised
        over ``alpha`` on the validation split.
    n_grid : int, default 101
        Number of equally spaced ``alpha`` values in ``[0, 1]``.
    val_split : str, default "val"
        Split used to choose ``alpha``.

    Returns
    -------
    StackResult
        Named ``stack_<criterion>``; ``predictions`` covers every split of the inputs with
        ``prob = alpha * p_first + (1 - alpha) * p_second``.

    Raises
    ------
    ValueError
        On an unknown criterion, mismatched samples or labels, no validation rows, or a criterion
        undefined on the validation set.
    """
    spec = _criterion(criterion)
    if n_grid < 2:
        raise ValueError(f"n_grid must be >= 2, got {n_grid}")
    m = _paired(first, second)
    v = _val(m, val_split)
    alphas = np.linspace(0.0, 1.0, n_grid)
    pa, pb = v["prob_a"].to_numpy(), v["prob_b"].to_numpy()
    r = np.clip(alphas[:, None] * pa[None, :] + (1 - alphas[:, None]) * pb[None, :], 0.0, 1.0)
    scores = _criterion_grid(v["label"].to_numpy(), r, criterion)
    alpha = _pick(alphas, scores, spec.higher_is_better)
    return StackResult(
        name=f"stack_{criterion}",
        alpha=alpha,
        predictions=_combine(m, alpha),
        criterion=criterion,
        grid=pd.DataFrame({"alpha": alphas, "score": scores}),
    )


def average_predictions(first: pd.DataFrame, second: pd.DataFrame) -> StackResult:
    """The ``avg`` ensemble: mean of the two base models' probabilities (``alpha = 0.5``)."""
    m = _paired(first, second)
    return StackResult("avg", 0.5, _combine(m, 0.5), None, pd.DataFrame({"alpha": [0.5]}))


def best_predictions(
    first: pd.DataFrame, second: pd.DataFrame, criterion: str = "tss", val_split: str = "val"
) -> StackResult:
    """The ``best_<criterion>`` ensemble: the base model better on validation by the criterion.

    ``alpha`` is 1.0 when ``first`` wins (or ties), 0.0 when ``second`` wins.
    """
    spec = _criterion(criterion)
    m = _paired(first, second)
    v = _val(m, val_split)
    r = np.vstack([v["prob_b"].to_numpy(), v["prob_a"].to_numpy()])
    scores = _criterion_grid(v["label"].to_numpy(), r, criterion)
    if np.all(np.isnan(scores)):
        raise ValueError(f"criterion {criterion!r} undefined on the validation set")
    sa, sb = scores[1], scores[0]
    higher = spec.higher_is_better
    first_wins = np.isnan(sb) or (sa >= sb if higher else sa <= sb)
    alpha = 1.0 if first_wins else 0.0
    return StackResult(
        f"best_{criterion}",
        alpha,
        _combine(m, alpha),
        criterion,
        pd.DataFrame({"alpha": [0.0, 1.0], "score": scores}),
    )


def ensembles(
    first: pd.DataFrame,
    second: pd.DataFrame,
    criteria: Iterable[str] = ("cross_entropy", "bss", "auc", "tss"),
    best_criterion: str = "tss",
    n_grid: int = 101,
    prefix: str = "",
) -> dict[str, StackResult]:
    """Every ensemble of one pair: ``stack_<c>`` per criterion, ``avg``, ``best_<best_criterion>``.

    Names are :func:`flarepipe.evaluation.criteria.ensemble_names` (``prefix`` before each).

    Returns
    -------
    dict
        Model name to :class:`StackResult`.
    """
    criteria = list(criteria)
    results = [stack_predictions(first, second, c, n_grid=n_grid) for c in criteria]
    results += [average_predictions(first, second), best_predictions(first, second, best_criterion)]
    names = ensemble_names(criteria, prefix, best_criterion)
    out: dict[str, StackResult] = {}
    for name, res in zip(names, results, strict=True):
        res.name = name
        out[name] = res
    return out


# --------------------------------------------------------------------------------------------
# scores per run and summaries
# --------------------------------------------------------------------------------------------
def evaluate_predictions(
    predictions: pd.DataFrame,
    dataset: str,
    model: str,
    run: int,
    threshold: float = 0.5,
) -> pd.DataFrame:
    """Tidy scores of one predictions frame, one block of rows per split.

    Returns
    -------
    pandas.DataFrame
        Columns ``dataset, model, run, split, metric, value`` with every metric of
        :data:`flarepipe.evaluation.metrics.METRIC_NAMES`; NaN where a score is undefined.
    """
    pred = _check_predictions(predictions, f"{dataset}/{model}/run{run}")
    rows = []
    for split, g in pred.groupby("split", sort=True):
        res = metrics_with_reasons(g["label"].to_numpy(), g["prob"].to_numpy(), threshold)
        for metric, value in res.values.items():
            rows.append((dataset, model, int(run), split, metric, value))
    return pd.DataFrame(rows, columns=list(TIDY_COLUMNS))


def evaluate_runs(
    pred_files: Sequence[tuple[str, str, int, str | os.PathLike | pd.DataFrame]],
    threshold: float = 0.5,
) -> pd.DataFrame:
    """Scores of many runs as one tidy table.

    Parameters
    ----------
    pred_files : sequence of (dataset, model, run, path)
        ``path`` is a ``predictions.csv`` (or an already loaded predictions frame).
    threshold : float, default 0.5
        Threshold of the categorical scores.

    Returns
    -------
    pandas.DataFrame
        Columns ``dataset, model, run, split, metric, value``.
    """
    frames = []
    seen: set[tuple[str, str, int]] = set()
    for dataset, model, run, src in pred_files:
        key = (str(dataset), str(model), int(run))
        if key in seen:
            raise ValueError(f"predictions for {key} given twice")
        seen.add(key)
        pred = src if isinstance(src, pd.DataFrame) else read_predictions(src)
        frames.append(evaluate_predictions(pred, *key, threshold=threshold))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in TIDY_COLUMNS})
    return pd.concat(frames, ignore_index=True)


def summary_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample standard deviation (ddof 1) over runs.

    Returns
    -------
    pandas.DataFrame
        Columns ``dataset, model, split, metric, mean, sd, n`` where ``n`` counts the runs with a
        defined (non-NaN) value; ``sd`` is NaN for ``n < 2``.
    """
    keys = ["dataset", "model", "split", "metric"]
    g = tidy.groupby(keys, sort=False)["value"]
    out = g.agg(mean="mean", sd="std", n="count").reset_index()
    out["n"] = out["n"].astype(np.int64)
    return out


def _fmt(mean: float, sd: float, digits: int) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    if sd is None or (isinstance(sd, float) and math.isnan(sd)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def to_markdown(
    summary: pd.DataFrame,
    published: Mapping[tuple[str, str], tuple[float, float]] | None = None,
    metrics: Sequence[str] | None = DEFAULT_TABLE_METRICS,
    splits: Sequence[str] | None = ("test",),
    digits: int = 3,
    published_label: str = "published TSS",
    published_split: str = "test",
    path: str | os.PathLike | None = None,
) -> str:
    """Markdown table of mean ± sd over runs, one row per (dataset, model, split).

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`summary_table`.
    published : mapping, optional
        ``{(dataset, model): (mean, sd)}`` of published values (e.g.
        :data:`flarepipe.studies.sun2022.published.PUBLISHED_TSS`), shown in an extra column on
        rows of ``published_split``.
    metrics : sequence of str, optional
        Columns, in order; None for every metric present (scores first, in
        :data:`~flarepipe.evaluation.metrics.SCORE_NAMES` order).
    splits : sequence of str, optional
        Splits to show; None for all.
    digits : int, default 3
        Decimals.
    published_label, published_split : str
        Header of the published column and the split it applies to.
    path : path-like, optional
        When given, the table is also written there atomically.

    Returns
    -------
    str
        The markdown table (with a trailing newline), including a ``runs`` column (largest run
        count among the row's metrics).
    """
    s = summary
    if splits is not None:
        s = s[s["split"].isin(list(splits))]
    present = list(dict.fromkeys(s["metric"]))
    if metrics is None:
        metrics = [m for m in SCORE_NAMES if m in present] + [
            m for m in present if m not in SCORE_NAMES
        ]
    metrics = list(metrics)
    header = ["dataset", "model", "split", "runs", *metrics]
    if published is not None:
        header.append(published_label)
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * 3 + ["---:"] * (len(header) - 3)) + "|",
    ]
    idx = s.set_index(["dataset", "model", "split", "metric"])
    rows = s[["dataset", "model", "split"]].drop_duplicates()
    for dataset, model, split in rows.itertuples(index=False, name=None):
        sub = s[(s["dataset"] == dataset) & (s["model"] == model) & (s["split"] == split)]
        cells = [str(dataset), str(model), str(split), str(int(sub["n"].max()))]
        for met in metrics:
            key = (dataset, model, split, met)
            if key in idx.index:
                r = idx.loc[key]
                if isinstance(r, pd.DataFrame):
                    r = r.iloc[0]
                cells.append(_fmt(float(r["mean"]), float(r["sd"]), digits))
            else:
                cells.append("")
        if published is not None:
            pv = published.get((dataset, model)) if split == published_split else None
            cells.append(_fmt(float(pv[0]), float(pv[1]), digits) if pv else "")
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    if path is not None:
        write_text(text, path)
    return text


@dataclass(frozen=True)
class PairedTest:
    """One-sided paired t-test ``H1: mean(a - b) > 0`` across runs."""

    statistic: float
    pvalue: float
    n: int
    mean_diff: float
    runs: tuple[int, ...]


def paired_test(
    tidy: pd.DataFrame,
    a: tuple[str, str],
    b: tuple[str, str],
    metric: str = "TSS",
    split: str = "test",
) -> PairedTest:
    """One-sided paired t-test that ``a`` scores higher than ``b`` across runs.

    Runs are paired by run number (the same split file in S1); runs missing or NaN in either
    row are left out. For metrics where lower is better (``BS``, ``CE``) swap ``a`` and ``b``.

    Parameters
    ----------
    tidy : pandas.DataFrame
        Output of :func:`evaluate_runs`.
    a, b : tuple of (dataset, model)
        The two rows compared.
    metric, split : str
        Which score on which split.

    Returns
    -------
    PairedTest
        ``scipy.stats.ttest_rel(a, b, alternative='greater')``; statistic and p-value are NaN
        with fewer than two pairs.
    """

    def series(key: tuple[str, str]) -> pd.Series:
        sel = tidy[
            (tidy["dataset"] == key[0])
            & (tidy["model"] == key[1])
            & (tidy["metric"] == metric)
            & (tidy["split"] == split)
        ]
        if sel.empty:
            raise ValueError(f"no {metric} on split {split!r} for dataset/model {key}")
        return sel.set_index("run")["value"].astype(float)

    sa, sb = series(a), series(b)
    both = pd.concat([sa.rename("a"), sb.rename("b")], axis=1, join="inner").dropna()
    n = len(both)
    diff = both["a"] - both["b"]
    mean_diff = float(diff.mean()) if n else float("nan")
    if n < 2:
        stat, pval = float("nan"), float("nan")
    else:
        res = stats.ttest_rel(both["a"].to_numpy(), both["b"].to_numpy(), alternative="greater")
        stat, pval = float(res.statistic), float(res.pvalue)
    return PairedTest(stat, pval, n, mean_diff, tuple(int(r) for r in both.index))


def paired_tests_markdown(tidy: pd.DataFrame, tests: Iterable[Mapping]) -> str:
    """The ``## Paired tests`` section of ``metrics.md``: one line per test, "" for no tests.

    Parameters
    ----------
    tidy : pandas.DataFrame
        Output of :func:`evaluate_runs`.
    tests : iterable of mapping
        ``{"a": [dataset, model], "b": [dataset, model], "metric": "TSS", "split": "test"}``
        (``metric`` and ``split`` optional), as in ``experiments.paired_tests``; each tests
        ``H1: a > b`` (:func:`paired_test`). A test whose rows are missing is listed as not
        computed, with the reason.
    """
    lines = []
    for t in tests:
        a, b = tuple(t["a"]), tuple(t["b"])
        metric, split = t.get("metric", "TSS"), t.get("split", "test")
        try:
            r = paired_test(tidy, a, b, metric=metric, split=split)
        except (ValueError, KeyError) as exc:
            lines.append(f"- {list(a)} vs {list(b)}: not computed ({exc})")
            continue
        lines.append(
            f"- {a[0]} {a[1]} > {b[0]} {b[1]} ({split} {metric}, one-sided paired t, n={r.n}): "
            f"mean diff {r.mean_diff:+.3f}, t = {r.statistic:.2f}, p = {r.pvalue:.3g}"
        )
    return "\n## Paired tests\n" + "\n".join(lines) + "\n" if lines else ""


def write_evaluation(
    tidy: pd.DataFrame,
    metrics_csv: str | os.PathLike,
    metrics_md: str | os.PathLike,
    published: Mapping[tuple[str, str], tuple[float, float]] | None = None,
    sections: str = "",
    **markdown_kwargs,
) -> pd.DataFrame:
    """Write the tidy table and its markdown summary atomically; return the summary.

    ``published`` (``{(dataset, model): (mean, sd)}``, keyed by registered names) adds the
    published column of :func:`to_markdown`; ``sections`` (e.g. :func:`paired_tests_markdown`)
    is appended to the markdown file.
    """
    write_csv(tidy, metrics_csv)
    summary = summary_table(tidy)
    table = to_markdown(summary, published=published, **markdown_kwargs)
    write_text(table + sections, metrics_md)
    return summary
