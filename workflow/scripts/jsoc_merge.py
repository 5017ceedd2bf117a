"""Adapter: merge finished JSOC units and the catalogue into the archive layout."""
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages.archive import run_merge

i = snakemake.input  # noqa: F821
run_merge(i.units, i.flares, i.rejected, snakemake.output.records)  # noqa: F821
