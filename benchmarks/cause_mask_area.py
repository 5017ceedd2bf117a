"""Area share of the synthetic archive's planted-cause mask, per scale, native and network grid.

For every region of a scale's plan that has a planted cause (a rotated main bipole or a delta
spot), the cause mask (:func:`flarepipe.archive.sources.synthetic.images.scene_cause_mask`) of up
to 8 of its records is computed on the record's pixel grid (no rendering) and on the network grid
(:func:`flarepipe.attribution.analysis.resize_mask`: HMI subsampled 4x, resized to 32 px). Its
share of the patch bounds how much any map can gain by pointing at the mask (enrichment <= 1 /
share). Usage: python benchmarks/cause_mask_area.py [scales=tiny,small,default] [regions=40]
[config.yaml overlay] (``regions``: regions per instrument read from each plan). With an overlay
(e.g. ``config/attribution_delta.yaml``) the generator parameters of its ``archive.synthetic``
(the scale argument still chooses the preset), its ``features.image_size`` and
``hmi_subsample`` and its ``attribution.planted_dilation_px`` are used, and a third grid
``dilated`` is printed; ``network px`` is the median mask size in network pixels.
"""

from __future__ import annotations

import dataclasses
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


def overlay(path: str | None) -> tuple[dict, int, int, int]:
    """Generator parameters, image side, HMI subsample and mask dilation of a config overlay."""
    if path is None:
        return {}, IMAGE_SIZE, HMI_SUBSAMPLE, 0
    from flarepipe.config.load import load_config

    cfg = load_config("config.yaml", path)
    fields = {f.name for f in dataclasses.fields(SyntheticParams)} - {"scale"}
    syn = {k: v for k, v in cfg["archive"]["synthetic"].items() if k in fields}
    if "instruments" in syn:
        syn["instruments"] = tuple(syn["instruments"])
    feats = cfg["features"]
    dil = int(cfg["attribution"].get("planted_dilation_px", 0))
    return syn, int(feats["image_size"]), int(feats["hmi_subsample"]), dil


def shares(scale: str, per_instrument: int, config: str | None = None) -> dict[str, np.ndarray]:
    """Mask shares (native, network grid) over the records of regions with a planted cause."""
    syn, size, hmi_sub, dil = overlay(config)
    params = SyntheticParams(scale=scale, **syn)
    res = params.resolved()
    native, network, dilated, pixels = [], [], [], []
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
            sub = hmi_sub if name == "HMI" else 1
            small = resize_mask(mask, (size, size), subsample=sub)
            network.append(small.mean())
            pixels.append(small.sum())
            if dil:
                dilated.append(resize_mask(mask, (size, size), sub, dil).mean())
    out = {"native": np.asarray(native), "network": np.asarray(network)}
    if dil:
        out["dilated"] = np.asarray(dilated)
    out["network px"] = np.asarray(pixels, dtype=float)
    return out


def main() -> None:
    """Print one line per (scale, grid): masks, median, 90th percentile, max, share empty."""
    scales = (sys.argv[1] if len(sys.argv) > 1 else "tiny,small,default").split(",")
    per_instrument = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    config = sys.argv[3] if len(sys.argv) > 3 else None
    print(f"{'scale':8s} {'grid':10s} {'masks':>6s} {'median':>7s} {'p90':>7s} {'max':>7s} empty")
    for scale in scales:
        for grid, a in shares(scale, per_instrument, config).items():
            if a.size == 0:
                print(f"{scale:8s} {grid:10s} {0:6d}")
                continue
            print(
                f"{scale:8s} {grid:10s} {a.size:6d} {np.median(a):7.3f} "
                f"{np.quantile(a, 0.9):7.3f} {a.max():7.3f} {np.mean(a == 0):5.2f}"
            )


if __name__ == "__main__":
    main()
