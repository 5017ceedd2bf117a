"""Adapter: rule fulldisk_figure -> flarepipe.stages.fulldisk.run_fulldisk_figure."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.fulldisk import run_fulldisk_figure  # noqa: E402

run_fulldisk_figure(**smk.input, out=smk.output[0])
