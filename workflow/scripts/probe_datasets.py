"""Adapter: rule probe_datasets -> flarepipe.attribution.summary.compare_probes."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.attribution.summary import compare_probes  # noqa: E402

compare_probes(
    dict(smk.input.items()), smk.output.table, smk.output.figures, model=smk.wildcards.model
)
