"""Adapter: rule archive (jsoc source) -> flarepipe.stages.archive.run_jsoc_merge."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.archive import run_jsoc_merge

    o = smk.output
    run_jsoc_merge(
        **smk.input,
        out_records=o.records,
        out_flares=o.flares,
        out_manifest=o.manifest,
        out_pixels=o.pixels,
    )
