"""Circular-bipole probes of the S4 network (the paper's Figs 14-17).

A probe is a segment of zero field holding two discs of uniform field ``+B`` and ``−B`` (radius
``r``, centres ``3r`` apart along x, centred in the segment), on the study's pixel grid. The
network's PE probability and the contributions ``F_i = max(O_i)·w_i`` of its final filters of
largest ``S_net`` are tabulated against ``r`` and ``B`` (and, in the report, against depth).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from flarepipe.training.segments import SegmentNetwork

__all__ = ["PROBE_RADII_DEG", "PROBE_FIELDS_G", "circular_bipole", "probe_table"]

PROBE_RADII_DEG = (0.25, 0.5, 1.0, 1.5, 2.0)
PROBE_FIELDS_G = (25.0, 50.0, 100.0, 200.0, 400.0)


def circular_bipole(seg_px: int, cdelt_deg: float, radius_deg: float, field_g: float) -> np.ndarray:
    """Two uniform discs ±``field_g`` (G) of ``radius_deg``, centres ``3·radius`` apart along x."""
    c = (seg_px - 1) / 2.0
    yy, xx = np.mgrid[0:seg_px, 0:seg_px].astype(np.float64)
    r = radius_deg / cdelt_deg
    left = np.hypot(xx - (c - 1.5 * r), yy - c) <= r
    right = np.hypot(xx - (c + 1.5 * r), yy - c) <= r
    return (field_g * (left.astype(np.float32) - right.astype(np.float32))).astype(np.float32)


def probe_table(
    net: SegmentNetwork,
    seg_px: int,
    cdelt_deg: float,
    filters: np.ndarray,
    radii=PROBE_RADII_DEG,
    fields=PROBE_FIELDS_G,
) -> pd.DataFrame:
    """``radius_deg, field_g, prob`` and ``contrib_<rank>`` of ``filters`` for every probe."""
    grid = [(r, b) for r in radii for b in fields]
    x = np.stack([circular_bipole(seg_px, cdelt_deg, r, b) for r, b in grid])
    prob = net.prob(x)
    F = net.contributions(x)[:, np.asarray(filters, dtype=int)]
    df = pd.DataFrame(grid, columns=["radius_deg", "field_g"])
    df["prob"] = prob
    for j in range(F.shape[1]):
        df[f"contrib_{j + 1}"] = F[:, j]
    return df
