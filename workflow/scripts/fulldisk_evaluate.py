"""Adapter: rule fulldisk_evaluate -> flarepipe.stages.fulldisk.run_fulldisk_evaluate."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.fulldisk import run_fulldisk_evaluate  # noqa: E402

print(
    run_fulldisk_evaluate(
        **smk.input,
        cfg=smk.params.cfg,
        out_csv=smk.output.metrics,
        out_md=smk.output.table,
    ).to_string(index=False)
)
