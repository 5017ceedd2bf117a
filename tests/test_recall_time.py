"""Recall against the time to the nearest flare (S2 Fig 5): the windowing against a truth table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flarepipe.evaluation.recall_time import (
    flare_offsets,
    pre_flare_scores,
    recall_by_offset,
    region_flare_times,
)

F1 = pd.Timestamp("2012-03-01T00:00")
F2 = F1 + pd.Timedelta(hours=100)  # < 144 h after F1: the interval is split in halves
F3 = F2 + pd.Timedelta(hours=200)  # >= 144 h after F2: separate windows

#: sample offset from F1 (hours) -> (its flare, offset from it), None: not counted
TRUTH = {
    -80: None,  # more than 72 h before F1
    -10: (F1, -10.0),
    30: (F1, 30.0),  # first half of F1..F2
    50: (F2, -50.0),  # the midpoint goes to the later flare
    60: (F2, -40.0),
    172: (F2, 72.0),  # the window's edge is inside
    173: None,  # 73 h after F2, 127 h before F3
    230: (F3, -70.0),
    300: (F3, 0.0),  # at the flare
}


def _samples() -> pd.DataFrame:
    rows = [(f"R1_{h}", "HARP1", F1 + pd.Timedelta(hours=h)) for h in TRUTH]
    rows.append(("R2_0", "HARP2", F1))  # a region without flares
    return pd.DataFrame(rows, columns=["sample_id", "region_id", "t_end"])


def test_flare_times_by_region_noaa_and_class() -> None:
    flares = pd.DataFrame(
        {
            "start_utc": [F3, F1, F2, F1 + pd.Timedelta(hours=5), F1],
            "goes_class": ["X1.0", "M1.0", "M2.3", "C9.9", "M5.0"],
            "noaa_ar": [11111, 11111, 11112, 11111, 12000],
        }
    )
    times = region_flare_times(flares, {"HARP1": (11111, 11112), "HARP2": ()}, 1e-5)
    assert list(times["HARP1"]) == [np.datetime64(t) for t in (F1, F2, F3)]  # C9.9 left out
    assert len(times["HARP2"]) == 0


def test_consecutive_flares_split_the_interval_in_halves() -> None:
    times = {"HARP1": np.array([F1, F2, F3], dtype="datetime64[ns]")}
    got = flare_offsets(_samples(), times, window_hours=72).set_index("sample_id")
    expected = {f"R1_{h}": v for h, v in TRUTH.items() if v is not None}
    assert set(got.index) == set(expected)
    for sid, (flare, off) in expected.items():
        assert pd.Timestamp(got.loc[sid, "flare_start"]) == flare, sid
        assert got.loc[sid, "offset_hours"] == pytest.approx(off), sid


def test_recall_per_offset_bin() -> None:
    times = {"HARP1": np.array([F1, F2, F3], dtype="datetime64[ns]")}
    offsets = flare_offsets(_samples(), times, window_hours=72)
    prob = {"R1_-10": 0.9, "R1_30": 0.2, "R1_50": 0.7, "R1_60": 0.1, "R1_172": 0.6}
    prob |= {"R1_230": 0.4, "R1_300": 0.5}
    preds = pd.DataFrame({"sample_id": list(prob), "label": 1, "prob": list(prob.values())})
    preds.loc[len(preds)] = ["R1_-80", 1, 0.9]  # outside every window: not counted
    r = recall_by_offset(preds, offsets, bin_hours=24, window_hours=72).set_index("bin_start")
    # offsets: -10 (TP), 30 (FN), -50 (TP), -40 (FN), 72 (TP, last bin), -70 (FN), 0 (TP)
    assert list(r.index) == [-72, -48, -24, 0, 24, 48]
    assert list(r["n_pos"]) == [2, 1, 1, 1, 1, 1]
    assert list(r["tp"]) == [1, 0, 1, 1, 0, 1]
    assert (
        r.loc[-72, "recall"] == 0.5
        and np.isnan(recall_by_offset(preds.iloc[:0], offsets, 24, 72)["recall"]).all()
    )


def test_recall_and_tss_24_h_before_a_flare() -> None:
    times = {"HARP1": np.array([F1, F2, F3], dtype="datetime64[ns]")}
    offsets = flare_offsets(_samples(), times, window_hours=72)
    # 24 h before a flare: only R1_-10 (offset -10); R1_300 (0) is at the flare, not before it
    preds = pd.DataFrame(
        {
            "sample_id": ["R1_-10", "R1_300", "R1_60", "N1", "N2", "N3", "N4"],
            "label": [1, 1, 1, 0, 0, 0, 0],
            "prob": [0.8, 0.1, 0.9, 0.6, 0.2, 0.3, 0.1],
        }
    )
    got = pre_flare_scores(preds, offsets, hours=24)
    assert (got["n_pos"], got["tp"], got["fn"]) == (1, 1, 0)
    assert (got["n_neg"], got["fp"], got["tn"]) == (4, 1, 3)
    assert got["recall"] == 1.0 and got["tss"] == pytest.approx(1.0 - 0.25)
    assert pre_flare_scores(preds, offsets, hours=48)["n_pos"] == 2  # R1_60: -40 h from F2
