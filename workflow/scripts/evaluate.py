"""Adapter: skill scores, summary table, paired tests, plots."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821 (also in conda envs)
sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages import run_evaluate

o = snakemake.output
run_evaluate(list(snakemake.input), o.metrics, o.table, o.plots, tests=snakemake.params.tests)
