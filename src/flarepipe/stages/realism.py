"""The realism rule (rules/realism.smk): the archive against the real references.

The function takes its rule's declared inputs and outputs; the workflow script calls it.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["run_realism"]


def run_realism(
    records,
    samples,
    real_dir: str | os.PathLike,
    out_table,
    n_patches: int = 300,
    seed: int = 0,
    flares=None,
    manifest=None,
) -> None:
    """Write the realism report of the archive holding ``records`` next to ``out_table``.

    ``records`` is the archive's records.csv (its folder holds the FITS files), ``samples`` the
    labelled samples (S1 event rate); ``flares`` and ``manifest`` are the archive's files beside
    ``records`` (declared inputs, read from there), ``real_dir`` the real references
    (``../shared/data/real``).
    """
    from flarepipe.archive.realism import REPORT_FILES, realism_report

    out_dir = Path(out_table).parent
    if Path(out_table).name != REPORT_FILES["table"]:
        raise ValueError(f"{out_table}: the realism table must be named {REPORT_FILES['table']}")
    realism_report(Path(records).parent, samples, real_dir, out_dir, n_patches=n_patches, seed=seed)
