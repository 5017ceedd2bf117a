"""Adapter: attribution maps, probes and analyses of one trained network (rules/attribute.smk)."""

import sys

sm = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(sm.log[0], "w", buffering=1)

from flarepipe.stages.attribute import run_attribute  # noqa: E402

i, w = sm.input, sm.wildcards
print(
    run_attribute(
        i.checkpoint,
        i.predictions,
        i.shard,
        i.features,
        i.samples,
        i.records,
        sm.output.summary,
        w.model,
        w.dataset,
        int(w.run),
        sm.params.cfg,
        sm.params.synthetic,
        threads=sm.threads,
    )
)
