"""Adapter: rule baseline -> flarepipe.stages.train.run_baseline."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.train import run_baseline

    print(
        run_baseline(
            **smk.input,
            model=smk.wildcards.model,
            cfg=smk.params.cfg,
            seed=smk.params.seed,
            out_predictions=smk.output.predictions,
            plugins=smk.params.plugins,
        )
    )
