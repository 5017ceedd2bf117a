"""Adapter: rule jsoc_unit -> flarepipe.stages.archive.run_jsoc_unit."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.archive import run_jsoc_unit

    print(
        run_jsoc_unit(
            **smk.input,
            cfg=smk.params.cfg,
            unit=smk.wildcards.unit,
            archive=smk.params.archive,
            out=smk.output[0],
        )
    )
