"""Adapter: S1 stacking ensembles of LSTM and CNN."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821 (also in conda envs)
sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages import run_stack

print(run_stack(snakemake.input.lstm, snakemake.input.cnn, snakemake.params.criteria, snakemake.params.template))
