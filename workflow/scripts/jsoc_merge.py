"""Adapter: merge finished JSOC units and the catalogue into the archive layout."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821 (also in conda envs)
sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.jsoc import merge_units

i = snakemake.input
merge_units(list(i.units), Path(snakemake.output.records).parent, i.flares, rejected_flares=i.rejected)
