"""Tests of flarepipe.evaluation.ceilings: the view ceilings against closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flarepipe.config.experiments import ORACLE, experiment_plan
from flarepipe.evaluation.ceilings import (
    LATENTS,
    VIEWS,
    View,
    ceiling_coefficients,
    ceiling_names,
    ceiling_posteriors,
    ceiling_split_predictions,
    cross_fitted_mean,
    ratios_markdown,
    view_index,
)
from flarepipe.evaluation.oracle import oracle_probabilities, oracle_split_predictions

T0 = pd.Timestamp("2012-03-01T00:00:00")
COEF = {"log_size": 3.0, "emergence": 4.0, "morphology": 1.3, "delta": 1.2}
C0, FRAC_M = -1.0, 0.1
LEVELS = (-0.5, -0.2, 0.1, 0.4)  # log_size of the regions
PI = 0.3  # P(rotated), independent of the size


def _iso(ts) -> list[str]:
    return [t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] for t in pd.DatetimeIndex(ts)]


def _probs(level: float, u: int) -> tuple[float, float]:
    """(p_m, p_quiet) of a 1-day observation and 1-day prediction window at constant rates."""
    rate = np.exp(C0 + COEF["log_size"] * level + COEF["morphology"] * u)
    return -np.expm1(-FRAC_M * rate), np.exp(-2.0 * rate)


def _population(scale: int = 400):
    """Regions of constant planted rates, one sample each; per size level, as many rotated and
    not rotated regions as the labelled population holds: prior x chance to be kept."""
    rows, samples = [], []
    t = T0 + pd.to_timedelta(np.arange(0, 4 * 24 * 60, 60), unit="min")  # hourly rows
    i = 0
    for level in LEVELS:
        for u, prior in ((0, 1 - PI), (1, PI)):
            p_m, p_quiet = _probs(level, u)
            for _ in range(int(round(scale * prior * (p_m + p_quiet)))):
                rid = f"HARP{i:05d}"
                i += 1
                rate = np.exp(C0 + COEF["log_size"] * level + COEF["morphology"] * u)
                rows.append(
                    pd.DataFrame(
                        {
                            "region_id": rid,
                            "t_utc": _iso(t),
                            "rate_all_per_day": rate,
                            "rate_c_per_day": 0.4 * rate,
                            "rate_m_per_day": FRAC_M * rate,
                            "log_size": level,
                            "emergence": 0.0,
                            "morphology": u,
                            "delta": 0,
                        }
                    )
                )
                samples.append(
                    {
                        "sample_id": f"{rid}_s",
                        "region_id": rid,
                        "instrument": "HMI",
                        "t_start": _iso([T0 + pd.Timedelta(days=1)])[0],
                        "t_end": _iso([T0 + pd.Timedelta(days=2)])[0],
                        "pred_end": _iso([T0 + pd.Timedelta(days=3)])[0],
                        "level": level,
                        "u": u,
                    }
                )
    samples = pd.DataFrame(samples)
    rng = np.random.default_rng(0)
    q = oracle_probabilities(samples, pd.concat(rows))["q"].to_numpy()
    samples["label"] = (rng.random(len(samples)) < q).astype(int)
    return samples, pd.concat(rows, ignore_index=True)


BLIND = View("ceiling_blind", "sequence", ("log_size", "emergence", "delta"), history=True)
SEES_ALL = View("ceiling_all", "all", tuple(LATENTS), history=True)


def _expected_tss(prob: np.ndarray, q: np.ndarray, ratio: float) -> float:
    """TSS in expectation over the labels (q the true posterior) of forecasting odds >= ratio."""
    with np.errstate(divide="ignore"):
        yes = np.log(prob) - np.log1p(-prob) >= np.log(ratio)
    return float((q * yes).sum() / q.sum() - ((1 - q) * yes).sum() / (1 - q).sum())


def test_an_unseen_independent_constant_gives_the_closed_form_mixture():
    samples, rates = _population()
    post = ceiling_posteriors(samples, rates, COEF, views=(BLIND,))
    for level in LEVELS:
        (pm0, pq0), (pm1, pq1) = _probs(level, 0), _probs(level, 1)
        mixture = ((1 - PI) * pm0 + PI * pm1) / ((1 - PI) * (pm0 + pq0) + PI * (pm1 + pq1))
        got = post.loc[samples["level"].to_numpy() == level, "ceiling_blind"].to_numpy()
        np.testing.assert_allclose(got, mixture, atol=0.01)
        # the blind forecaster cannot tell the rotated regions of a size from the others
        assert np.ptp(got) < 0.01
    q = post["q"].to_numpy()
    ratio = q.sum() / (1 - q).sum()
    blind = _expected_tss(post["ceiling_blind"].to_numpy(), q, ratio)
    assert blind < _expected_tss(q, q, ratio) - 0.01


def test_a_view_that_sees_everything_is_the_oracle():
    samples, rates = _population()
    post = ceiling_posteriors(samples, rates, COEF, views=(SEES_ALL,))
    np.testing.assert_allclose(post["ceiling_all"], post["q"], rtol=1e-12, atol=1e-12)
    # the registered ceiling_present sees every component: the oracle's predictions, exactly
    halves = np.where(np.arange(len(samples)) % 2, "test", "val")
    split = samples[["sample_id"]].assign(split=halves)
    ceilings = ceiling_split_predictions(samples, split, rates, COEF)
    oracle = oracle_split_predictions(samples, split, rates)
    assert set(ceilings) == set(VIEWS)
    for pred in ceilings.values():
        assert list(pred.columns) == ["sample_id", "split", "label", "prob"]
        pd.testing.assert_frame_equal(pred.drop(columns="prob"), oracle.drop(columns="prob"))
    np.testing.assert_allclose(ceilings["ceiling_present"]["prob"], oracle["prob"], atol=1e-12)
    # the sequence view misses the rotation: below the oracle in expected TSS
    q = oracle_probabilities(samples, rates)["q"].to_numpy()
    at = pd.Series(np.arange(len(samples)), index=samples["sample_id"])[oracle["sample_id"]]
    qs = q[at.to_numpy()]  # the balanced posteriors are thresholded at odds 1
    for name in ceiling_names():
        balanced = ceilings[name]["prob"].to_numpy()
        assert _expected_tss(balanced, qs, 1.0) <= _expected_tss(oracle["prob"], qs, 1.0) + 1e-12
    assert _expected_tss(ceilings["ceiling_sequence"]["prob"].to_numpy(), qs, 1.0) < (
        _expected_tss(oracle["prob"].to_numpy(), qs, 1.0) - 0.01
    )


def test_index_of_a_snapshot_view_extrapolates_the_last_rate():
    rid = "HARP1"
    t = T0 + pd.to_timedelta(np.arange(0, 3 * 24 * 60, 12), unit="min")
    rate = np.where(t < T0 + pd.Timedelta(days=1, hours=12), 1.0, 3.0)  # steps up mid-window
    rates = pd.DataFrame(
        {
            "region_id": rid,
            "t_utc": _iso(t),
            "rate_all_per_day": rate,
            "rate_c_per_day": rate,
            "rate_m_per_day": 0.1 * rate,
            "log_size": 0.0,
            "emergence": 0.5,
            "morphology": 1,
            "delta": 0,
        }
    )
    s = pd.DataFrame(
        {
            "sample_id": ["a"],
            "region_id": [rid],
            "t_start": _iso([T0 + pd.Timedelta(days=1)]),
            "t_end": _iso([T0 + pd.Timedelta(days=2)]),
            "pred_end": _iso([T0 + pd.Timedelta(days=3)]),
        }
    )
    # the image view misses the emergence term: rates x exp(-4 x 0.5); one frame at t_end
    r = 3.0 * np.exp(-COEF["emergence"] * 0.5)
    got = view_index(s, rates, "ceiling_image", COEF)
    np.testing.assert_allclose(got, np.log(-np.expm1(-0.1 * r)) + 2 * r, rtol=1e-9)
    # the sequence view misses the rotation, and integrates its observation window
    f = np.exp(-COEF["morphology"])
    got = view_index(s, rates, "ceiling_sequence", COEF)
    want = np.log(-np.expm1(-0.1 * 3.0 * f)) + (0.5 * 1.0 + 0.5 * 3.0) * f + 3.0 * f
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_cross_fitting_keeps_a_region_from_its_own_constants():
    # one sample per region, q unrelated to the index: in-sample isotonic regression would give
    # each region its own q back; cross-fitted, each gets what the other regions say
    x = np.arange(20.0)
    q = np.tile([0.1, 0.9], 10)
    got = cross_fitted_mean(q, x, np.array([f"r{i}" for i in range(20)]), n_folds=5)
    assert np.abs(got - q).mean() > 0.2
    # q a function of the index: each region gets it back from the others' fit
    q = np.repeat(np.linspace(0.1, 0.9, 5), 4)
    got = cross_fitted_mean(q, np.repeat(np.arange(5.0), 4), np.arange(20), n_folds=4)
    np.testing.assert_allclose(got, q)


def test_coefficients_come_from_the_manifest():
    params = {"c_size": 3.0, "c_emerge": 4.0, "c_morph": 1.3, "c_delta": 1.2, "seed": 1}
    assert ceiling_coefficients({"parameters": params}) == COEF
    with pytest.raises(ValueError, match="c_morph"):
        ceiling_coefficients({"parameters": {"c_size": 3.0}})


def test_plan_lists_the_ceilings_on_synthetic_archives_only():
    cfg = {
        "experiments": {"models": ["lstm", "cnn", "logreg"], "datasets": ["SHARP_ONLY"], "runs": 1},
        "archive": {"source": "synthetic"},
    }
    plan = experiment_plan(cfg)
    assert plan.prediction_models[-4:] == (ORACLE, *ceiling_names())
    assert plan.ceiling_of == {
        "lstm": "ceiling_sequence",
        "cnn": "ceiling_image",
        "logreg": "ceiling_sequence",
    }
    real = experiment_plan({**cfg, "archive": {"source": "tables"}})
    assert not set(ceiling_names()) & set(real.prediction_models) and real.ceiling_of == {}


def test_ratios_markdown():
    tss = {"lstm": (0.4, 0.6), "ceiling_sequence": (0.8, 0.8), ORACLE: (1.0, 1.0)}
    rows = [("D", m, k, "test", "TSS", v) for m, vals in tss.items() for k, v in enumerate(vals)]
    tidy = pd.DataFrame(rows, columns=["dataset", "model", "run", "split", "metric", "value"])
    md = ratios_markdown(tidy, {"lstm": "ceiling_sequence", "cnn": "ceiling_image"})
    assert "| D | lstm | ceiling_sequence | 0.500 | 0.800 | 1.000 | 0.62 | 0.50 | 0.80 |" in md
    assert "cnn" not in md
    assert ratios_markdown(tidy, {}) == ""
