"""Adapter: rule emergence_report -> flarepipe.stages.emergence.report."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.emergence import report  # noqa: E402

report(
    list(smk.input.predictions),
    smk.output.tss,
    smk.output.report,
    smk.output.figure,
    list(smk.input.occlusion),
    smk.output.occlusion,
    list(smk.input.probes),
    smk.output.probes,
    smk.input.regions,
    smk.params.emergence,
    smk.output.gallery,
)
