"""Tests of flarepipe.evaluation.oracle: exact rate integrals and the TSS-optimal forecast."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from flarepipe.evaluation.metrics import skill_profile
from flarepipe.evaluation.oracle import (
    RateIntegrator,
    oracle_predictions,
    oracle_probabilities,
    oracle_split_predictions,
    prior_ratio,
    read_rates,
    window_integral,
)

T0 = pd.Timestamp("2012-03-01T00:00:00")
NS_DAY = 86_400e9


def _iso(ts) -> list[str]:
    return [t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] for t in pd.DatetimeIndex(ts)]


def _region_rows(rng, region_id, n, step_min, start, gaps=False):
    steps = np.full(n - 1, step_min)
    if gaps:  # a few missing rows: the previous row's rate then lasts longer
        steps = steps * rng.choice([1, 1, 1, 3], size=n - 1)
    t = start + pd.to_timedelta(np.concatenate(([0], np.cumsum(steps))), unit="min")
    rm = rng.gamma(0.5, 0.2, n)
    return pd.DataFrame(
        {
            "region_id": region_id,
            "t_utc": _iso(t),
            "rate_all_per_day": rm * 8 + rng.gamma(1.0, 0.5, n),
            "rate_c_per_day": rm * 5,
            "rate_m_per_day": rm,
        }
    )


def _brute(rows: pd.DataFrame, t0, t1, column, last_step_min):
    """Sum over rows of rate x |[t_i, t_{i+1}) ∩ (t0, t1]| in days (independent of the module)."""
    t = pd.DatetimeIndex(rows["t_utc"]).to_numpy().astype("datetime64[ns]").astype(np.int64)
    ends = np.append(t[1:], t[-1] + int(last_step_min * 60e9))
    r = rows[column].to_numpy()
    out = []
    for a, b in zip(t0, t1, strict=False):
        a = pd.Timestamp(a).value
        b = pd.Timestamp(b).value
        overlap = np.clip(np.minimum(ends, b) - np.maximum(t, a), 0, None) / NS_DAY
        out.append(float(np.sum(r * overlap)))
    return np.array(out)


@pytest.mark.parametrize("seed", range(4))
def test_integral_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    step = 12 if seed % 2 == 0 else 96
    prefix = "HARP" if step == 12 else "TARP"
    rows = _region_rows(rng, f"{prefix}{seed}", 60, step, T0, gaps=seed >= 2)
    first = pd.Timestamp(rows["t_utc"].iloc[0])
    last = pd.Timestamp(rows["t_utc"].iloc[-1])
    span = (last - first) + pd.Timedelta(minutes=3 * step)
    # windows anywhere, including before the first row, after the last and across both ends,
    # with edges on and off the step grid
    a = (
        first
        - pd.Timedelta(minutes=2 * step)
        + pd.to_timedelta(rng.uniform(0, 1, 300) * span.total_seconds(), unit="s")
    )
    a = a.where(rng.random(300) < 0.7, a.round(f"{step}min"))
    length = pd.to_timedelta(rng.uniform(0, 1.5, 300) * span.total_seconds(), unit="s")
    b = a + length
    got = window_integral(rows, rows["region_id"].iloc[0], a, b, "rate_m_per_day")
    ref = _brute(rows, a, b, "rate_m_per_day", step)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)
    # a window covering the whole region gives the total, and nothing is outside
    whole = window_integral(
        rows,
        rows["region_id"].iloc[0],
        [first - pd.Timedelta(days=5)],
        [last + pd.Timedelta(days=5)],
        "rate_all_per_day",
    )
    np.testing.assert_allclose(
        whole, _brute(rows, [first], [last + pd.Timedelta(minutes=step)], "rate_all_per_day", step)
    )
    outside = window_integral(
        rows,
        rows["region_id"].iloc[0],
        [first - pd.Timedelta(days=3), last + pd.Timedelta(minutes=step)],
        [first, last + pd.Timedelta(days=3)],
        "rate_m_per_day",
    )
    np.testing.assert_array_equal(outside, [0.0, 0.0])


def test_last_row_lasts_one_step_and_half_open_windows():
    rates = pd.DataFrame(
        {
            "region_id": ["TARP1"] * 3,
            "t_utc": [
                "2001-01-01T00:00:00.000",
                "2001-01-01T01:36:00.000",
                "2001-01-01T03:12:00.000",
            ],
            "rate_m_per_day": [1.0, 2.0, 4.0],
        }
    )
    day = 96 / 1440
    integ = RateIntegrator(rates)
    t = pd.Timestamp("2001-01-01")
    whole = integ.integral(
        "TARP1", [t - pd.Timedelta(hours=5)], [t + pd.Timedelta(hours=10)], "rate_m_per_day"
    )
    assert whole[0] == pytest.approx((1 + 2 + 4) * day)
    half = integ.integral(
        "TARP1",
        [t + pd.Timedelta(minutes=48)],
        [t + pd.Timedelta(minutes=96 + 48)],
        "rate_m_per_day",
    )
    assert half[0] == pytest.approx(0.5 * day * 1 + 0.5 * day * 2)
    # single-row regions take the native step from the id prefix
    one = pd.DataFrame(
        {"region_id": ["HARP9"], "t_utc": ["2012-01-01T00:00:00"], "rate_m_per_day": [24 * 60 / 12]}
    )
    assert window_integral(one, "HARP9", ["2011-12-31"], ["2012-01-02"])[0] == pytest.approx(1.0)
    with pytest.raises(KeyError, match="HARP10"):
        window_integral(one, "HARP10", ["2011-12-31"], ["2012-01-02"])
    with pytest.raises(ValueError, match="ends before"):
        window_integral(one, "HARP9", ["2012-01-02"], ["2011-12-31"])


def test_vectorised_over_regions_and_fast(tmp_path):
    rng = np.random.default_rng(5)
    regions = [
        _region_rows(rng, f"HARP{i}", 1200, 12, T0 + pd.Timedelta(days=i % 30)) for i in range(100)
    ]
    rates = pd.concat(regions, ignore_index=True)
    path = tmp_path / "rates.csv"
    rates.to_csv(path, index=False)
    integ = RateIntegrator(read_rates(path))
    n = 100_000
    rid = rng.choice([f"HARP{i}" for i in range(100)], n)
    start = T0 + pd.to_timedelta(rng.uniform(-1, 45, n), unit="D")
    end = start + pd.Timedelta(hours=24)
    tic = time.perf_counter()
    got = integ.integral(rid, start, end, "rate_m_per_day")
    elapsed = time.perf_counter() - tic
    assert elapsed < 3.0, f"100k windows took {elapsed:.2f} s"
    for r in ("HARP3", "HARP77"):
        sel = rid == r
        ref = integ.integral(r, start[sel], end[sel], "rate_m_per_day")
        np.testing.assert_allclose(got[sel], ref)
    sub = np.flatnonzero(rid == "HARP3")[:20]
    np.testing.assert_allclose(
        got[sub], _brute(regions[3], start[sub], end[sub], "rate_m_per_day", 12), rtol=1e-9
    )


def _samples_for(rates: pd.DataFrame, step_min: int = 96) -> pd.DataFrame:
    rows = []
    for rid, g in rates.groupby("region_id"):
        t = pd.DatetimeIndex(g["t_utc"])
        for k in range(0, len(t) - 31, 2):
            t_end = t[k + 15]
            rows.append(
                (
                    f"{rid}_{k}",
                    rid,
                    t[k] - pd.Timedelta(minutes=step_min),
                    t_end,
                    t_end + pd.Timedelta(hours=24),
                )
            )
    return pd.DataFrame(rows, columns=["sample_id", "region_id", "t_start", "t_end", "pred_end"])


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(42)
    regions = []
    for i in range(60):
        g = _region_rows(rng, f"TARP{i}", 60, 96, T0 + pd.Timedelta(days=i))
        level = rng.lognormal(-1.5, 1.2)
        g["rate_m_per_day"] *= level
        g["rate_all_per_day"] = g["rate_m_per_day"] * 6 + rng.gamma(1.0, 0.4) * rng.random(len(g))
        regions.append(g)
    rates = pd.concat(regions, ignore_index=True)
    samples = _samples_for(rates)
    probs = oracle_probabilities(samples, rates)
    return rates, samples, probs


def test_oracle_probabilities_definition(planted):
    rates, samples, probs = planted
    assert list(probs["sample_id"]) == list(samples["sample_id"])
    lam_m = window_integral(
        rates, samples["region_id"], samples["t_end"], samples["pred_end"], "rate_m_per_day"
    )
    lam_o = window_integral(
        rates, samples["region_id"], samples["t_start"], samples["t_end"], "rate_all_per_day"
    )
    np.testing.assert_allclose(probs["lambda_m_pred"], lam_m)
    np.testing.assert_allclose(probs["lambda_all_obs"], lam_o)
    p_m = 1 - np.exp(-lam_m)
    quiet = np.exp(-lam_o - probs["lambda_all_pred"])
    np.testing.assert_allclose(probs["q"], p_m / (p_m + quiet), rtol=1e-10)
    assert probs["q"].between(0, 1).all()


def test_q_monotone():
    """q rises with the M rate in the prediction window and with activity in the obs window."""
    t = pd.date_range("2005-01-01", periods=40, freq="96min")
    n = 9
    rates = pd.concat(
        [
            pd.DataFrame(
                {
                    "region_id": f"TARP{i}",
                    "t_utc": _iso(t),
                    "rate_m_per_day": 0.02 * 2.0**i,
                    "rate_all_per_day": 0.5,
                }
            )
            for i in range(n)
        ],
        ignore_index=True,
    )
    # region i has a larger M rate; obs/pred windows identical in time
    s = pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(n)],
            "region_id": [f"TARP{i}" for i in range(n)],
            "t_start": t[0],
            "t_end": t[15],
            "pred_end": t[15] + pd.Timedelta("24h"),
        }
    )
    q = oracle_probabilities(s, rates)["q"].to_numpy()
    assert np.all(np.diff(q) > 0)
    # more non-M activity in the obs window (fixed M rate): negatives less likely, q rises
    rates2 = rates[rates.region_id == "TARP0"].copy()
    hours = (0, 3, 6, 9, 12, 15)
    windows = pd.DataFrame(
        {
            "sample_id": [f"w{k}" for k in range(6)],
            "region_id": "TARP0",
            "t_start": [t[15] - pd.Timedelta(hours=h) for h in hours],
            "t_end": t[15],
            "pred_end": t[15] + pd.Timedelta("24h"),
        }
    )
    q2 = oracle_probabilities(windows, rates2)["q"].to_numpy()
    assert np.all(np.diff(q2) > 0)
    # q = 0 without M rate, without NaN
    rates3 = rates2.assign(rate_m_per_day=0.0)
    assert (oracle_probabilities(windows, rates3)["q"] == 0).all()


def _simulate(probs: pd.DataFrame, rng, n_draws: int):
    """Poisson flare counts per window; keep STRONG-pred or QUIET-obs-and-pred samples."""
    lam_m = probs["lambda_m_pred"].to_numpy()
    lam_o = probs["lambda_all_obs"].to_numpy()
    lam_other = np.clip(probs["lambda_all_pred"].to_numpy() - lam_m, 0, None)
    shape = (n_draws, lam_m.size)
    n_m = rng.poisson(lam_m, shape)
    quiet = (rng.poisson(lam_o, shape) == 0) & (n_m == 0) & (rng.poisson(lam_other, shape) == 0)
    pos = n_m > 0
    kept = pos | quiet
    return pos.astype(int), kept


def test_q_is_calibrated_on_kept_samples(planted):
    _, _, probs = planted
    rng = np.random.default_rng(0)
    label, kept = _simulate(probs, rng, 200)
    q = np.broadcast_to(probs["q"].to_numpy(), label.shape)[kept]
    y = label[kept]
    edges = np.quantile(q, np.linspace(0, 1, 9))
    idx = np.clip(np.searchsorted(edges, q, side="right") - 1, 0, 7)
    for b in range(8):
        sel = idx == b
        if sel.sum() < 200:
            continue
        se = np.sqrt(q[sel].mean() * (1 - q[sel].mean()) / sel.sum()) + 1e-3
        assert abs(y[sel].mean() - q[sel].mean()) < 5 * se, b


def test_oracle_rule_maximises_tss_on_average(planted):
    _, samples, probs = planted
    rng = np.random.default_rng(1)
    label, kept = _simulate(probs, rng, 300)
    thresholds = [0.2, 0.35, 0.5, 0.65, 0.8]
    q_all = probs["q"].to_numpy()
    sid = samples["sample_id"].to_numpy()
    tss, tss_unadjusted, ratios = [], [], []
    for d in range(label.shape[0]):
        k = kept[d]
        y = label[d, k]
        ratio = prior_ratio(y)
        ratios.append(ratio)
        frame = pd.DataFrame({"sample_id": sid[k], "split": "test", "label": y})
        pred = oracle_predictions(frame, q_all[k], ratio)
        tss.append(skill_profile(y, pred["prob"].to_numpy(), thresholds)["TSS"].to_numpy())
        tss_unadjusted.append(skill_profile(y, q_all[k], [0.5])["TSS"].iloc[0])
    assert list(pred.columns) == ["sample_id", "split", "label", "prob"]
    mean = dict(zip(thresholds, np.mean(tss, axis=0), strict=False))
    assert np.mean(ratios) < 0.5  # positives are the minority, as in S1
    assert all(mean[0.5] > mean[t] for t in thresholds if t != 0.5), mean
    # thresholding the raw posterior q at 0.5 ignores the prior: clearly worse for TSS
    assert mean[0.5] > np.mean(tss_unadjusted) + 0.02


def test_oracle_predictions_rule_and_log_odds():
    q = np.array([0.0, 0.01, 0.05, 0.2, 0.5, 0.9, 1.0])
    frame = pd.DataFrame(
        {"sample_id": list("abcdefg"), "split": "val", "label": [0, 0, 1, 0, 1, 1, 1]}
    )
    ratio = 0.05 / 0.95
    pred = oracle_predictions(frame, q, ratio)
    odds = q / (1 - np.where(q == 1, np.nan, q))
    np.testing.assert_array_equal(
        (pred["prob"] >= 0.5).to_numpy()[1:-1], (odds >= ratio - 1e-12)[1:-1]
    )
    assert pred["prob"].iloc[0] == 0.0 and pred["prob"].iloc[-1] == 1.0
    assert pred["prob"].iloc[2] == pytest.approx(0.5)
    lo = pd.Series(np.log(odds[1:-1]), name="log_odds")
    via_lo = oracle_predictions(frame.iloc[1:-1], lo, ratio)
    np.testing.assert_allclose(via_lo["prob"], pred["prob"].iloc[1:-1])
    with pytest.raises(ValueError, match="prior_ratio"):
        oracle_predictions(frame, q, 0.0)


def test_oracle_split_predictions(planted):
    rates, samples, probs = planted
    rng = np.random.default_rng(3)
    s = samples.assign(instrument="MDI", label=(rng.random(len(samples)) < probs["q"]).astype(int))
    split = pd.DataFrame(
        {"sample_id": s["sample_id"], "split": rng.choice(["train", "val", "test"], len(s))}
    ).iloc[::3]
    pred = oracle_split_predictions(s, split, rates)
    want = split[split.split != "train"]
    assert list(pred["sample_id"]) == list(want["sample_id"])
    assert set(pred["split"]) == {"val", "test"}
    ratio = prior_ratio(s["label"])
    q = probs.set_index("sample_id").loc[pred["sample_id"], "q"].to_numpy()
    np.testing.assert_allclose(pred["prob"], (q / (1 - q)) / (q / (1 - q) + ratio), rtol=1e-9)
    bad = pd.DataFrame({"sample_id": ["nope"], "split": ["test"]})
    with pytest.raises(ValueError, match="not in samples.csv"):
        oracle_split_predictions(s, bad, rates)
