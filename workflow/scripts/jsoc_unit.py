"""Adapter: fetch one JSOC unit (keywords, export, resumable downloads)."""
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages.archive import run_unit

print(run_unit(snakemake.params.cfg, snakemake.wildcards.unit, snakemake.params.archive))  # noqa: F821
