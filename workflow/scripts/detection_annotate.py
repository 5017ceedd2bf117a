"""Adapter: rule detection_annotate -> flarepipe.stages.detection.run_detection_annotate."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.detection import run_detection_annotate

    o = smk.output
    run_detection_annotate(**smk.input, det=smk.params.det, out_csv=o.csv, out_png=o.png)
