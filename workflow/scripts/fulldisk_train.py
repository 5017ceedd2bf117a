"""Adapter: rule fulldisk_train -> flarepipe.stages.fulldisk.run_fulldisk_train."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.fulldisk import run_fulldisk_train  # noqa: E402

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
