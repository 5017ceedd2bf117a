"""Adapter: rule realism -> flarepipe.stages.realism.run_realism."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.realism import run_realism  # noqa: E402

run_realism(
    **smk.input,
    real_dir=smk.params.real,
    out_table=smk.output.table,
    n_patches=smk.params.n_patches,
)
