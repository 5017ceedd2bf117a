"""Adapter: figure of one synthetic patch and its flares."""
import sys
from pathlib import Path

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages.archive import run_synthetic_figure

print(run_synthetic_figure(Path(snakemake.input.records).parent, snakemake.output[0]))
