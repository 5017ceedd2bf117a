"""Adapter: rule detection_shard -> flarepipe.stages.detection.run_detection_shard."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.detection import run_detection_shard

    o = smk.output
    run_detection_shard(
        **smk.input,
        det=smk.params.det,
        split_method=smk.params.split_method,
        out_frames=list(o.frames),
        out_crops=list(o.crops),
        out_rejected=o.rejected,
    )
