"""Adapter: per-record quality flags."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821 (also in conda envs)
sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages import run_quality

run_quality(snakemake.input.records, snakemake.params.cfg, snakemake.output.flagged, snakemake.output.summary,
            workers=snakemake.threads)
