"""Adapter: rule quality -> flarepipe.stages.quality.run_quality."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.quality import run_quality

    o = smk.output
    run_quality(
        **smk.input,
        cfg=smk.params.cfg,
        out_flagged=o.flagged,
        out_summary=o.summary,
        workers=smk.threads,
    )
