"""Adapter: rule oracle -> flarepipe.stages.train.run_oracle."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.train import run_oracle

    run_oracle(
        **smk.input,
        out_predictions=smk.output.predictions,
        out_ceilings=list(smk.output.ceilings),
    )
