"""Adapter: rule fulldisk_archive (jsoc) -> flarepipe.stages.fulldisk.run_fulldisk_jsoc_archive."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.fulldisk import run_fulldisk_jsoc_archive

    print(run_fulldisk_jsoc_archive(**smk.input, cfg=smk.params.cfg, out=smk.output[0]))
