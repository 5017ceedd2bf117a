"""Adapter: rule region_analyses -> flarepipe.stages.evaluate.run_region_analyses."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.evaluate import run_region_analyses  # noqa: E402

o = smk.output
run_region_analyses(
    **smk.input,
    **smk.params,
    out_histogram=o.histogram,
    out_histogram_figure=o.histogram_figure,
    out_resolution=o.resolution,
    out_resolution_figure=o.resolution_figure,
    out_losses=o.losses,
    out_losses_figure=o.losses_figure,
    out_table1=o.table1,
    out_table1_md=o.table1_md,
)
