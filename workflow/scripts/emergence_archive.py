"""Adapter: rule emergence_archive -> flarepipe.stages.emergence.build."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.emergence import build  # noqa: E402

build(smk.params.emergence, regions_csv=smk.output.regions)
