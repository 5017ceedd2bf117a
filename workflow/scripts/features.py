"""Adapter: raw model inputs per sample."""
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages.shard import run_features

i = snakemake.input
run_features(i.records, i.samples, snakemake.params.cfg, snakemake.output[0], threads=snakemake.threads)
