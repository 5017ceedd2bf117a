"""The magnetic keywords of the archive: one registry, named once.

SHARP (SDO/HMI) and SMARP (SOHO/MDI) share four line-of-sight keywords (``SCIENCE.md`` S1). Each
:class:`Keyword` says what it is called in every place it appears:

==================== ========= ========= ========= =========================================
archive column       JSOC/FITS unit      Sun 2022  meaning
==================== ========= ========= ========= =========================================
``usfluxl_mx``       USFLUXL   Mx        USFLUX    total unsigned line-of-sight flux
``meangbl_g_per_px`` MEANGBL   G/pixel   MEANGBZ   mean line-of-sight field gradient
``r_value``          R_VALUE   log10(Mx) R_VALUE   flux near polarity inversion lines
``area_uhem``        AREA      uhem      AREA      patch area, micro-hemispheres
==================== ========= ========= ========= =========================================

The archive column (``records.csv``, ``docs/FILES.md``) is the name every later stage uses; the
JSOC name is the keyword asked for in a DRMS query and the FITS card of an export; the Sun et al.
(2022) column is what the published keyword tables call it (they write ``USFLUX``/``MEANGBZ``
for the line-of-sight ``USFLUXL``/``MEANGBL``). :data:`KEYWORD_COLUMNS` gives the model input
order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["AREA_FLUX_COLUMNS", "Keyword", "KEYWORDS", "KEYWORD_COLUMNS", "JSOC_NAMES", "keyword"]


@dataclass(frozen=True)
class Keyword:
    """One archive keyword and its names.

    Attributes
    ----------
    column : str
        Column of ``records.csv`` (unit in the name, ``docs/FILES.md``).
    jsoc : str
        JSOC keyword asked for in DRMS queries.
    fits_card : str
        Header card of a JSOC FITS export that holds the value.
    unit : str
        Physical unit of the stored value.
    table_column : str
        Column of the Sun et al. (2022) keyword tables.
    description : str
        What the keyword measures.
    """

    column: str
    jsoc: str
    fits_card: str
    unit: str
    table_column: str
    description: str


#: the four keywords shared by SHARP and SMARP (SCIENCE.md S1), in model input order
KEYWORDS: tuple[Keyword, ...] = (
    Keyword(
        "usfluxl_mx",
        "USFLUXL",
        "USFLUXL",
        "Mx",
        "USFLUX",
        "total unsigned line-of-sight magnetic flux",
    ),
    Keyword(
        "meangbl_g_per_px",
        "MEANGBL",
        "MEANGBL",
        "G/pixel",
        "MEANGBZ",
        "mean gradient of the line-of-sight field",
    ),
    Keyword(
        "r_value",
        "R_VALUE",
        "R_VALUE",
        "log10(Mx)",
        "R_VALUE",
        "log of the unsigned flux near strong-gradient polarity inversion lines",
    ),
    Keyword(
        "area_uhem", "AREA", "AREA", "uhem", "AREA", "de-projected patch area in micro-hemispheres"
    ),
)

#: archive column names, in model input order
KEYWORD_COLUMNS: tuple[str, ...] = tuple(k.column for k in KEYWORDS)
#: The region's size keywords: area and total unsigned flux (S2's SVM baseline, Fig 5).
AREA_FLUX_COLUMNS: tuple[str, ...] = ("area_uhem", "usfluxl_mx")

#: archive column -> JSOC keyword names tried in order (the first one a series has is used)
JSOC_NAMES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {k.column: (k.jsoc,) for k in KEYWORDS}
)

_BY_COLUMN = {k.column: k for k in KEYWORDS}


def keyword(column: str) -> Keyword:
    """The :class:`Keyword` of archive column ``column``.

    Raises
    ------
    KeyError
        ``column`` is not a keyword column; the message lists the known ones.
    """
    try:
        return _BY_COLUMN[column]
    except KeyError:
        known = list(KEYWORD_COLUMNS)
        raise KeyError(f"unknown keyword column {column!r} (known: {known})") from None
