"""Adapter: skill scores, summary table, paired tests, plots."""
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages.evaluate import run_evaluate

o = snakemake.output
run_evaluate(list(snakemake.input), o.metrics, o.table, o.plots, tests=snakemake.params.tests)
