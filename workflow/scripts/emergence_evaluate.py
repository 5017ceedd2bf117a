"""Adapter: rule emergence_evaluate -> flarepipe.stages.emergence.run_emergence_evaluate."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.emergence import run_emergence_evaluate  # noqa: E402

o = smk.output
run_emergence_evaluate(
    **smk.input,
    em=smk.params.emergence,
    lead_h=smk.params.lead_h,
    out_predictions=o.predictions,
    out_occlusion=o.occlusion,
    out_probes=o.probes,
)
