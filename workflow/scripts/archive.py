"""Adapter: rule archive (synthetic or local source) -> flarepipe.stages.archive.run_archive."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.archive import run_archive  # noqa: E402

o = smk.output
run_archive(
    **smk.input,
    cfg=smk.params.cfg,
    out_records=o.records,
    out_flares=o.flares,
    out_manifest=o.manifest,
    out_rates=o.get("rates"),
    out_pixels=o.get("pixels"),
    workers=smk.threads,
)
