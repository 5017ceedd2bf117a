"""Query layer (pure strings): DRMS record sets for SHARP/SMARP, as drms's own query building.

:func:`build_recordset` writes record-set strings such as
``hmi.sharp_cea_720s[377][2011.02.14_00:00:00_TAI/2d@96m][? QUALITY<65536 ?]{magnetogram}``;
nothing here talks to a server.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import pandas as pd

from flarepipe.core.timeutil import format_trec

__all__ = [
    "CADENCE_PATTERN",
    "as_tai",
    "cadence_minutes",
    "check_where",
    "quality_clause",
    "format_duration",
    "build_recordset",
    "build_fulldisk_recordset",
]

#: a DRMS cadence: a whole number of seconds, minutes, hours or days (``96m``, ``12m``, ``1d``)
CADENCE_PATTERN = re.compile(r"^(\d+)([smhd])$")
_SERIES_RE = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")
#: full-disk series keep JSOC's capitals (``hmi.M_720s``); DRMS names are case-insensitive
_FULLDISK_SERIES_RE = re.compile(r"^[A-Za-z0-9_]+\.[A-Za-z0-9_]+$")
_TREC_TIME = re.compile(
    r"^(\d{4})\.(\d{2})\.(\d{2})(?:_(\d{2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?)?(?:_TAI)?$"
)


def check_where(where: str) -> None:
    """Refuse a ``[? ... ?]`` clause that could break out of its brackets.

    Raises
    ------
    ValueError
        ``where`` holds ``[``, ``]``, ``{``, ``}`` or ``?``.
    """
    if re.search(r"[\[\]{}?]", where):
        raise ValueError(f"jsoc where clause must not contain brackets, braces or '?': {where!r}")


def quality_clause(max_quality: int | None = None, where: str | None = None) -> str | None:
    """The ``[? ... ?]`` clause of a unit (pure): ``QUALITY<max_quality`` and/or ``where``.

    >>> quality_clause(65536, "LON_FWT<70")
    'QUALITY<65536 AND (LON_FWT<70)'
    """
    parts = []
    if max_quality is not None:
        parts.append(f"QUALITY<{int(max_quality)}")
    if where:
        check_where(where)
        parts.append(f"({where.strip()})" if parts else where.strip())
    return " AND ".join(parts) or None


def format_duration(delta: pd.Timedelta) -> str:
    """DRMS duration string: whole days as ``'30d'``, else whole minutes (``'90m'``) or seconds.

    Raises
    ------
    ValueError
        ``delta`` is not positive.
    """
    secs = delta.total_seconds()
    if secs <= 0:
        raise ValueError(f"duration must be positive, got {delta}")
    if secs % 86400 == 0:
        return f"{int(secs // 86400)}d"
    if secs % 60 == 0:
        return f"{int(secs // 60)}m"
    return f"{int(math.ceil(secs))}s"


def as_tai(t: str | pd.Timestamp) -> pd.Timestamp:
    """A JSOC grid time as a naive timestamp on the TAI scale.

    A ``T_REC`` string (``2011.02.14_04:48:00_TAI``) is read as written; any other date/time
    (``2011-02-14``, ``2011-02-14T05:00``) is read as TAI too: JSOC grid times are TAI.

    Raises
    ------
    ValueError
        ``t`` cannot be read as a time.
    """
    if isinstance(t, pd.Timestamp):
        return t
    s = str(t).strip()
    m = _TREC_TIME.match(s)
    if m:
        y, mo, d, h, mi, sec = m.groups()
        return pd.Timestamp(f"{y}-{mo}-{d}T{h or '00'}:{mi or '00'}:{float(sec or 0):06.3f}")
    ts = pd.Timestamp(s)
    return ts.tz_localize(None) if ts.tzinfo else ts


def cadence_minutes(cadence: str | None) -> float | None:
    """Minutes of a DRMS cadence (``'96m'`` -> 96); ``None`` for no cadence."""
    if not cadence:
        return None
    m = CADENCE_PATTERN.match(cadence)
    if not m:
        raise ValueError(f"cadence must look like '96m', got {cadence!r}")
    n, unit = m.groups()
    return int(n) * {"s": 1 / 60, "m": 1, "h": 60, "d": 1440}[unit]


def build_recordset(
    series: str,
    *,
    regions: Iterable[int] = (),
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    cadence: str | None = None,
    where: str | None = None,
    segments: Iterable[str] = (),
) -> str:
    """DRMS record-set string for a SHARP/SMARP query (pure).

    ``[regions][start/duration@cadence][? where ?]{segments}``; ``start``/``end`` are JSOC grid
    times (TAI) and select ``start <= T_REC < end`` (DRMS ``start/duration``). Examples::

        >>> build_recordset("hmi.sharp_cea_720s", regions=[377], start="2011-02-14",
        ...                 end="2011-02-16", cadence="96m", segments=["magnetogram"])
        'hmi.sharp_cea_720s[377][2011.02.14_00:00:00_TAI/2d@96m]{magnetogram}'
        >>> build_recordset("mdi.smarp_cea_96m", start="2010-07-01", end="2010-08-01",
        ...                 where="QUALITY=0")
        'mdi.smarp_cea_96m[][2010.07.01_00:00:00_TAI/31d][? QUALITY=0 ?]'

    Raises
    ------
    ValueError
        An unknown series syntax, a bad cadence, an empty or reversed interval, a cadence without
        an interval, or a where clause that could break out of its brackets.
    """
    if not _SERIES_RE.match(series):
        raise ValueError(f"not a DRMS series name: {series!r}")
    regs = sorted({int(r) for r in regions})
    if any(r <= 0 for r in regs):
        raise ValueError(f"region numbers must be positive, got {regs}")
    out = series + "[" + ",".join(str(r) for r in regs) + "]"
    if (start is None) != (end is None):
        raise ValueError("give both start and end, or neither")
    if start is not None:
        t0, t1 = as_tai(start), as_tai(end)
        if t1 <= t0:
            raise ValueError(f"empty time interval: start {t0} >= end {t1}")
        spec = f"{format_trec(t0)}/{format_duration(t1 - t0)}"
        if cadence:
            if not CADENCE_PATTERN.match(cadence):
                raise ValueError(f"cadence must look like '96m', got {cadence!r}")
            spec += f"@{cadence}"
        out += f"[{spec}]"
    elif cadence:
        raise ValueError("a cadence needs a time interval (start and end)")
    if where:
        check_where(where)
        if start is None:
            out += "[]"
        out += f"[? {where.strip()} ?]"
    segs = [str(s) for s in segments]
    for s in segs:
        if not re.match(r"^\w+$", s):
            raise ValueError(f"not a segment name: {s!r}")
    if segs:
        out += "{" + ",".join(segs) + "}"
    return out


def build_fulldisk_recordset(
    series: str,
    *,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    trecs: Iterable[str] = (),
    segments: Iterable[str] = (),
) -> str:
    """DRMS record-set string of a full-disk series, whose only prime key is ``T_REC`` (pure).

    ``[start/duration]`` (``start <= T_REC < end``, TAI grid times) or ``[t1,t2,...]`` (those
    records, as the export of chosen records asks for them), then ``{segments}``::

        >>> build_fulldisk_recordset("hmi.M_720s", start="2011-01-01", end="2011-01-31")
        'hmi.M_720s[2011.01.01_00:00:00_TAI/30d]'
        >>> build_fulldisk_recordset("mdi.fd_M_96m_lev182", segments=["data"],
        ...                          trecs=["2010.07.01_00:00:00_TAI", "2010.07.01_22:24:00_TAI"])
        'mdi.fd_M_96m_lev182[2010.07.01_00:00:00_TAI,2010.07.01_22:24:00_TAI]{data}'

    Raises
    ------
    ValueError
        A bad series or segment name, both or neither of an interval and a ``T_REC`` list, an
        empty interval, or a ``T_REC`` that is not a JSOC time.
    """
    if not _FULLDISK_SERIES_RE.match(series):
        raise ValueError(f"not a DRMS series name: {series!r}")
    trecs = [str(t).strip() for t in trecs]
    if (start is None) != (end is None):
        raise ValueError("give both start and end, or neither")
    if (start is None) == (not trecs):
        raise ValueError("give a time interval (start and end) or a list of T_RECs, not both")
    if trecs:
        for t in trecs:
            if not _TREC_TIME.match(t):
                raise ValueError(f"not a JSOC T_REC: {t!r}")
        out = f"{series}[{','.join(trecs)}]"
    else:
        t0, t1 = as_tai(start), as_tai(end)
        if t1 <= t0:
            raise ValueError(f"empty time interval: start {t0} >= end {t1}")
        out = f"{series}[{format_trec(t0)}/{format_duration(t1 - t0)}]"
    segs = [str(s) for s in segments]
    for s in segs:
        if not re.match(r"^\w+$", s):
            raise ValueError(f"not a segment name: {s!r}")
    return out + ("{" + ",".join(segs) + "}" if segs else "")
