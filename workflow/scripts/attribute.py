"""Adapter: rule attribute -> flarepipe.stages.attribute.run_attribute."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.attribute import run_attribute

    w = smk.wildcards
    print(
        run_attribute(
            **smk.input,
            summary=smk.output.summary,
            model=w.model,
            dataset=w.dataset,
            run=int(w.run),
            cfg=smk.params.cfg,
            synthetic=smk.params.synthetic,
            threads=smk.threads,
            plugins=smk.params.plugins,
        )
    )
