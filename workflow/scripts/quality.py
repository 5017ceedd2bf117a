"""Adapter: rule quality -> flarepipe.stages.quality.run_quality."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.errors import one_line_errors  # noqa: E402
from flarepipe.stages.quality import run_quality  # noqa: E402

o = smk.output
with one_line_errors(smk.rule, smk.log[0]):
    run_quality(
        **smk.input,
        cfg=smk.params.cfg,
        out_flagged=o.flagged,
        out_summary=o.summary,
        workers=smk.threads,
    )
