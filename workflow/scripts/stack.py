"""Adapter: S1 stacking ensembles of LSTM and CNN."""
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages.evaluate import run_stack

print(run_stack(snakemake.input.lstm, snakemake.input.cnn, snakemake.params.criteria, snakemake.params.template))
