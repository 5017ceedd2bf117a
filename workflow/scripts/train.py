"""Adapter: train one network on one dataset run."""
import sys
from pathlib import Path

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages.train import run_train

out = Path(snakemake.output.predictions).parent
print(run_train(Path(snakemake.input.train).parent, snakemake.wildcards.model, snakemake.params.cfg, out,
                snakemake.params.seed, threads=snakemake.threads, plugins=snakemake.params.plugins))
