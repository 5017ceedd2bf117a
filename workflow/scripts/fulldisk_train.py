"""Adapter: rule fulldisk_train -> flarepipe.stages.fulldisk.run_fulldisk_train."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.fulldisk import run_fulldisk_train

    o = smk.output
    print(
        run_fulldisk_train(
            **smk.input,
            model=smk.params.model,
            cfg=smk.params.cfg,
            seed=smk.params.seed,
            out_predictions=o.predictions,
            out_checkpoint=o.checkpoint,
            threads=smk.threads,
        )
    )
