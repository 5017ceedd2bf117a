"""Adapter: rule oracle -> flarepipe.stages.train.run_oracle."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.train import run_oracle  # noqa: E402

run_oracle(**smk.input, out_predictions=smk.output.predictions)
