"""Adapter: rule recall_time -> flarepipe.stages.evaluate.run_recall_time."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.evaluate import run_recall_time  # noqa: E402

run_recall_time(
    **smk.input,
    **smk.params,
    out_table=smk.output.table,
    out_figure=smk.output.figure,
    out_pre_flare=smk.output.pre_flare,
)
