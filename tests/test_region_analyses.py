"""S2's region-level analyses (flarepipe.evaluation.region_analyses) on hand-made cases."""

import numpy as np
import pandas as pd
import pytest

from flarepipe.evaluation import region_analyses as ra


def _samples():
    return pd.DataFrame(
        {
            "sample_id": ["a1", "a2", "b1", "b2"],
            "region_id": ["A", "A", "B", "B"],
            "label": [1, 1, 0, 0],
            "t_end": pd.to_datetime(["2012-01-01", "2012-01-03", "2012-01-02", "2016-01-02"]),
            "record_ids": ["0;1", "2", "3", "4"],
        }
    )


def _records():
    return pd.DataFrame(
        {"usfluxl_mx": [9.0, 1.0, 2.0, 3.0, 5.0], "nx": [100, 100, 120, 80, 80], "ny": [50] * 5}
    )


def test_sample_records_take_each_windows_last_record():
    per = ra.sample_records(_samples(), _records())
    assert per["usfluxl_mx"].tolist() == [1.0, 2.0, 3.0, 5.0]  # record 1, not 0, for a1
    bad = _samples().assign(record_ids=["0;9", "2", "3", "4"])
    with pytest.raises(ValueError, match=r"sample 'a1' names record '9'"):
        ra.sample_records(bad, _records())


def test_output_histogram_bins_counts_and_mean_flux():
    per = ra.sample_records(_samples(), _records())
    pred = pd.DataFrame(
        {
            "sample_id": ["a1", "a2", "b1", "b2"],
            "prob": [0.05, 0.15, 0.95, 1.0],
            "label": [1, 1, 0, 0],
        }
    )
    h = ra.output_histogram(pred, per, "usfluxl_mx", bins=10)
    assert h["n"].tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 2]  # p = 1 falls in the last bin
    assert h["n_positive"].tolist() == [1, 1] + [0] * 8
    assert h["mean_flux"].iloc[0] == 1.0 and h["mean_flux"].iloc[9] == 4.0
    assert np.isnan(h["mean_flux"].iloc[5])
    with pytest.raises(ValueError, match="no column 'meangbl'"):
        ra.output_histogram(pred, per, "meangbl")


def test_resolution_counts_and_loss_curves():
    per = ra.sample_records(_samples(), _records())
    r = ra.resolution_counts(per)
    assert r[r["axis"] == "x"].set_index("px")["n"].to_dict() == {80: 2, 100: 1, 120: 1}
    assert r[r["axis"] == "y"].set_index("px")["n"].to_dict() == {50: 4}
    log = pd.DataFrame({"epoch": [0, 1], "train_loss": [0.7, 0.5], "val_loss": [0.8, 0.6]})
    c = ra.loss_curves({0: log, 3: log.drop(columns="val_loss")})
    assert c["run"].tolist() == [0, 0, 3, 3] and c["val_loss"].isna().tolist() == [0, 0, 1, 1]


def test_period_table_counts_regions_and_the_flares_within_each_period():
    split = pd.DataFrame(
        {"sample_id": ["a1", "a2", "b1", "b2"], "split": ["train", "val", "train", "test"]}
    )
    flares = {
        "A": np.array(["2012-01-02", "2013-05-01"], dtype="datetime64[ns]"),  # 2nd after the period
        "B": np.array(["2016-01-01"], dtype="datetime64[ns]"),  # before b2's only test sample
    }
    t = ra.period_table(_samples(), split, flares).set_index("period")
    assert t.loc["train/val", "regions"] == 2 and t.loc["train/val", "flaring_regions"] == 1
    assert t.loc["train/val", "flares"] == 1 and t.loc["train/val", "samples"] == 3
    assert t.loc["test", "regions"] == 1 and t.loc["test", "non_flaring_regions"] == 1
    assert t.loc["test", "flares"] == 0


def test_class_recalls_per_run():
    y = [1, 1, 1, 0, 0, 0, 0]
    p = [0.9, 0.6, 0.1, 0.2, 0.3, 0.4, 0.7]  # TP 2, FN 1, TN 3, FP 1
    pred = pd.DataFrame({"split": "test", "label": y, "prob": p})
    r = ra.class_recalls({0: pred, 1: pred.assign(split="val")}).set_index("run")
    assert r.loc[0, "recall_flaring"] == pytest.approx(2 / 3)
    assert r.loc[0, "recall_non_flaring"] == pytest.approx(3 / 4)
    assert r.loc[0, "TSS"] == pytest.approx(2 / 3 + 3 / 4 - 1)
    assert r.loc[1, "n"] == 0 and np.isnan(r.loc[1, "recall_flaring"])
    assert ra.mean_sd([0.5, 0.7, np.nan]) == "0.600 ± 0.141" and ra.mean_sd([]) == ""


def test_probes_compared_across_training_datasets(tmp_path):
    """Fig 11: one model's probe sweeps from each dataset's summary, a dataset column, one
    figure per family; a model without probes anywhere is an error naming the setting."""
    from flarepipe.attribution.summary import compare_probes

    files = {}
    for d, shift in (("SHARP_ONLY", 0.0), ("SHARP_REVERSED", 0.5)):
        rows = [
            {"run": r, "family": "uniform", "parameter": "orientation", "value": v, "prob": p}
            for r in (0, 1)
            for v, p in (("+-", 0.2 + shift), ("-+", 0.7 - shift))
        ]
        files[d] = tmp_path / f"{d}.csv"
        pd.DataFrame(rows).to_csv(files[d], index=False)
    out = tmp_path / "cmp" / "figures"
    table = compare_probes(files, tmp_path / "cmp" / "probes.csv", out, "cnn2")
    mean = table.groupby(["dataset", "value"])["prob"].mean()
    assert mean["SHARP_ONLY", "+-"] == pytest.approx(0.2)
    assert mean["SHARP_REVERSED", "+-"] == pytest.approx(0.7)
    assert [p.name for p in out.iterdir()] == ["probes__uniform.png"]
    assert (out / "probes__uniform.png").stat().st_size > 5000
    empty = tmp_path / "empty.csv"
    pd.DataFrame(columns=["run", "family", "parameter", "value", "prob"]).to_csv(empty, index=False)
    with pytest.raises(ValueError, match="attribution.probes.enabled"):
        compare_probes({"SHARP_ONLY": empty}, tmp_path / "x.csv", tmp_path / "x", "cnn2")
