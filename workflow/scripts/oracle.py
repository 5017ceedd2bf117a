"""Adapter: oracle predictions from the synthetic archive's planted rates."""
import sys
from pathlib import Path

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages.train import run_oracle

rates = Path(snakemake.input.rates).parent / "truth" / "rates.csv"
run_oracle(snakemake.input.samples, snakemake.input.split, rates, snakemake.output.predictions)
