"""Adapter: relabel agreement of a tables archive."""
import sys

sys.stderr = sys.stdout = open(snakemake.log[0], "w", buffering=1)  # noqa: F821

from flarepipe.stages.audit import run_audit  # noqa: E402

i, o, p = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
print(run_audit(list(i.tables), i.records, i.flares, i.samples, o.agreement, o.disagreements,
                o.report, o.derived, o.samples, labels_cfg=p.labels, column_map=p.column_map,
                derive_noaa=p.derive_noaa, min_fraction=p.min_fraction,
                cross_check=i.get("cross_check"), cross_check_format=p.cross_check_format))
