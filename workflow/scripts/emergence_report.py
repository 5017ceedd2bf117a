"""Adapter: rule emergence_report -> flarepipe.stages.emergence.run_emergence_report."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.emergence import run_emergence_report  # noqa: E402

o = smk.output
run_emergence_report(
    **smk.input,
    em=smk.params.emergence,
    out_tss=o.tss,
    out_report=o.report,
    out_figure=o.figure,
    out_occlusion=o.occlusion,
    out_probes=o.probes,
    out_gallery=o.gallery,
)
