"""Splits: no region in two splits, fractions, determinism, undersampling, fusion, leakage check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flarepipe.config import ConfigError, settings
from flarepipe.core.seeds import job_seed
from flarepipe.samples.split import (
    SPLIT_COLUMNS,
    LeakageError,
    check_leakage,
    chronological_split,
    derive_seed,
    fuse,
    kfold_regions,
    make_dataset_splits,
    region_split,
    undersample,
    write_split,
)


def S(cfg: dict | None = None):  # noqa: N802 - split settings, schema defaults for the rest
    return settings("split", cfg)


def _samples(n_hmi=60, n_mdi=40, seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    specs = [("HARP", i, "HMI", "2010-06-01", "2019-01-01") for i in range(1, n_hmi + 1)]
    specs += [("TARP", 1000 + i, "MDI", "1996-06-01", "2010-10-01") for i in range(1, n_mdi + 1)]
    for prefix, num, inst, lo, hi in specs:
        region = f"{prefix}{num}"
        flaring = rng.random() < 0.35
        start = pd.Timestamp(lo) + (pd.Timestamp(hi) - pd.Timestamp(lo)) * rng.random()
        for j in range(int(rng.integers(5, 30))):
            t = start + pd.Timedelta(minutes=96 * j)
            rows.append(
                {
                    "sample_id": f"{region}_{t:%Y%m%dT%H%M%S}",
                    "region_id": region,
                    "instrument": inst,
                    "t_end": t,
                    "label": int(flaring and rng.random() < 0.3),
                }
            )
    return pd.DataFrame(rows)


def _regions_per_split(split_df):
    return split_df.groupby("split")["region_id"].nunique().to_dict()


def _assignment(split_df):
    return split_df.set_index("sample_id")["split"].sort_index()


# region_split -------------------------------------------------------------------------------
def test_region_split_fractions_and_no_leakage():
    s = _samples()
    hmi = s[s["instrument"] == "HMI"]
    split = region_split(hmi, 0.2, 0.2, seed=3)
    check_leakage(split)
    assert split.groupby("region_id")["split"].nunique().max() == 1
    assert _regions_per_split(split) == {"test": 12, "val": 10, "train": 38}
    assert split["sample_id"].tolist() == hmi["sample_id"].tolist()  # every sample, same order
    assert {"label", *SPLIT_COLUMNS} == set(split.columns)


def test_region_split_deterministic_per_seed_and_order_free():
    s = _samples()
    a = region_split(s, seed=7)
    b = region_split(s.sample(frac=1.0, random_state=0), seed=7)
    pd.testing.assert_series_equal(_assignment(a), _assignment(b))
    c = region_split(s, seed=8)
    assert not _assignment(a).equals(_assignment(c))


def test_region_split_rejects_bad_fraction():
    with pytest.raises(ValueError, match="test_frac"):
        region_split(_samples(), test_frac=1.2)


# kfold ---------------------------------------------------------------------------------------
def test_kfold_each_region_validates_once():
    s = _samples()
    folds = kfold_regions(s, 3, seed=0)
    assert len(folds) == 3
    val_count = pd.Series(0, index=sorted(s["region_id"].unique()))
    for f in folds:
        check_leakage(f)
        assert set(f["split"]) == {"train", "val"}
        val_count[f.loc[f["split"] == "val", "region_id"].unique()] += 1
    assert (val_count == 1).all()


def test_kfold_by_class_balances_positive_regions():
    s = _samples()
    pos_regions = set(s.loc[s["label"] == 1, "region_id"])
    counts = []
    for f in kfold_regions(s, 3, seed=4, by_class=True):
        val = set(f.loc[f["split"] == "val", "region_id"])
        counts.append(len(val & pos_regions))
    assert max(counts) - min(counts) <= 1 and sum(counts) == len(pos_regions)


def test_kfold_keeps_test_rows():
    s = _samples()
    s["split"] = np.where(s["region_id"].isin(["HARP1", "HARP2"]), "test", "train")
    for f in kfold_regions(s, 3, seed=0):
        assert set(f.loc[f["split"] == "test", "region_id"]) == {"HARP1", "HARP2"}
        check_leakage(f)


# chronological --------------------------------------------------------------------------------
BOUNDS = {"train": ["2010-05-01", "2015-10-01"], "test": ["2015-10-01", "2019-01-01"]}


def test_chronological_split_keeps_regions_whole():
    t = pd.to_datetime(
        ["2015-09-30 12:00", "2015-10-01 12:00", "2016-01-01 00:00", "2009-01-01 00:00"]
    )
    s = pd.DataFrame(
        {
            "sample_id": list("abcd"),
            "region_id": ["R1", "R1", "R2", "R3"],
            "instrument": "HMI",
            "t_end": t,
            "label": 0,
        }
    )
    split = chronological_split(s, BOUNDS)
    assert split.set_index("sample_id")["split"].to_dict() == {
        "a": "train",
        "b": "train",
        "c": "test",
    }  # d is outside
    by_sample = chronological_split(s, BOUNDS, assign="sample")
    with pytest.raises(LeakageError, match="R1.*test, train"):
        check_leakage(by_sample)


def test_chronological_split_rejects_overlap():
    s = _samples()
    with pytest.raises(ValueError, match="overlap"):
        chronological_split(s, {"train": ["2010", "2016"], "test": ["2015", "2019"]})
    with pytest.raises(ValueError, match="unknown split"):
        chronological_split(s, {"training": ["2010", "2016"]})


# undersample ---------------------------------------------------------------------------------
@pytest.mark.parametrize("ratio", [1.0, 2.0, 0.5])
def test_undersample_counts_per_split_and_instrument(ratio):
    s = _samples()
    split = region_split(s, seed=1)
    under = undersample(split, ratio, seed=5)
    for (sp, inst), g in split.groupby(["split", "instrument"]):
        u = under[(under["split"] == sp) & (under["instrument"] == inst)]
        n_pos = int(g["label"].sum())
        assert int(u["label"].sum()) == n_pos  # all positives kept
        expected = min(int((g["label"] == 0).sum()), int(round(ratio * n_pos)))
        assert int((u["label"] == 0).sum()) == expected
    assert set(under["sample_id"]) <= set(split["sample_id"])
    assert under["sample_id"].tolist() == [
        i for i in split["sample_id"] if i in set(under["sample_id"])
    ]  # order kept


def test_undersample_deterministic_and_none_keeps_all():
    split = region_split(_samples(), seed=1)
    a, b = undersample(split, 1.0, seed=9), undersample(split, 1.0, seed=9)
    pd.testing.assert_frame_equal(a, b)
    assert not a["sample_id"].equals(undersample(split, 1.0, seed=10)["sample_id"])
    pd.testing.assert_frame_equal(undersample(split, None, seed=9), split)


def test_undersample_group_without_positives_keeps_no_negatives():
    df = pd.DataFrame(
        {
            "sample_id": list("abc"),
            "region_id": "R",
            "instrument": "HMI",
            "split": "val",
            "label": 0,
        }
    )
    assert undersample(df, 1.0, seed=0).empty


# fuse, leakage --------------------------------------------------------------------------------
def test_fuse_adds_other_instrument_to_train_only():
    s = _samples()
    hmi, mdi = s[s["instrument"] == "HMI"], s[s["instrument"] == "MDI"]
    split = region_split(hmi, seed=2)
    fused = fuse(split, mdi)
    assert set(fused.loc[fused["instrument"] == "MDI", "split"]) == {"train"}
    assert len(fused) == len(hmi) + len(mdi)
    pd.testing.assert_frame_equal(
        fused[fused["split"] != "train"].reset_index(drop=True),
        split[split["split"] != "train"].reset_index(drop=True),
    )
    with pytest.raises(LeakageError, match="HARP"):
        fuse(split, hmi)


def test_fuse_can_exclude_shared_noaa_regions():
    s = _samples()
    hmi, mdi = s[s["instrument"] == "HMI"], s[s["instrument"] == "MDI"]
    split = region_split(hmi, seed=2)
    test_region = split.loc[split["split"] == "test", "region_id"].iloc[0]
    noaa = {test_region: [11100], "TARP1001": [11100], "TARP1002": [11101]}
    fused = fuse(split, mdi, region_noaa=noaa)
    assert "TARP1001" not in set(fused["region_id"]) and "TARP1002" in set(fused["region_id"])


def test_check_leakage_names_region_and_splits():
    df = pd.DataFrame(
        {
            "sample_id": ["a", "b", "c"],
            "region_id": ["HARP7", "HARP7", "HARP8"],
            "instrument": "HMI",
            "split": ["train", "test", "val"],
        }
    )
    with pytest.raises(LeakageError, match="HARP7 appears in splits test, train"):
        check_leakage(df)
    ok = df.assign(region_id=["HARP7", "HARP9", "HARP8"])
    check_leakage(ok)
    with pytest.raises(LeakageError, match="NOAA region 11158"):
        check_leakage(ok, region_noaa={"HARP7": [11158], "HARP9": [11158]})


# datasets ------------------------------------------------------------------------------------
def test_dataset_splits_fused_shares_val_and_test():
    s = _samples()
    cfg = {"seed": 11}
    only = make_dataset_splits(s, "SHARP_ONLY", S(cfg), run=2)
    fused = make_dataset_splits(s, "FUSED_SHARP", S(cfg), run=2)
    for df in (only, fused):
        assert list(df.columns) == SPLIT_COLUMNS
        check_leakage(df)
    assert set(only["instrument"]) == {"HMI"}
    for sp in ("val", "test"):
        assert set(only.loc[only["split"] == sp, "sample_id"]) == set(
            fused.loc[fused["split"] == sp, "sample_id"]
        )
    assert set(only.loc[only["split"] == "train", "sample_id"]) <= set(
        fused.loc[fused["split"] == "train", "sample_id"]
    )
    assert set(fused.loc[fused["instrument"] == "MDI", "split"]) == {"train"}
    smarp = make_dataset_splits(s, "FUSED_SMARP", S(cfg), run=2)
    assert set(smarp.loc[smarp["instrument"] == "HMI", "split"]) == {"train"}


def test_dataset_splits_deterministic_per_run():
    s = _samples()
    a = make_dataset_splits(s, "SMARP_ONLY", S({"seed": 1}), run=0)
    pd.testing.assert_frame_equal(a, make_dataset_splits(s, "SMARP_ONLY", S({"seed": 1}), run=0))
    assert not a.equals(make_dataset_splits(s, "SMARP_ONLY", S({"seed": 1}), run=1))
    assert derive_seed(1, 0) == derive_seed(1, 0) != derive_seed(1, 1)


def test_dataset_splits_s2_chronological_kfold():
    s = _samples()
    cfg = {
        "method": "chronological_kfold",
        "boundaries": BOUNDS,
        "k": 3,
        "by_class": True,
        "undersample_ratio": None,
    }
    folds = [make_dataset_splits(s, "SHARP_ONLY", S(cfg), run=r) for r in range(3)]
    first_t = s.groupby("region_id")["t_end"].min()
    for f in folds:
        check_leakage(f)
        test_regions = set(f.loc[f["split"] == "test", "region_id"])
        assert all(first_t[r] >= pd.Timestamp("2015-10-01") for r in test_regions)
    vals = [set(f.loc[f["split"] == "val", "region_id"]) for f in folds]
    assert not (vals[0] & vals[1]) and not (vals[1] & vals[2])
    assert folds[0]["sample_id"].tolist() == folds[1]["sample_id"].tolist()  # nothing dropped


def test_dataset_config_errors():
    s = _samples()
    with pytest.raises(ValueError, match="dataset 'BOTH'"):
        make_dataset_splits(s, "BOTH", S(), 0)
    with pytest.raises(ConfigError, match="'test_fraction' was unexpected"):
        S({"test_fraction": 0.3})
    with pytest.raises(ConfigError, match=r"split\.boundaries is required"):
        S({"method": "chronological"})
    with pytest.raises(ConfigError, match=r"split\.boundaries\.test: start must precede end"):
        S({"method": "chronological", "boundaries": {"test": ["2016-01-01", "2015-01-01"]}})
    with pytest.raises(ValueError, match="region_noaa|NOAA map"):
        make_dataset_splits(s, "FUSED_SHARP", S({"exclude_noaa_overlap": True}), 0)


def test_exclude_noaa_overlap_drops_fused_regions_sharing_val_or_test_noaa():
    s = _samples()
    only = make_dataset_splits(s, "SHARP_ONLY", S(), 0)
    held = only.loc[only["split"] != "train", "region_id"].unique()
    noaa = {r: (20000 + i,) for i, r in enumerate(sorted(s["region_id"].unique()))}
    noaa["TARP1001"] = noaa[held[0]]  # the same sunspot group seen by MDI
    keep_all = {"undersample_ratio": None}
    fused = make_dataset_splits(
        s, "FUSED_SHARP", S({**keep_all, "exclude_noaa_overlap": True}), 0, region_noaa=noaa
    )
    check_leakage(
        fused, region_noaa={r: n for r, n in noaa.items() if r in set(fused["region_id"])}
    )
    assert "TARP1001" not in set(fused["region_id"])
    plain = make_dataset_splits(s, "FUSED_SHARP", S(keep_all), 0)
    assert "TARP1001" in set(plain["region_id"])
    assert set(plain["region_id"]) - set(fused["region_id"]) == {"TARP1001"}


def test_split_seeds_are_the_job_seed_of_the_split_rule():
    """v1's seeds, kept: the permutation of run r uses derive_seed(seed, r)."""
    s = _samples()
    hmi = s[s["instrument"] == "HMI"]
    cfg = {"seed": 5, "undersample_ratio": None}
    split = make_dataset_splits(s, "SHARP_ONLY", S(cfg), 3)
    direct = region_split(hmi, 0.2, 0.2, derive_seed(5, 3), stratify=True)
    assert job_seed("split", 5, 3) == derive_seed(5, 3)
    assert split["split"].tolist() == direct["split"].tolist()


def test_write_split_columns(tmp_path):
    split = make_dataset_splits(_samples(), "SHARP_ONLY", S({}), 0)
    write_split(split, tmp_path / "split_0.csv")
    back = pd.read_csv(tmp_path / "split_0.csv")
    assert list(back.columns) == SPLIT_COLUMNS and len(back) == len(split)
