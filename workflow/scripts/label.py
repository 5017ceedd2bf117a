"""Adapter: labelled samples and evolution-type counts."""
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages.label import run_label

o = snakemake.output
run_label(snakemake.input.records, snakemake.input.flagged, snakemake.params.cfg, o.samples, o.counts, o.drops)
