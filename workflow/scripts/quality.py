"""Adapter: per-record quality flags."""
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages.quality import run_quality

run_quality(snakemake.input.records, snakemake.params.cfg, snakemake.output.flagged, snakemake.output.summary,
            workers=snakemake.threads)
