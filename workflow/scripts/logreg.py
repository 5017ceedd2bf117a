"""Adapter: rule logreg -> flarepipe.stages.train.run_logreg."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.train import run_logreg  # noqa: E402

print(run_logreg(**smk.input, cfg=smk.params.cfg, seed=smk.params.seed,
                 out_predictions=smk.output.predictions))
