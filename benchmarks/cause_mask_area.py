"""Area share of the synthetic archive's planted-cause mask, per scale, native and network grid.

For every region of a scale's plan that has a planted cause (a rotated main bipole or a delta
spot), the cause mask (:func:`flarepipe.archive.sources.synthetic.images.scene_cause_mask`) of up
to 8 of its records is computed on the record's pixel grid (no rendering) and on the network grid
(:func:`flarepipe.attribution.analysis.resize_mask`: HMI subsampled 4x, resized to 32 px). Its
share of the patch bounds how much any map can gain by pointing at the mask (enrichment <= 1 /
share). Usage: python benchmarks/cause_mask_area.py [scales=tiny,small,default] [regions=40]
(``regions``: regions per instrument read from each plan).
"""

from __future__ import annotations

import sys

import numpy as np

from flarepipe.archive.sources.synthetic import INSTRUMENTS, SyntheticParams
from flarepipe.archive.sources.synthetic.images import patch_shape, scene_at, scene_cause_mask
from flarepipe.archive.sources.synthetic.regions import (
    plan_regions,
    region_geometry,
    simulate_region,
)
from flarepipe.attribution.analysis import resize_mask

IMAGE_SIZE, HMI_SUBSAMPLE = 32, 4


def shares(scale: str, per_instrument: int) -> dict[str, np.ndarray]:
    """Mask shares (native, network grid) over the records of regions with a planted cause."""
    params = SyntheticParams(scale=scale)
    res = params.resolved()
    native, network = [], []
    taken: dict[str, int] = {}
    for job in plan_regions(params):
        _, name, index, t_birth, span, _, _ = job
        if taken.get(name, 0) >= per_instrument:
            continue
        taken[name] = taken.get(name, 0) + 1
        inst = INSTRUMENTS[name]
        reg = simulate_region(params, inst, index, t_birth, span)
        if len(reg["t"]) == 0 or not (reg["rotated"] or reg["delta"]):
            continue
        geo = region_geometry(params, reg)
        nx, ny = patch_shape(reg, geo, inst, res["max_patch_deg"])
        for k in np.unique(np.linspace(0, len(reg["t"]) - 1, 8).astype(int)):
            mask = scene_cause_mask(scene_at(reg, geo, int(k)), inst, nx, ny)
            if not mask.any():
                continue
            native.append(mask.mean())
            sub = HMI_SUBSAMPLE if name == "HMI" else 1
            network.append(resize_mask(mask, (IMAGE_SIZE, IMAGE_SIZE), subsample=sub).mean())
    return {"native": np.asarray(native), "network": np.asarray(network)}


def main() -> None:
    """Print one line per (scale, grid): masks, median, 90th percentile, max, share empty."""
    scales = (sys.argv[1] if len(sys.argv) > 1 else "tiny,small,default").split(",")
    per_instrument = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    print(f"{'scale':8s} {'grid':8s} {'masks':>6s} {'median':>7s} {'p90':>7s} {'max':>7s} empty")
    for scale in scales:
        for grid, a in shares(scale, per_instrument).items():
            if a.size == 0:
                print(f"{scale:8s} {grid:8s} {0:6d}")
                continue
            print(
                f"{scale:8s} {grid:8s} {a.size:6d} {np.median(a):7.3f} "
                f"{np.quantile(a, 0.9):7.3f} {a.max():7.3f} {np.mean(a == 0):5.2f}"
            )


if __name__ == "__main__":
    main()
