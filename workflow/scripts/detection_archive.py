"""Adapter: rule detection_archive -> flarepipe.stages.detection.run_detection_archive."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.detection import run_detection_archive

    o = smk.output
    run_detection_archive(
        **smk.input, det=smk.params.det, out_records=o.records, out_regions=o.regions
    )
