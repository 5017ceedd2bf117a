"""Adapter: train one network on one dataset run."""
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821  (snakemake injects it)

from pathlib import Path

from flarepipe.stages import run_train

out = Path(snakemake.output.predictions).parent
print(run_train(Path(snakemake.input.train).parent, snakemake.wildcards.model, snakemake.params.cfg, out, snakemake.params.seed))
