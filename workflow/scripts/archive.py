"""Adapter: build the raw archive."""
import sys
from pathlib import Path

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages.archive import run_archive

run_archive(snakemake.params.cfg, Path(snakemake.output.records).parent, workers=snakemake.threads)
