"""Adapter: rule stack -> flarepipe.stages.evaluate.run_stack."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.evaluate import run_stack

    print(
        run_stack(
            smk.params.stacking,
            smk.params.template,
            list(smk.output),
            smk.params.plugins,
            **smk.input,
        )
    )
