"""Adapter: rule detection_shard -> flarepipe.stages.detection.run_detection_shard."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.detection import run_detection_shard  # noqa: E402

o = smk.output
run_detection_shard(
    **smk.input,
    det=smk.params.det,
    split_method=smk.params.split_method,
    out_frames=list(o.frames),
    out_crops=list(o.crops),
    out_rejected=o.rejected,
)
