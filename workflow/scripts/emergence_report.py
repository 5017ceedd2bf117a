"""Adapter: rule emergence_report -> flarepipe.stages.emergence.run_emergence_report."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.emergence import run_emergence_report

    o = smk.output
    run_emergence_report(
        **smk.input,
        em=smk.params.emergence,
        out_tss=o.tss,
        out_report=o.report,
        out_figure=o.figure,
        out_occlusion=o.occlusion,
        out_probes=o.probes,
        out_gallery=o.gallery,
    )
