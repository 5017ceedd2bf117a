"""Reading a user's text or Parquet table: separator, decimal mark, times, time scale, grid.

Shared by the keyword-table reader (:mod:`flarepipe.archive.catalogues.keyword_tables`) and the
generic flare-list reader (:func:`flarepipe.archive.catalogues.flares.read_flare_table`).

* :func:`read_table`: ``.parquet``/``.pq`` files with pandas (pyarrow); every other file is text
  whose separator (``,``, ``;``, tab, ``|`` or blanks) and decimal mark (``.`` or ``,``) are
  detected from its first lines unless given. ``#`` lines before the header are skipped.
* :func:`parse_times`: ISO-like strings (``2011-02-15T02:00:00``, ``2011-02-15 02:00``), JSOC
  ``T_REC`` strings (``2011.02.15_02:00:00_TAI``), or an explicit ``strftime`` format; the values
  are read in the declared time scale (``TAI`` or ``UTC``) and returned as UTC and TAI.
* :func:`snap_to_grid`: times off the sampling grid (``origin + k · step``, TAI, the JSOC ``T_REC``
  grid) moved to the nearest grid point within a tolerance, the others marked with the reason.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from flarepipe.core.timeutil import tai_to_utc, utc_to_tai

__all__ = [
    "PARQUET_SUFFIXES",
    "TIME_SCALES",
    "TableFormat",
    "detect_format",
    "read_table",
    "read_header",
    "parse_times",
    "snap_to_grid",
    "tai_to_utc_fast",
]

#: file suffixes read as Parquet
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")
#: time scales a source may declare
TIME_SCALES: tuple[str, ...] = ("TAI", "UTC")
_SEPARATORS = [",", ";", "\t", "|"]
_TREC_LIKE = re.compile(r"^\s*(\d{4})\.(\d{2})\.(\d{2})_(\d{2}):(\d{2})(?::(\d{2}(?:\.\d*)?))?")
_DECIMAL_COMMA = r"\s*[-+]?\d+,\d+([eE][-+]?\d+)?\s*"
_SUFFIX = re.compile(r"_(TAI|UTC|UT|Z)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class TableFormat:
    """How a text table is split: ``sep`` (``None`` for blanks), ``decimal``, comment lines skipped.

    ``detected`` says which of the two were found by :func:`detect_format` rather than given.
    """

    kind: str  # "text" | "parquet"
    sep: str | None
    decimal: str
    skip: int = 0
    detected: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for logs and ``flarepipe inspect``."""
        if self.kind == "parquet":
            return "Parquet"
        names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", None: "blanks"}
        how = f" (detected: {', '.join(self.detected)})" if self.detected else ""
        return (
            f"text, separator {names.get(self.sep, repr(self.sep))}, decimal {self.decimal!r}{how}"
        )


def _head(path: Path, n: int = 50) -> tuple[list[str], int]:
    lines, skip = [], 0
    with open(path, newline="", errors="replace") as fh:
        for line in fh:
            if not lines and (line.lstrip().startswith("#") or not line.strip()):
                skip += 1
                continue
            lines.append(line.rstrip("\r\n"))
            if len(lines) >= n:
                break
    return lines, skip


def detect_format(
    path: str | os.PathLike, sep: str | None = None, decimal: str | None = None
) -> TableFormat:
    """The :class:`TableFormat` of ``path``: Parquet by suffix, else separator and decimal mark.

    The separator is the candidate (``,``, ``;``, tab, ``|``) that splits the header and the first
    data lines into the same number (> 1) of fields, the most fields winning; blanks when none does.
    The decimal mark is ``,`` when the separator is not a comma and numeric-looking cells are
    written ``1,5``; else ``.``.

    Raises
    ------
    ValueError
        The file is empty.
    """
    path = Path(path)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return TableFormat("parquet", None, ".")
    lines, skip = _head(path)
    if not lines:
        raise ValueError(f"{path}: empty table (no header line)")
    detected = []
    if sep is None:
        best, best_n = None, 1
        for cand in _SEPARATORS:
            counts = {len(next(csv.reader([ln], delimiter=cand))) for ln in lines if ln.strip()}
            if len(counts) == 1 and (n := counts.pop()) > best_n:
                best, best_n = cand, n
        sep = best
        detected.append("separator")
    if decimal is None:
        decimal = "."
        if sep != ",":
            cells = [c for ln in lines[1:] for c in (ln.split(sep) if sep else ln.split())]
            if any(re.fullmatch(_DECIMAL_COMMA, c) for c in cells):
                decimal = ","
        detected.append("decimal")
    return TableFormat("text", sep, decimal, skip, tuple(detected))


def read_table(
    path: str | os.PathLike, sep: str | None = None, decimal: str | None = None
) -> tuple[pd.DataFrame, TableFormat]:
    """Read a table (numbers as numbers, other cells as text); return it and its format.

    Raises
    ------
    ValueError
        The file cannot be read as a table (named, with the format tried).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such table file")
    fmt = detect_format(path, sep, decimal)
    try:
        if fmt.kind == "parquet":
            return pd.read_parquet(path), fmt
        text = path.read_text(errors="replace")
        df = pd.read_csv(
            io.StringIO(text),
            sep=fmt.sep if fmt.sep is not None else r"\s+",
            decimal=fmt.decimal,
            skiprows=fmt.skip,
            keep_default_na=False,
            skipinitialspace=True,
        )
    except Exception as exc:  # noqa: BLE001 - pandas/pyarrow raise many unrelated types
        raise ValueError(
            f"{path}: cannot read as a table ({fmt.describe()}): {type(exc).__name__}: {exc}"
        ) from exc
    df.columns = [str(c).strip() for c in df.columns]
    if fmt.decimal == ",":
        for c in df.columns:
            if pd.api.types.is_numeric_dtype(df[c]):
                continue
            cell = df[c].astype(str)
            num = cell.str.fullmatch(_DECIMAL_COMMA)
            if num.any():
                df[c] = cell.where(~num, cell.str.replace(",", ".", regex=False))
    return df, fmt


def read_header(
    path: str | os.PathLike, sep: str | None = None, decimal: str | None = None
) -> list[str]:
    """The column names of a table, read from its first lines (text) or its schema (Parquet).

    A Parquet file's schema is read with ``pyarrow.parquet.read_schema`` (the footer only, not
    the data).

    Raises
    ------
    ValueError, OSError
        The file is missing, empty or not a table; or Parquet where pyarrow is not installed
        (the archive rule's environment has it and checks the columns when it reads the table).
    """
    path = Path(path)
    fmt = detect_format(path, sep, decimal)
    if fmt.kind == "parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise ValueError(f"{path}: no pyarrow here to read a Parquet schema") from None
        try:
            return [str(c).strip() for c in pq.read_schema(path).names]
        except Exception as exc:  # noqa: BLE001 - pyarrow's own error types
            raise ValueError(f"{path}: cannot read the Parquet schema: {exc}") from exc
    head = pd.read_csv(
        path, sep=fmt.sep if fmt.sep is not None else r"\s+", skiprows=fmt.skip, nrows=0
    )
    return [str(c).strip() for c in head.columns]


def parse_times(
    values: pd.Series, time_format: str | None = None, scale: str = "TAI"
) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex, np.ndarray]:
    """Times in scale ``scale`` -> ``(utc, tai, bad)``; ``bad`` marks unreadable cells (NaT).

    ``time_format`` ``None`` reads ISO-like strings and JSOC ``T_REC`` strings; a ``_TAI``/``_UTC``
    suffix on a value overrides ``scale`` for that value. Otherwise ``time_format`` is a
    ``strftime`` format (``%d/%m/%Y %H:%M``). Parquet datetime columns are taken as they are
    (in ``scale``).

    Raises
    ------
    ValueError
        ``scale`` is not TAI or UTC.
    """
    scale = str(scale).upper()
    if scale not in TIME_SCALES:
        raise ValueError(f"time scale must be one of {list(TIME_SCALES)}, got {scale!r}")
    s = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(s):
        t = pd.DatetimeIndex(s)
        t = t.tz_convert(None) if t.tz is not None else t
        suffix = pd.Series([scale] * len(s))
    else:
        text = s.astype(str).str.strip()
        suffix = pd.Series([scale] * len(text))
        special = text.str.contains("_", regex=False).to_numpy()  # T_REC or a scale suffix
        if special.any():
            sub = text[special]
            suf = sub.str.extract(_SUFFIX, expand=False).str.upper().fillna(scale)
            suffix[special] = suf.replace({"UT": "UTC", "Z": "UTC"}).to_numpy()
            sub = sub.str.replace(_SUFFIX, "", regex=True)
            text = text.copy()
            text[special] = sub.str.replace(_TREC_LIKE, _trec_to_iso, regex=True).to_numpy()
        if time_format:
            t = pd.DatetimeIndex(pd.to_datetime(text, format=time_format, errors="coerce"))
        else:
            t = pd.DatetimeIndex(pd.to_datetime(text, format="ISO8601", errors="coerce"))
            retry = t.isna() & (text != "").to_numpy()
            if retry.any():
                t2 = pd.to_datetime(text[retry], format="mixed", errors="coerce")
                t = pd.DatetimeIndex(pd.Series(t).where(~retry, t2))
            if t.tz is not None:
                t = t.tz_convert(None)
    t = t.as_unit("ns")
    bad = np.asarray(t.isna())
    utc = pd.Series(t)
    tai = pd.Series(t)
    is_tai = (suffix == "TAI").to_numpy() & ~bad
    is_utc = (suffix == "UTC").to_numpy() & ~bad
    if is_tai.any():
        utc[is_tai] = tai_to_utc_fast(pd.DatetimeIndex(t[is_tai])).as_unit("ns")
    if is_utc.any():
        tai[is_utc] = utc_to_tai(pd.DatetimeIndex(t[is_utc])).as_unit("ns")
    return pd.DatetimeIndex(utc).as_unit("ns"), pd.DatetimeIndex(tai).as_unit("ns"), bad


def tai_to_utc_fast(tai: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """:func:`flarepipe.core.timeutil.tai_to_utc`, evaluated once per distinct day, not per value.

    TAI-UTC is constant within a TAI day except across a leap second (UTC midnight = TAI 00:00:3x);
    days whose offset at 00:00 and 12:00 TAI differ are converted element by element. Exact, and
    fast for large keyword tables (277k rows).
    """
    tai = pd.DatetimeIndex(tai)
    if len(tai) == 0:
        return tai
    days = tai.normalize()
    udays = pd.DatetimeIndex(days.unique())
    off0 = udays - pd.DatetimeIndex(tai_to_utc(udays))
    off1 = (udays + pd.Timedelta(hours=12)) - pd.DatetimeIndex(
        tai_to_utc(udays + pd.Timedelta(hours=12))
    )
    offset = pd.Series(off1, index=udays)
    out = tai - pd.TimedeltaIndex(offset.reindex(days).to_numpy())
    odd = off0 != off1
    if odd.any():
        # leap second at the end of the previous UTC day: TAI times before 00:00:00 + old offset
        # keep the old offset (a time inside the leap second itself maps to 23:59:59.x UTC)
        old = pd.Series(off0, index=udays).reindex(days).to_numpy()
        new = offset.reindex(days).to_numpy()
        is_odd = pd.Series(odd, index=udays).reindex(days).to_numpy()
        before = is_odd & ((tai - days).to_numpy() < old)
        out = pd.DatetimeIndex(
            np.where(
                before,
                (tai - pd.TimedeltaIndex(old)).to_numpy(),
                (tai - pd.TimedeltaIndex(new)).to_numpy(),
            )
        )
    return out


def _trec_to_iso(m: re.Match) -> str:
    y, mo, d, h, mi, sec = m.groups()
    return f"{y}-{mo}-{d}T{h}:{mi}:{sec or '00'}"


def snap_to_grid(
    tai: pd.DatetimeIndex,
    step_minutes: float,
    tolerance_minutes: float,
    origin: str = "1993-01-01T00:00:00",
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """Move TAI times to the nearest point of ``origin + k · step_minutes`` within the tolerance.

    Returns ``(snapped, offset_minutes, off_grid)``: ``offset_minutes`` is how far each time was
    from its nearest grid point (signed: positive when after it), ``off_grid`` marks times farther
    than ``tolerance_minutes`` (left unchanged in ``snapped``; a caller rejects them). The default
    origin is the JSOC ``T_REC`` epoch: the 96-minute grid is 00:00, 01:36, ... TAI each day.
    """
    t = pd.DatetimeIndex(tai).as_unit("ns")
    step = int(round(step_minutes * 60e9))
    o = pd.Timestamp(origin).as_unit("ns").value
    rel = t.asi8 - o
    k = np.floor_divide(rel + step // 2, step)
    grid = o + k * step
    off = (rel - k * step) / 60e9
    far = np.abs(off) > tolerance_minutes + 1e-9
    snapped = np.where(far, t.asi8, grid)
    return pd.DatetimeIndex(snapped.astype("datetime64[ns]")), off, far
