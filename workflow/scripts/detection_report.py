"""Adapter: rule detection_report -> flarepipe.stages.detection.run_detection_report."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.detection import run_detection_report

    o = smk.output
    run_detection_report(
        **smk.input,
        det=smk.params.det,
        out_report=o.report,
        out_classes=o.classes,
        out_table=o.table,
        out_figure=o.figure,
        out_examples=o.examples,
    )
