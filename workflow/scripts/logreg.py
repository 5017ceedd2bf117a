"""Adapter: keyword-only logistic regression on one dataset run."""
import sys
from pathlib import Path

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages.train import run_logreg

out = Path(snakemake.output.predictions).parent
print(run_logreg(Path(snakemake.input.train).parent, snakemake.params.cfg, out, snakemake.params.seed))
