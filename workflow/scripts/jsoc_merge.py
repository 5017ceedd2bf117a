"""Adapter: rule archive (jsoc source) -> flarepipe.stages.archive.run_jsoc_merge."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.archive import run_jsoc_merge  # noqa: E402

o = smk.output
run_jsoc_merge(
    **smk.input,
    out_records=o.records,
    out_flares=o.flares,
    out_manifest=o.manifest,
    out_pixels=o.pixels,
)
