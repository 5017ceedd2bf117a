"""Adapter: rule features -> flarepipe.stages.shard.run_features."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.shard import run_features  # noqa: E402

run_features(**smk.input, cfg=smk.params.cfg, out=smk.output[0], threads=smk.threads)
