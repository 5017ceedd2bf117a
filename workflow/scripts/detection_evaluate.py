"""Adapter: rule detection_evaluate -> flarepipe.stages.detection.run_detection_evaluate."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.detection import run_detection_evaluate  # noqa: E402

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
