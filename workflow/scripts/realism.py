"""Adapter: rule realism -> flarepipe.stages.realism.run_realism."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.realism import run_realism

    run_realism(
        **smk.input,
        real_dir=smk.params.real,
        out_table=smk.output.table,
        n_patches=smk.params.n_patches,
    )
