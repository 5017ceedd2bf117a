"""Tests of flarepipe.studies.sun2022.reproduce: the bad-record rule, sample selection, NOAA derivation, splits,
relabelling the real SHARP tables, and a tiny end-to-end run on generated tables."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flarepipe.studies.sun2022 import reproduce as rp

REPO = Path(__file__).resolve().parents[1]
REAL = Path(os.environ.get(rp.REAL_DATA_ENV, REPO.parent / "shared" / "data" / "real"))
STEP = pd.Timedelta(minutes=96)
T0 = pd.Timestamp("2012-01-01 00:00:00")  # on the 96-minute TAI grid


def _real() -> Path:
    if not (REAL / "keywords" / "sharp_0.csv").exists():
        pytest.skip(f"real data not available: {REAL} (set {rp.REAL_DATA_ENV} to the shared "
                    "data/real folder)")
    return REAL


# ------------------------------------------------------------------------------- sequences
def _records(region: str, steps: list[int], nan_at: tuple[int, ...] = ()) -> pd.DataFrame:
    """One record per step index (value = step index), NaN keyword at ``nan_at``."""
    a = np.array(steps, dtype=float)
    b = 10.0 * a
    for s in nan_at:
        b[steps.index(s)] = np.nan
    return pd.DataFrame({"region_id": region, "t_end_tai": [T0 + s * STEP for s in steps],
                         "a": a, "b": b})


def test_build_sequences_truth_table():
    full = list(range(16))
    cases = {
        # region: (record steps present, NaN step, expected n_missing, expected dropped)
        "R_full": (full, (), 0, ""),
        "R_one": ([s for s in full if s != 5], (), 1, ""),
        "R_two_lead": ([s for s in full if s not in (0, 1)], (), 2, ""),
        "R_three": ([s for s in full if s not in (3, 4, 9)], (), 3, "too_many_missing"),
        "R_nan": ([s for s in full if s not in (3, 4)], (9,), 3, "too_many_missing"),
        "R_last": (list(range(15)), (), 1, "missing_last"),
    }
    records = pd.concat([_records(r, s, n) for r, (s, n, _, _) in cases.items()],
                        ignore_index=True)
    samples = pd.DataFrame({"region_id": list(cases), "t_end_tai": T0 + 15 * STEP})
    seq, status = rp.build_sequences(records, samples, keywords=("a", "b"))
    assert seq.shape == (len(cases), 16, 2) and seq.dtype == np.float32
    for i, (region, (_, _, n_missing, dropped)) in enumerate(cases.items()):
        assert status["n_missing"].iloc[i] == n_missing, region
        assert status["dropped"].iloc[i] == dropped, region
        if dropped:
            assert np.isnan(seq[i]).all(), region
        else:
            assert np.isfinite(seq[i]).all(), region
    np.testing.assert_array_equal(seq[0, :, 0], np.arange(16))
    # one missing step takes the next step's values (backward fill)
    assert seq[1, 5, 0] == 6 and seq[1, 5, 1] == 60 and seq[1, 4, 0] == 4
    # a leading gap is filled from the first available step
    np.testing.assert_array_equal(seq[2, :3, 0], [2, 2, 2])


def test_build_sequences_rejects_off_grid_and_duplicates():
    rec = _records("R", list(range(16)))
    samples = pd.DataFrame({"region_id": ["R"], "t_end_tai": [T0 + 15 * STEP]})
    off = rec.copy()
    off.loc[3, "t_end_tai"] += pd.Timedelta(minutes=20)
    with pytest.raises(ValueError, match="not on the"):
        rp.build_sequences(off, samples, keywords=("a", "b"))
    dup = pd.concat([rec, rec.iloc[[4]]], ignore_index=True)
    with pytest.raises(ValueError, match="two records"):
        rp.build_sequences(dup, samples, keywords=("a", "b"))


def test_select_samples_truth_table():
    t = pd.DataFrame({
        "region_id": ["HARP1"] * 5,
        "t_end": [T0 + i * STEP for i in range(5)],
        "label": [True, True, False, False, False],
        "flares": ["M1.0", "C1.0|X2.0", "", "", "C3.0"],
        "flare_index": [0.0, 5.0, 0.0, 1.3, 0.0],
    })
    s = rp.select_samples(t)
    assert list(s.index) == [0, 1, 2]  # QUIET-obs-WEAK-pred and WEAK-obs rows are discarded
    assert s["label"].tolist() == [1, 1, 0]
    assert s["sample_id"].iloc[0] == "HARP1_20120101T000000"


def test_standardise_uses_training_statistics_per_instrument():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(5, 2, (40, 16, 4)), rng.normal(-3, 0.5, (40, 16, 4))])
    inst = np.array(["HMI"] * 40 + ["MDI"] * 40)
    train = np.zeros(80, dtype=bool)
    train[:30] = True
    train[40:70] = True
    z, stats = rp.standardise(x, inst, train)
    for lo, hi in ((0, 30), (40, 70)):
        flat = z[lo:hi].reshape(-1, 4)
        np.testing.assert_allclose(flat.mean(axis=0), 0, atol=1e-5)
        np.testing.assert_allclose(flat.std(axis=0), 1, atol=1e-4)
    assert set(stats) == {"HMI", "MDI"}
    with pytest.raises(ValueError, match="no training sample"):
        rp.standardise(x, inst, np.arange(80) < 40)


# ------------------------------------------------------------------------- tiny tables
def _write_tiny_data(root: Path, n_regions: int = 24) -> Path:
    """Tables, HARP map and GOES list in the real files' formats, generated with a seed."""
    rng = np.random.default_rng(7)
    (root / "keywords").mkdir(parents=True)
    (root / "goes").mkdir()
    events, harp_lines = [], []
    for prefix, kind, start, noaa0 in (("HARP", "sharp", pd.Timestamp("2012-01-01"), 11400),
                                       ("TARP", "smarp", pd.Timestamp("2001-01-01"), 9300)):
        rows = []
        for r in range(n_regions):
            arp, noaa = 100 + r, noaa0 + r
            if prefix == "HARP":
                harp_lines.append(f"{arp} {noaa}")
            first = start + r * 4 * pd.Timedelta(days=1)
            flaring = r % 2 == 0
            t_flare = first + 40 * STEP + pd.Timedelta(minutes=10)
            if flaring:
                events.append(f"{t_flare:%Y-%m-%dT%H:%M:%S};{t_flare:%Y-%m-%dT%H:%M:%S};"
                              f"{t_flare + pd.Timedelta(minutes=20):%Y-%m-%dT%H:%M:%S};AR{noaa};"
                              "M2.0;N10E10")
            for i in range(45):
                t_end = first + pd.Timedelta(days=1) + i * STEP
                if flaring and t_end >= t_flare:
                    break  # the authors removed rows with a strong flare in the observation only
                label = flaring and t_flare - pd.Timedelta(days=1) <= t_end
                size = (3.0 if flaring else 1.0) * (1 + 0.02 * i)
                rows.append({
                    "prefix": prefix, "arpnum": arp, "t_start": t_end - pd.Timedelta(days=1),
                    "t_end": t_end, "label": label, "flares": "M2.0" if label else "",
                    "FLARE_INDEX": 0.0,
                    "AREA": 500 * size * rng.lognormal(0, 0.1),
                    "USFLUX": 1e21 * size * rng.lognormal(0, 0.1),
                    "MEANGBZ": 50 * size * rng.lognormal(0, 0.1),
                    "R_VALUE": 2.0 * size + rng.normal(0, 0.1),
                })
        pd.DataFrame(rows).to_csv(root / "keywords" / f"{kind}_0.csv", index=False,
                                  date_format="%Y-%m-%d %H:%M:%S")
    (root / "keywords" / "harp_noaa_map.txt").write_text("\n".join(harp_lines) + "\n")
    (root / "goes" / "goes_events_1995_2024.txt").write_text("\n".join(sorted(events)) + "\n")
    return root


def test_derive_region_noaa_finds_the_flaring_regions(tmp_path):
    data = _write_tiny_data(tmp_path / "data", n_regions=6)
    table = rp.load_tables(data, kinds=("smarp",))
    mapping, evidence = rp.derive_region_noaa(table, rp.load_catalogue(data))
    assert mapping == {f"TARP{100 + r}": [9300 + r] for r in range(0, 6, 2)}
    assert evidence["accepted"].sum() == 3


def test_make_run_data_splits_by_region_balanced_and_fused(tmp_path):
    data = _write_tiny_data(tmp_path / "data")
    table = rp.load_tables(data)
    samples = rp.select_samples(table)
    seq, status = rp.build_sequences(table, samples)
    keep = (status["dropped"] == "").to_numpy()
    kept = samples[keep].reset_index(drop=True)
    only = rp.make_run_data(kept, seq[keep], "SHARP_ONLY", run=0, stratify=True)
    fused = rp.make_run_data(kept, seq[keep], "FUSED_SHARP", run=0, stratify=True)
    regions = [set(only.meta[s]["region_id"]) for s in ("train", "val", "test")]
    assert not (regions[0] & regions[1] or regions[0] & regions[2] or regions[1] & regions[2])
    for s in ("train", "val", "test"):
        assert only.y[s].sum() * 2 == len(only.y[s])  # balanced
        assert set(only.meta[s]["instrument"]) == {"HMI"}
    for s in ("val", "test"):
        assert fused.meta[s]["sample_id"].tolist() == only.meta[s]["sample_id"].tolist()
    assert set(fused.meta["train"]["instrument"]) == {"HMI", "MDI"}
    assert set(fused.stats) == {"HMI", "MDI"}


def test_reproduce_end_to_end_on_tiny_tables(tmp_path):
    data = _write_tiny_data(tmp_path / "data")
    out = tmp_path / "out"
    res = rp.reproduce(data, out, runs=2, datasets=("FUSED_SHARP", "SHARP_ONLY"),
                       models=("LSTM", "LR"), stratify=True, max_epochs=1, threads=1)
    tidy = pd.read_csv(res["metrics"])
    assert list(tidy.columns) == ["dataset", "model", "run", "split", "metric", "value"]
    tss = tidy[(tidy["split"] == "test") & (tidy["metric"] == "TSS")]
    assert len(tss) == 2 * 2 * 2
    assert tss.loc[tss["model"] == "LR", "value"].min() > 0.5  # the generated data are separable
    md = (out / "comparison.md").read_text()
    assert "published TSS" in md and "0.884 ± 0.032" in md and "FUSED_SHARP LSTM" in md
    agree = pd.read_csv(out / "relabel_agreement.csv")
    assert agree.loc[agree["reason"] == "agree", "count"].sum() == len(rp.load_tables(data))
    # a second call reuses the finished runs
    again = rp.reproduce(data, out, runs=2, datasets=("FUSED_SHARP", "SHARP_ONLY"),
                         models=("LSTM", "LR"), stratify=True, max_epochs=1, threads=1)
    assert again["train"] == []


def test_cli_reports_missing_data(tmp_path, capsys):
    assert rp.main(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    assert "FLAREPIPE_REAL_DATA" in capsys.readouterr().err


# ------------------------------------------------------------------------------ real data
def test_relabel_real_sharp_fold0_agrees():
    real = _real()
    table = rp.load_tables(real, kinds=("sharp",), folds=(0,))
    assert set(table["fold"]) == {0} and set(table["instrument"]) == {"HMI"}
    flares = rp.load_catalogue(real)
    harp = rp.read_region_noaa(real)
    rel = rp.relabel(table, flares, harp)
    agree = (rel["relabel"].to_numpy() == table["label"].to_numpy(bool)).mean()
    assert agree >= 0.995, f"relabelling agrees on {100 * agree:.3f} % of SHARP fold 0"
    reasons = rp.explain_disagreements(table, rel, flares, harp)
    assert len(reasons) == int((rel["relabel"] != table["label"]).sum())
    assert set(reasons["reason"]) <= {"window_edge", "noaa_not_in_map",
                                      "flare_missing_from_catalogue", "region_not_in_map",
                                      "flare_absent_from_table"}
