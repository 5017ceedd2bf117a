"""Adapter: per-record quality flags."""
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821  (snakemake injects it)

from flarepipe.stages import run_quality

run_quality(snakemake.input.records, snakemake.params.cfg, snakemake.output.flagged, snakemake.output.summary)
