"""Adapter: rule region_analyses -> flarepipe.stages.evaluate.run_region_analyses."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.evaluate import run_region_analyses

    o = smk.output
    run_region_analyses(
        **smk.input,
        **smk.params,
        out_histogram=o.histogram,
        out_histogram_figure=o.histogram_figure,
        out_resolution=o.resolution,
        out_resolution_figure=o.resolution_figure,
        out_losses=o.losses,
        out_losses_figure=o.losses_figure,
        out_table1=o.table1,
        out_table1_md=o.table1_md,
    )
