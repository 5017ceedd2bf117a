"""Adapter: rule probe_datasets -> flarepipe.stages.attribute.run_probe_datasets."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.attribute import run_probe_datasets  # noqa: E402

run_probe_datasets(smk.wildcards.model, smk.output.table, smk.output.figures, **smk.input)
