"""Adapter: rule baseline -> flarepipe.stages.train.run_baseline."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.train import run_baseline  # noqa: E402

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
