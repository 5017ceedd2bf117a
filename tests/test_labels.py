"""Labelling truth tables: window edges, TAI/UTC matching, NOAA matching, bad records, tasks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flarepipe.config import settings
from flarepipe.core.timeutil import format_trec, parse_trec
from flarepipe.samples.labels import (
    EVOLUTION_TYPES,
    SAMPLE_COLUMNS,
    drop_counts,
    evolution_counts,
    flaring_region,
    label_windows,
    make_samples,
    read_samples,
    strong_vs_quiet,
    write_samples,
)


def L(cfg: dict | None = None):  # noqa: N802 - label settings, schema defaults for the rest
    return settings("labels", cfg)


START = pd.Timestamp("2011-02-14 00:00:00")  # TAI, on the 96-minute grid; TAI-UTC = 34 s in 2011


def _region(region_id="HARP1", n=40, step_min=96, start=START, noaa="11158", instrument="HMI"):
    tai = [start + pd.Timedelta(minutes=step_min * i) for i in range(n)]
    trec = [format_trec(t) for t in tai]
    return pd.DataFrame(
        {
            "series": "hmi.sharp_cea_720s" if instrument == "HMI" else "mdi.smarp_cea_96m",
            "instrument": instrument,
            "region": int(region_id[4:]),
            "region_id": region_id,
            "t_rec": parse_trec(trec),
            "t_rec_tai": trec,
            "noaa_ars": noaa,
        }
    )


def _flares(*events) -> pd.DataFrame:
    """events: (start UTC, class, noaa or None)."""
    return pd.DataFrame(
        {
            "start_utc": pd.to_datetime([e[0] for e in events]) if events else pd.to_datetime([]),
            "goes_class": [e[1] for e in events],
            "noaa_ar": pd.array([e[2] for e in events], dtype="Int64"),
        }
    )


def _flag(records, bad_rows=()):
    return pd.DataFrame(
        {"keep": [i not in set(bad_rows) for i in records.index]}, index=records.index
    )


def _by_id(cands):
    return cands.set_index("sample_id")


def _sid(records, row):
    return "HARP1_" + records.loc[row, "t_rec"].strftime("%Y%m%dT%H%M%S")


# ------------------------------------------------------------------------------------------
def test_sample_layout_and_times():
    recs = _region()
    samples = make_samples(recs, _flares(), L())
    assert list(samples.columns) == SAMPLE_COLUMNS
    first = samples.set_index("last_record", drop=False).loc[15]
    assert first["sample_id"] == "HARP1_20110214T235926"  # 2011.02.15_00:00:00_TAI - 34 s
    assert first["t_end"] == pd.Timestamp("2011-02-14 23:59:26")
    assert first["t_start"] == first["t_end"] - pd.Timedelta(hours=24)
    assert first["pred_end"] == first["t_end"] + pd.Timedelta(hours=24)
    assert first["record_ids"] == ";".join(str(i) for i in range(16))
    assert first["last_record"] == 15 and first["n_bad"] == 0
    assert (first["label"], first["obs_type"], first["pred_type"]) == (0, "QUIET", "QUIET")
    assert len(samples) == 40 - 13  # windows from record 13 on have at most 2 empty slots


@pytest.mark.parametrize(
    "offset, obs20, pred20",
    [
        (pd.Timedelta(0), "STRONG", "QUIET"),  # start == t_end: observation, not prediction
        (pd.Timedelta(seconds=1), "QUIET", "STRONG"),
        (pd.Timedelta(hours=24), "QUIET", "STRONG"),  # start == t_end + 24 h: included
        (pd.Timedelta(hours=24, seconds=1), "QUIET", "QUIET"),
        (-pd.Timedelta(hours=24), "QUIET", "QUIET"),  # start == t_end - 24 h: left-open
        (-pd.Timedelta(hours=24) + pd.Timedelta(seconds=1), "STRONG", "QUIET"),
    ],
)
def test_window_edges(offset, obs20, pred20):
    recs = _region()
    x = recs.loc[20, "t_rec"]
    cands = _by_id(label_windows(recs, _flares((x + offset, "M1.0", 11158)), L()))
    row = cands.loc[_sid(recs, 20)]
    assert (row["obs_type"], row["pred_type"]) == (obs20, pred20)


def test_edges_seen_from_neighbouring_windows():
    recs = _region()
    x = recs.loc[20, "t_rec"]
    cands = _by_id(label_windows(recs, _flares((x + pd.Timedelta(hours=24), "X1", 11158)), L()))
    # the same instant is the right edge of record 20's prediction window and of record 35's
    # observation window (15 steps of 96 min = 24 h)
    assert cands.loc[_sid(recs, 35), "obs_type"] == "STRONG"
    assert cands.loc[_sid(recs, 35), "pred_type"] == "QUIET"
    assert cands.loc[_sid(recs, 34), "obs_type"] == "QUIET"


@pytest.mark.parametrize(
    "events, cfg, expected",
    [
        ([], {}, "QUIET"),
        ([("B1.0",)], {}, "WEAK"),
        ([("C9.9",)], {}, "WEAK"),
        ([("M1.0",)], {}, "STRONG"),
        ([("C5.0",), ("X1.0",)], {}, "STRONG"),
        ([("B1.0",)], {"min_class": "C1.0"}, "QUIET"),
        ([("M5.0",)], {"strong_class": "X1.0"}, "WEAK"),
    ],
)
def test_evolution_type_thresholds(events, cfg, expected):
    recs = _region()
    x = recs.loc[20, "t_rec"] + pd.Timedelta(hours=3)
    fl = _flares(*[(x + pd.Timedelta(minutes=i), e[0], 11158) for i, e in enumerate(events)])
    cands = _by_id(label_windows(recs, fl, L(cfg)))
    assert cands.loc[_sid(recs, 20), "pred_type"] == expected


def test_peak_flux_used_when_class_missing():
    recs = _region()
    x = recs.loc[20, "t_rec"] + pd.Timedelta(hours=1)
    fl = _flares((x, "", 11158))
    fl["peak_flux_wm2"] = [2e-5]
    assert _by_id(label_windows(recs, fl, L())).loc[_sid(recs, 20), "pred_type"] == "STRONG"


def test_noaa_mismatch_and_missing_region_never_match():
    recs = _region()
    x = recs.loc[20, "t_rec"] + pd.Timedelta(hours=1)
    fl = _flares((x, "X9.0", 11999), (x, "X9.0", None))
    cands = label_windows(recs, fl, L())
    assert set(cands["pred_type"]) == {"QUIET"} and set(cands["obs_type"]) == {"QUIET"}


def test_noaa_match_region_union_vs_last_record():
    recs = _region()
    recs.loc[30:, "noaa_ars"] = "11158,11160"
    x = recs.loc[25, "t_rec"] + pd.Timedelta(hours=1)
    fl = _flares((x, "M2.0", 11160))
    by_region = _by_id(label_windows(recs, fl, L({"noaa_match": "region"})))
    by_record = _by_id(label_windows(recs, fl, L({"noaa_match": "record"})))
    assert by_region.loc[_sid(recs, 20), "pred_type"] == "STRONG"
    assert by_record.loc[_sid(recs, 20), "pred_type"] == "QUIET"
    assert by_record.loc[_sid(recs, 30), "obs_type"] == "STRONG"


def test_tai_utc_offset_is_tolerated():
    recs = _region()
    shifted = recs.copy()
    shifted["t_rec"] = shifted["t_rec"] + pd.Timedelta(seconds=34)  # exactly on the TAI grid
    a = label_windows(recs, _flares(), L())
    b = label_windows(shifted, _flares(), L())
    assert a["record_ids"].tolist() == b["record_ids"].tolist()
    assert (a["n_missing"] == b["n_missing"]).all()


def test_record_off_grid_is_missing_unless_within_tolerance():
    recs = _region()
    recs.loc[10, "t_rec"] += pd.Timedelta(minutes=10)
    cands = _by_id(label_windows(recs, _flares(), L({"max_bad_records": 16})))
    ids = cands.loc[_sid(recs, 20), "record_ids"].split(";")
    assert ids[5] == "-1" and cands.loc[_sid(recs, 20), "n_bad"] == 1
    assert cands.index.str.endswith(recs.loc[10, "t_rec"].strftime("%H%M%S")).sum() == 0
    wide = _by_id(label_windows(recs, _flares(), L({"tolerance_minutes": 15})))
    assert wide.loc[_sid(recs, 20), "record_ids"].split(";")[5] == "10"


def test_twelve_minute_records_are_subsampled_to_the_grid():
    recs = _region(n=8 * 20, step_min=12)
    cands = label_windows(recs, _flares(), L())
    assert len(cands) == 20  # one window end per 96-minute grid point
    assert (cands["last_record"] % 8 == 0).all()
    full = cands[cands["n_missing"] == 0].iloc[0]
    ids = [int(i) for i in full["record_ids"].split(";")]
    assert np.all(np.diff(ids) == 8) and len(ids) == 16


def test_nearest_record_wins_within_tolerance():
    recs = _region(n=20)
    extra = recs.loc[[10]].copy()
    extra["t_rec"] = extra["t_rec"] + pd.Timedelta(minutes=2)  # farther from the grid point
    recs = pd.concat([recs, extra], ignore_index=True)
    cands = _by_id(label_windows(recs, _flares(), L()))
    assert "10" in cands.loc[_sid(recs, 19), "record_ids"].split(";")
    assert "20" not in cands.loc[_sid(recs, 19), "record_ids"].split(";")


# bad-record rules ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad_rows, cfg, dropped, n_bad",
    [
        ((), {}, "", 0),
        ((6, 7), {}, "", 2),  # two bad records are allowed
        ((6, 7, 8), {}, "too_many_bad", 3),
        ((5, 12), {}, "", 2),  # the first slot counts like any other
        ((20,), {}, "bad_last_record", 1),
        ((4, 21), {}, "", 0),  # outside the window
        ((6,), {"max_bad_records": 0}, "too_many_bad", 1),
    ],
)
def test_bad_record_rules(bad_rows, cfg, dropped, n_bad):
    recs = _region()
    cands = _by_id(label_windows(recs, _flares(), L(cfg), _flag(recs, bad_rows)))
    row = cands.loc[_sid(recs, 20)]
    assert (row["dropped"], row["n_bad"]) == (dropped, n_bad)
    kept_ids = set(make_samples(recs, _flares(), L(cfg), _flag(recs, bad_rows))["sample_id"])
    assert (_sid(recs, 20) in kept_ids) == (dropped == "")


def test_missing_records_count_as_bad_unless_configured():
    recs = _region().drop(index=[6, 7, 8]).reset_index(drop=True)  # row numbers renumbered
    sid = "HARP1_" + _region().loc[20, "t_rec"].strftime("%Y%m%dT%H%M%S")
    strict = _by_id(label_windows(recs, _flares(), L()))
    assert strict.loc[sid, "dropped"] == "too_many_bad" and strict.loc[sid, "n_missing"] == 3
    lax = _by_id(label_windows(recs, _flares(), L({"missing_counts_as_bad": False})))
    assert lax.loc[sid, "dropped"] == "" and lax.loc[sid, "n_bad"] == 0
    assert lax.loc[sid, "record_ids"].split(";")[1:4] == ["-1", "-1", "-1"]


def test_region_start_needs_enough_records():
    recs = _region()
    cands = label_windows(recs, _flares(), L())
    kept = cands[cands["dropped"] == ""]
    assert kept["last_record"].min() == 13  # 14 present + 2 missing slots
    counts = drop_counts(cands).set_index("outcome")["count"]
    assert counts["total"] == 40 and counts["kept"] == 27 and counts["too_many_bad"] == 13


def test_flagged_must_match_records():
    recs = _region()
    with pytest.raises(ValueError, match="index differs"):
        label_windows(recs, _flares(), L(), _flag(recs).iloc[1:])


# tasks --------------------------------------------------------------------------------------
STRONG_VS_QUIET = {
    ("QUIET", "QUIET"): 0,
    ("QUIET", "WEAK"): None,
    ("QUIET", "STRONG"): 1,
    ("WEAK", "QUIET"): None,
    ("WEAK", "WEAK"): None,
    ("WEAK", "STRONG"): 1,
    ("STRONG", "QUIET"): None,
    ("STRONG", "WEAK"): None,
    ("STRONG", "STRONG"): 1,
}


def test_strong_vs_quiet_truth_table():
    combos = list(STRONG_VS_QUIET)
    cands = pd.DataFrame(
        {
            "sample_id": [f"{o}-{p}" for o, p in combos] + ["dropped"],
            "obs_type": [o for o, _ in combos] + ["QUIET"],
            "pred_type": [p for _, p in combos] + ["STRONG"],
            "dropped": [""] * len(combos) + ["bad_last_record"],
        }
    )
    out = strong_vs_quiet(cands).set_index("sample_id")["label"].to_dict()
    expected = {f"{o}-{p}": v for (o, p), v in STRONG_VS_QUIET.items() if v is not None}
    assert out == expected


def test_flaring_region_labels_whole_span():
    a = _region("HARP1", n=5 * 24, step_min=12)  # 24 h at 12 min
    b = _region("HARP2", n=5 * 24, step_min=12, noaa="11200")
    recs = pd.concat([a, b], ignore_index=True)
    fl = _flares(
        (a["t_rec"].iloc[0], "M1.0", 11158),  # exactly at the first record: inside the span
        (b["t_rec"].iloc[-1] + pd.Timedelta(minutes=1), "X1.0", 11200),  # after the span
        (b["t_rec"].iloc[50], "C3.0", 11200),
    )
    cfg = {"task": "flaring_region", "obs_hours": 0, "step_minutes": 60}
    flagged = _flag(recs, bad_rows=(0, 7))  # 0 is on the hourly grid, 7 is not
    samples = make_samples(recs, fl, L(cfg), flagged)
    assert list(samples.columns) == SAMPLE_COLUMNS
    per = samples.groupby("region_id")
    assert per["label"].unique().to_dict() == {"HARP1": [1], "HARP2": [0]}
    assert per["pred_type"].first().to_dict() == {"HARP1": "STRONG", "HARP2": "WEAK"}
    assert per.size().to_dict() == {"HARP1": 23, "HARP2": 24}  # hourly records, minus row 0
    assert (samples["t_start"] == samples["t_end"]).all()
    assert (samples["record_ids"] == samples["last_record"].astype(str)).all()
    assert (samples.loc[samples["region_id"] == "HARP2", "pred_end"] == b["t_rec"].iloc[-1]).all()


def test_flaring_region_function_on_candidates():
    cands = pd.DataFrame(
        {
            "sample_id": ["a", "b", "c"],
            "region_type": ["STRONG", "WEAK", "QUIET"],
            "region_end": pd.to_datetime(["2011-01-01"] * 3),
            "pred_type": "QUIET",
            "pred_end": pd.to_datetime(["2010-01-01"] * 3),
            "dropped": ["", "", "too_many_bad"],
        }
    )
    out = flaring_region(cands)
    assert out["label"].tolist() == [1, 0] and out["pred_type"].tolist() == ["STRONG", "WEAK"]


# tables and files ---------------------------------------------------------------------------
def test_evolution_counts_table():
    cands = pd.DataFrame(
        {
            "instrument": ["HMI"] * 5 + ["MDI"] * 2,
            "obs_type": ["QUIET", "QUIET", "WEAK", "STRONG", "QUIET", "QUIET", "WEAK"],
            "pred_type": ["QUIET", "STRONG", "WEAK", "STRONG", "QUIET", "WEAK", "QUIET"],
            "dropped": ["", "", "", "", "too_many_bad", "", ""],
        }
    )
    table = evolution_counts(cands)
    assert list(table.columns) == ["instrument", "obs_type", *EVOLUTION_TYPES, "total"]
    hmi = table[table["instrument"] == "HMI"].set_index("obs_type")
    assert hmi.loc["QUIET", ["QUIET", "WEAK", "STRONG"]].tolist() == [1, 0, 1]
    assert hmi.loc["WEAK", "WEAK"] == 1 and hmi.loc["STRONG", "STRONG"] == 1
    assert hmi["total"].sum() == 4
    mdi = table[table["instrument"] == "MDI"].set_index("obs_type")
    assert mdi.loc["WEAK", "QUIET"] == 1 and len(mdi) == 3


def test_evolution_counts_precede_task_filter():
    recs = _region()
    fl = _flares((recs.loc[25, "t_rec"], "C1.0", 11158))
    cands = label_windows(recs, fl, L())
    table = evolution_counts(cands)
    assert table[list(EVOLUTION_TYPES)].to_numpy().sum() == (cands["dropped"] == "").sum()
    assert len(make_samples(recs, fl, L())) < (cands["dropped"] == "").sum()  # WEAK ones discarded


def test_write_read_round_trip(tmp_path):
    recs = _region()
    fl = _flares((recs.loc[25, "t_rec"], "M1.0", 11158))
    samples = make_samples(recs, fl, L())
    path = tmp_path / "labels" / "samples.csv"
    write_samples(samples, path)
    text = path.read_text()
    assert "2011-02-14T23:59:26.000" in text
    back = read_samples(path)
    pd.testing.assert_frame_equal(back, samples, check_dtype=False)


def test_string_times_are_parsed():
    recs = _region()
    as_str = recs.assign(t_rec=recs["t_rec"].dt.strftime("%Y-%m-%dT%H:%M:%S.000"))
    fl = _flares((recs.loc[25, "t_rec"], "M1.0", 11158))
    fl_str = fl.assign(start_utc=fl["start_utc"].dt.strftime("%Y-%m-%dT%H:%M:%S"))
    pd.testing.assert_frame_equal(make_samples(recs, fl, L()), make_samples(as_str, fl_str, L()))


@pytest.mark.parametrize(
    "cfg, match",
    [
        ({"obs_hour": 24}, "'obs_hour' was unexpected"),
        ({"task": "nope"}, "labels.task"),
        ({"tolerance_minutes": 48}, "tolerance_minutes"),
        ({"n_steps": 17}, "n_steps"),
        ({"obs_hours": 25}, "whole number"),
        ({"strong_class": "M"}, None),
        ({"strong_class": "Q1"}, "strong_class"),
        ({"noaa_match": "harp"}, "noaa_match"),
    ],
)
def test_config_validation(cfg, match):
    recs = _region(n=20)
    if match is None:
        label_windows(recs, _flares(), L(cfg))
    else:
        with pytest.raises(ValueError, match=match):
            label_windows(recs, _flares(), L(cfg))


def test_bad_flare_class_names_the_row():
    recs = _region(n=20)
    with pytest.raises(ValueError, match="goes_class at row 1"):
        label_windows(
            recs,
            _flares((recs.loc[3, "t_rec"], "M1", 11158), (recs.loc[3, "t_rec"], "Z9", 11158)),
            L(),
        )


def test_zero_positives_with_strong_flares_in_range_is_diagnosed():
    """Truth table of no_positive_diagnosis: an error only when positives are expected."""
    from flarepipe.samples.labels import apply_task, no_positive_diagnosis

    recs = _region()
    during = START + pd.Timedelta(hours=30)
    cases = {
        "matching NOAA": (_flares((during, "M2.0", 11158)), None),
        "unlisted NOAA": (_flares((during, "M2.0", 99999)), "1 a NOAA number that no record"),
        "no NOAA": (_flares((during, "X1.0", None)), "1 have no NOAA number"),
        "weak only": (_flares((during, "C5.0", 99999)), None),
        "strong, out of range": (_flares((START - pd.Timedelta(days=5), "X1.0", 99999)), None),
        "empty list": (_flares(), "the flare list is empty"),
    }
    for name, (flares, expected) in cases.items():
        cand = label_windows(recs, flares, L())
        samples = apply_task(cand, "strong_vs_quiet")
        why = no_positive_diagnosis(recs, flares, L(), samples, cand)
        if expected is None:
            assert why is None, (name, why)
        else:
            assert why is not None and expected in why, (name, why)
            assert (samples["label"] == 0).all()


def test_label_stage_fails_when_the_flares_map_to_no_region(tiny_archive, tmp_path):
    """Every strong flare's NOAA number replaced by one no record lists (a broken HARP->NOAA map):
    the label stage fails with the diagnosis instead of writing an all-negative samples.csv."""
    from flarepipe.archive.layout import load_archive
    from flarepipe.stages.label import run_label

    arc = load_archive(tiny_archive[0])
    flares = pd.read_csv(arc.root / "flares.csv")
    flares["noaa_ar"] = 99999
    flares.to_csv(tmp_path / "flares.csv", index=False)
    pd.DataFrame({"keep": [True] * len(arc.records)}).to_csv(tmp_path / "flagged.csv", index=False)
    out = tmp_path / "samples.csv"
    with pytest.raises(ValueError, match=r"no positive sample although flares.csv has \d+ flare"):
        run_label(
            arc.root / "records.csv",
            tmp_path / "flares.csv",
            tmp_path / "flagged.csv",
            {},
            out,
            tmp_path / "counts.csv",
        )
    assert not out.exists()


def test_samples_cut_at_a_line_boundary_or_edited_are_refused_on_read(tmp_path):
    """samples.csv cut after a whole line still parses; its recorded row count and checksum do
    not match, so read_samples refuses it naming the file (instead of fewer samples flowing on)."""
    from flarepipe.io.atomic import IntegrityError
    from flarepipe.samples.labels import read_samples, write_samples

    recs = _region()
    samples = make_samples(recs, _flares((START + pd.Timedelta(hours=30), "M2.0", 11158)), L())
    path = tmp_path / "samples.csv"
    write_samples(samples, path)
    assert len(read_samples(path)) == len(samples) > 5
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    path.write_text("".join(lines[:-3]))  # three whole rows lost, still a valid CSV
    with pytest.raises(IntegrityError, match=rf"{path}: .* bytes, .* when written.*Delete it"):
        read_samples(path)
    path.write_text(text.replace(",1,", ",0,", 1) if ",1," in text else text[:-2] + "9\n")
    with pytest.raises(IntegrityError, match="SHA-256 differs"):
        read_samples(path)
    write_samples(samples, path)  # a rewrite records anew
    assert len(read_samples(path)) == len(samples)
