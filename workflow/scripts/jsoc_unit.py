"""Adapter: fetch one JSOC unit (keywords, export, resumable downloads)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821 (also in conda envs)
sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.jsoc import run_unit

print(run_unit(snakemake.params.cfg, snakemake.wildcards.unit, snakemake.params.archive))
