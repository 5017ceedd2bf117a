"""Adapter: attribution tables and figures over the runs of one (dataset, model)."""

import sys

sm = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(sm.log[0], "w", buffering=1)

from flarepipe.stages.attribute import run_attribution_summary  # noqa: E402

w = sm.wildcards
print(
    run_attribution_summary(
        sm.input.stats, sm.input.probes, sm.output.summary, w.dataset, w.model, sm.params.cfg
    )
)
