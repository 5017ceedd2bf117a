"""Adapter: rule train -> flarepipe.stages.train.run_train."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.train import run_train

    o = smk.output
    print(
        run_train(
            **smk.input,
            model=smk.wildcards.model,
            cfg=smk.params.cfg,
            seed=smk.params.seed,
            out_predictions=o.predictions,
            out_checkpoint=o.checkpoint,
            threads=smk.threads,
            plugins=smk.params.plugins,
        )
    )
