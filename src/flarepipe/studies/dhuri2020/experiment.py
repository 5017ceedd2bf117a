"""The S4 experiment: TSS against lead time for the network, the KDE baselines and the oracle.

For every lead time, with ``folds``-fold cross-validation by region pair
(:func:`flarepipe.samples.emergence.pair_folds`):

- training segments (:func:`~flarepipe.samples.emergence.sample_segments`: 100 PE, 50 + 50 NE per
  region) of the training pairs fit every method;
- each method forecasts the 3 × 3 evaluation grid of the test pairs (17 NE : 1 PE per pair);
- TSS is computed on the pooled test forecasts (and per fold: mean and sd, as the paper's ±).

Methods (``methods`` of the settings):

``network``
    ``dhuri_fcn`` (:func:`flarepipe.training.segments.fit_segment_network`), PE where p >= 0.5;
``network_pruned``
    the same network with its final layer pruned to ``prune_keep`` filters by their net
    contribution on the training segments (:func:`prune_by_net_contribution`), not retrained; its
    threshold is re-chosen at the training segments' best TSS (the bias was set for all filters);
``kde_flux`` / ``kde_flux_dipole``
    the Epanechnikov discriminant (:class:`flarepipe.training.kde.KDEDiscriminant`) on ``MTOT``
    and on ``MTOT`` + dipole moment;
``network_depth<d>``
    for every ``d`` of ``depths`` (the paper's Table 2), the network at depth ``d``;
``oracle``
    knows where the planted signature lies: its score is the unsigned flux within the site disc
    (the map's centre where the segment holds the whole site, else the segment's centre, so
    emerging regions and controls are treated alike), thresholded at the training segments'
    best TSS.

With the signature off every method's TSS is zero in expectation: its threshold comes from
training pairs, and the test pairs' emerging and control maps are drawn from one distribution.
:func:`null_tss_sd` bounds its standard deviation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_curve

from flarepipe.core.emergence import EmergenceSet, dipole_moment, total_unsigned_flux
from flarepipe.samples.emergence import (
    contains_site,
    cut,
    grid_segments,
    pair_folds,
    sample_segments,
)
from flarepipe.studies.dhuri2020.scores import null_tss_sd, tss_table
from flarepipe.training.kde import KDEDiscriminant
from flarepipe.training.segments import (
    SegmentNetwork,
    SegmentTrainSettings,
    fit_segment_network,
)

__all__ = [
    "METHODS",
    "StudySettings",
    "study_settings",
    "segment_features",
    "prune_by_net_contribution",
    "evaluate_lead",
    "run_study",
    "tss_table",
    "null_tss_sd",
    "best_tss_threshold",
]

METHODS = ("network", "network_pruned", "kde_flux", "kde_flux_dipole", "oracle")


@dataclasses.dataclass(frozen=True)
class StudySettings:
    """Sampling, cross-validation and method settings (the study config's ``dhuri2020`` block)."""

    segment_deg: float = 10.0
    site_radius_deg: float = 2.5
    n_pe: int = 100
    n_ne_control: int = 50
    n_ne_emerging: int = 50
    folds: int = 5
    methods: tuple[str, ...] = METHODS
    prune_keep: int = 4
    depths: tuple[int, ...] = ()  # extra networks of these depths: methods network_depth<d>
    occlusion_pairs: int = 1  # region pairs of fold 0 whose occlusion maps are kept
    train: SegmentTrainSettings = SegmentTrainSettings()
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        """Check the method names and counts."""
        bad = sorted(set(self.methods) - set(METHODS))
        if bad:
            raise ValueError(f"dhuri2020.methods: unknown {bad}; known: {list(METHODS)}")
        if self.folds < 2 or self.n_pe < 1 or self.n_ne_control < 1 or self.n_ne_emerging < 1:
            raise ValueError("dhuri2020: need folds >= 2 and at least one segment of each kind")


def _disc_flux(seg: np.ndarray, cy: np.ndarray, cx: np.ndarray, r: float, cdelt: float):
    s = seg.shape[-1]
    yy, xx = np.mgrid[0:s, 0:s]
    out = np.empty(len(seg))
    for i in range(len(seg)):
        m = (yy - cy[i]) ** 2 + (xx - cx[i]) ** 2 <= r * r
        out[i] = total_unsigned_flux(seg[i][m], cdelt)
    return out


def segment_features(
    seg: np.ndarray, table: pd.DataFrame, n: int, r: float, cdelt: float
) -> pd.DataFrame:
    """``mtot_mx``, ``dipole_mx_mm`` and the oracle's ``site_flux_mx`` of every segment."""
    s = seg.shape[-1]
    c = (n - 1) / 2.0
    holds = contains_site(table["y0"], table["x0"], s, n, r)
    cy = np.where(holds, c - table["y0"].to_numpy(), (s - 1) / 2.0)
    cx = np.where(holds, c - table["x0"].to_numpy(), (s - 1) / 2.0)
    return pd.DataFrame(
        {
            "mtot_mx": [total_unsigned_flux(x, cdelt) for x in seg],
            "dipole_mx_mm": [dipole_moment(x, cdelt) for x in seg],
            "site_flux_mx": _disc_flux(seg, cy, cx, r, cdelt),
        }
    )


def best_tss_threshold(score: np.ndarray, y: np.ndarray) -> float:
    """The threshold (forecast ``score >= t``) of the largest TSS on ``(score, y)``."""
    fpr, tpr, thr = roc_curve(y, score)
    k = int(np.argmax(tpr - fpr))
    return float(thr[k]) if np.isfinite(thr[k]) else float(np.max(score))


def prune_by_net_contribution(
    net: SegmentNetwork, seg: np.ndarray, y: np.ndarray, keep: int
) -> tuple[np.ndarray, np.ndarray]:
    """Prune the final layer to the ``keep`` filters of largest ``S_net = S_TP − S_TN``.

    ``S_TP`` (``S_TN``) is the sum of a filter's contribution ``F_i = max(O_i)·w_i`` over the
    true positives (true negatives) of ``(seg, y)`` at p >= 0.5. Returns the kept filter indices
    (ascending) and ``S_net`` of every filter. The network is pruned in place.
    """
    y = np.asarray(y).astype(int)
    pred = (net.prob(seg) >= 0.5).astype(int)
    F = net.contributions(seg)
    s_net = F[(pred == 1) & (y == 1)].sum(axis=0) - F[(pred == 0) & (y == 0)].sum(axis=0)
    if not 1 <= keep <= F.shape[1]:
        raise ValueError(f"dhuri2020.prune_keep must be 1..{F.shape[1]}, got {keep}")
    kept = np.sort(np.argsort(-s_net, kind="stable")[:keep])
    net.model.prune(kept.tolist())
    return kept, s_net


def _probes(net, method, depth, x, y, seg_px, cdelt, keep) -> pd.DataFrame:
    """Probe table of ``net`` with the contributions of its ``keep`` filters of largest S_net."""
    from flarepipe.studies.dhuri2020.probes import probe_table

    y = np.asarray(y).astype(int)
    pred = (net.prob(x) >= 0.5).astype(int)
    F = net.contributions(x)
    s_net = F[(pred == 1) & (y == 1)].sum(axis=0) - F[(pred == 0) & (y == 0)].sum(axis=0)
    top = np.argsort(-s_net, kind="stable")[: min(keep, F.shape[1])]
    df = probe_table(net, seg_px, cdelt, top)
    df.insert(0, "depth", int(depth))
    df.insert(0, "method", method)
    return df


def evaluate_lead(
    es: EmergenceSet,
    lead_h: float,
    s: StudySettings,
    occlusion: dict | None = None,
    probes: list | None = None,
) -> pd.DataFrame:
    """Test forecasts of every method on the evaluation grid at one lead time.

    ``occlusion``: a dict to fill with the occlusion maps
    (:func:`flarepipe.studies.dhuri2020.occlusion.region_occlusion`) of the network of fold 0 on
    the first ``s.occlusion_pairs`` test pairs (both regions), keyed by region. ``probes``: a
    list to extend with the circular-bipole probe tables
    (:func:`flarepipe.studies.dhuri2020.probes.probe_table`) of the fold-0 networks (``network``
    and every ``network_depth<d>``), contributions of the ``prune_keep`` filters of largest
    ``S_net``.

    Returns rows ``method, fold, region, kind, pair, lead_h, y0, x0, label, score, pred`` plus
    the grid segments' ``mtot_mx``, ``dipole_mx_mm`` and ``site_flux_mx``; the
    ``network_pruned`` rows add the kept filters' contributions ``contrib_1 …`` (largest
    ``S_net`` first) and their indices (``filters``).
    """
    torch.set_num_threads(s.threads)
    regions = es.regions
    cdelt = es.cdelt_deg
    n = next(iter(es.maps.values())).shape[0]
    seg_px = int(round(s.segment_deg / cdelt))
    r = s.site_radius_deg / cdelt
    fold_of = pair_folds(regions["pair"], s.folds, s.seed)
    train_tab = sample_segments(
        regions, lead_h, n, seg_px, r, s.n_pe, s.n_ne_control, s.n_ne_emerging, seed=s.seed
    )
    grid_tab = grid_segments(regions, lead_h, n, seg_px)
    x_tr, x_gr = cut(es.maps, train_tab, seg_px), cut(es.maps, grid_tab, seg_px)
    f_tr = segment_features(x_tr, train_tab, n, r, cdelt)
    f_gr = segment_features(x_gr, grid_tab, n, r, cdelt)
    fold_tr = train_tab["pair"].map(fold_of).to_numpy()
    fold_gr = grid_tab["pair"].map(fold_of).to_numpy()
    y_tr = train_tab["label"].to_numpy()
    out = []
    for k in range(s.folds):
        tr, te = fold_tr != k, fold_gr == k
        res, extra = {}, {}
        if {"network", "network_pruned"} & set(s.methods):
            net = fit_segment_network(x_tr[tr], y_tr[tr], s.train, seed=s.seed * 100 + k)
            p = net.prob(x_gr[te])
            res["network"] = (p, p >= 0.5)
            if probes is not None and k == 0:
                probes.append(
                    _probes(
                        net,
                        "network",
                        s.train.network.get("depth", 3),
                        x_tr[tr],
                        y_tr[tr],
                        seg_px,
                        cdelt,
                        s.prune_keep,
                    )
                )
            if occlusion is not None and k == 0 and s.occlusion_pairs > 0:
                from flarepipe.studies.dhuri2020.occlusion import (
                    occlusion_window,
                    region_occlusion,
                )

                pairs = sorted(p_ for p_, f in fold_of.items() if f == 0)[: s.occlusion_pairs]
                win = occlusion_window(seg_px)
                for reg in regions.loc[regions["pair"].isin(pairs), "region"]:
                    m = es.maps[(reg, float(lead_h))]
                    occlusion[reg] = region_occlusion(net, m, seg_px, win)
            if "network_pruned" in s.methods:
                kept, s_net = prune_by_net_contribution(net, x_tr[tr], y_tr[tr], s.prune_keep)
                t = best_tss_threshold(net.prob(x_tr[tr]), y_tr[tr])
                p = net.prob(x_gr[te])
                res["network_pruned"] = (p, p >= t)
                # the kept filters' contributions F_i = max(O_i) w_i, by S_net rank
                ranked = kept[np.argsort(-s_net[kept], kind="stable")]
                F = net.contributions(x_gr[te])[:, ranked]
                extra["network_pruned"] = {
                    **{f"contrib_{j + 1}": F[:, j] for j in range(len(ranked))},
                    "filters": ";".join(str(int(i)) for i in ranked),
                }
        for d in s.depths:  # the depth axis (the paper's Table 2): same training, other depth
            tr_d = dataclasses.replace(s.train, network={**s.train.network, "depth": int(d)})
            net_d = fit_segment_network(x_tr[tr], y_tr[tr], tr_d, seed=s.seed * 100 + k)
            p = net_d.prob(x_gr[te])
            res[f"network_depth{d}"] = (p, p >= 0.5)
            if probes is not None and k == 0:
                probes.append(
                    _probes(
                        net_d,
                        f"network_depth{d}",
                        d,
                        x_tr[tr],
                        y_tr[tr],
                        seg_px,
                        cdelt,
                        s.prune_keep,
                    )
                )
        for name, cols in (
            ("kde_flux", ["mtot_mx"]),
            ("kde_flux_dipole", ["mtot_mx", "dipole_mx_mm"]),
        ):
            if name in s.methods:
                kde = KDEDiscriminant().fit(f_tr.loc[tr, cols].to_numpy(), y_tr[tr])
                sc = kde.score(f_gr.loc[te, cols].to_numpy())
                res[name] = (sc, sc > kde.threshold_)
        if "oracle" in s.methods:
            t = best_tss_threshold(f_tr.loc[tr, "site_flux_mx"].to_numpy(), y_tr[tr])
            sc = f_gr.loc[te, "site_flux_mx"].to_numpy()
            res["oracle"] = (sc, sc >= t)
        for name in (*s.methods, *(f"network_depth{d}" for d in s.depths)):
            if name not in res:
                continue
            sc, pred = res[name]
            part = grid_tab.loc[te].reset_index(drop=True).join(f_gr.loc[te].reset_index(drop=True))
            part.insert(0, "fold", k)
            part.insert(0, "method", name)
            part["score"], part["pred"] = sc, np.asarray(pred).astype(int)
            for col, val in extra.get(name, {}).items():
                part[col] = val
            out.append(part)
    return pd.concat(out, ignore_index=True)


def run_study(es: EmergenceSet, s: StudySettings) -> pd.DataFrame:
    """:func:`evaluate_lead` at every lead time of ``es``, concatenated."""
    return pd.concat([evaluate_lead(es, lead, s) for lead in es.lead_times_h], ignore_index=True)


def study_settings(em: Mapping[str, Any]):
    """``(EmergenceParams or None, StudySettings)`` of a filled ``emergence`` section."""
    from flarepipe.studies.dhuri2020.settings import check_emergence

    params = check_emergence(em)
    st = StudySettings(
        segment_deg=float(em["segment_deg"]),
        site_radius_deg=float(em["site_radius_deg"]),
        n_pe=int(em["n_pe"]),
        n_ne_control=int(em["n_ne_control"]),
        n_ne_emerging=int(em["n_ne_emerging"]),
        folds=int(em["folds"]),
        methods=tuple(em["methods"]),
        prune_keep=int(em["prune_keep"]),
        depths=tuple(int(x) for x in em.get("depths", [])),
        occlusion_pairs=int(em.get("occlusion_pairs", 1)),
        train=SegmentTrainSettings(
            network=dict(em["network"]),
            **{**dict(em["train"]), "augment": tuple(em["train"].get("augment", ()))},
        ),
        seed=int(em["seed"]),
        threads=int(em["threads"]),
    )
    return params, st
