"""Adapter: the flare catalogue (HEK or a catalogue file), with rejected and repaired rows."""
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821  (snakemake injects it)

from flarepipe.catalogue import build_catalogue, write_catalogue

o = snakemake.output
write_catalogue(build_catalogue(snakemake.params.cfg), o.flares, o.rejected, o.repaired)
