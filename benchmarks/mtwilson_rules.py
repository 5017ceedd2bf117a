"""The rule-based Mt. Wilson classifier against the synthetic generator's own classes.

Renders random spotted region-days of a scale's plan in memory
(:func:`flarepipe.archive.sources.synthetic.generate.render_sample`), classifies each map with
:func:`flarepipe.core.mtwilson.classify_field` and prints the agreement on the base class and on
the delta flag, with both confusion matrices. Usage:
``python benchmarks/mtwilson_rules.py [instrument=HMI] [n=300] [seed=0]``.
"""

from __future__ import annotations

import sys

import pandas as pd

from flarepipe.archive.sources.synthetic import INSTRUMENTS, SyntheticParams
from flarepipe.archive.sources.synthetic.generate import render_sample
from flarepipe.core.mtwilson import classify_field


def main(argv: list[str]) -> None:
    """Print the agreement table (module doc)."""
    instrument = argv[0] if argv else "HMI"
    n = int(argv[1]) if len(argv) > 1 else 300
    seed = int(argv[2]) if len(argv) > 2 else 0
    rows, maps = render_sample(SyntheticParams(), instrument, n, seed=seed)
    cdelt = INSTRUMENTS[instrument].cdelt_deg
    out = []
    for row, bmap in zip(rows.itertuples(), maps, strict=True):
        if not row.mtwilson:
            continue  # spotless: no class to compare
        try:
            cls, delta = classify_field(bmap, cdelt)
        except ValueError:
            cls, delta = "", False
        out.append(
            {
                "generator": row.mtwilson.replace("-DELTA", "").lower(),
                "rules": cls,
                "generator_delta": "DELTA" in row.mtwilson,
                "rules_delta": delta,
            }
        )
    df = pd.DataFrame(out)
    print(f"{instrument}: {len(rows)} region-days rendered, {len(df)} with spots (seed {seed})")
    print(f"class agreement  {(df.generator == df.rules).mean():.3f}")
    print(f"delta agreement  {(df.generator_delta == df.rules_delta).mean():.3f}")
    print(pd.crosstab(df.generator, df.rules).to_string())
    print(pd.crosstab(df.generator_delta, df.rules_delta).to_string())


if __name__ == "__main__":
    main(sys.argv[1:])
