"""Keywords of a FITS export: header cards, their aliases, or values computed from the map.

Real exports do not all carry the four archive keywords under their JSOC names: SHARP exports of
2011 hold the vector-field ``USFLUX``/``MEANGBZ`` but not the line-of-sight ``USFLUXL``/``MEANGBL``
the study uses, and ``R_VALUE`` may be the string ``'nan'``. :func:`complete_keywords` fills each
keyword of a record, in this order (the first that gives a finite value wins)::

    header:<CARD>        the keyword's own FITS card (flarepipe.core.keywords.Keyword.fits_card)
    alias:<CARD>         the cards listed for it in archive.local.header_keywords, in order
    computed:bitmap      flarepipe.core.magnetic.compute_keywords over the record's bitmap
                         (the <...>.bitmap.fits beside it, values >= 33: inside the region)
    computed:activity_mask   the same over flarepipe.core.magnetic.activity_mask (no bitmap)
    missing:<why>        none of these (NaN; the quality stage's nan_keyword reports it)

``recompute``: ``never`` uses header and aliases only; ``missing`` (default) computes the keywords
they leave NaN; ``always`` computes all four from the map. The computation is the one that
reproduces the SMARP header values (``core/magnetic.py``). Every record gets one provenance row per
keyword (``keyword_provenance.csv`` of the local archive).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from astropy.io import fits

from flarepipe.core.keywords import KEYWORD_COLUMNS, KEYWORDS
from flarepipe.core.magnetic import compute_keywords

__all__ = [
    "RECOMPUTE_MODES",
    "PROVENANCE_COLUMNS",
    "BITMAP_INSIDE",
    "file_segment",
    "bitmap_path",
    "check_aliases",
    "complete_keywords",
]

#: values of ``archive.local.recompute_keywords``
RECOMPUTE_MODES: tuple[str, ...] = ("never", "missing", "always")
#: columns of ``keyword_provenance.csv``
PROVENANCE_COLUMNS: list[str] = ["path", "region_id", "t_rec", "keyword", "source", "value"]
#: HARP/TARP bitmap values at and above this are inside the region
BITMAP_INSIDE = 33
_SEGMENT = re.compile(r"^[a-z]+\.[a-z_0-9]+\.\d+\.\d{8}_\d{6}_TAI\.(?P<seg>\w+)\.fits$")


def file_segment(path: str | os.PathLike) -> str | None:
    """The segment a JSOC export file name names (``magnetogram``, ``bitmap``, ``Br``), or None."""
    m = _SEGMENT.match(Path(path).name)
    return m.group("seg") if m else None


def bitmap_path(path: str | os.PathLike) -> Path | None:
    """The ``bitmap`` segment file beside a JSOC export, when it exists."""
    path = Path(path)
    seg = file_segment(path)
    if seg is None:
        return None
    cand = path.with_name(path.name[: -len(f".{seg}.fits")] + ".bitmap.fits")
    return cand if cand.is_file() and cand != path else None


def check_aliases(aliases: Mapping[str, Sequence[str]] | None, key: str) -> dict[str, list[str]]:
    """``{keyword column: [FITS card, ...]}``, checked.

    Raises
    ------
    ValueError
        A key is not a keyword column (named with ``key`` and the known columns).
    """
    out = {
        k: [str(c) for c in ([v] if isinstance(v, str) else v)] for k, v in (aliases or {}).items()
    }
    bad = sorted(set(out) - set(KEYWORD_COLUMNS))
    if bad:
        raise ValueError(
            f"{key}: unknown keyword column(s) {bad}; the map goes {{keyword column: [FITS "
            f"card, ...]}} with columns {list(KEYWORD_COLUMNS)}"
        )
    return out


def _card(header: fits.Header, name: str) -> float:
    v = header.get(name)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) else math.nan


def complete_keywords(
    rec: dict,
    data: np.ndarray,
    header: fits.Header,
    path: str | os.PathLike,
    *,
    aliases: Mapping[str, Sequence[str]] | None = None,
    recompute: str = "missing",
) -> list[dict]:
    """Fill ``rec``'s keyword columns (in place); return one provenance row per keyword.

    See the module docstring for the order. ``data`` is the map (gauss) and ``header`` its
    header (``CDELT1``: the CEA pixel size in degrees).

    Raises
    ------
    ValueError
        ``recompute`` is unknown, or the bitmap beside the file does not read or has another shape.
    """
    if recompute not in RECOMPUTE_MODES:
        raise ValueError(
            f"recompute_keywords must be one of {list(RECOMPUTE_MODES)}, got {recompute!r}"
        )
    alias = check_aliases(aliases, "archive.local.header_keywords")
    source: dict[str, str] = {}
    for k in KEYWORDS:
        if recompute == "always":
            rec[k.column] = math.nan
            continue
        for how, card in [("header", k.fits_card)] + [
            ("alias", c) for c in alias.get(k.column, [])
        ]:
            v = _card(header, card)
            if math.isfinite(v):
                rec[k.column], source[k.column] = v, f"{how}:{card}"
                break
        else:
            rec[k.column] = math.nan
    todo = [c for c in KEYWORD_COLUMNS if c not in source]
    if todo and recompute != "never":
        cdelt = abs(_card(header, "CDELT1"))
        if not math.isfinite(cdelt) or cdelt == 0:
            for c in todo:
                source[c] = "missing:no CDELT1 to compute it"
        else:
            mask, how = None, "computed:activity_mask"
            bm = bitmap_path(path)
            if bm is not None:
                from flarepipe.io.fitsio import read_patch

                bitmap, _ = read_patch(bm)
                if bitmap.shape != data.shape:
                    raise ValueError(
                        f"{bm}: bitmap shape {bitmap.shape} differs from {path}'s {data.shape}"
                    )
                mask, how = np.nan_to_num(bitmap) >= BITMAP_INSIDE, "computed:bitmap"
            values = compute_keywords(data, cdelt, mask)
            by_card = {k.column: values[k.jsoc] for k in KEYWORDS}
            for c in todo:
                rec[c], source[c] = float(by_card[c]), how
    for c in KEYWORD_COLUMNS:
        source.setdefault(c, "missing:not in the header (recompute_keywords: never)")
    return [
        {"t_rec": rec["t_rec"], "keyword": c, "source": source[c], "value": rec[c]}
        for c in KEYWORD_COLUMNS
    ]
