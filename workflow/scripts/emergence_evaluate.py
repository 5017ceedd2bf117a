"""Adapter: rule emergence_evaluate -> flarepipe.stages.emergence.evaluate."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.emergence import evaluate  # noqa: E402

evaluate(
    smk.params.emergence,
    smk.input.regions,
    smk.params.lead_h,
    smk.output.predictions,
    smk.output.occlusion,
    smk.output.probes,
)
