"""Adapter: rule fulldisk_archive (jsoc) -> flarepipe.stages.fulldisk.run_fulldisk_jsoc_archive."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.fulldisk import run_fulldisk_jsoc_archive  # noqa: E402

print(run_fulldisk_jsoc_archive(**smk.input, cfg=smk.params.cfg, out=smk.output[0]))
