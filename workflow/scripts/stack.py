"""Adapter: rule stack -> flarepipe.stages.evaluate.run_stack."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.evaluate import run_stack  # noqa: E402

print(
    run_stack(
        smk.params.stacking, smk.params.template, list(smk.output), smk.params.plugins, **smk.input
    )
)
