"""Adapter: keyword-only logistic regression on one dataset run."""
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821  (snakemake injects it)

from pathlib import Path

from flarepipe.stages import run_logreg

out = Path(snakemake.output.predictions).parent
print(run_logreg(Path(snakemake.input.train).parent, snakemake.params.cfg, out, snakemake.params.seed))
