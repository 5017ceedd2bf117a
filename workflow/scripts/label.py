"""Adapter: rule label -> flarepipe.stages.label.run_label."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.label import run_label

    o = smk.output
    run_label(
        **smk.input,
        cfg=smk.params.cfg,
        plugins=smk.params.plugins,
        out_samples=o.samples,
        out_counts=o.counts,
        out_drops=o.drops,
    )
