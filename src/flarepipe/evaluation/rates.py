"""Evaluation at the true event rate (Sun et al. 2022, S1 section 5) and the sample-count tables.

The splits are undersampled (``split.undersample_ratio``: negatives kept per positive), so the
test skill scores of the main table are those of a set far richer in events than the sky. Here
the test split is scored at the rate of **all** its samples:

* every test negative kept is weighted by ``w = n_pos (1 - r_test) / (r_test n_neg)``, so that
  the weighted event rate is ``r_test``, the event rate of the whole test split before
  undersampling (:func:`flarepipe.samples.split.full_split`). Undersampling keeps every positive
  and a uniform random subset of negatives, so the weighted contingency table is an unbiased
  estimate of the table on all test samples; with ``undersample_ratio: null`` ``w = 1`` and the
  scores are exact.
* the probabilities are scored as predicted (``raw``) and after the prior-shift correction
  (:func:`prior_shift`) from the training rate ``r0`` (the event rate of the undersampled train
  split the model was fitted on, every instrument in it) to ``r1``, the event rate of all train
  samples of the test split's instrument (the population's rate, estimated without the test
  labels).

TSS is a difference of rates within each class, so the reweighting leaves it unchanged (the raw
TSS at the true rate is the test TSS); the correction moves the effective threshold, so the
corrected TSS is that of another threshold. ACC, HSS and BSS depend on the event rate and are
shown both ways.

:func:`instrument_table` (S1 Table 3: positives, negatives, event rate per instrument) and
:func:`split_table` (S1 Table 5: samples per split per dataset) are written beside them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics import roc_auc_score

from flarepipe.evaluation.metrics import Contingency, check_inputs, hss, tss

__all__ = [
    "TRUE_RATE_METRICS",
    "TRUE_RATE_COLUMNS",
    "prior_shift",
    "weighted_scores",
    "with_labels",
    "split_rates",
    "true_rate_scores",
    "true_rate_frame",
    "instrument_table",
    "split_table",
    "true_rate_markdown",
    "counts_markdown",
]

#: Scores reported at the true event rate.
TRUE_RATE_METRICS: tuple[str, ...] = ("ACC", "TSS", "HSS", "AUC", "BSS", "event_rate")
#: Columns of ``true_rate.csv``: ``probability`` is ``raw`` or ``corrected``.
TRUE_RATE_COLUMNS: tuple[str, ...] = (
    "dataset",
    "model",
    "run",
    "probability",
    "metric",
    "value",
)


def _rate(name: str, r: float) -> float:
    r = float(r)
    if not 0.0 < r < 1.0:
        raise ValueError(f"{name} must be within (0, 1), got {r!r}")
    return r


def prior_shift(p: ArrayLike, r0: float, r1: float) -> np.ndarray:
    """Probabilities of a model fitted at event rate ``r0`` moved to event rate ``r1``.

    Bayes' rule with the class-conditional densities unchanged (prior shift)::

        p' = p r1/r0 / (p r1/r0 + (1 - p) (1 - r1)/(1 - r0))

    ``p = 0`` and ``p = 1`` stay where they are; ``r0 == r1`` is the identity.
    """
    r0, r1 = _rate("r0 (training event rate)", r0), _rate("r1 (true event rate)", r1)
    p = np.asarray(p, dtype=np.float64)
    if np.any(~np.isfinite(p) | (p < 0) | (p > 1)):
        raise ValueError("probabilities must be finite and within [0, 1]")
    a = p * (r1 / r0)
    b = (1.0 - p) * ((1.0 - r1) / (1.0 - r0))
    return a / (a + b)


def weighted_scores(
    y: ArrayLike, p: ArrayLike, neg_weight: float, threshold: float = 0.5
) -> dict[str, float]:
    """ACC, TSS, HSS, AUC, BSS and event rate with every negative counted ``neg_weight`` times.

    BSS is against the climatology of the weighted set (its weighted event rate). Scores that
    need both classes are NaN with one.
    """
    y, p = check_inputs(y, p)
    w = np.where(y == 1, 1.0, float(neg_weight))
    f, o = p >= threshold, y == 1
    c = Contingency(
        tp=float(w[f & o].sum()),
        fn=float(w[~f & o].sum()),
        fp=float(w[f & ~o].sum()),
        tn=float(w[~f & ~o].sum()),
    )
    both = bool(o.any() and (~o).any())
    rate = c.pos / c.n if c.n else float("nan")
    bs = float(np.sum(w * (p - y) ** 2) / w.sum()) if y.size else float("nan")
    return {
        "ACC": (c.tp + c.tn) / c.n if c.n else float("nan"),
        "TSS": tss(c),
        "HSS": hss(c),
        "AUC": float(roc_auc_score(y, p, sample_weight=w)) if both else float("nan"),
        "BSS": 1.0 - bs / (rate * (1.0 - rate)) if both else float("nan"),
        "event_rate": rate,
    }


def with_labels(split_df: pd.DataFrame, samples: pd.DataFrame, where: str) -> pd.DataFrame:
    """``split_df`` (a ``split_<run>.csv`` frame) with the ``label`` of each sample.

    Labels come from ``samples`` (``samples.csv``); fails naming ``where`` and a sample that has
    no label.
    """
    labels = samples.set_index(samples["sample_id"].astype(str))["label"]
    ids = split_df["sample_id"].astype(str)
    missing = ~ids.isin(labels.index)
    if missing.any():
        raise ValueError(
            f"{where}: {int(missing.sum())} samples (e.g. {ids[missing].iloc[0]!r}) are not in "
            "samples.csv"
        )
    return split_df.assign(label=labels.reindex(ids).to_numpy().astype(int))


def _event_rate(df: pd.DataFrame) -> float:
    return float(df["label"].astype(int).mean()) if len(df) else float("nan")


def split_rates(kept: pd.DataFrame, full: pd.DataFrame, where: str) -> dict[str, float]:
    """``r0`` (kept train), ``r1`` (all train of the test's instrument), ``r_test`` (all test).

    ``kept`` is the run's ``split_<run>.csv``, ``full``
    :func:`flarepipe.samples.split.full_split`, both with labels (:func:`with_labels`);
    ``where`` names the split file in errors. Fails when a kept test sample is not in the full
    test split; the rate of an empty split is NaN.
    """
    test_kept = set(kept.loc[kept["split"] == "test", "sample_id"].astype(str))
    test_full = set(full.loc[full["split"] == "test", "sample_id"].astype(str))
    missing = sorted(test_kept - test_full)
    if missing:
        raise ValueError(
            f"{where}: {len(missing)} test samples (e.g. {missing[0]!r}) are not in the test split "
            "rebuilt without undersampling; was the split made with another split config?"
        )
    test = full[full["split"] == "test"]
    train = full[full["split"] == "train"]
    if len(test):  # the test split's instrument (a FUSED dataset adds others to train only)
        train = train[train["instrument"].isin(set(test["instrument"]))]
    return {
        "r0": _event_rate(kept[kept["split"] == "train"]),
        "r1": _event_rate(train),
        "r_test": _event_rate(test),
    }


def true_rate_scores(
    predictions: pd.DataFrame, rates: Mapping[str, float], threshold: float = 0.5
) -> dict[str, dict[str, float]]:
    """Scores of the test rows of ``predictions`` at ``rates["r_test"]``, raw and corrected.

    Returns ``{"raw": scores, "corrected": scores}`` (:func:`weighted_scores`); ``corrected``
    scores :func:`prior_shift` ``(p, r0, r1)``. Every score is NaN when the test rows or the
    true rate have a single class (or none), the corrected ones when ``r0`` or ``r1`` is not
    within (0, 1).
    """
    test = predictions[predictions["split"] == "test"]
    y = test["label"].to_numpy().astype(int)
    p = test["prob"].to_numpy(dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((y == 0).sum())
    r_test, r0, r1 = (float(rates[k]) for k in ("r_test", "r0", "r1"))
    nan = dict.fromkeys(TRUE_RATE_METRICS, float("nan"))
    if n_pos == 0 or n_neg == 0 or not 0.0 < r_test < 1.0:
        return {"raw": dict(nan), "corrected": dict(nan)}
    w = n_pos * (1.0 - r_test) / (r_test * n_neg)
    raw = weighted_scores(y, p, w, threshold)
    if not (0.0 < r0 < 1.0 and 0.0 < r1 < 1.0):
        return {"raw": raw, "corrected": dict(nan)}
    return {"raw": raw, "corrected": weighted_scores(y, prior_shift(p, r0, r1), w, threshold)}


def true_rate_frame(predictions: pd.DataFrame, rates: Mapping[str, float]) -> pd.DataFrame | None:
    """The test rows with prior-shift corrected ``prob`` and a ``weight`` column (1 for positives,
    the negative weight of :func:`true_rate_scores` for negatives), for the reliability diagram at
    the true rate; None when :func:`true_rate_scores` leaves the corrected scores undefined.
    """
    test = predictions[predictions["split"] == "test"]
    y = test["label"].to_numpy().astype(int)
    n_pos, n_neg = int(y.sum()), int((y == 0).sum())
    r_test, r0, r1 = (float(rates[k]) for k in ("r_test", "r0", "r1"))
    if n_pos == 0 or n_neg == 0 or not all(0.0 < r < 1.0 for r in (r_test, r0, r1)):
        return None
    w = n_pos * (1.0 - r_test) / (r_test * n_neg)
    return test.assign(
        prob=prior_shift(test["prob"].to_numpy(dtype=np.float64), r0, r1),
        weight=np.where(y == 1, 1.0, w),
    )


def instrument_table(samples: pd.DataFrame) -> pd.DataFrame:
    """S1 Table 3: ``instrument, positives, negatives, samples, event_rate`` over all samples."""
    lab = samples["label"].astype(int)
    g = lab.groupby(samples["instrument"].astype(str))
    out = pd.DataFrame({"positives": g.sum(), "samples": g.size()})
    out["negatives"] = out["samples"] - out["positives"]
    out["event_rate"] = out["positives"] / out["samples"]
    out = out.reset_index().rename(columns={"index": "instrument"})
    return out[["instrument", "positives", "negatives", "samples", "event_rate"]]


def split_table(splits: Sequence[tuple[str, int, pd.DataFrame]]) -> pd.DataFrame:
    """S1 Table 5: samples per split of each (dataset, run), by label and instrument.

    Columns ``dataset, run, split, instrument, positives, negatives, samples`` (the split files
    as trained on, i.e. undersampled; frames with labels, :func:`with_labels`).
    """
    rows = []
    for dataset, run, df in splits:
        lab = df["label"].astype(int)
        for (split, inst), g in lab.groupby(
            [df["split"].astype(str), df["instrument"].astype(str)], sort=True
        ):
            pos = int(g.sum())
            rows.append((dataset, int(run), split, inst, pos, int(g.size) - pos, int(g.size)))
    cols = ["dataset", "run", "split", "instrument", "positives", "negatives", "samples"]
    return pd.DataFrame(rows, columns=cols)


def _ms(values: pd.Series) -> str:
    v = values.dropna().astype(float)
    if v.empty:
        return "n/a"
    return f"{v.mean():.3f}" if len(v) < 2 else f"{v.mean():.3f} ± {v.std(ddof=1):.3f}"


def true_rate_markdown(
    tidy: pd.DataFrame, metrics: Sequence[str] = ("ACC", "TSS", "HSS", "BSS")
) -> str:
    """``## Test at the true event rate`` section: raw and corrected mean ± sd per row."""
    if tidy.empty:
        return ""
    head = ["dataset", "model", "event rate"]
    for m in metrics:
        head += [f"{m} raw", f"{m} corrected"]
    lines = [
        "\n## Test at the true event rate (S1 section 5)\n",
        "All test-split samples, negatives reweighted to the split's event rate before "
        "undersampling; *raw*: probabilities as predicted, *corrected*: prior-shift corrected "
        "from the training rate to the rate of all train samples of the test instrument. TSS is "
        "invariant to the event rate; ACC, HSS and BSS are not.\n",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for (d, m), g in tidy.groupby(["dataset", "model"], sort=False):
        cells = [d, m, _ms(g[(g["metric"] == "event_rate") & (g["probability"] == "raw")]["value"])]
        for metric in metrics:
            for kind in ("raw", "corrected"):
                sel = g[(g["metric"] == metric) & (g["probability"] == kind)]["value"]
                cells.append(_ms(sel))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def counts_markdown(instruments: pd.DataFrame, splits: pd.DataFrame) -> str:
    """``## Sample counts`` section: S1 Table 3 and Table 5 (run 0 and mean over runs)."""
    lines = ["\n## Sample counts (S1 Tables 3 and 5)\n", "All labelled samples per instrument:\n"]
    lines += ["| instrument | positives | negatives | event rate |", "|---|---:|---:|---:|"]
    for r in instruments.itertuples(index=False):
        lines.append(f"| {r.instrument} | {r.positives} | {r.negatives} | {r.event_rate:.4f} |")
    lines += [
        "",
        "Samples per split as trained on (mean over runs; positives / negatives):\n",
        "| dataset | instrument | train | val | test |",
        "|---|---|---:|---:|---:|",
    ]
    if not splits.empty:
        tot = splits.groupby(["dataset", "instrument", "split"], sort=False)[
            ["positives", "negatives"]
        ].mean()
        for (d, inst), g in tot.groupby(level=[0, 1], sort=False):
            g = g.droplevel([0, 1])
            cells = []
            for sp in ("train", "val", "test"):
                if sp in g.index:
                    cells.append(f"{g.loc[sp, 'positives']:.0f} / {g.loc[sp, 'negatives']:.0f}")
                else:
                    cells.append("0")
            lines.append(f"| {d} | {inst} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
