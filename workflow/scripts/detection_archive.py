"""Adapter: rule detection_archive -> flarepipe.stages.detection.run_detection_archive."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.detection import run_detection_archive  # noqa: E402

o = smk.output
run_detection_archive(**smk.input, det=smk.params.det, out_records=o.records, out_regions=o.regions)
