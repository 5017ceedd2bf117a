"""Adapter: rule shard -> flarepipe.stages.shard.run_shard."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.shard import run_shard  # noqa: E402

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
