"""Adapter: merge finished JSOC units and the catalogue into the archive layout."""
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821  (snakemake injects it)

from pathlib import Path

from flarepipe.jsoc import merge_units

i = snakemake.input
merge_units(list(i.units), Path(snakemake.output.records).parent, i.flares, rejected_flares=i.rejected)
