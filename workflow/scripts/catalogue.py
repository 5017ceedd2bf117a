"""Adapter: rule catalogue -> flarepipe.stages.archive.run_catalogue."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.archive import run_catalogue

    o = smk.output
    run_catalogue(
        **smk.input,
        cfg=smk.params.cfg,
        out_flares=o.flares,
        out_rejected=o.rejected,
        out_repaired=o.repaired,
    )
