"""Adapter: rule evaluate -> flarepipe.stages.evaluate.run_evaluate."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.evaluate import run_evaluate  # noqa: E402

o = smk.output
run_evaluate(
    **smk.input,
    **smk.params,
    out_metrics=o.metrics,
    out_table=o.table,
    out_plots=o.plots,
    out_true_rate=o.true_rate,
    out_instruments=o.instruments,
    out_splits=o.splits,
)
