"""Adapter: build the raw archive."""
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821  (snakemake injects it)

from pathlib import Path

from flarepipe.stages import run_archive

run_archive(snakemake.params.cfg, Path(snakemake.output.records).parent, workers=snakemake.threads)
