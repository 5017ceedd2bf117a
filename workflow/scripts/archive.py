"""Adapter: rule archive (synthetic or local source) -> flarepipe.stages.archive.run_archive."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.archive import run_archive

    o = smk.output
    run_archive(
        **smk.input,
        cfg=smk.params.cfg,
        out_records=o.records,
        out_flares=o.flares,
        out_manifest=o.manifest,
        out_rates=o.get("rates"),
        out_pixels=o.get("pixels"),
        workers=smk.threads,
    )
