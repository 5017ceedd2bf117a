"""Adapter: rule audit -> flarepipe.stages.audit.run_audit."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.audit import run_audit

    o, p = smk.output, smk.params
    print(
        run_audit(
            **smk.input,
            out_agreement=o.agreement,
            out_disagreements=o.disagreements,
            out_report=o.report,
            out_derived=o.derived,
            out_samples=o.samples,
            labels=p.labels,
            column_map=p.column_map,
            derive_noaa=p.derive_noaa,
            min_fraction=p.min_fraction,
            cross_check_format=p.cross_check_format,
        )
    )
