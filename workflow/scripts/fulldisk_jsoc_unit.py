"""Adapter: rule fulldisk_jsoc_unit -> flarepipe.stages.fulldisk.run_fulldisk_jsoc_unit."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.fulldisk import run_fulldisk_jsoc_unit

    print(
        run_fulldisk_jsoc_unit(
            **smk.input,
            cfg=smk.params.cfg,
            jsoc=smk.params.jsoc,
            unit=smk.wildcards.unit,
            out=smk.output[0],
        )
    )
