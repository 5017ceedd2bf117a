"""Adapter: rule split -> flarepipe.stages.label.run_split."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.label import run_split

    w = smk.wildcards
    run_split(
        **smk.input,
        dataset=w.dataset,
        run=int(w.run),
        cfg=smk.params.cfg,
        out=smk.output[0],
        plugins=smk.params.plugins,
    )
