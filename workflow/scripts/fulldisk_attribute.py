"""Adapter: rule fulldisk_attribute -> flarepipe.stages.fulldisk.run_fulldisk_attribute."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    import torch

    from flarepipe.stages.fulldisk import run_fulldisk_attribute

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
