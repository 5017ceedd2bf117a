"""Pre-emergence segments of Dhuri et al. 2020 (S4): sampling, evaluation grid, folds.

A map (``N × N`` px) is centred on the (future) emergence site; the *site* is the disc of
``site_radius_px`` around the centre. Segments are ``S × S`` squares (10°: 85 px of a 30° map of
256 px), given by their top-left corner ``(y0, x0)``:

- **PE** (pre-emergence, label 1): from an emerging region, the whole site inside the segment:
  ``y0 <= c − r`` and ``y0 + S >= c + r`` (and the same in x), ``c = (N − 1)/2``;
- **NE** (non-emergence, label 0): from a control region, anywhere; or from an emerging region,
  not touching the site: the distance from the site's centre to the segment's box exceeds ``r``.

Training uses ``n_pe`` PE segments per emerging region and ``n_ne_control`` + ``n_ne_emerging``
NE segments (100, 50 + 50 in the paper), drawn uniformly among the allowed corners. Skill is
measured on the evaluation grid: the 3 × 3 non-overlapping segments tiling each map, centred on
its middle; the central segment of an emerging region is PE, the 8 others and the 9 of its control
NE (17:1). Folds are by region pair (an emerging region and its control together), so no region
is in training and test.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = [
    "SEGMENT_COLUMNS",
    "allowed_pe_corners",
    "touches_site",
    "contains_site",
    "sample_segments",
    "grid_segments",
    "pair_folds",
    "cut",
]

#: columns of a segment table
SEGMENT_COLUMNS = ("region", "kind", "pair", "lead_h", "y0", "x0", "label", "source")


def _centre(n: int) -> float:
    return (n - 1) / 2.0


def contains_site(y0, x0, seg: int, n: int, r: float) -> np.ndarray:
    """Whether the ``seg``-px segment at ``(y0, x0)`` holds the whole site disc (pixel centres)."""
    c = _centre(n)
    y0, x0 = np.asarray(y0), np.asarray(x0)
    return (y0 <= c - r) & (y0 + seg - 1 >= c + r) & (x0 <= c - r) & (x0 + seg - 1 >= c + r)


def touches_site(y0, x0, seg: int, n: int, r: float) -> np.ndarray:
    """Whether any pixel centre of the segment lies within ``r`` of the site's centre."""
    c = _centre(n)
    y0, x0 = np.asarray(y0, dtype=float), np.asarray(x0, dtype=float)
    dy = np.maximum(0.0, np.maximum(y0 - c, c - (y0 + seg - 1)))
    dx = np.maximum(0.0, np.maximum(x0 - c, c - (x0 + seg - 1)))
    return dy * dy + dx * dx <= r * r


def allowed_pe_corners(seg: int, n: int, r: float) -> np.ndarray:
    """The corner coordinates (one axis) whose segment holds the site: ``[lo, hi]`` integers."""
    c = _centre(n)
    lo = max(0, math.ceil(c + r - (seg - 1)))
    hi = min(n - seg, math.floor(c - r))
    if lo > hi:
        raise ValueError(
            f"the site (radius {r:.1f} px) does not fit in a {seg}-px segment of a {n}-px map: "
            "make emergence.signature_radius_deg smaller or samples.segment_deg larger"
        )
    return np.arange(lo, hi + 1)


def sample_segments(
    regions: pd.DataFrame,
    lead_h: float,
    n: int,
    seg: int,
    r: float,
    n_pe: int = 100,
    n_ne_control: int = 50,
    n_ne_emerging: int = 50,
    seed: int = 0,
) -> pd.DataFrame:
    """Training segments of one lead time (the rule in the module docstring).

    Parameters
    ----------
    regions : pandas.DataFrame
        ``region``, ``kind`` (``emerging``/``control``), ``pair``.
    lead_h : float
        Lead time the segments are cut at.
    n, seg : int
        Map and segment sides, pixels.
    r : float
        Site radius, pixels.
    n_pe, n_ne_control, n_ne_emerging : int
        Segments per region; corners are drawn uniformly with replacement.
    seed : int
        Seeds one generator per region (the draw does not depend on the other regions).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SEGMENT_COLUMNS`; ``source`` is ``pe``, ``ne_control`` or ``ne_emerging``.
    """
    if seg > n:
        raise ValueError(f"segment side {seg} px exceeds the map side {n} px")
    pe_axis = allowed_pe_corners(seg, n, r)
    if touches_site(0, 0, seg, n, r):
        raise ValueError(f"no {seg}-px segment of a {n}-px map avoids the site (radius {r:.1f} px)")
    rows = []
    for idx, reg in enumerate(regions.itertuples(index=False)):
        rng = np.random.default_rng([seed, 31, idx])
        if reg.kind == "emerging":
            y0 = rng.choice(pe_axis, n_pe)
            x0 = rng.choice(pe_axis, n_pe)
            rows.append((reg, y0, x0, 1, "pe"))
            # rejection sampling of corners off the site (most corners qualify)
            ys, xs = [], []
            while len(ys) < n_ne_emerging:
                cy = rng.integers(0, n - seg + 1, 4 * n_ne_emerging + 8)
                cx = rng.integers(0, n - seg + 1, cy.size)
                ok = ~touches_site(cy, cx, seg, n, r)
                ys.extend(cy[ok].tolist())
                xs.extend(cx[ok].tolist())
            rows.append(
                (reg, np.array(ys[:n_ne_emerging]), np.array(xs[:n_ne_emerging]), 0, "ne_emerging")
            )
        elif reg.kind == "control":
            y0 = rng.integers(0, n - seg + 1, n_ne_control)
            x0 = rng.integers(0, n - seg + 1, n_ne_control)
            rows.append((reg, y0, x0, 0, "ne_control"))
        else:
            raise ValueError(
                f"region {reg.region}: kind must be emerging or control, got {reg.kind!r}"
            )
    return _table(rows, lead_h)


def _table(rows, lead_h) -> pd.DataFrame:
    parts = [
        pd.DataFrame(
            {
                "region": reg.region,
                "kind": reg.kind,
                "pair": reg.pair,
                "lead_h": float(lead_h),
                "y0": np.asarray(y0, dtype=np.int64),
                "x0": np.asarray(x0, dtype=np.int64),
                "label": int(label),
                "source": source,
            }
        )
        for reg, y0, x0, label, source in rows
    ]
    if not parts:
        return pd.DataFrame(columns=list(SEGMENT_COLUMNS))
    return pd.concat(parts, ignore_index=True)[list(SEGMENT_COLUMNS)]


def grid_segments(regions: pd.DataFrame, lead_h: float, n: int, seg: int) -> pd.DataFrame:
    """The 3 × 3 evaluation grid of every region: central segment of an emerging region PE.

    The grid is centred on the map (offset ``(n − 3·seg) // 2``); ``source`` is ``grid``.
    """
    if 3 * seg > n:
        raise ValueError(f"3 segments of {seg} px do not fit in a {n}-px map")
    off = (n - 3 * seg) // 2
    rows = []
    for reg in regions.itertuples(index=False):
        for gy in range(3):
            for gx in range(3):
                label = int(reg.kind == "emerging" and gy == 1 and gx == 1)
                rows.append((reg, [off + gy * seg], [off + gx * seg], label, "grid"))
    return _table(rows, lead_h)


def pair_folds(pairs, k: int = 5, seed: int = 0) -> dict[str, int]:
    """Fold (0 … k−1) of every region pair: a seeded permutation dealt round-robin."""
    uniq = sorted(set(pairs))
    if len(uniq) < k:
        raise ValueError(
            f"{k}-fold cross-validation needs at least {k} region pairs, got {len(uniq)}"
        )
    order = np.random.default_rng([seed, 37]).permutation(len(uniq))
    return {uniq[j]: int(rank % k) for rank, j in enumerate(order)}


def cut(maps: dict, table: pd.DataFrame, seg: int) -> np.ndarray:
    """The segments of ``table`` as float32 ``[len, seg, seg]`` from ``maps[(region, lead)]``."""
    out = np.empty((len(table), seg, seg), dtype=np.float32)
    for i, (region, lead, y0, x0) in enumerate(
        zip(table["region"], table["lead_h"], table["y0"], table["x0"], strict=True)
    ):
        m = maps[(region, float(lead))]
        out[i] = m[y0 : y0 + seg, x0 : x0 + seg]
    return out
