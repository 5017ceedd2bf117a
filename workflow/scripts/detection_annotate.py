"""Adapter: rule detection_annotate -> flarepipe.stages.detection.run_detection_annotate."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.detection import run_detection_annotate  # noqa: E402

o = smk.output
run_detection_annotate(**smk.input, det=smk.params.det, out_csv=o.csv, out_png=o.png)
