"""Adapter: rule label -> flarepipe.stages.label.run_label."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.errors import one_line_errors  # noqa: E402
from flarepipe.stages.label import run_label  # noqa: E402

o = smk.output
with one_line_errors(smk.rule, smk.log[0]):
    run_label(
        **smk.input,
        cfg=smk.params.cfg,
        plugins=smk.params.plugins,
        out_samples=o.samples,
        out_counts=o.counts,
        out_drops=o.drops,
    )
