"""Adapter: raw model inputs per sample."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821 (also in conda envs)
sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages import run_features

i = snakemake.input
run_features(i.records, i.samples, snakemake.params.cfg, snakemake.output[0], threads=snakemake.threads)
