"""Adapter: the flare catalogue (HEK or a catalogue file), with rejected and repaired rows."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821 (also in conda envs)
sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.catalogue import build_catalogue, write_catalogue

o = snakemake.output
write_catalogue(build_catalogue(snakemake.params.cfg), o.flares, o.rejected, o.repaired)
