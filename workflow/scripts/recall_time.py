"""Adapter: rule recall_time -> flarepipe.stages.recall_time.run_recall_time."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.recall_time import run_recall_time  # noqa: E402

run_recall_time(
    predictions=list(smk.input.predictions),
    samples=smk.input.samples,
    records=smk.input.records,
    flares=smk.input.flares,
    **smk.params,
    out_table=smk.output.table,
    out_figure=smk.output.figure,
)
