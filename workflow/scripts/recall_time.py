"""Adapter: rule recall_time -> flarepipe.stages.evaluate.run_recall_time."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.evaluate import run_recall_time

    run_recall_time(
        **smk.input,
        **smk.params,
        out_table=smk.output.table,
        out_figure=smk.output.figure,
        out_pre_flare=smk.output.pre_flare,
    )
