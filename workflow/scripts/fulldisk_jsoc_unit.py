"""Adapter: rule fulldisk_jsoc_unit -> flarepipe.stages.fulldisk.run_fulldisk_jsoc_unit."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.fulldisk import run_fulldisk_jsoc_unit  # noqa: E402

print(
    run_fulldisk_jsoc_unit(
        **smk.input,
        cfg=smk.params.cfg,
        jsoc=smk.params.jsoc,
        unit=smk.wildcards.unit,
        out=smk.output[0],
    )
)
