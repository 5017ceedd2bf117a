"""Parse layer (pure): what the JSOC answers mean, before they become archive records.

* which keywords to ask a series for (:func:`choose_keywords`), from its description;
* ``QUALITY`` as JSOC writes it (hex strings) (:func:`quality_int`) and valid ``T_REC`` strings
  (:data:`TREC_PATTERN`);
* the record names of an export answer (:func:`parse_export_record`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from flarepipe.core.series import SERIES

__all__ = [
    "BASE_KEYS",
    "TREC_PATTERN",
    "choose_keywords",
    "quality_int",
    "parse_export_record",
]

#: keywords every record query asks for besides the region number and the archive keywords
BASE_KEYS: tuple[str, ...] = ("T_REC", "NOAA_ARS", "QUALITY", "LAT_FWT", "LON_FWT", "OBS_VR")

#: a ``T_REC`` as JSOC writes it (``MISSING`` and other placeholders do not match)
TREC_PATTERN = re.compile(
    r"^\d{4}\.\d{2}\.\d{2}_\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:_(?:TAI|UTC|UT|Z))?$"
)
_RECORD_RE = re.compile(r"^\s*(?P<series>[\w.]+)\[(?P<region>\d+)\]\[(?P<trec>[^\]]+)\]")


def choose_keywords(
    series: str, available: Iterable[str], keywords: Mapping[str, Sequence[str]]
) -> tuple[list[str], dict[str, tuple[str, ...]], list[str]]:
    """The keywords to query from ``series`` given the ones it has.

    Parameters
    ----------
    series
        A series of :data:`flarepipe.core.series.SERIES`.
    available
        The keywords the series description lists.
    keywords
        Archive column -> JSOC keywords tried in order (``JsocSettings.keywords``).

    Returns
    -------
    wanted : list of str
        The region keyword, ``T_REC`` and every available base or archive keyword, once each.
    chosen : dict
        Archive column -> the available ones of its JSOC keywords (empty when none is).
    missing : list of str
        A note per archive column without any available keyword.
    """
    available = set(available)
    regkey = SERIES[series].region_key
    wanted = [regkey, *BASE_KEYS]
    chosen: dict[str, tuple[str, ...]] = {}
    missing = []
    for col, names in keywords.items():
        present = tuple(n for n in names if n in available)
        chosen[col] = present
        wanted += [n for n in present if n not in wanted]
        if not present:
            missing.append(f"{col} (none of {list(names)})")
    wanted = [k for k in wanted if k in available or k in (regkey, "T_REC")]
    return wanted, chosen, missing


def quality_int(v: object) -> int | None:
    """A ``QUALITY`` value as an integer (``'0x00000400'`` -> 1024); ``None`` when unreadable."""
    if v is None:
        return None
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(v) else int(v)
    s = str(v).strip()
    try:
        return int(s, 16) if s.lower().startswith("0x") else int(float(s))
    except ValueError:
        return None


def parse_export_record(record: str) -> tuple[str, int, str] | None:
    """``(series, region, T_REC)`` from an export answer's record name, or None.

    ``'hmi.sharp_cea_720s[377][2011.02.15_02:00:00_TAI]{magnetogram}'`` ->
    ``('hmi.sharp_cea_720s', 377, '2011.02.15_02:00:00_TAI')``.
    """
    m = _RECORD_RE.match(str(record or ""))
    if not m:
        return None
    return m.group("series"), int(m.group("region")), m.group("trec").strip()
