"""The quality rule (``rules/quality.smk``): per-record flags and reasons."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

__all__ = ["run_quality"]


def run_quality(
    records,
    cfg: Mapping,
    out_flagged,
    out_summary,
    workers: int = 1,
    scan_pixels: bool = True,
    pixels=None,
) -> None:
    """Rule ``quality``: flag every record (``quality`` section); write flags and counts.

    Parameters
    ----------
    records
        The archive's ``records.csv``; magnetograms are its ``path`` column, relative to its folder.
    cfg
        The ``quality`` section (validated and filled by the workflow).
    out_flagged, out_summary
        ``records_flagged.csv`` (every record, one column per reason) and ``summary.csv``.
    workers
        Processes reading the FITS files for the pixel checks (the rule's threads).
    scan_pixels
        Run the NaN-pixel and size checks (off: keyword checks only).
    pixels
        The archive's ``pixels.csv`` (what its source measured of each file, whichever source
        it was): a file listed there with its size and mtime unchanged is not read again.

    Raises
    ------
    ValueError
        The filters keep no record: one line naming the reasons that fired most, with the
        ``quality`` settings behind them (:func:`flarepipe.samples.diagnose.quality_line`);
        ``quality_diagnosis.json`` beside ``records_flagged.csv`` counts every reason, and the
        log holds the same counts.
    """
    from flarepipe.archive.layout import read_pixels, read_records
    from flarepipe.config import settings
    from flarepipe.io.atomic import write_csv, write_json
    from flarepipe.samples.diagnose import quality_line, quality_report
    from flarepipe.samples.quality import flag_records, scan_fits, summarise, write_flagged

    s = settings("quality", cfg)
    recs = read_records(records)
    root = Path(records).parent
    known = read_pixels(pixels) if pixels is not None else None
    pixel = scan_fits(recs, root, workers=workers, known=known) if scan_pixels else None
    flagged = flag_records(recs, s, pixel_checks=pixel, archive_dir=root)
    if len(flagged) and not flagged["keep"].any():
        report = quality_report(flagged, s)
        target = Path(out_flagged).with_name("quality_diagnosis.json")
        write_json(report, target)
        print(json.dumps(report, indent=1, default=str))  # the rule's log keeps the detail
        raise ValueError(
            f"quality: {quality_line(report, str(records))}; nothing is left to label (counts "
            f"per reason in {target})"
        )
    Path(out_flagged).with_name("quality_diagnosis.json").unlink(missing_ok=True)  # a stale one
    write_flagged(flagged, out_flagged)
    write_csv(summarise(flagged), out_summary)
