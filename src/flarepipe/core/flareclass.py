"""GOES flare classes: one tested mapping between class strings and peak flux (W/m², 1-8 Å)."""

from __future__ import annotations

import math
import re

import numpy as np

__all__ = ["class_to_flux", "flux_to_class", "M1_FLUX", "C1_FLUX"]

_BASE = {"A": 1e-8, "B": 1e-7, "C": 1e-6, "M": 1e-5, "X": 1e-4}
_CLASS = re.compile(r"^\s*([ABCMX])\s*(\d+(?:\.\d*)?)?\s*$", re.IGNORECASE)
M1_FLUX = 1e-5
C1_FLUX = 1e-6


def class_to_flux(goes_class: str) -> float:
    """Map a GOES class string to peak flux: ``"M1.2"`` → 1.2e-5 W/m², ``"X10"`` → 1e-3.

    A bare letter (``"M"``) means 1.0 of that class. Raises ``ValueError`` on anything else
    (a multiplier so long that the flux overflows included).
    """
    m = _CLASS.match(str(goes_class))
    if not m:
        raise ValueError(f"not a GOES class: {goes_class!r} (expected e.g. 'M1.2')")
    letter, mult = m.groups()
    flux = _BASE[letter.upper()] * (float(mult) if mult else 1.0)
    if not math.isfinite(flux):
        raise ValueError(f"not a GOES class: {goes_class!r} (its flux overflows)")
    return flux


def flux_to_class(flux: float, digits: int = 1) -> str:
    """Map a peak flux (W/m²) to a class string: 1.2e-5 → ``"M1.2"``, 9.96e-6 → ``"C9.9"``.

    The letter is the class whose base is ≤ the flux and the multiplier is truncated (not rounded)
    to ``digits`` decimals, as GOES event lists print it, so a class string never reads above its
    flux: a C9.96 flare is not an M1.0. X stays X above X9.9 (``"X15.0"``).
    """
    if not np.isfinite(flux) or flux <= 0:
        raise ValueError(f"peak flux must be a positive number, got {flux!r}")
    scale = 10**digits
    for letter in ("X", "M", "C", "B", "A"):
        base = _BASE[letter]
        if flux >= base * (1 - 1e-9) or letter == "A":
            mult = math.floor(flux / base * scale + 1e-6) / scale
            return f"{letter}{mult:.{digits}f}"
    raise AssertionError("unreachable")  # pragma: no cover


def _log_flux(goes_class: str) -> float:
    return math.log10(class_to_flux(goes_class))
