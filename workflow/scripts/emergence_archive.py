"""Adapter: rule emergence_archive -> flarepipe.stages.emergence.run_emergence_archive."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.emergence import run_emergence_archive  # noqa: E402

run_emergence_archive(**smk.input, em=smk.params.emergence, out_regions=smk.output.regions)
