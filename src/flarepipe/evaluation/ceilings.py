"""View ceilings: the best forecast possible from the part of the planted truth a network sees.

The synthetic archive plants ``log λ = c0 + Σ_k c_k x_k`` with the latent components ``x_k`` of
:data:`LATENTS` (``truth/rates.csv`` holds each at every native step). The oracle
(:mod:`flarepipe.evaluation.oracle`) knows the rates themselves, over the observation and the
prediction window: its posterior ``q = P(positive | kept)`` is the best there is. A network sees
only some components (:data:`VIEWS`, the one place that says which), and only up to the end of its
observation window. Its **view ceiling** is the Bayes rule on what it could see, ``E[q | seen]``,
scored exactly as the oracle is (same samples, same TSS-optimal threshold at the prior ratio
``N+ / N-``), so that ``model / ceiling`` says how much of its view a network uses and ``ceiling /
oracle`` how much the view can give.

``E[q | seen]`` is estimated without labels (``q`` is the truth, so there is no label noise):

1. the **seen rates** ``λ_S = λ · exp(-Σ_{k unseen} c_k x_k)`` per row (the archive's own
   coefficients, from its ``manifest.json``);
2. a scalar **index**: the oracle's log-odds computed from ``λ_S`` as a forecaster at ``t_end``
   would: the prediction window at the rate in effect at ``t_end`` (persistence; the future is
   nobody's view), the observation window integrated where the view sees a history (the keyword
   series) and at the ``t_end`` rate where it sees one frame;
3. ``E[q | index]``: isotonic regression of ``q`` on the index over all labelled samples of the
   population whose prior ratio the oracle uses. The index holds the seen constants' terms
   (``c_morph``, ``c_delta``), so no fit per stratum of them: one would rest on a handful of
   regions (on the tiny archive such fits lost most of the skill). It is **cross-fitted by
   region** (each region's samples are predicted by a fit on the other regions' folds): a
   region's samples share its hidden constants, so an in-sample fit would pass them on through
   the region's own samples.

Where nothing is unseen and the rates are constant over the windows, the index is the oracle's
log-odds and the ceiling is the oracle; where an unseen binary constant is independent of the
rest, the ceiling is the closed-form mixture ``Σ_u π_u p_m(u) / Σ_u π_u (p_m(u) + p_quiet(u))``
(the kept samples weigh each ``u`` by its chance to be kept); ``tests/test_ceilings.py`` checks
both. ``ceiling_present`` sees every component up to ``t_end``: the gap between it and the oracle
is what knowing the future rates is worth, the gap between it and a view's ceiling what that
view's blind spots cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "Latent",
    "View",
    "LATENTS",
    "VIEWS",
    "ceiling_names",
    "view_of_input",
    "ratios_markdown",
    "ceiling_coefficients",
    "seen_rates",
    "view_index",
    "cross_fitted_mean",
    "ceiling_posteriors",
    "ceiling_split_predictions",
]


@dataclass(frozen=True)
class Latent:
    """One planted component of the log-rate: its ``truth/rates.csv`` column and coefficient."""

    column: str
    coefficient: str  # field of SyntheticParams (and of the archive manifest's parameters)


@dataclass(frozen=True)
class View:
    """What one kind of network input shows of the planted truth."""

    name: str  # the model name of its ceiling in predictions and metrics
    input: str  # the network input it bounds (models.registry: NETWORKS[m].input), or "all"
    seen: tuple[str, ...]  # LATENTS columns visible in that input
    history: bool  # sees the observation window (a series), not only its last record


#: The planted log-rate components (``archive/sources/synthetic/regions.py``, simulate_region).
LATENTS: dict[str, Latent] = {
    "log_size": Latent("log_size", "c_size"),
    "emergence": Latent("emergence", "c_emerge"),
    "morphology": Latent("morphology", "c_morph"),
    "delta": Latent("delta", "c_delta"),
}

#: The view ceilings scored on synthetic archives, by model name. The keyword series (LSTM) shows
#: size and emergence but not the rotation (the four keywords are rotation-invariant) nor, taken
#: here as unseen, delta spots; the last frame (CNN) shows size, rotation and delta spots but not
#: the 12-h flux growth. ``ceiling_present`` shows everything up to ``t_end``.
VIEWS: dict[str, View] = {
    v.name: v
    for v in (
        View("ceiling_sequence", "sequence", ("log_size", "emergence"), history=True),
        View("ceiling_image", "image", ("log_size", "morphology", "delta"), history=False),
        View("ceiling_present", "all", tuple(LATENTS), history=True),
    )
}


def ceiling_names() -> tuple[str, ...]:
    """Model names of the view ceilings, in :data:`VIEWS` order."""
    return tuple(VIEWS)


def view_of_input(input: str) -> str | None:
    """The ceiling of the view that a network input shows (``"sequence"``, ``"image"``), if any."""
    return next((v.name for v in VIEWS.values() if v.input == input), None)


def ceiling_coefficients(manifest: Mapping) -> dict[str, float]:
    """The planted coefficients ``{column: c_k}`` of an archive's ``manifest.json``."""
    params = manifest.get("parameters") or {}
    missing = [lat.coefficient for lat in LATENTS.values() if lat.coefficient not in params]
    if missing:
        raise ValueError(
            f"archive manifest has no planted coefficients {missing}: not a synthetic archive, "
            "or one written before the view ceilings (rerun the archive rule)"
        )
    return {k: float(params[lat.coefficient]) for k, lat in LATENTS.items()}


def _view(view: View | str) -> View:
    if isinstance(view, View):
        return view
    if view not in VIEWS:
        raise KeyError(f"unknown view {view!r}; known: {sorted(VIEWS)}")
    return VIEWS[view]


def seen_rates(rates: pd.DataFrame, view: View | str, coefficients: Mapping[str, float]):
    """``rates`` with the rate columns scaled by ``exp(-Σ_{k unseen} c_k x_k)`` row-wise."""
    view = _view(view)
    unseen = [k for k in LATENTS if k not in view.seen]
    lacking = [LATENTS[k].column for k in LATENTS if LATENTS[k].column not in rates.columns]
    if lacking:
        raise ValueError(f"rates lack the planted components {lacking} (truth/rates.csv)")
    log_f = np.zeros(len(rates))
    for k in unseen:
        log_f -= coefficients[k] * rates[LATENTS[k].column].to_numpy(dtype=np.float64)
    out = rates.copy()
    for c in ("rate_all_per_day", "rate_m_per_day"):
        out[c] = rates[c].to_numpy(dtype=np.float64) * np.exp(log_f)
    return out


def view_index(
    samples: pd.DataFrame, rates: pd.DataFrame, view: View | str, coefficients: Mapping
) -> np.ndarray:
    """The index of :mod:`step 2 <flarepipe.evaluation.ceilings>`: log-odds from the seen rates
    as known at ``t_end`` (finite: ``-inf`` where no M rate is seen becomes the smallest finite
    value less one).
    """
    from flarepipe.evaluation.oracle import RateIntegrator, _to_ns

    view = _view(view)
    cols = ["rate_all_per_day", "rate_m_per_day"]
    integ = RateIntegrator(seen_rates(rates, view, coefficients), columns=cols)
    rid = samples["region_id"].astype(str).to_numpy()
    ts, te, tp = _to_ns(samples["t_start"]), _to_ns(samples["t_end"]), _to_ns(samples["pred_end"])
    ns_day = 86_400e9
    r_all = integ.rate_at(rid, te, "rate_all_per_day")
    lam_m = integ.rate_at(rid, te, "rate_m_per_day") * (tp - te) / ns_day
    lam_pred = r_all * (tp - te) / ns_day
    if view.history:
        lam_obs = integ.integral(rid, ts, te, "rate_all_per_day")
    else:
        lam_obs = r_all * (te - ts) / ns_day
    with np.errstate(divide="ignore"):
        lo = np.log(-np.expm1(-lam_m)) + lam_obs + lam_pred
    finite = np.isfinite(lo)
    if not finite.all():
        lo[~finite] = (lo[finite].min() - 1.0) if finite.any() else 0.0
    return lo


def _folds(groups: np.ndarray, n_folds: int) -> np.ndarray:
    """Fold of each row: its group's position among the sorted distinct groups, modulo folds."""
    uniq, inv = np.unique(groups.astype(str), return_inverse=True)
    k = max(2, min(int(n_folds), uniq.size))
    return (np.arange(uniq.size) % k)[inv]


def cross_fitted_mean(
    q: np.ndarray, index: np.ndarray, groups: np.ndarray, n_folds: int = 10
) -> np.ndarray:
    """``E[q | index]`` by isotonic regression (increasing in ``index``), each group's rows
    predicted by the fit on the other folds' groups (groups: regions; beyond the fitted range the
    nearest fitted value). A lone group (nothing to fit on) keeps its own mean.
    """
    from sklearn.isotonic import IsotonicRegression

    q = np.asarray(q, dtype=np.float64)
    x = np.asarray(index, dtype=np.float64)
    groups = np.asarray(groups)
    if not (q.shape == x.shape == groups.shape):
        raise ValueError("q, index and groups must have one value per sample")
    fold = _folds(groups, n_folds)
    out = np.full(q.size, np.nan)
    for f in np.unique(fold):
        test, train = fold == f, fold != f
        if not train.any():
            out[test] = q[test].mean()
            continue
        fit = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        out[test] = fit.fit(x[train], q[train]).predict(x[test])
    return out


def ceiling_posteriors(
    samples: pd.DataFrame,
    rates: pd.DataFrame,
    coefficients: Mapping[str, float],
    q: np.ndarray | None = None,
    views: tuple[str, ...] | None = None,
    n_folds: int = 10,
) -> pd.DataFrame:
    """Each view's posterior ``E[q | seen]`` for every row of ``samples`` (the fit population).

    Parameters
    ----------
    samples : pandas.DataFrame
        Labelled samples (``sample_id, region_id, t_start, t_end, pred_end``), all of the
        population the oracle's prior ratio counts, before undersampling.
    rates : pandas.DataFrame
        ``truth/rates.csv`` with the planted components.
    coefficients : mapping
        ``{column: c_k}`` (:func:`ceiling_coefficients`).
    q : array_like, optional
        The oracle's posterior per sample; computed when left out.
    views : tuple of str, optional
        Views to compute; default all of :data:`VIEWS`.

    Returns
    -------
    pandas.DataFrame
        ``sample_id``, ``q`` (the oracle) and one column per view.
    """
    from flarepipe.evaluation.oracle import oracle_probabilities

    if q is None:
        q = oracle_probabilities(samples, rates)["q"].to_numpy()
    q = np.asarray(q, dtype=np.float64)
    regions = samples["region_id"].astype(str).to_numpy()
    out = pd.DataFrame({"sample_id": samples["sample_id"].astype(str).to_numpy(), "q": q})
    for name in views or ceiling_names():
        view = _view(name)
        index = view_index(samples, rates, view, coefficients)
        out[view.name] = cross_fitted_mean(q, index, regions, n_folds)
    return out


def ceiling_split_predictions(
    samples: pd.DataFrame,
    split: pd.DataFrame,
    rates: pd.DataFrame,
    coefficients: Mapping[str, float],
    splits: tuple[str, ...] = ("val", "test"),
) -> dict[str, pd.DataFrame]:
    """Every view ceiling's predictions for one split file, by model name.

    The population (fit of ``E[q | seen]`` and prior ratio ``N+ / N-``) is that of
    :func:`~flarepipe.evaluation.oracle.oracle_split_predictions`: every labelled sample of the
    instruments in the forecast splits. Each frame is ``sample_id, split, label, prob``, in the
    split file's order, thresholded as the oracle is (``prob >= 0.5`` iff the posterior odds are
    ``>= N+ / N-``).
    """
    from flarepipe.evaluation.oracle import oracle_predictions, prior_ratio, split_population

    m, pop = split_population(samples, split, splits)
    ratio = prior_ratio(pop["label"])
    post = ceiling_posteriors(pop, rates, coefficients)
    at = pd.Series(np.arange(len(pop)), index=pop["sample_id"]).loc[m["sample_id"]].to_numpy()
    return {
        name: oracle_predictions(m, np.clip(post[name].to_numpy()[at], 0.0, 1.0), ratio)
        for name in ceiling_names()
    }


def ratios_markdown(
    tidy: pd.DataFrame,
    ceiling_of: Mapping[str, str],
    oracle: str = "oracle",
    metric: str = "TSS",
    split: str = "test",
) -> str:
    """The ``## Ratios to the ceilings`` section of ``metrics.md`` ("" when nothing to show).

    Per dataset and model of ``ceiling_of`` (model -> its view's ceiling): the mean over runs of
    the model's ``metric``, of its ceiling's and of the oracle's, and the ratios model / ceiling,
    model / oracle and ceiling / oracle (of the means).
    """
    sel = tidy[(tidy["metric"] == metric) & (tidy["split"] == split)]
    mean = sel.groupby(["dataset", "model"], sort=False)["value"].mean()
    lines = []
    for d in dict.fromkeys(sel["dataset"]):
        for m, c in ceiling_of.items():
            if (d, m) not in mean.index or (d, c) not in mean.index:
                continue
            vm, vc = float(mean[(d, m)]), float(mean[(d, c)])
            vo = float(mean[(d, oracle)]) if (d, oracle) in mean.index else float("nan")

            def ratio(a, b):
                return f"{a / b:.2f}" if b and np.isfinite(a) and np.isfinite(b) else ""

            lines.append(
                f"| {d} | {m} | {c} | {vm:.3f} | {vc:.3f} | {vo:.3f} | {ratio(vm, vc)} | "
                f"{ratio(vm, vo)} | {ratio(vc, vo)} |"
            )
    if not lines:
        return ""
    head = [
        f"\n## Ratios to the ceilings ({split} {metric}, mean over runs)\n",
        "A view ceiling is the best forecast from the planted truth its input shows "
        "(`flarepipe.evaluation.ceilings`).\n",
        f"| dataset | model | ceiling | {metric} | ceiling | oracle | model / ceiling | "
        "model / oracle | ceiling / oracle |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    return "\n".join(head + lines) + "\n"
