"""Adapter: rule catalogue -> flarepipe.stages.archive.run_catalogue."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.archive import run_catalogue  # noqa: E402

o = smk.output
run_catalogue(
    **smk.input,
    cfg=smk.params.cfg,
    out_flares=o.flares,
    out_rejected=o.rejected,
    out_repaired=o.repaired,
)
