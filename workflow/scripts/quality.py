"""Adapter: rule quality -> flarepipe.stages.quality.run_quality."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.quality import run_quality  # noqa: E402

o = smk.output
run_quality(
    **smk.input,
    cfg=smk.params.cfg,
    out_flagged=o.flagged,
    out_summary=o.summary,
    workers=smk.threads,
)
