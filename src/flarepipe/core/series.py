"""The JSOC patch series the archive knows: SHARP (SDO/HMI) and SMARP (SOHO/MDI).

One :class:`Series` per DRMS series: its instrument, the prime keyword that numbers its regions
(``HARPNUM``/``TARPNUM``), the prefix of archive region ids (``HARP377``, ``TARP13520``) and the
mission span (TAI dates) that clips a configured time range.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["Series", "SERIES", "SERIES_NAMES", "series_of_prefix"]


@dataclass(frozen=True)
class Series:
    """Facts about one JSOC patch series.

    Attributes
    ----------
    name : str
        DRMS series name, e.g. ``hmi.sharp_cea_720s``.
    instrument : str
        ``HMI`` or ``MDI`` (the ``instrument`` column of ``records.csv``).
    region_key : str
        Prime keyword numbering the regions (``HARPNUM``, ``TARPNUM``).
    prefix : str
        Prefix of archive region ids (``HARP``, ``TARP``).
    first_day : str
        First day (TAI) with data.
    last_day : str or None
        Day (TAI) after the last data; ``None`` while the mission runs.
    """

    name: str
    instrument: str
    region_key: str
    prefix: str
    first_day: str
    last_day: str | None


#: series name -> :class:`Series`
SERIES: Mapping[str, Series] = MappingProxyType(
    {
        "hmi.sharp_cea_720s": Series(
            "hmi.sharp_cea_720s", "HMI", "HARPNUM", "HARP", "2010-05-01", None
        ),
        "mdi.smarp_cea_96m": Series(
            "mdi.smarp_cea_96m", "MDI", "TARPNUM", "TARP", "1996-04-01", "2010-10-29"
        ),
    }
)

#: the known series names, SHARP first
SERIES_NAMES: tuple[str, ...] = tuple(SERIES)


def series_of_prefix(prefix: str) -> Series:
    """The :class:`Series` whose region ids start with ``prefix`` (``HARP`` or ``TARP``).

    Raises
    ------
    KeyError
        No series uses that prefix; the message lists the known prefixes.
    """
    for s in SERIES.values():
        if s.prefix == prefix:
            return s
    raise KeyError(
        f"unknown region prefix {prefix!r} (expected one of {[s.prefix for s in SERIES.values()]})"
    )
