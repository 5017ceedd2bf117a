"""Adapter: rule split -> flarepipe.stages.label.run_split."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.label import run_split  # noqa: E402

w = smk.wildcards
run_split(
    **smk.input,
    dataset=w.dataset,
    run=int(w.run),
    cfg=smk.params.cfg,
    out=smk.output[0],
    plugins=smk.params.plugins,
)
