"""Adapter: rule attribution_summary -> flarepipe.stages.attribute.run_attribution_summary."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.attribute import run_attribution_summary

    w = smk.wildcards
    print(
        run_attribution_summary(
            **smk.input,
            summary=smk.output.summary,
            dataset=w.dataset,
            model=w.model,
            cfg=smk.params.cfg,
        )
    )
