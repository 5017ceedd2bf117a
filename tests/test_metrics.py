"""Tests of flarepipe.evaluation.metrics against scikit-learn and hand-computed tables."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    brier_score_loss,
    confusion_matrix,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from flarepipe.evaluation.metrics import (
    METRIC_NAMES,
    DegenerateMetricWarning,
    all_metrics,
    contingency,
    metrics_with_reasons,
    skill_profile,
)


def _random(seed: int, n: int = 500, rate: float = 0.3):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(int)
    p = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)
    return y, p


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_against_sklearn(seed, threshold):
    y, p = _random(seed)
    m = all_metrics(y, p, threshold)
    f = (p >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, f, labels=[0, 1]).ravel()
    assert (m["TP"], m["FN"], m["FP"], m["TN"]) == (tp, fn, fp, tn)
    assert m["ACC"] == pytest.approx(accuracy_score(y, f))
    assert m["TSS"] == pytest.approx(2 * balanced_accuracy_score(y, f) - 1)
    assert m["recall"] == pytest.approx(recall_score(y, f))
    assert m["precision"] == pytest.approx(precision_score(y, f))
    assert m["AUC"] == pytest.approx(roc_auc_score(y, p))
    assert m["BS"] == pytest.approx(brier_score_loss(y, p))
    assert m["CE"] == pytest.approx(log_loss(y, p))
    rate = y.mean()
    assert m["BSS"] == pytest.approx(1 - brier_score_loss(y, p) / (rate * (1 - rate)))
    assert m["event_rate"] == pytest.approx(rate)
    assert set(m) == set(METRIC_NAMES)


def test_hand_computed_table():
    # TP=3, FN=1, FP=2, TN=4 (N=10)
    y = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    p = [0.9, 0.8, 0.6, 0.2, 0.7, 0.5, 0.4, 0.3, 0.1, 0.0]
    m = all_metrics(y, p)
    assert (m["TP"], m["FN"], m["FP"], m["TN"], m["N"]) == (3, 1, 2, 4, 10)
    assert m["ACC"] == pytest.approx(0.7)
    assert m["TSS"] == pytest.approx(3 / 4 - 2 / 6)
    # HSS = 2(TP TN - FN FP) / ((TP+FN)(FN+TN) + (TP+FP)(FP+TN)) = 2*10 / (4*5 + 5*6)
    assert m["HSS"] == pytest.approx(20 / 50)
    # events are the minority: ApSS = (TP - FP) / (TP + FN)
    assert m["ApSS"] == pytest.approx((3 - 2) / 4)
    assert m["FB"] == pytest.approx(5 / 4)
    assert m["precision"] == pytest.approx(3 / 5)
    assert m["recall"] == pytest.approx(3 / 4)


def test_hss_equals_skill_over_random_chance():
    """HSS = (correct - expected correct by chance) / (N - expected correct by chance)."""
    y, p = _random(11, n=300)
    c = contingency(y, p)
    n = c.n
    e = ((c.tp + c.fn) * (c.tp + c.fp) + (c.tn + c.fn) * (c.tn + c.fp)) / n
    assert all_metrics(y, p)["HSS"] == pytest.approx((c.tp + c.tn - e) / (n - e))


def test_apss_majority_positive():
    # events are the majority (6 of 8): ApSS = (TN - FN) / (FP + TN)
    y = [1, 1, 1, 1, 1, 1, 0, 0]
    p = [0.9, 0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.9]  # TP=5 FN=1 TN=1 FP=1
    m = all_metrics(y, p)
    assert m["ApSS"] == pytest.approx((1 - 1) / 2)
    assert m["ApSS"] == pytest.approx((5 + 1 - 6) / (8 - 6))


def test_threshold_is_inclusive():
    m = all_metrics([1, 0], [0.5, 0.49])
    assert m["TP"] == 1 and m["TN"] == 1 and m["TSS"] == 1.0


def test_perfect_and_inverted():
    y = np.array([0, 1] * 10)
    assert all_metrics(y, y.astype(float))["TSS"] == 1.0
    inv = all_metrics(y, 1.0 - y)
    assert inv["TSS"] == -1.0 and inv["AUC"] == 0.0 and inv["HSS"] == -1.0


def test_bss_of_climatology_is_zero():
    y = np.array([0, 0, 0, 1])
    assert metrics_with_reasons(y, np.full(4, 0.25)).values["BSS"] == pytest.approx(0.0)


def test_single_class_gives_nan_with_reason():
    y = np.zeros(6, int)
    p = np.linspace(0, 1, 6)
    res = metrics_with_reasons(y, p)
    for k in ("TSS", "AUC", "BSS", "recall", "FB", "ApSS"):
        assert math.isnan(res.values[k]), k
        assert "only negatives" in res.reasons[k]
    assert not math.isnan(res.values["ACC"]) and not math.isnan(res.values["CE"])
    assert not math.isnan(res.values["HSS"])  # forecasts in both classes: defined (= 0)
    with pytest.warns(DegenerateMetricWarning, match="TSS"):
        all_metrics(y, p)


def test_no_positive_forecast_precision_reason():
    res = metrics_with_reasons([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4])
    assert math.isnan(res.values["precision"])
    assert "no positive forecast" in res.reasons["precision"]
    assert res.values["TSS"] == 0.0


def test_empty_set():
    res = metrics_with_reasons([], [])
    counts = ("TP", "FN", "FP", "TN", "N")
    assert all(math.isnan(v) for k, v in res.values.items() if k not in counts)
    assert res.reasons["TSS"].startswith("empty")


def test_no_warning_on_regular_data():
    y, p = _random(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        all_metrics(y, p)


@pytest.mark.parametrize(
    "y, p, match",
    [
        ([0, 2], [0.1, 0.2], "labels must be 0 or 1"),
        ([0, 1], [0.1, 1.2], "within"),
        ([0, 1], [0.1, np.nan], "finite"),
        ([0, 1, 1], [0.1, 0.2], "length"),
    ],
)
def test_bad_inputs(y, p, match):
    with pytest.raises(ValueError, match=match):
        all_metrics(y, p)


def test_skill_profile_matches_pointwise():
    y, p = _random(7, n=200)
    thr = np.array([0.0, 0.2, 0.45, 0.5, 0.8, 1.0])
    prof = skill_profile(y, p, thr)
    for t, row in zip(thr, prof.itertuples(), strict=False):
        m = metrics_with_reasons(y, p, t).values
        assert row.TSS == pytest.approx(m["TSS"])
        assert (np.isnan(row.HSS) and np.isnan(m["HSS"])) or row.HSS == pytest.approx(m["HSS"])
        assert row.ACC == pytest.approx(m["ACC"])
