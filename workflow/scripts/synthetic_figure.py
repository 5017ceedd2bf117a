"""Adapter: rule synthetic_figure -> flarepipe.stages.archive.run_synthetic_figure."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.archive import run_synthetic_figure  # noqa: E402

print(run_synthetic_figure(**smk.input, out=smk.output[0]))
