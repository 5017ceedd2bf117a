"""Adapter: rule probe_datasets -> flarepipe.stages.attribute.run_probe_datasets."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.attribute import run_probe_datasets

    run_probe_datasets(smk.wildcards.model, smk.output.table, smk.output.figures, **smk.input)
