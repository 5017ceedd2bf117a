"""Adapter: ensembles of the configured stacking pairs."""
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages.evaluate import run_stack

print(run_stack(dict(snakemake.input.items()), snakemake.params.stacking, snakemake.params.template,
                plugins=snakemake.params.plugins))
