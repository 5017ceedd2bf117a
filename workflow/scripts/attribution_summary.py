"""Adapter: rule attribution_summary -> flarepipe.stages.attribute.run_attribution_summary."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.attribute import run_attribution_summary  # noqa: E402

w = smk.wildcards
print(
    run_attribution_summary(
        **smk.input,
        summary=smk.output.summary,
        dataset=w.dataset,
        model=w.model,
        cfg=smk.params.cfg,
    )
)
