"""Adapter: rule jsoc_unit -> flarepipe.stages.archive.run_jsoc_unit."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.archive import run_jsoc_unit  # noqa: E402

print(
    run_jsoc_unit(
        **smk.input,
        cfg=smk.params.cfg,
        unit=smk.wildcards.unit,
        archive=smk.params.archive,
        out=smk.output[0],
    )
)
