"""Adapter: rule fulldisk_samples -> flarepipe.stages.fulldisk.run_fulldisk_samples."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.fulldisk import run_fulldisk_samples  # noqa: E402

o = smk.output
print(
    run_fulldisk_samples(
        **smk.input,
        cfg=smk.params.cfg,
        out_samples=o.samples,
        out_frames=o.frames,
        out_rejected=o.rejected,
    )
)
