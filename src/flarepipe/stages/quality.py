"""The quality rule (rules/quality.smk): per-record flags and reasons.

Each function takes its rule's declared inputs and outputs; the workflow script calls one of them."""

from __future__ import annotations

import os
from pathlib import Path


from flarepipe.io.atomic import write_csv

__all__ = ["run_quality"]


def _archive_dir(records_csv: str | os.PathLike) -> Path:
    return Path(records_csv).parent


def run_quality(records_csv, cfg: dict, out_flagged, out_summary, scan_pixels: bool = True,
                workers: int = 1) -> None:
    """Flag records (``quality`` config section); write the flagged table and counts per reason.

    ``workers`` processes read the FITS files for the pixel checks.
    """
    from flarepipe.archive.layout import load_archive
    from flarepipe.samples.quality import flag_records, scan_fits, summarise

    arc = load_archive(_archive_dir(records_csv))
    pixel = scan_fits(arc.records, arc.root, workers=workers) if scan_pixels else None
    flagged = flag_records(arc.records, cfg, pixel_checks=pixel, archive_dir=arc.root)
    out = flagged.copy()
    out["t_rec"] = [t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] for t in out["t_rec"]]
    write_csv(out, out_flagged)
    write_csv(summarise(flagged), out_summary)
