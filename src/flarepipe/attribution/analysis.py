"""Analyses of attribution maps: sample selection, planted truth, PIL statistics, sanity check.

All functions are pure (arrays and DataFrames in, arrays and DataFrames out).

* :func:`select_samples` -- which samples a job explains: the most confident of each outcome
  (TP/FP/FN/TN at a threshold), the top-k probabilities, whole regions, explicit ids.
* :func:`mask_scores` -- planted truth: the share of absolute attribution inside the cause mask, the
  mask's share of the area, their ratio (*enrichment*; 1 is chance) and the pointing game (the
  pixel of largest absolute attribution lies in the mask).
* :func:`pil_mask`, :func:`pil_scores` -- Yi et al. 2021 Table 2: mean attribution on the
  strong-gradient polarity inversion line, off it and on the polarity boundaries, and the IoU of
  the PIL with the thresholded attribution mask.
* :func:`rank_correlation` -- Adebayo et al. 2018 model-randomisation test: Spearman correlation
  of a method's maps for the trained and a randomly initialised network of the same architecture.
  A method whose maps do not change when the weights do (an edge detector) does not explain the
  network; :func:`randomisation_passes` applies the bound.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import ndimage, stats

from flarepipe.attribution.errors import AttributionInputError
from flarepipe.attribution.postprocess import normalise_abs

__all__ = [
    "CATEGORIES",
    "mask_scores",
    "pil_mask",
    "pil_scores",
    "randomisation_passes",
    "rank_correlation",
    "resize_mask",
    "select_samples",
]

#: outcome categories at a probability threshold
CATEGORIES = ("TP", "FP", "FN", "TN")


def select_samples(
    predictions: pd.DataFrame,
    counts: Mapping[str, int],
    top_k: int = 0,
    regions: Sequence[str] = (),
    per_region: int = 4,
    sample_ids: Sequence[str] = (),
    threshold: float = 0.5,
    extra: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Choose the samples to explain from one split's predictions.

    Rule: for each category the ``counts[c]`` most confident samples (TP and FP by descending
    probability, FN and TN by ascending probability), then the ``top_k`` highest probabilities;
    within both, regions are spread first (each region's most confident sample, in confidence
    order, before any region's second one: consecutive frames of one region are near-copies),
    then up to ``per_region`` samples of each region of ``regions`` (evenly spaced in time), then
    ``sample_ids``, then the ids of ``extra`` (reason -> ids, e.g. samples with a planted
    cause); ties are broken by ``sample_id``. A sample chosen for several reasons appears
    once, its reasons joined by ``+`` in ``reason``.

    Parameters
    ----------
    predictions
        ``sample_id, label, prob`` (and ``region_id``, ``t_end`` when ``regions`` are asked for).
    counts
        Samples per category, e.g. ``{"TP": 2, "FP": 2, "FN": 2, "TN": 2}``.

    Returns
    -------
    DataFrame
        The chosen rows with ``category`` (outcome at ``threshold``) and ``reason``.

    Raises
    ------
    AttributionInputError
        For an unknown category, region or sample id, or when nothing is selected.
    """
    df = predictions.copy()
    df["sample_id"] = df["sample_id"].astype(str)
    pred = df["prob"].to_numpy() >= threshold
    lab = df["label"].to_numpy().astype(bool)
    df["category"] = np.select(
        [pred & lab, pred & ~lab, ~pred & lab], ["TP", "FP", "FN"], default="TN"
    )
    unknown = sorted(set(counts) - set(CATEGORIES))
    if unknown:
        raise AttributionInputError(
            f"attribution.select: unknown categor(y/ies) {unknown}; use {list(CATEGORIES)}"
        )
    chosen: dict[str, list[str]] = {}

    def take(ids: Sequence[str], reason: str) -> None:
        for i in ids:
            chosen.setdefault(i, []).append(reason)

    def spread(sub: pd.DataFrame, ascending: bool) -> pd.DataFrame:
        sub = sub.sort_values(["prob", "sample_id"], ascending=[ascending, True], kind="stable")
        if "region_id" not in sub:
            return sub
        rank = sub.groupby("region_id", sort=False).cumcount()
        return sub.assign(_rank=rank.to_numpy()).sort_values("_rank", kind="stable")

    for cat in CATEGORIES:
        n = int(counts.get(cat, 0))
        if n <= 0:
            continue
        sub = spread(df[df["category"] == cat], ascending=cat in ("FN", "TN"))
        take(sub["sample_id"].head(n).tolist(), cat)
    if top_k > 0:
        take(spread(df, ascending=False)["sample_id"].head(int(top_k)).tolist(), "top")
    for region in regions:
        sub = df[df["region_id"].astype(str) == str(region)]
        if sub.empty:
            raise AttributionInputError(
                f"attribution.select.regions: region {region!r} has no sample in this split"
            )
        sub = sub.sort_values(["t_end", "sample_id"], kind="stable")
        pick = np.unique(np.linspace(0, len(sub) - 1, min(int(per_region), len(sub))).round())
        take(sub["sample_id"].iloc[pick.astype(int)].tolist(), f"region {region}")
    known = set(df["sample_id"])
    missing = [s for s in sample_ids if str(s) not in known]
    if missing:
        raise AttributionInputError(
            f"attribution.select.samples: sample id(s) {missing[:5]} are not in this split "
            f"({len(df)} samples)"
        )
    take([str(s) for s in sample_ids], "explicit")
    for reason, ids in (extra or {}).items():
        bad = [i for i in ids if str(i) not in known]
        if bad:
            raise AttributionInputError(f"{reason} sample id(s) {bad[:5]} are not in this split")
        take([str(i) for i in ids], reason)
    if not chosen:
        raise AttributionInputError(
            "attribution.select chose no sample: the split has none of the requested categories "
            f"(it holds {df['category'].value_counts().to_dict()}) and no top_k, regions or "
            "samples were given"
        )
    out = df.set_index("sample_id").loc[list(chosen)].reset_index()
    out["reason"] = ["+".join(chosen[i]) for i in out["sample_id"]]
    return out


def resize_mask(
    mask: np.ndarray, shape: Sequence[int], subsample: int = 1, dilation_px: int = 0
) -> np.ndarray:
    """A native-grid bool mask on the network grid: subsampled, area-resized, kept where >= 1/4.

    The mask goes through the same steps as the magnetogram (every ``subsample``-th pixel, then
    an antialiased bilinear resize), so it lands where the causes are in the network input; then
    it is dilated by ``dilation_px`` network pixels (a ``(2·dilation_px+1)`` square): the resize
    spreads a cause over the neighbouring network pixels, so a map that points at the cause as
    the network sees it can sit one pixel beside the thresholded mask. An empty mask stays empty.
    """
    from flarepipe.data.features import resize_image

    m = np.asarray(mask, dtype=np.float32)
    if subsample > 1:
        m = m[::subsample, ::subsample]
    if tuple(shape)[0] != tuple(shape)[1]:
        raise ValueError(f"the network grid is square, got {tuple(shape)}")
    out = resize_image(m, int(shape[0])) >= 0.25
    if dilation_px > 0 and out.any():
        out = ndimage.binary_dilation(out, np.ones((2 * int(dilation_px) + 1,) * 2, dtype=bool))
    return out


def mask_scores(attribution: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Planted-truth scores of one map against one cause mask (same 2-D shape).

    Returns
    -------
    dict
        ``mask_area`` (mask's share of the pixels), ``mask_share`` (share of the summed absolute
        attribution inside the mask), ``enrichment`` (``mask_share / mask_area``: 1 is chance),
        ``pointing_hit`` (1.0 when the largest absolute attribution is in the mask, else 0.0).
        NaN everywhere for an empty mask or an all-zero map.
    """
    a = np.abs(np.asarray(attribution, dtype=np.float64)).reshape(-1)
    m = np.asarray(mask, dtype=bool).reshape(-1)
    if a.shape != m.shape:
        raise ValueError(f"map of {a.size} pixels and mask of {m.size} pixels differ")
    nan = {
        "mask_area": float(m.mean()) if m.size else np.nan,
        "mask_share": np.nan,
        "enrichment": np.nan,
        "pointing_hit": np.nan,
    }
    total = a.sum()
    if not m.any() or total <= 0 or not np.isfinite(total):
        return nan
    area = float(m.mean())
    share = float(a[m].sum() / total)
    return {
        "mask_area": area,
        "mask_share": share,
        "enrichment": share / area,
        "pointing_hit": float(m[int(np.argmax(a))]),
    }


def pil_mask(
    field_g: np.ndarray, threshold_g: float = 150.0, min_gradient: float = 0.0, dilation_px: int = 1
) -> dict[str, np.ndarray]:
    """Strong-field polarity inversion line and polarity boundaries of a magnetogram (Yi et al.).

    Rule: ``P = B >= +threshold_g``, ``N = B <= -threshold_g``; each dilated by a
    ``(2·dilation_px+1)`` square; the PIL is where the dilated masks overlap and the horizontal
    gradient ``|∇B|`` (G per pixel of this grid) is at least ``min_gradient``; the polarity boundary
    is the dilated rim of P and of N (``dilate(P) & ~P`` or ``dilate(N) & ~N``) off the PIL; non-PIL
    is every pixel off the PIL.

    Returns
    -------
    dict
        bool arrays ``pil``, ``boundary``, ``non_pil`` of the field's shape.
    """
    b = np.nan_to_num(np.asarray(field_g, dtype=np.float64), nan=0.0)
    st = np.ones((2 * dilation_px + 1,) * 2, dtype=bool)
    pos, neg = b >= threshold_g, b <= -threshold_g
    pos_d, neg_d = ndimage.binary_dilation(pos, st), ndimage.binary_dilation(neg, st)
    gy, gx = np.gradient(b)
    pil = pos_d & neg_d & (np.hypot(gx, gy) >= min_gradient)
    boundary = ((pos_d & ~pos) | (neg_d & ~neg)) & ~pil
    return {"pil": pil, "boundary": boundary, "non_pil": ~pil}


def pil_scores(
    attribution: np.ndarray, masks: Mapping[str, np.ndarray], attr_threshold: float = 0.3
) -> dict[str, float]:
    """Mean normalised |attribution| on the PIL, off it and on the boundaries; IoU with the PIL.

    The map is made absolute and scaled to [0, 1] (:func:`normalise_abs`); the attribution mask is
    where it is at least ``attr_threshold``. Ratios are NaN when a denominator region is empty or
    has zero attribution; everything is NaN for a magnetogram without a PIL.
    """
    a = normalise_abs(np.asarray(attribution)[None])[0].astype(np.float64)
    pil, boundary, non_pil = (
        np.asarray(masks[k], dtype=bool) for k in ("pil", "boundary", "non_pil")
    )

    def mean(m: np.ndarray) -> float:
        return float(a[m].mean()) if m.any() else np.nan

    on, off, bnd = mean(pil), mean(non_pil), mean(boundary)
    att = a >= attr_threshold
    union = (att | pil).sum()
    return {
        "pil_area": float(pil.mean()),
        "pil_mean": on,
        "non_pil_mean": off,
        "boundary_mean": bnd,
        "pil_ratio": on / off if pil.any() and off > 0 else np.nan,
        "pil_boundary_ratio": on / bnd if pil.any() and bnd > 0 else np.nan,
        "pil_iou": float((att & pil).sum() / union) if pil.any() and union else np.nan,
    }


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman correlation of the absolute values of two maps (NaN if either is constant)."""
    x = np.abs(np.asarray(a, dtype=np.float64)).reshape(-1)
    y = np.abs(np.asarray(b, dtype=np.float64)).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"maps of {x.size} and {y.size} values differ")
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return np.nan
    return float(stats.spearmanr(x, y).statistic)


def randomisation_passes(correlations: Sequence[float], max_correlation: float = 0.5) -> bool:
    """Adebayo et al. check: the mean trained-vs-random rank correlation stays below the bound.

    A method that ignores the weights gives (nearly) the same map for both networks and fails.
    NaN correlations (a constant map: nothing to rank) are left out; with none left it fails.
    """
    c = np.asarray(list(correlations), dtype=np.float64)
    c = c[~np.isnan(c)]
    if c.size == 0:
        return False
    return bool(c.mean() < max_correlation)
