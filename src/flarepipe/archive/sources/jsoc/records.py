"""Convert layer: JSOC answers and downloaded files as ``records.csv`` rows (``docs/FILES.md``).

``T_REC`` (TAI) is converted once to UTC (``t_rec``) and kept as given (``t_rec_tai``). Rows that
cannot be converted go to a rejected table (:data:`flarepipe.archive.layout.UNIT_REJECT_COLUMNS`)
with the reason, never dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from flarepipe.archive.layout import RECORD_COLUMNS, UNIT_REJECT_COLUMNS
from flarepipe.archive.sources.jsoc.parse import TREC_PATTERN, parse_export_record, quality_int
from flarepipe.core.keywords import JSOC_NAMES
from flarepipe.core.noaa import normalise_noaa_ars
from flarepipe.core.series import SERIES
from flarepipe.core.timeutil import parse_trec, to_iso_utc
from flarepipe.io.fitsio import header_to_record, jsoc_filename, read_patch

__all__ = ["keywords_to_records", "expected_files", "records_from_files", "attach_files"]


def _pick(kdf: pd.DataFrame, names: Sequence[str]) -> pd.Series:
    for n in names:
        if n in kdf.columns:
            return pd.to_numeric(kdf[n], errors="coerce").astype(float)
    return pd.Series(np.nan, index=kdf.index, dtype=float)


def keywords_to_records(
    kdf: pd.DataFrame, series: str, keywords: Mapping[str, Sequence[str]] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """records.csv rows (``docs/FILES.md``) from a drms keyword table; ``(records, rejected)``.

    ``T_REC`` (TAI) is converted once to UTC (``t_rec``) and kept as given (``t_rec_tai``). Archive
    keyword columns take the first JSOC keyword of ``keywords[col]`` present in ``kdf`` (NaN when
    none is; default :data:`flarepipe.core.keywords.JSOC_NAMES`). ``nx``/``ny`` are 0 and ``path``
    empty until a file is attached. Rows with an unreadable ``T_REC`` (JSOC writes ``MISSING``),
    region number or ``QUALITY`` go to ``rejected`` (``series, row, reason, raw``) rather than
    being dropped silently.
    """
    spec = SERIES[series]
    keywords = keywords or JSOC_NAMES
    kdf = kdf.reset_index(drop=True)
    n = len(kdf)
    regkey = spec.region_key
    region = (
        pd.to_numeric(kdf[regkey], errors="coerce")
        if regkey in kdf.columns
        else pd.Series(np.nan, index=kdf.index)
    )
    trec = (
        kdf["T_REC"].astype(str).str.strip()
        if "T_REC" in kdf.columns
        else pd.Series("", index=kdf.index)
    )
    if "QUALITY" in kdf.columns:
        quality = pd.Series([quality_int(v) for v in kdf["QUALITY"]], index=kdf.index, dtype=object)
    else:
        quality = pd.Series([0] * n, index=kdf.index, dtype=object)
    reason = pd.Series([""] * n, index=kdf.index, dtype=object)
    bad_q = quality.isna()
    reason[bad_q] = (
        ["bad QUALITY " + repr(v) for v in kdf.loc[bad_q, "QUALITY"]] if bad_q.any() else []
    )
    bad_t = ~trec.str.match(TREC_PATTERN)
    reason[bad_t] = ["bad T_REC " + repr(v) for v in trec[bad_t]]
    bad_r = region.isna() | (region <= 0)
    reason[bad_r] = [
        f"bad {regkey} " + repr(v)
        for v in (kdf[regkey] if regkey in kdf.columns else region)[bad_r]
    ]
    bad = reason != ""
    rejected = pd.DataFrame(
        {
            "series": series,
            "row": np.flatnonzero(bad.to_numpy()),
            "reason": reason[bad].to_numpy(),
            "raw": [
                json.dumps(kdf.loc[i].to_dict(), default=str, sort_keys=True)
                for i in kdf.index[bad]
            ],
        },
        columns=UNIT_REJECT_COLUMNS,
    )
    good = kdf.index[~bad]
    rec = pd.DataFrame(
        {
            "series": series,
            "instrument": spec.instrument,
            "region": region[good].astype("int64").to_numpy(),
        }
    )
    rec["region_id"] = [f"{spec.prefix}{r}" for r in rec["region"]]
    rec["t_rec"] = to_iso_utc(parse_trec(trec[good])) if len(good) else pd.Series(dtype=str)
    rec["t_rec_tai"] = trec[good].to_numpy()
    rec["noaa_ars"] = (
        [normalise_noaa_ars(v) for v in kdf.loc[good, "NOAA_ARS"]]
        if "NOAA_ARS" in kdf.columns
        else ""
    )
    rec["quality"] = quality[good].astype("int64").to_numpy()
    for col in ("lat_fwt", "lon_fwt", "obs_vr"):
        rec[col] = _pick(kdf, [col.upper()])[good].to_numpy()
    for col, names in keywords.items():
        rec[col] = _pick(kdf, names)[good].to_numpy()
    rec["nx"] = 0
    rec["ny"] = 0
    rec["path"] = ""
    rec = rec.reindex(columns=RECORD_COLUMNS)
    rec = rec.sort_values(["series", "region", "t_rec"], kind="stable").reset_index(drop=True)
    return rec, rejected


def expected_files(records: pd.DataFrame, series: str, segment: str) -> dict[str, str]:
    """JSOC ``fits``-protocol file names the records will have (name -> ``T_REC``); empty when
    one ``T_REC`` cannot be written as a file name.
    """
    out = {}
    for region, trec in zip(records["region"], records["t_rec_tai"], strict=True):
        try:
            out[jsoc_filename(series, int(region), trec, segment)] = trec
        except ValueError:
            return {}
    return out


def records_from_files(
    names: Iterable[str], fits_dir: Path, archive: Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """records.csv rows read from the headers of downloaded files (``(records, rejected)``)."""
    rows, bad = [], []
    for name in names:
        path = fits_dir / name
        try:
            data, header = read_patch(path)
            rec = header_to_record(header, path, archive)
        except ValueError as exc:
            bad.append({"series": fits_dir.name, "row": -1, "reason": str(exc), "raw": name})
            continue
        rec["ny"], rec["nx"] = int(data.shape[0]), int(data.shape[1])
        rows.append(rec)
    recs = pd.DataFrame(rows).reindex(columns=RECORD_COLUMNS)
    return recs, pd.DataFrame(bad, columns=UNIT_REJECT_COLUMNS)


def attach_files(
    records: pd.DataFrame, done: Mapping[str, dict], series: str
) -> tuple[pd.DataFrame, list[str]]:
    """Fill ``path``/``nx``/``ny`` of records from completed files (ledger entries by name).

    Returns the records and the names of files that match no record.
    """
    records = records.copy()
    if not len(records) or not done:
        return records, sorted(done)
    key = {
        (int(r), t): i
        for i, (r, t) in enumerate(
            zip(records["region"], pd.DatetimeIndex(parse_trec(records["t_rec_tai"])), strict=True)
        )
    }
    unmatched = []
    for name, e in done.items():
        parsed = parse_export_record(e.get("record") or "")
        idx = None
        if parsed and parsed[0] == series:
            try:
                idx = key.get((parsed[1], parse_trec(parsed[2])))
            except ValueError:
                idx = None
        if idx is None:
            unmatched.append(name)
            continue
        records.iat[idx, records.columns.get_loc("path")] = f"fits/{series}/{name}"
        records.iat[idx, records.columns.get_loc("nx")] = int(e.get("nx", 0))
        records.iat[idx, records.columns.get_loc("ny")] = int(e.get("ny", 0))
    return records, sorted(unmatched)
