"""Time conversions, done once at ingestion.

SHARP/SMARP ``T_REC`` strings are TAI (``2011.02.15_02:00:00_TAI``); GOES times are UTC. Inside the
pipeline every time is a UTC ``pandas.Timestamp`` (tz-naive, meaning UTC) or its ISO string. An
off-by-37-seconds window edge is a labelling bug, so TAI is converted with astropy's leap-second
table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
from astropy.time import Time

__all__ = ["parse_trec", "format_trec", "tai_to_utc", "utc_to_tai", "to_iso_utc", "parse_utc"]

_TREC = re.compile(
    r"^(\d{4})\.(\d{2})\.(\d{2})_(\d{2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?(?:_(TAI|UTC|UT|Z))?$"
)


def parse_trec(trec: str | Iterable[str]) -> pd.Timestamp | pd.DatetimeIndex:
    """Parse JSOC ``T_REC`` string(s) (TAI unless suffixed ``_UTC``) into UTC timestamps.

    Raises ``ValueError`` naming the offending string when it is not a JSOC time.
    """
    scalar = isinstance(trec, str)
    items = [trec] if scalar else list(trec)
    isot, scales = [], []
    for s in items:
        m = _TREC.match(str(s).strip())
        if not m:
            raise ValueError(
                f"not a JSOC T_REC time string: {s!r} (expected YYYY.MM.DD_hh:mm:ss_TAI)"
            )
        y, mo, d, h, mi, sec, scale = m.groups()
        sec = sec or "00"
        isot.append(f"{y}-{mo}-{d}T{h}:{mi}:{float(sec):06.3f}")
        scales.append("utc" if scale in ("UTC", "UT", "Z") else "tai")
    out = np.empty(len(items), dtype="datetime64[ns]")
    for scale in set(scales):
        idx = [i for i, sc in enumerate(scales) if sc == scale]
        t = Time([isot[i] for i in idx], format="isot", scale=scale).utc
        out[idx] = np.atleast_1d(t.datetime64)
    res = pd.DatetimeIndex(out)
    return res[0] if scalar else res


def tai_to_utc(t: pd.Timestamp | pd.DatetimeIndex) -> pd.Timestamp | pd.DatetimeIndex:
    """Convert naive TAI timestamp(s) to naive UTC timestamp(s)."""
    scalar = isinstance(t, pd.Timestamp)
    idx = pd.DatetimeIndex([t] if scalar else t)
    tt = Time(idx.to_numpy(dtype="datetime64[ns]"), format="datetime64", scale="tai").utc
    res = pd.DatetimeIndex(np.atleast_1d(tt.datetime64))
    return res[0] if scalar else res


def utc_to_tai(t: pd.Timestamp | pd.DatetimeIndex) -> pd.Timestamp | pd.DatetimeIndex:
    """Convert naive UTC timestamp(s) to naive TAI timestamp(s)."""
    scalar = isinstance(t, pd.Timestamp)
    idx = pd.DatetimeIndex([t] if scalar else t)
    tt = Time(idx.to_numpy(dtype="datetime64[ns]"), format="datetime64", scale="utc").tai
    res = pd.DatetimeIndex(np.atleast_1d(tt.datetime64))
    return res[0] if scalar else res


def format_trec(t_tai: pd.Timestamp) -> str:
    """Format a naive TAI timestamp as a JSOC ``T_REC`` string (``2011.02.15_02:00:00_TAI``)."""
    return t_tai.strftime("%Y.%m.%d_%H:%M:%S_TAI")


def to_iso_utc(t: pd.Timestamp | pd.DatetimeIndex) -> str | list[str]:
    """ISO 8601 UTC string(s) with milliseconds, the archive's time format."""
    if isinstance(t, pd.Timestamp):
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}"
    idx = pd.DatetimeIndex(t)
    return [s[:23] for s in idx.strftime("%Y-%m-%dT%H:%M:%S.%f")]


def parse_utc(values, what: str = "time") -> pd.DatetimeIndex:
    """Parse UTC strings to a naive UTC ``DatetimeIndex``; error names the first bad value."""
    idx = pd.to_datetime(pd.Series(values), errors="coerce", utc=True)
    bad = idx.isna() & pd.Series(values).notna() & (pd.Series(values).astype(str).str.strip() != "")
    if bad.any():
        first = pd.Series(values)[bad].iloc[0]
        raise ValueError(f"{what}: cannot parse {first!r} as a UTC time (row {int(bad.idxmax())})")
    return pd.DatetimeIndex(idx.dt.tz_convert(None))
