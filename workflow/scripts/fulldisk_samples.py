"""Adapter: rule fulldisk_samples -> flarepipe.stages.fulldisk.run_fulldisk_samples."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.fulldisk import run_fulldisk_samples

    o = smk.output
    print(
        run_fulldisk_samples(
            **smk.input,
            cfg=smk.params.cfg,
            out_samples=o.samples,
            out_frames=o.frames,
            out_rejected=o.rejected,
        )
    )
