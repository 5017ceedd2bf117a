"""Adapter: rule fulldisk_baselines -> flarepipe.stages.fulldisk.run_fulldisk_baselines."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.fulldisk import run_fulldisk_baselines

    run_fulldisk_baselines(**smk.input, out=smk.output[0])
