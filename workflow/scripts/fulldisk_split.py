"""Adapter: rule fulldisk_split -> flarepipe.stages.fulldisk.run_fulldisk_split."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.fulldisk import run_fulldisk_split

    print(run_fulldisk_split(**smk.input, cfg=smk.params.cfg, out=smk.output[0]))
