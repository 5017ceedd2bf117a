"""Adapter: rule emergence_evaluate -> flarepipe.stages.emergence.run_emergence_evaluate."""

from flarepipe.tools.jobs import rule_job

smk = snakemake  # noqa: F821
with rule_job(smk):  # output in the log; a failure: one console line (the cause, the log)
    from flarepipe.stages.emergence import run_emergence_evaluate

    o = smk.output
    run_emergence_evaluate(
        **smk.input,
        em=smk.params.emergence,
        lead_h=smk.params.lead_h,
        out_predictions=o.predictions,
        out_occlusion=o.occlusion,
        out_probes=o.probes,
    )
