"""README figure: a synthetic default HMI patch beside the real HARP 377 record, same colour scale.

Renders HMI records of the ``default`` archive's plan in memory (``render_sample``: same geometry
and textures as the archive, within 30° of central meridian), takes the one whose USFLUXL is
nearest the real record's, and draws both at ±1500 G (``flarepipe.archive.realism.pair_figure``).
Usage: python benchmarks/patch_figure.py [out=docs/img/synthetic_vs_harp377.png] [records=120]
       (real references: FLAREPIPE_REAL_DATA or ../shared/data/real)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from flarepipe.archive.realism import load_references, pair_figure
from flarepipe.archive.sources.synthetic import SyntheticParams, render_sample
from flarepipe.core.magnetic import compute_keywords


def main() -> None:
    """Write the figure and print which synthetic record it shows."""
    opts = {"out": "docs/img/synthetic_vs_harp377.png", "records": "120"}
    opts.update(a.split("=", 1) for a in sys.argv[1:])
    real_dir = os.environ.get(
        "FLAREPIPE_REAL_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data" / "real")
    )
    refs = load_references(real_dir)
    real = refs.patches.get("HMI")
    if real is None:
        raise SystemExit(f"{real_dir}: the real HARP 377 record is needed for this figure")
    target = compute_keywords(real["map"], real["cdelt"])["USFLUXL"]
    params = SyntheticParams(scale="default")
    rec, maps = render_sample(params, "HMI", int(opts["records"]), seed=0, max_lon_deg=30.0)
    i = int(np.argmin(np.abs(np.log(rec["usfluxl_mx"].to_numpy() / target))))
    r = rec.iloc[i]
    title = (
        f"synthetic default archive: {r['region_id']} (HMI-like, {r['mtwilson'] or 'no spots'})\n"
        f"USFLUXL {r['usfluxl_mx']:.2e} Mx, LON_FWT {r['lon_fwt']:.1f}°, "
        f"max |B| {np.nanmax(np.abs(maps[i])):.0f} G"
    )
    print(pair_figure(maps[i], title, refs, opts["out"]), title.replace("\n", "; "))


if __name__ == "__main__":
    main()
