"""Adapter: the realism report of the archive against the real references."""

# ruff: noqa: E402, F821
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)

from flarepipe.stages.realism import run_realism

run_realism(
    snakemake.input.records,
    snakemake.input.samples,
    snakemake.params.real,
    snakemake.output.table,
    n_patches=snakemake.params.n_patches,
)
