"""NOAA active-region numbers: parsing, the JSOC ``NOAA_ARS`` list, and the lost 10000 offset.

Three forms meet in the archive:

* a **single number** in a flare catalogue (``AR11158``, ``11158``, ``0`` or blank for none):
  :func:`noaa_number`;
* a **JSOC** ``NOAA_ARS`` keyword value (``'11158,11159'``, ``'0'``, ``'MISSING'``, blanks):
  :func:`normalise_noaa_ars` writes it as the ``noaa_ars`` cell of ``records.csv``;
* that **cell** read back (``'11158,11159'``, empty, or a number pandas parsed):
  :func:`parse_noaa_ars` / :func:`noaa_lists`, strict because the archive wrote it.

NOAA numbers passed 9999 on 2002-06-14 (region 10000, :data:`NOAA_10000_DATE`); the HEK and SWPC
sometimes drop the leading 1 afterwards (``1158`` for ``11158``). :func:`offset_lost` marks numbers
below 9000 on or after that day, and :func:`normalise_noaa` adds the 10000 back. Numbers
9000-9999 stay as given: real regions still on the disk in the weeks after the switch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = [
    "NOAA_10000_DATE",
    "noaa_number",
    "offset_lost",
    "normalise_noaa",
    "normalise_noaa_ars",
    "parse_noaa_ars",
    "noaa_lists",
]

#: first day with 5-digit NOAA numbers (region 10000)
NOAA_10000_DATE = pd.Timestamp("2002-06-14")
_NO_REGION = ("", "0", "NAN", "NONE", "-", "---", "NULL")


def noaa_number(value: object) -> int | None:
    """One NOAA region number from a catalogue cell; ``None`` for no region.

    ``0``, blanks, ``NaN``, ``None``, ``-`` and ``NULL`` mean no region; an ``AR`` prefix is
    allowed (``'AR11158'``).

    Raises
    ------
    ValueError
        The value is not a whole, non-negative, finite number (``inf`` included).
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value) if value > 0 else None
    s = str(value).strip().upper()
    if s.startswith("AR"):
        s = s[2:].strip()
    if s in _NO_REGION:
        return None
    try:
        f = float(s)
    except ValueError:
        raise ValueError(f"not a NOAA region number: {value!r}") from None
    if not math.isfinite(f) or f != int(f) or f < 0:
        raise ValueError(f"not a NOAA region number: {value!r}")
    return int(f) if f > 0 else None


def offset_lost(numbers: np.ndarray, times: np.ndarray | pd.DatetimeIndex) -> np.ndarray:
    """True where a region number lost its leading 1: ``0 < n < 9000`` on or after 2002-06-14.

    ``numbers`` are integers (``<= 0`` for none), ``times`` the events' times (``NaT`` never
    matches).
    """
    nums = np.asarray(numbers, dtype=np.int64)
    when = pd.DatetimeIndex(times).to_numpy()
    return (nums > 0) & (nums < 9000) & (when >= NOAA_10000_DATE.to_datetime64())


def normalise_noaa(numbers: Iterable, times: Iterable) -> pd.Series:
    """NOAA region numbers as nullable ``Int64``: no region -> missing; the 10000 offset restored.

    Parameters
    ----------
    numbers
        Catalogue cells, read by :func:`noaa_number`.
    times
        The events' times (anything :func:`pandas.to_datetime` reads; unreadable -> no offset).

    Raises
    ------
    ValueError
        A value is not a NOAA number (named in the message).
    """
    nums = np.array([noaa_number(v) or 0 for v in numbers], dtype=np.int64)
    when = pd.DatetimeIndex(pd.to_datetime(pd.Series(list(times)), errors="coerce"))
    nums = np.where(offset_lost(nums, when), nums + 10000, nums)
    return pd.Series(pd.array(np.where(nums > 0, nums, 0), dtype="Int64")).mask(nums <= 0)


def normalise_noaa_ars(value: object) -> str:
    """The ``noaa_ars`` cell for a JSOC ``NOAA_ARS`` value: ``'11158,11159'``, ``''`` for none.

    Tokens split on commas, blanks and semicolons; only positive whole numbers are kept (``0``,
    ``MISSING``, ``NaN`` and blanks mean none), each once, in the order given.
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    nums: list[int] = []
    for tok in re.split(r"[,\s;]+", str(value)):
        if tok.isdigit() and int(tok) > 0 and int(tok) not in nums:
            nums.append(int(tok))
    return ",".join(str(n) for n in nums)


def parse_noaa_ars(value: object) -> tuple[int, ...]:
    """Parse a ``noaa_ars`` cell (``"11158,11159"``) into NOAA numbers; empty tuple when none.

    Empty strings, ``NaN``/``None``/``<NA>`` and the JSOC placeholder ``0`` mean "no region".
    A cell read by pandas as a number (``11158`` or ``11158.0``) is accepted.

    Raises
    ------
    ValueError
        When a comma-separated item is not a whole number.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ()
    out = []
    for item in str(value).split(","):
        item = item.strip()
        if item in ("", "nan", "NaN", "<NA>", "None"):
            continue
        try:
            num = float(item)
        except ValueError:
            raise ValueError(f"noaa_ars: {item!r} in {value!r} is not a NOAA number") from None
        if not num.is_integer():
            raise ValueError(f"noaa_ars: {item!r} in {value!r} is not a whole NOAA number")
        if int(num) != 0:
            out.append(int(num))
    return tuple(out)


def noaa_lists(values: pd.Series) -> pd.Series:
    """:func:`parse_noaa_ars` over a column, parsing each distinct cell once."""
    obj = values.astype("object")
    table = {v: parse_noaa_ars(v) for v in pd.unique(obj.dropna())}
    return obj.map(lambda v: table.get(v, ()) if pd.notna(v) else ())
