"""Adapter: rule features -> flarepipe.stages.shard.run_features."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.shard import run_features

    run_features(**smk.input, cfg=smk.params.cfg, out=smk.output[0], threads=smk.threads)
