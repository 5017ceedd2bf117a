"""Adapter: the flare catalogue (HEK or a catalogue file), with rejected and repaired rows."""
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages.archive import run_catalogue

o = snakemake.output  # noqa: F821
run_catalogue(snakemake.params.cfg, o.flares, o.rejected, o.repaired)  # noqa: F821
