"""Adapter: rule detection_report -> flarepipe.stages.detection.run_detection_report."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.detection import run_detection_report  # noqa: E402

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
