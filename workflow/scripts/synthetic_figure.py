"""Adapter: figure of one synthetic patch and its flares."""
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821  (snakemake injects it)

from pathlib import Path

from flarepipe.stages import run_synthetic_figure

print(run_synthetic_figure(Path(snakemake.input.records).parent, snakemake.output[0]))
