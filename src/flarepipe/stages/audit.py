"""The audit rule (rules/audit.smk): relabel agreement of a ``tables`` archive.

Each function takes its rule's declared inputs and outputs; the workflow script calls one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from flarepipe.io.atomic import write_csv, write_text

__all__ = ["run_audit"]


def run_audit(
    tables: Sequence[str | os.PathLike],
    records: str | os.PathLike,
    flares: str | os.PathLike,
    samples: str | os.PathLike | None,
    out_agreement: str | os.PathLike,
    out_disagreements: str | os.PathLike,
    out_report: str | os.PathLike,
    out_derived: str | os.PathLike,
    out_samples: str | os.PathLike | None = None,
    *,
    labels: Mapping | None = None,
    column_map: Mapping[str, str | None] | None = None,
    derive_noaa: Sequence[str] = ("TARP",),
    min_fraction: float = 0.5,
    cross_check: str | os.PathLike | None = None,
    cross_check_format: str = "auto",
) -> dict[str, int]:
    """Rule ``audit``: relabel the keyword tables with the workflow's rule; the agreement report.

    ``tables`` are the keyword tables the archive (``records``, ``flares``) was built
    from; ``samples`` the label stage's samples (compared with the tables' own selection);
    ``cross_check`` an optional second flare list that only explains flares missing from the
    archive's. Returns the number of rows, and of disagreeing rows.
    """
    from flarepipe.archive.catalogues.flares import read_flare_file
    from flarepipe.archive.catalogues.keyword_tables import load_keyword_tables
    from flarepipe.archive.layout import load_archive
    from flarepipe.samples.labels import read_samples
    from flarepipe.studies.sun2022.audit import audit_tables

    records_csv, flares_csv, samples_csv = records, flares, samples
    archive_dir = Path(records_csv).parent
    if Path(flares_csv).resolve() != (archive_dir / "flares.csv").resolve():
        raise ValueError(f"audit: {flares_csv} is not the flares.csv beside {records_csv}")
    arc = load_archive(archive_dir)
    table = load_keyword_tables([Path(p) for p in tables], column_map or {})
    samples = read_samples(samples_csv) if samples_csv else None
    second = read_flare_file(cross_check, cross_check_format).flares if cross_check else None
    res = audit_tables(
        table,
        arc.records,
        arc.flares,
        samples,
        labels_cfg=labels,
        derive_noaa=derive_noaa,
        min_fraction=min_fraction,
        cross_check=second,
    )
    write_csv(res.agreement, out_agreement)
    write_csv(res.disagreements, out_disagreements)
    write_csv(res.derived, out_derived)
    write_text(res.report, out_report)
    if out_samples is not None and res.samples is not None:
        write_csv(res.samples, out_samples)
    return {"rows": int(len(table)), "disagreements": int(len(res.disagreements))}
