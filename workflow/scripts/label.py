"""Adapter: labelled samples and evolution-type counts."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821 (also in conda envs)
sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages import run_label

o = snakemake.output
run_label(snakemake.input.records, snakemake.input.flagged, snakemake.params.cfg, o.samples, o.counts, o.drops)
