"""Adapter: rule fulldisk_shard -> flarepipe.stages.fulldisk.run_fulldisk_shard."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.fulldisk import run_fulldisk_shard  # noqa: E402

failed = run_fulldisk_shard(
    **smk.input,
    cfg=smk.params.cfg,
    part=smk.wildcards.split,
    out_shard=smk.output.shard,
    out_table=smk.output.table,
)
print(f"{len(failed)} frame(s) could not be read")
print(failed.to_string(index=False))
