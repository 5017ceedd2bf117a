"""Adapter: rule fulldisk_shard -> flarepipe.stages.fulldisk.run_fulldisk_shard."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.fulldisk import run_fulldisk_shard

    failed = run_fulldisk_shard(
        **smk.input,
        cfg=smk.params.cfg,
        part=smk.wildcards.split,
        out_shard=smk.output.shard,
        out_table=smk.output.table,
    )
    print(f"{len(failed)} frame(s) could not be read")
    print(failed.to_string(index=False))
