"""Adapter: rule emergence_archive -> flarepipe.stages.emergence.run_emergence_archive."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.emergence import run_emergence_archive

    run_emergence_archive(**smk.input, em=smk.params.emergence, out_regions=smk.output.regions)
