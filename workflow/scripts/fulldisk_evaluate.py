"""Adapter: rule fulldisk_evaluate -> flarepipe.stages.fulldisk.run_fulldisk_evaluate."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.fulldisk import run_fulldisk_evaluate

    print(
        run_fulldisk_evaluate(
            **smk.input,
            cfg=smk.params.cfg,
            out_csv=smk.output.metrics,
            out_md=smk.output.table,
        ).to_string(index=False)
    )
