"""Adapter: rule attribute -> flarepipe.stages.attribute.run_attribute."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.attribute import run_attribute  # noqa: E402

w = smk.wildcards
print(
    run_attribute(
        **smk.input,
        summary=smk.output.summary,
        model=w.model,
        dataset=w.dataset,
        run=int(w.run),
        cfg=smk.params.cfg,
        synthetic=smk.params.synthetic,
        threads=smk.threads,
        plugins=smk.params.plugins,
    )
)
