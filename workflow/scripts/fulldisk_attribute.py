"""Adapter: rule fulldisk_attribute -> flarepipe.stages.fulldisk.run_fulldisk_attribute."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

import torch  # noqa: E402

from flarepipe.stages.fulldisk import run_fulldisk_attribute  # noqa: E402

torch.set_num_threads(1)  # deterministic maps whatever the job's cores
o = smk.output
print(
    run_fulldisk_attribute(
        **smk.input,
        cfg=smk.params.cfg,
        out_summary=o.summary,
        out_regions=o.regions,
        out_figure=o.figure,
        pil=smk.params.pil,
        out_pil=o.pil,
        out_table2=o.table2,
        out_crops=o.crops,
        out_scatter=o.scatter,
    )
)
