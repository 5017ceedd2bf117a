"""Adapter: rule audit -> flarepipe.stages.audit.run_audit."""

import sys

smk = snakemake  # noqa: F821
sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)

from flarepipe.stages.audit import run_audit  # noqa: E402

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
