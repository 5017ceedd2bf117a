"""Tests of flarepipe.evaluation.evaluate (stacking, scores, summaries, t-test) and its plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from flarepipe.evaluation.evaluate import (
    CRITERIA,
    average_predictions,
    best_predictions,
    criterion_score,
    ensembles,
    evaluate_runs,
    paired_test,
    read_predictions,
    stack_predictions,
    summary_table,
    to_markdown,
    write_evaluation,
)
from flarepipe.evaluation.metrics import all_metrics
from flarepipe.evaluation.plots import (
    metrics_bar,
    reliability_diagram,
    roc_plot,
    skill_profile_plot,
)
from flarepipe.studies.sun2022.published import PUBLISHED_TSS, published_tss


def _frame(labels, probs, splits, prefix="S"):
    return pd.DataFrame(
        {
            "sample_id": [f"{prefix}{i:05d}" for i in range(len(labels))],
            "split": splits,
            "label": np.asarray(labels, int),
            "prob": np.asarray(probs, float),
        }
    )


def _pair(seed, n=400, kind="independent"):
    """Two base models on the same samples (half val, half test)."""
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2)
    rng.shuffle(y)
    splits = np.where(np.arange(n) < n // 2, "val", "test")
    if kind == "noise_vs_perfect":
        good = np.where(y == 1, 0.9, 0.1)
        noise = rng.random(n)
        return _frame(y, good, splits), _frame(y, noise, splits), y
    # two independent noisy views of the label
    from scipy.special import expit

    a = expit(1.2 * (2 * y - 1) + rng.normal(0, 1.5, n))
    b = expit(1.2 * (2 * y - 1) + rng.normal(0, 1.5, n))
    return _frame(y, a, splits), _frame(y, b, splits), y


@pytest.mark.parametrize("criterion", sorted(CRITERIA))
def test_stack_prefers_the_perfect_model(criterion):
    good, noise, _ = _pair(0, kind="noise_vs_perfect")
    res = stack_predictions(good, noise, criterion)
    assert res.name == f"stack_{criterion}"
    assert res.alpha > 0.5
    # and symmetrically when the good model is the second one
    res2 = stack_predictions(noise, good, criterion)
    assert res2.alpha < 0.5
    val = res.predictions[res.predictions["split"] == "val"]
    assert all_metrics(val["label"], val["prob"])["TSS"] == pytest.approx(1.0)
    if criterion in ("cross_entropy", "bss"):  # strictly better the more weight on the good one
        assert res.alpha == 1.0 and res2.alpha == 0.0


@pytest.mark.parametrize("criterion", sorted(CRITERIA))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stack_at_least_as_good_as_either_base_on_val(criterion, seed):
    a, b, _ = _pair(seed)
    res = stack_predictions(a, b, criterion)
    va = a[a["split"] == "val"]
    vb = b[b["split"] == "val"]
    vs = res.predictions[res.predictions["split"] == "val"]
    s_a = criterion_score(va["label"].to_numpy(), va["prob"].to_numpy(), criterion)
    s_b = criterion_score(vb["label"].to_numpy(), vb["prob"].to_numpy(), criterion)
    s_s = criterion_score(vs["label"].to_numpy(), vs["prob"].to_numpy(), criterion)
    if CRITERIA[criterion].higher_is_better:
        assert s_s >= max(s_a, s_b) - 1e-12
    else:
        assert s_s <= min(s_a, s_b) + 1e-12
    assert s_s == pytest.approx(
        res.grid["score"].max() if CRITERIA[criterion].higher_is_better else res.grid["score"].min()
    )
    # with two comparable independent views, a mixture is chosen (not a corner)
    if criterion in ("cross_entropy", "bss"):
        assert 0.0 < res.alpha < 1.0


def test_stack_probabilities_and_test_split():
    a, b, _ = _pair(4)
    res = stack_predictions(a, b, "auc", n_grid=11)
    assert len(res.grid) == 11
    m = a.merge(b, on=["sample_id", "split"])
    expect = res.alpha * m["prob_x"] + (1 - res.alpha) * m["prob_y"]
    got = res.predictions.set_index("sample_id").loc[m["sample_id"], "prob"].to_numpy()
    np.testing.assert_allclose(got, expect.to_numpy())
    assert set(res.predictions["split"]) == {"val", "test"}
    assert list(res.predictions.columns) == ["sample_id", "split", "label", "prob"]


def test_stack_uses_val_only():
    a, b, _ = _pair(5, kind="noise_vs_perfect")
    # corrupt the test split of the good model: the choice must not change
    a2 = a.copy()
    t = a2["split"] == "test"
    a2.loc[t, "prob"] = 1 - a2.loc[t, "prob"]
    assert stack_predictions(a2, b, "tss").alpha == stack_predictions(a, b, "tss").alpha


def test_avg_and_best():
    good, noise, _ = _pair(6, kind="noise_vs_perfect")
    avg = average_predictions(good, noise)
    assert avg.name == "avg" and avg.alpha == 0.5
    for c in CRITERIA:
        assert best_predictions(good, noise, c).alpha == 1.0
        assert best_predictions(noise, good, c).alpha == 0.0
    names = set(ensembles(good, noise))
    assert names == {
        "stack_cross_entropy",
        "stack_bss",
        "stack_auc",
        "stack_tss",
        "avg",
        "best_tss",
    }


def test_stack_rejects_mismatch():
    a, b, _ = _pair(7)
    with pytest.raises(ValueError, match="one model only"):
        stack_predictions(a, b.iloc[1:], "tss")
    b2 = b.copy()
    b2.loc[0, "label"] = 1 - b2.loc[0, "label"]
    with pytest.raises(ValueError, match="labels disagree"):
        stack_predictions(a, b2, "tss")
    with pytest.raises(ValueError, match="unknown criterion"):
        stack_predictions(a, b, "f1")
    with pytest.raises(ValueError, match="no predictions in split"):
        stack_predictions(a[a.split == "test"], b[b.split == "test"], "tss")


# ---------------------------------------------------------------------------------------------
def _runs(tmp_path, n_runs=5):
    files = []
    rng = np.random.default_rng(10)
    for run in range(n_runs):
        for model, sig in (("LSTM", 2.5), ("CNN", 1.5)):
            y = np.tile([0, 1], 100)
            splits = np.where(np.arange(200) < 100, "val", "test")
            p = 1 / (1 + np.exp(-(sig * (2 * y - 1) + rng.normal(0, 1.5, 200))))
            path = tmp_path / f"SHARP_ONLY_{model}_{run}.csv"
            _frame(y, p, splits).to_csv(path, index=False)
            files.append(("SHARP_ONLY", model, run, path))
    return files


def test_evaluate_runs_summary_and_markdown(tmp_path):
    files = _runs(tmp_path)
    tidy = evaluate_runs(files)
    assert list(tidy.columns) == ["dataset", "model", "run", "split", "metric", "value"]
    assert set(tidy["split"]) == {"val", "test"}
    one = tidy[(tidy.model == "LSTM") & (tidy.run == 2) & (tidy.split == "test")]
    pred = read_predictions(files[4][3])
    pred = pred[pred.split == "test"]
    ref = all_metrics(pred["label"], pred["prob"])
    assert one.set_index("metric").loc["TSS", "value"] == pytest.approx(ref["TSS"])

    summ = summary_table(tidy)
    row = summ[(summ.model == "LSTM") & (summ.split == "test") & (summ.metric == "TSS")].iloc[0]
    vals = tidy[(tidy.model == "LSTM") & (tidy.split == "test") & (tidy.metric == "TSS")]["value"]
    assert row["mean"] == pytest.approx(vals.mean())
    assert row["sd"] == pytest.approx(vals.std(ddof=1))
    assert row["n"] == 5

    md = to_markdown(
        summ, published=published_tss({"lstm": "LSTM", "cnn": "CNN"}), path=tmp_path / "m.md"
    )
    lines = md.strip().splitlines()
    assert lines[0].startswith("| dataset | model | split | runs | ACC | TSS")
    assert lines[0].rstrip().endswith("published TSS |")
    assert len(lines) == 2 + 2  # header, rule, LSTM and CNN test rows
    lstm = next(ln for ln in lines if "| LSTM |" in ln)
    assert f"{row['mean']:.3f} ± {row['sd']:.3f}" in lstm
    assert "0.884 ± 0.032" in lstm
    assert "0.843 ± 0.034" in next(ln for ln in lines if "| CNN |" in ln)
    assert (tmp_path / "m.md").read_text() == md
    assert all(ln.count("|") == lines[0].count("|") for ln in lines)

    summ2 = write_evaluation(tidy, tmp_path / "ev" / "metrics.csv", tmp_path / "ev" / "metrics.md")
    back = pd.read_csv(tmp_path / "ev" / "metrics.csv")
    assert len(back) == len(tidy) and len(summ2) == len(summ)
    assert not list((tmp_path / "ev").glob(".*"))  # no leftover temporary files


def test_evaluate_runs_single_class_split_is_nan(tmp_path):
    df = _frame([0, 0, 1, 0], [0.1, 0.7, 0.8, 0.2], ["test", "test", "val", "val"])
    tidy = evaluate_runs([("D", "M", 0, df)])
    t = tidy[(tidy.split == "test")].set_index("metric")["value"]
    assert np.isnan(t["TSS"]) and t["ACC"] == 0.5


def test_paired_test_matches_scipy(tmp_path):
    tidy = evaluate_runs(_runs(tmp_path, n_runs=6))
    res = paired_test(tidy, ("SHARP_ONLY", "LSTM"), ("SHARP_ONLY", "CNN"))
    sel = tidy[(tidy.metric == "TSS") & (tidy.split == "test")]
    a = sel[sel.model == "LSTM"].sort_values("run")["value"].to_numpy()
    b = sel[sel.model == "CNN"].sort_values("run")["value"].to_numpy()
    ref = stats.ttest_rel(a, b, alternative="greater")
    assert res.n == 6 and res.runs == tuple(range(6))
    assert res.pvalue == pytest.approx(ref.pvalue)
    assert res.statistic == pytest.approx(ref.statistic)
    assert res.mean_diff == pytest.approx((a - b).mean())
    assert res.mean_diff > 0 and res.pvalue < 0.05  # LSTM carries more signal here
    rev = paired_test(tidy, ("SHARP_ONLY", "CNN"), ("SHARP_ONLY", "LSTM"))
    assert rev.pvalue == pytest.approx(1 - res.pvalue)
    with pytest.raises(ValueError, match="no TSS"):
        paired_test(tidy, ("SHARP_ONLY", "LSTM"), ("FUSED_SHARP", "CNN"))


def test_paired_test_pairs_by_run(tmp_path):
    tidy = evaluate_runs(_runs(tmp_path, n_runs=4))
    tidy = tidy[~((tidy.model == "CNN") & (tidy.run == 3))]
    res = paired_test(tidy, ("SHARP_ONLY", "LSTM"), ("SHARP_ONLY", "CNN"))
    assert res.n == 3 and res.runs == (0, 1, 2)


# ---------------------------------------------------------------------------------------------
def test_plots_write_png(tmp_path):
    a, b, _ = _pair(8)
    models = {"LSTM": a, "CNN": b}
    outs = {
        "rel": tmp_path / "rel.png",
        "roc": tmp_path / "roc.png",
        "prof": tmp_path / "sub" / "prof.png",
        "bar": tmp_path / "bar.png",
    }
    reliability_diagram(models, outs["rel"], "reliability")
    roc_plot(a, outs["roc"], "roc one model")
    skill_profile_plot(models, outs["prof"], "profile")
    tidy = evaluate_runs(_runs(tmp_path, n_runs=3))
    metrics_bar(summary_table(tidy), outs["bar"])
    for path in outs.values():
        data = path.read_bytes()
        assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert not list(tmp_path.rglob(".*.png"))  # no temporary files left


def test_roc_plot_single_class_does_not_crash(tmp_path):
    df = _frame([0, 0, 0], [0.1, 0.5, 0.9], ["test"] * 3)
    roc_plot({"m": df}, tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 0
    with pytest.raises(ValueError, match="no TSS"):
        metrics_bar(
            pd.DataFrame(columns=["dataset", "model", "split", "metric", "mean", "sd"]),
            tmp_path / "x.png",
        )


# ---------------------------------------------------------------------------------------------
def _workflow_predictions(root, datasets=("SHARP_ONLY",), models=("lstm", "cnn"), runs=2):
    """Prediction files in the workflow's layout ``models/<dataset>/<model>/run<k>/``."""
    rng = np.random.default_rng(11)
    files = []
    for d in datasets:
        for m in models:
            for k in range(runs):
                y = np.tile([0, 1], 50)
                p = 1 / (1 + np.exp(-(2.0 * (2 * y - 1) + rng.normal(0, 1.5, 100))))
                splits = np.where(np.arange(100) < 50, "val", "test")
                path = root / "models" / d / m / f"run{k}" / "predictions.csv"
                path.parent.mkdir(parents=True)
                _frame(y, p, splits).to_csv(path, index=False)
                files.append(path)
    return files


def test_workflow_table_shows_published_tss(tmp_path):
    """Defect: the published column of the workflow's metrics.md was always empty (published
    values were keyed LSTM/CNN, the workflow's models are lstm/cnn)."""
    from flarepipe.stages.evaluate import run_evaluate

    files = _workflow_predictions(tmp_path)
    md = tmp_path / "ev" / "metrics.md"
    run_evaluate(files, tmp_path / "ev" / "metrics.csv", md, tmp_path / "ev" / "plots")
    rows = {
        ln.split("|")[2].strip(): ln
        for ln in md.read_text().splitlines()
        if ln.startswith("| SHARP_ONLY |")
    }
    assert rows["lstm"].rstrip().endswith("| 0.884 ± 0.032 |")  # Sun et al. 2022 (SCIENCE.md S1)
    assert rows["cnn"].rstrip().endswith("| 0.843 ± 0.034 |")


def test_published_values_are_keyed_by_registered_names():
    from flarepipe.models.registry import NETWORKS
    from flarepipe.samples.registry import DATASETS

    assert len(PUBLISHED_TSS) == 8
    for dataset, model in PUBLISHED_TSS:
        assert dataset in DATASETS and model in NETWORKS


def test_ensembles_of_any_pair_with_prefix(tmp_path):
    from flarepipe.evaluation.criteria import ensemble_names
    from flarepipe.stages.evaluate import run_stack

    good, noise, _ = _pair(6, kind="noise_vs_perfect")
    res = ensembles(noise, good, criteria=("tss", "bss"), best_criterion="auc", prefix="nl_")
    assert list(res) == ensemble_names(("tss", "bss"), "nl_", "auc")
    assert list(res) == ["nl_stack_tss", "nl_stack_bss", "nl_avg", "nl_best_auc"]
    assert res["nl_best_auc"].alpha == 0.0 and res["nl_stack_bss"].alpha == 0.0
    # the stack stage: two configured pairs of three models, one file per ensemble name
    paths = {}
    for name, frame in (("lstm", good), ("logreg", noise), ("cnn", good)):
        paths[name] = tmp_path / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    stacking = [
        {"pair": ["lstm", "cnn"], "criteria": ["tss"], "prefix": "", "best": "tss"},
        {"pair": ["logreg", "lstm"], "criteria": ["cross_entropy"], "prefix": "lr_", "best": "tss"},
    ]
    names = ["stack_tss", "avg", "best_tss", "lr_stack_cross_entropy", "lr_avg", "lr_best_tss"]
    out = [tmp_path / n / f for n in names for f in ("predictions.csv", "summary.json")]
    alphas = run_stack(stacking, str(tmp_path / "{ensemble}"), out, (), **paths)
    assert list(alphas) == [
        "stack_tss",
        "avg",
        "best_tss",
        "lr_stack_cross_entropy",
        "lr_avg",
        "lr_best_tss",
    ]
    assert alphas["lr_stack_cross_entropy"] == 0.0 and alphas["lr_best_tss"] == 0.0
    for name in alphas:
        back = read_predictions(tmp_path / name / "predictions.csv")
        assert len(back) == len(good)


def test_paired_tests_from_config_in_the_table(tmp_path):
    from flarepipe.stages.evaluate import run_evaluate

    files = _workflow_predictions(
        tmp_path, datasets=("SHARP_ONLY", "FUSED_SHARP"), models=("lstm", "logreg"), runs=3
    )
    tests = [
        {
            "a": ["FUSED_SHARP", "lstm"],
            "b": ["SHARP_ONLY", "lstm"],
            "metric": "TSS",
            "split": "test",
        },
        {
            "a": ["SHARP_ONLY", "lstm"],
            "b": ["SHARP_ONLY", "logreg"],
            "metric": "AUC",
            "split": "val",
        },
        {"a": ["SHARP_ONLY", "cnn"], "b": ["SHARP_ONLY", "lstm"]},
    ]
    md = tmp_path / "metrics.md"
    run_evaluate(files, tmp_path / "metrics.csv", md, tmp_path / "plots", tests=tests)
    text = md.read_text()
    section = text.split("## Paired tests\n")[1].splitlines()
    assert section[0].startswith(
        "- FUSED_SHARP lstm > SHARP_ONLY lstm (test TSS, one-sided paired t, n=3): mean diff "
    )
    assert section[1].startswith(
        "- SHARP_ONLY lstm > SHARP_ONLY logreg (val AUC, one-sided paired t, n=3)"
    )
    assert (
        "not computed (no TSS on split 'test' for dataset/model ('SHARP_ONLY', 'cnn'))"
        in section[2]
    )
    tidy = pd.read_csv(tmp_path / "metrics.csv")
    ref = paired_test(tidy, ("SHARP_ONLY", "lstm"), ("SHARP_ONLY", "logreg"), "AUC", "val")
    assert f"p = {ref.pvalue:.3g}" in section[1]
