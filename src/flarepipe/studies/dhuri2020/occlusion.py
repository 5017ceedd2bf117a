"""Occlusion maps of the S4 network recombined per region (the paper's Fig. 18).

Each of the 3 × 3 evaluation-grid segments of a region is occluded by a ``window × window`` mask
(25 px of an 85-px segment; the mask sets the standardised input to 0, the mean field) sliding
by ``stride``; captum's :class:`~captum.attr.Occlusion` gives, per pixel, the mean drop of the
network's PE probability over the masks covering it. The nine tiles are put back in place, so
the map covers the region's ``3·S × 3·S`` grid area.
"""

from __future__ import annotations

import numpy as np
import torch
from captum.attr import Occlusion

from flarepipe.training.segments import SegmentNetwork

__all__ = ["occlusion_window", "region_occlusion"]


def occlusion_window(seg_px: int, window_85: int = 25) -> int:
    """The mask side for ``seg_px``-px segments: ``window_85`` px of an 85-px segment, scaled."""
    return max(1, min(seg_px, int(round(window_85 * seg_px / 85.0))))


def region_occlusion(
    net: SegmentNetwork, region_map: np.ndarray, seg: int, window: int, stride: int | None = None
) -> np.ndarray:
    """Occlusion map (drop of PE probability) over the 3 × 3 grid area of ``region_map``.

    Returns float32 ``[3·seg, 3·seg]``, aligned with the grid (offset ``(N − 3·seg) // 2`` in the
    map).
    """
    n = region_map.shape[0]
    if 3 * seg > n or not 1 <= window <= seg:
        raise ValueError(f"occlusion: need 3 segments of {seg} px in {n} px and 1 <= window <= seg")
    stride = stride or max(1, window // 3)
    off = (n - 3 * seg) // 2
    tiles = np.stack(
        [
            region_map[off + gy * seg : off + (gy + 1) * seg, off + gx * seg : off + (gx + 1) * seg]
            for gy in range(3)
            for gx in range(3)
        ]
    )
    net.model.eval()

    def prob(x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(net.model(x))[:, 0]

    with torch.no_grad():
        attr = Occlusion(prob).attribute(
            net.inputs(tiles),
            sliding_window_shapes=(1, window, window),
            strides=(1, stride, stride),
            baselines=0.0,
        )
    a = attr[:, 0].numpy().astype(np.float32)
    out = np.zeros((3 * seg, 3 * seg), dtype=np.float32)
    for i in range(9):
        gy, gx = divmod(i, 3)
        out[gy * seg : (gy + 1) * seg, gx * seg : (gx + 1) * seg] = a[i]
    return out
