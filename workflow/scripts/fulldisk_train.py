"""Adapter: rule fulldisk_train -> flarepipe.stages.train.run_train (the yi_densenet network)."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.train import run_train  # noqa: E402

o = smk.output
print(
    run_train(
        **smk.input,
        model=smk.params.model,
        cfg=smk.params.cfg,
        seed=smk.params.seed,
        out_predictions=o.predictions,
        out_checkpoint=o.checkpoint,
        threads=smk.threads,
    )
)
