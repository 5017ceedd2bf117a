"""Adapter: one dataset split for one run."""
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages.label import run_split

w = snakemake.wildcards
run_split(snakemake.input.samples, w.dataset, int(w.run), snakemake.params.cfg, snakemake.output[0])
