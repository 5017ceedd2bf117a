"""Evaluation at the true event rate (S1 section 5), prior-shift correction, Tables 3 and 5."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit

from flarepipe.config import settings
from flarepipe.evaluation.metrics import all_metrics
from flarepipe.evaluation.rates import (
    counts_markdown,
    instrument_table,
    prior_shift,
    split_rates,
    split_table,
    true_rate_markdown,
    true_rate_scores,
    weighted_scores,
    with_labels,
)
from flarepipe.samples.split import full_split, make_dataset_splits


def test_prior_shift_closed_form_values():
    # odds are multiplied by (r1 / (1 - r1)) / (r0 / (1 - r0))
    assert prior_shift([0.5], 0.5, 0.1)[0] == pytest.approx(0.1)  # p = r0 goes to r1
    assert prior_shift([0.8], 0.5, 0.2)[0] == pytest.approx(0.5)  # odds 4 * 1/4 = 1
    assert prior_shift([0.9], 0.25, 0.5)[0] == pytest.approx(9 * 3 / (9 * 3 + 1))
    p = np.array([0.0, 0.2, 0.7, 1.0])
    np.testing.assert_allclose(prior_shift(p, 0.3, 0.3), p)
    np.testing.assert_allclose(prior_shift(p, 0.5, 0.05)[[0, -1]], [0.0, 1.0])
    with pytest.raises(ValueError, match="r1"):
        prior_shift(p, 0.5, 0.0)
    with pytest.raises(ValueError, match="within"):
        prior_shift([1.5], 0.5, 0.1)


def test_prior_shift_is_bayes_rule_of_the_new_prior():
    """Two Gaussian classes: the exact posterior at prior r0, shifted, is the posterior at r1."""
    x = np.linspace(-4, 4, 81)
    lik1, lik0 = stats.norm.pdf(x, 1.0, 1.0), stats.norm.pdf(x, -1.0, 1.5)

    def posterior(r):
        return r * lik1 / (r * lik1 + (1 - r) * lik0)

    np.testing.assert_allclose(prior_shift(posterior(0.5), 0.5, 0.03), posterior(0.03), rtol=1e-12)
    np.testing.assert_allclose(prior_shift(posterior(0.03), 0.03, 0.4), posterior(0.4), rtol=1e-12)


def test_weighted_scores_equal_replicated_negatives():
    rng = np.random.default_rng(3)
    y = (rng.random(200) < 0.4).astype(int)
    p = np.clip(0.3 * y + 0.7 * rng.random(200), 0, 1)
    got = weighted_scores(y, p, 3.0)
    rep_y = np.concatenate([y, np.zeros(2 * (y == 0).sum(), int), np.zeros(0, int)])
    rep_p = np.concatenate([p, np.tile(p[y == 0], 2)])
    ref = all_metrics(rep_y, rep_p)
    for m in ("ACC", "TSS", "HSS", "AUC", "BSS", "event_rate"):
        assert got[m] == pytest.approx(ref[m], rel=1e-12), m
    one = weighted_scores(y, p, 1.0)
    assert one["HSS"] == pytest.approx(all_metrics(y, p)["HSS"])
    assert one["TSS"] == pytest.approx(got["TSS"])  # TSS does not see the event rate


def test_true_rate_estimates_the_full_test_set():
    """Scores on an undersampled test set, reweighted, approach those on all its samples."""
    rng = np.random.default_rng(7)
    n_pos, n_neg = 2000, 60000
    y = np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)]
    p = expit(rng.normal(np.where(y == 1, 1.5, -1.5), 1.2))
    full = all_metrics(y, p)
    keep = np.r_[np.arange(n_pos), n_pos + rng.choice(n_neg, n_pos, replace=False)]
    pred = pd.DataFrame({"split": "test", "label": y[keep], "prob": p[keep]})
    rate = n_pos / (n_pos + n_neg)
    got = true_rate_scores(pred, {"r0": 0.5, "r1": 0.5, "r_test": rate})
    raw, balanced = got["raw"], all_metrics(y[keep], p[keep])
    assert raw["event_rate"] == pytest.approx(rate)
    assert raw["TSS"] == pytest.approx(balanced["TSS"])  # invariant
    for m, tol in (("TSS", 0.03), ("HSS", 0.03), ("ACC", 0.01), ("AUC", 0.01), ("BSS", 0.25)):
        assert raw[m] == pytest.approx(full[m], abs=tol), m
    for m in ("HSS", "BSS"):  # the undersampled scores are far off
        assert abs(balanced[m] - full[m]) > 4 * abs(raw[m] - full[m]), m
    assert got["corrected"] == raw  # r0 == r1: no correction
    shifted = true_rate_scores(pred, {"r0": 0.5, "r1": rate, "r_test": rate})["corrected"]
    corr = all_metrics(y, prior_shift(p, 0.5, rate))
    assert shifted["BSS"] == pytest.approx(corr["BSS"], abs=0.05)
    assert shifted["BSS"] > raw["BSS"] + 1  # the correction recalibrates
    assert shifted["ACC"] == pytest.approx(corr["ACC"], abs=0.01)


def _samples(seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for inst, prefix, n in (("HMI", "HARP", 60), ("MDI", "TARP", 40)):
        for i in range(n):
            flaring = rng.random() < 0.4
            for j in range(int(rng.integers(5, 25))):
                rows.append(
                    {
                        "sample_id": f"{prefix}{i}_{j}",
                        "region_id": f"{prefix}{i}",
                        "instrument": inst,
                        "t_end": pd.Timestamp("2012-01-01") + pd.Timedelta(hours=j),
                        "label": int(flaring and rng.random() < 0.3),
                    }
                )
    return pd.DataFrame(rows)


def test_full_split_contains_the_undersampled_one_and_gives_its_rates():
    samples = _samples()
    s = settings("split", {"undersample_ratio": 1.0})
    kept = with_labels(make_dataset_splits(samples, "FUSED_SHARP", s, 2), samples, "split_2.csv")
    full = with_labels(full_split(samples, "FUSED_SHARP", s, 2), samples, "all")
    assert set(kept["sample_id"]) < set(full["sample_id"])
    same = kept.merge(full, on="sample_id", suffixes=("", "_full"))
    assert (same["split"] == same["split_full"]).all()
    rates = split_rates(kept, full, "split_2.csv")
    assert rates["r0"] == pytest.approx(0.5)
    fl = full[full["split"] == "test"]
    assert rates["r_test"] == pytest.approx(fl["label"].mean()) and rates["r_test"] < 0.3
    train = full[full["split"] == "train"]
    hmi = train[train["instrument"] == "HMI"]["label"].mean()
    assert rates["r1"] == pytest.approx(hmi)  # FUSED_SHARP: SHARP's rate, not the fused train's
    assert hmi != pytest.approx(train["label"].mean())
    other = make_dataset_splits(samples, "FUSED_SHARP", settings("split", {"seed": 99}), 2)
    other = with_labels(other, samples, "split_2.csv")
    with pytest.raises(ValueError, match="x.csv: 1 samples .* not in samples.csv"):
        with_labels(other.assign(sample_id=["nope", *other["sample_id"][1:]]), samples, "x.csv")
    with pytest.raises(ValueError, match="split_2.csv: .* not in the test split"):
        split_rates(other, full, "split_2.csv")


def test_count_tables():
    samples = pd.DataFrame(
        {
            "sample_id": list("abcdefg"),
            "instrument": ["HMI"] * 4 + ["MDI"] * 3,
            "label": [1, 0, 0, 0, 1, 1, 0],
        }
    )
    inst = instrument_table(samples).set_index("instrument")
    assert inst.loc["HMI"].tolist() == [1, 3, 4, 0.25]
    assert inst.loc["MDI", "positives"] == 2 and inst.loc["MDI", "negatives"] == 1
    split = samples.assign(split=["train", "train", "test", "val", "train", "train", "train"])
    tab = split_table([("FUSED_SHARP", 0, split)])
    row = tab[(tab["split"] == "train") & (tab["instrument"] == "HMI")].iloc[0]
    assert (row["positives"], row["negatives"], row["samples"]) == (1, 1, 2)
    assert tab["samples"].sum() == 7
    md = counts_markdown(instrument_table(samples), tab)
    assert "| HMI | 1 | 3 | 0.2500 |" in md
    assert "| FUSED_SHARP | MDI | 2 / 1 | 0 | 0 |" in md
    assert "| FUSED_SHARP | HMI | 1 / 1 | 0 / 1 | 0 / 1 |" in md


def test_true_rate_markdown_shows_raw_and_corrected():
    rows = []
    for run, (raw, corr) in enumerate([(0.2, 0.4), (0.4, 0.6)]):
        rows += [
            ("SHARP_ONLY", "lstm", run, "raw", "HSS", raw),
            ("SHARP_ONLY", "lstm", run, "corrected", "HSS", corr),
            ("SHARP_ONLY", "lstm", run, "raw", "event_rate", 0.05),
        ]
    tidy = pd.DataFrame(rows, columns=["dataset", "model", "run", "probability", "metric", "value"])
    md = true_rate_markdown(tidy, metrics=("HSS",))
    assert "| dataset | model | event rate | HSS raw | HSS corrected |" in md
    assert "| SHARP_ONLY | lstm | 0.050 ± 0.000 | 0.300 ± 0.141 | 0.500 ± 0.141 |" in md


def test_true_rate_frame_weights_and_corrects_the_test_rows():
    from flarepipe.evaluation.rates import true_rate_frame

    pred = pd.DataFrame(
        {
            "split": ["val", "test", "test", "test", "test"],
            "label": [1, 1, 0, 0, 1],
            "prob": [0.9, 0.5, 0.5, 0.2, 0.8],
        }
    )
    got = true_rate_frame(pred, {"r0": 0.5, "r1": 0.1, "r_test": 0.2})
    assert len(got) == 4 and (got["split"] == "test").all()
    np.testing.assert_allclose(got["prob"], prior_shift([0.5, 0.5, 0.2, 0.8], 0.5, 0.1))
    assert got["prob"].iloc[0] == pytest.approx(0.1)
    w = got["weight"].to_numpy()
    assert (w[got["label"] == 1] == 1).all()
    assert got["label"].sum() / w.sum() == pytest.approx(0.2)  # weighted event rate is r_test
    assert true_rate_frame(pred, {"r0": 0.5, "r1": float("nan"), "r_test": 0.2}) is None
