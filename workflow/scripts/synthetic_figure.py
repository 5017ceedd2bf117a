"""Adapter: rule synthetic_figure -> flarepipe.stages.archive.run_synthetic_figure."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.archive import run_synthetic_figure

    print(run_synthetic_figure(**smk.input, out=smk.output[0]))
