"""Adapter: oracle predictions from the synthetic archive's planted rates."""
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821  (snakemake injects it)

from pathlib import Path

from flarepipe.stages import run_oracle

rates = Path(snakemake.input.rates).parent / "truth" / "rates.csv"
run_oracle(snakemake.input.samples, snakemake.input.split, rates, snakemake.output.predictions)
