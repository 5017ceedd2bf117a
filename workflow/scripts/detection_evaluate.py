"""Adapter: rule detection_evaluate -> flarepipe.stages.detection.run_detection_evaluate."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.detection import run_detection_evaluate

    o = smk.output
    run_detection_evaluate(
        **smk.input,
        det=smk.params.det,
        split_method=smk.params.split_method,
        out_scores=o.scores,
        out_detections=o.detections,
        out_confusion=o.confusion,
        out_curves=o.curves,
        out_classifier=o.classifier,
        out_test_predictions=o.predictions,
    )
