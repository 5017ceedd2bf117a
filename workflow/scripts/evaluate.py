"""Adapter: rule evaluate -> flarepipe.stages.evaluate.run_evaluate."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.evaluate import run_evaluate

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
