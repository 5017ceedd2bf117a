"""Adapter: standardised shards of one dataset run."""
import sys
from pathlib import Path

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages.shard import run_shard

i = snakemake.input
run_shard(i.features, i.split, snakemake.wildcards.dataset, snakemake.params.cfg, Path(snakemake.output.train).parent)
