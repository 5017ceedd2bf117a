"""Adapter: rule fulldisk_figure -> flarepipe.stages.fulldisk.run_fulldisk_figure."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.fulldisk import run_fulldisk_figure

    run_fulldisk_figure(**smk.input, out=smk.output[0])
