"""Adapter: rule fulldisk_split -> flarepipe.stages.fulldisk.run_fulldisk_split."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.fulldisk import run_fulldisk_split  # noqa: E402

print(run_fulldisk_split(**smk.input, cfg=smk.params.cfg, out=smk.output[0]))
