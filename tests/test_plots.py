"""Spread over runs of the verification curves (mean ± sd bands) and the figures built on them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flarepipe.evaluation.metrics import skill_profile
from flarepipe.evaluation.plots import (
    alpha_plot,
    box_plot,
    profile_bands,
    reliability_bands,
    roc_bands,
    spread_plots,
)


def _frame(y, p, split="test"):
    return pd.DataFrame(
        {"sample_id": [f"s{i}" for i in range(len(y))], "split": split, "label": y, "prob": p}
    )


def test_reliability_bands_by_hand():
    runs = [
        _frame([0, 1, 1, 0], [0.05, 0.15, 0.95, 0.92]),
        _frame([1, 0], [0.05, 0.96]),
        _frame([1, 1], [0.5, 0.5], split="val"),  # another split: left out
    ]
    b = reliability_bands(runs, n_bins=10)
    assert b["count"].tolist() == [2, 1, 0, 0, 0, 0, 0, 0, 0, 3]
    assert b["runs"].tolist() == [2, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    assert b.loc[0, "observed"] == pytest.approx(0.5)
    assert b.loc[0, "observed_sd"] == pytest.approx(np.sqrt(0.5))
    assert b.loc[1, "observed"] == 1.0 and b.loc[1, "observed_sd"] == 0.0
    assert b.loc[9, "observed"] == pytest.approx(0.25)
    assert b.loc[9, "observed_sd"] == pytest.approx(np.std([0.5, 0.0], ddof=1))
    assert b.loc[9, "forecast"] == pytest.approx((0.935 + 0.96) / 2)
    assert np.isnan(b.loc[4, "observed"])


def test_roc_bands_perfect_and_reversed():
    y = np.array([0, 0, 1, 1])
    perfect, reversed_ = _frame(y, [0.1, 0.2, 0.8, 0.9]), _frame(y, [0.9, 0.8, 0.2, 0.1])
    b = roc_bands([perfect, reversed_], grid=[0.25, 0.5, 1.0])
    assert b["tpr"].tolist() == pytest.approx([0.5, 0.5, 1.0])
    assert b["tpr_sd"].tolist() == pytest.approx([np.sqrt(0.5), np.sqrt(0.5), 0.0])
    assert (b["runs"] == 2).all()
    one = roc_bands([_frame([1, 1], [0.2, 0.3]), perfect], grid=[0.5])
    assert one["runs"].tolist() == [1] and one["tpr"].tolist() == [1.0]


def test_profile_bands_are_mean_and_sd_of_the_run_profiles():
    rng = np.random.default_rng(0)
    runs, profs = [], []
    for _ in range(3):
        y = rng.integers(0, 2, 80)
        p = np.clip(0.4 * y + 0.6 * rng.random(80), 0, 1)
        runs.append(_frame(y, p))
        profs.append(skill_profile(y, p, [0.3, 0.5, 0.7]))
    b = profile_bands(runs, thresholds=[0.3, 0.5, 0.7])
    for m in ("TSS", "HSS"):
        vals = np.array([pr[m].to_numpy() for pr in profs])
        np.testing.assert_allclose(b[m], vals.mean(axis=0))
        np.testing.assert_allclose(b[f"{m}_sd"], vals.std(axis=0, ddof=1))


def test_spread_box_and_alpha_figures(tmp_path):
    rng = np.random.default_rng(1)

    def run():
        y = rng.integers(0, 2, 60)
        return _frame(y, np.clip(0.5 * y + 0.5 * rng.random(60), 0, 1))

    paths = spread_plots({"lstm": [run(), run()], "cnn": [run()]}, tmp_path, "D", "D")
    assert [p.rsplit("/", 1)[1] for p in paths] == [
        "D_reliability.png",
        "D_roc.png",
        "D_skill_profile.png",
    ]
    assert all((tmp_path / p).stat().st_size > 5000 for p in paths)
    tidy = pd.DataFrame(
        {
            "dataset": "D",
            "model": ["lstm", "lstm", "avg", "avg"],
            "run": [0, 1] * 2,
            "split": "test",
            "metric": "TSS",
            "value": [0.5, 0.6, 0.7, 0.65],
        }
    )
    box_plot(tidy, tmp_path / "box.png", ["lstm", "avg", "absent"])
    assert (tmp_path / "box.png").stat().st_size > 5000
    with pytest.raises(ValueError, match="no HSS"):
        box_plot(tidy, tmp_path / "x.png", ["lstm"], metric="HSS")
    alphas = pd.DataFrame(
        {
            "dataset": ["D", "D", "E"],
            "ensemble": "stack_tss",
            "run": [0, 1, 0],
            "alpha": [0.2, 0.4, 0.9],
        }
    )
    alpha_plot(alphas, tmp_path / "alpha.png")
    assert (tmp_path / "alpha.png").stat().st_size > 5000
    with pytest.raises(ValueError, match="no fitted alpha"):
        alpha_plot(alphas.iloc[:0], tmp_path / "y.png")


def test_weighted_reliability_equals_replicated_negatives():
    y = np.array([1, 0, 0, 1, 0, 0])
    p = np.array([0.15, 0.12, 0.18, 0.95, 0.91, 0.55])
    w = np.where(y == 1, 1.0, 3.0)
    weighted = reliability_bands([_frame(y, p).assign(weight=w)], n_bins=10)
    rep = np.r_[np.arange(6), np.repeat(np.flatnonzero(y == 0), 2)]
    replicated = reliability_bands([_frame(y[rep], p[rep])], n_bins=10)
    ok = weighted["count"] > 0
    for col in ("forecast", "observed"):
        np.testing.assert_allclose(weighted[col][ok], replicated[col][ok])
    assert weighted.loc[1, "observed"] == pytest.approx(1 / 7)
    assert weighted["count"].tolist() == [0, 3, 0, 0, 0, 1, 0, 0, 0, 2]


def test_accuracy_by_alpha_and_the_stacking_figure(tmp_path):
    from flarepipe.evaluation.plots import accuracy_by_alpha, stacking_plot

    y = np.array([1, 1, 0, 0])
    first = _frame(y, [0.9, 0.2, 0.6, 0.1])  # right on 1 and 4
    second = _frame(y, [0.4, 0.8, 0.1, 0.3])  # right on 2, 3 and 4
    got = accuracy_by_alpha([first], [second], grid=[0.0, 0.5, 1.0])
    # alpha 0.5: r = [0.65, 0.5, 0.35, 0.2] -> all four right
    assert got["ACC"].tolist() == pytest.approx([0.75, 1.0, 0.5])
    two = accuracy_by_alpha(
        [first, first], [second, second.assign(prob=1 - second["prob"])], grid=[0.0]
    )
    assert two["ACC"].iloc[0] == pytest.approx(0.5)  # 0.75 and 0.25
    assert two["ACC_sd"].iloc[0] == pytest.approx(np.std([0.75, 0.25], ddof=1))
    with pytest.raises(ValueError, match="different samples"):
        accuracy_by_alpha([first], [second.iloc[:3]])
    out = tmp_path / "stack.png"
    stacking_plot([first], [second], ("lstm", "cnn"), {"stack_tss": 0.5, "best_tss": 0.0}, out)
    assert out.stat().st_size > 5000
