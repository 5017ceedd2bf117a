"""Adapter: rule fulldisk_archive -> flarepipe.stages.fulldisk.run_fulldisk_archive."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.fulldisk import run_fulldisk_archive  # noqa: E402

print(run_fulldisk_archive(**smk.input, cfg=smk.params.cfg, out=smk.output[0]))
