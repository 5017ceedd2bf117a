"""The ``local`` full-disk source: a folder of full-disk FITS files already on disk.

Every ``*.fits`` under the folder (sorted, recursively) is checked by its header alone
(:func:`flarepipe.io.fulldisk.read_fulldisk_header`: a known series, the WCS cards, a
helioprojective image) and linked (or copied) into the archive as
``fulldisk/<series>/<file name>``; ``fulldisk/records.csv`` lists the frames (the columns of
:data:`flarepipe.io.fulldisk.RECORD_COLUMNS`) and
``fulldisk/rejected.csv`` every file that was not taken, with the reason (naming the file). Two
files of one series with the same ``T_REC`` keep the first (the other is rejected as a duplicate).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from flarepipe.io.atomic import LINK_MODES, place_file, write_csv
from flarepipe.io.fulldisk import RECORD_COLUMNS, frame_record, read_fulldisk_header

__all__ = ["LINK_MODES", "build_local_fulldisk"]


def build_local_fulldisk(
    folder: str | os.PathLike, out_dir: str | os.PathLike, link: str = "symlink"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Take the full-disk frames of ``folder`` into the archive ``out_dir``.

    Returns ``(records, rejected)``, the tables written.

    Raises ``ValueError`` for an unknown ``link`` or a folder that does not exist (named).
    """
    if link not in LINK_MODES:
        raise ValueError(f"archive.local.fulldisk_link must be one of {LINK_MODES}, got {link!r}")
    folder, out = Path(folder), Path(out_dir)
    if not folder.is_dir():
        raise ValueError(f"archive.local.fulldisk_dir: {folder} is not a folder")
    rows, rejected, seen = [], [], set()
    for path in sorted(folder.rglob("*.fits")):
        try:
            header = read_fulldisk_header(path)
            rec = frame_record(header, path, None)
        except ValueError as exc:
            rejected.append({"file": str(path), "reason": str(exc)})
            continue
        key = (rec["series"], rec["t_rec_tai"])
        if key in seen:
            rejected.append({"file": str(path), "reason": f"duplicate of {key[0]} {key[1]}"})
            continue
        seen.add(key)
        rel = Path("fulldisk") / rec["series"] / path.name
        place_file(path, out / rel, link)
        rows.append({**rec, "path": str(rel)})
    records = pd.DataFrame(rows, columns=RECORD_COLUMNS)
    rej = pd.DataFrame(rejected, columns=["file", "reason"])
    write_csv(records, out / "fulldisk" / "records.csv")
    write_csv(rej, out / "fulldisk" / "rejected.csv")
    return records, rej
