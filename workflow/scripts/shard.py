"""Adapter: rule shard -> flarepipe.stages.shard.run_shard."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.shard import run_shard

    o = smk.output
    run_shard(
        **smk.input,
        dataset=smk.wildcards.dataset,
        cfg=smk.params.cfg,
        plugins=smk.params.plugins,
        out_train=o.train,
        out_val=o.val,
        out_test=o.test,
    )
