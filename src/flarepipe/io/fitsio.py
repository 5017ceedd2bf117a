"""Read and write SHARP/SMARP patch FITS files as JSOC exports them.

Real exports store the magnetogram segment RICE-compressed in HDU 1 as int32 with ``BSCALE = 0.01``;
older exports carry malformed header cards that astropy reads only after ``verify('silentfix')``.
Real and synthetic files go through the same :func:`read_patch`.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.io.fits.card import _format_value
from astropy.io.fits.verify import VerifyWarning

from flarepipe.core.keywords import KEYWORDS
from flarepipe.core.noaa import normalise_noaa_ars
from flarepipe.core.series import SERIES
from flarepipe.core.timeutil import parse_trec, to_iso_utc
from flarepipe.io.atomic import atomic_path, sha256_file

__all__ = [
    "read_patch",
    "write_patch",
    "quantise",
    "header_to_record",
    "jsoc_filename",
]

_NAME = re.compile(
    r"^(?P<series>[a-z]+\.[a-z_0-9]+)\.(?P<num>\d+)\.(?P<date>\d{8})_(?P<time>\d{6})_TAI"
    r"\.(?P<seg>\w+)\.fits$"
)


def jsoc_filename(series: str, region: int, trec_tai: str, segment: str = "magnetogram") -> str:
    """JSOC export file name: ``hmi.sharp_cea_720s.377.20110215_020000_TAI.magnetogram.fits``.

    ``trec_tai`` is a JSOC ``T_REC`` string (``2011.02.15_02:00:00_TAI``).
    """
    m = re.match(r"^(\d{4})\.(\d{2})\.(\d{2})_(\d{2}):(\d{2}):(\d{2})", trec_tai)
    if not m:
        raise ValueError(f"bad T_REC for a file name: {trec_tai!r}")
    y, mo, d, h, mi, s = m.groups()
    return f"{series}.{int(region)}.{y}{mo}{d}_{h}{mi}{s}_TAI.{segment}.fits"


def _image_hdu(hdul: fits.HDUList) -> fits.hdu.base.ExtensionHDU | fits.PrimaryHDU:
    for hdu in hdul:
        if hdu.header.get("NAXIS", 0) >= 2 or isinstance(hdu, fits.CompImageHDU):
            return hdu
    raise ValueError("no image HDU")


def read_patch(path: str | os.PathLike) -> tuple[np.ndarray, fits.Header]:
    """Read a patch FITS file: float32 image (NaN where blank) and its repaired header.

    Works for RICE-compressed JSOC exports (data in HDU 1) and plain images in HDU 0. Malformed
    cards of older exports are fixed with ``verify('silentfix')``.

    Raises
    ------
    ValueError
        Naming the file, for every way a file can fail to read: empty, truncated, not FITS, no
        image, or a compressed tile that does not decompress (cfitsio's ``CfitsioException``,
        which is no ``OSError``). This is the one place where a FITS read error is classified:
        every caller turns this ``ValueError`` into a rejected record with the message as reason.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VerifyWarning)
            with fits.open(path, memmap=False) as hdul:
                hdu = _image_hdu(hdul)
                hdu.verify("silentfix")
                header = hdu.header.copy()
                data = np.asarray(hdu.data, dtype=np.float32)
    except Exception as exc:  # noqa: BLE001 - astropy/cfitsio raise many unrelated types
        raise ValueError(f"{path}: cannot read FITS patch ({type(exc).__name__}: {exc})") from exc
    if data.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D image, got shape {data.shape}")
    return data, header


def _float(header: fits.Header, key: str) -> float:
    v = header.get(key)
    if v is None:
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan  # e.g. the string 'nan' on malformed older cards


def _whole(path: Path, key: str, value: object) -> int:
    """A header card that must hold a whole number (hex ``0x...`` allowed, as JSOC writes
    ``QUALITY`` in keyword answers), or a ``ValueError`` naming file and card.
    """
    try:
        if isinstance(value, str) and value.strip().lower().startswith("0x"):
            return int(value.strip(), 16)
        f = float(value)
        if f.is_integer():
            return int(f)
    except (TypeError, ValueError, OverflowError):
        pass
    raise ValueError(f"{path}: header card {key} = {value!r} is not a whole number")


def header_to_record(
    header: fits.Header, path: str | os.PathLike, archive_dir: str | os.PathLike | None = None
) -> dict:
    """One records.csv row (see docs/FILES.md) from a patch header.

    The series and region come from the header's region keyword (``HARPNUM``/``TARPNUM``,
    :data:`flarepipe.core.series.SERIES`), falling back to the JSOC file name; the keywords from
    the FITS cards of :data:`flarepipe.core.keywords.KEYWORDS` (NaN when absent); ``noaa_ars``
    through :func:`flarepipe.core.noaa.normalise_noaa_ars`. ``path`` is stored relative to
    ``archive_dir`` when given.

    Raises
    ------
    ValueError
        The header names no known series, has no readable ``T_REC``, or a region number or
        ``QUALITY`` that is no whole number (the message names the file and the card).
    """
    path = Path(path)
    m = _NAME.match(path.name)
    series = next((s for s in SERIES.values() if s.region_key in header), None)
    if series is None and m and m.group("series") in SERIES:
        series = SERIES[m.group("series")]
    if series is None:
        keys = "/".join(s.region_key for s in SERIES.values())
        raise ValueError(f"{path}: no {keys} in the header, and not a JSOC file name")
    region = header.get(series.region_key)
    if region is None and m:
        region = int(m.group("num"))
    region = _whole(path, series.region_key, region)
    if region <= 0:
        raise ValueError(f"{path}: {series.region_key} {region} is not a region number (> 0)")
    trec = str(header.get("T_REC", "")).strip()
    if not trec:
        raise ValueError(f"{path}: header has no T_REC")
    try:
        t_utc = parse_trec(trec)
    except ValueError as exc:
        raise ValueError(f"{path}: T_REC {trec!r} is not a JSOC time ({exc})") from None
    rec = {
        "series": series.name,
        "instrument": series.instrument,
        "region": region,
        "region_id": f"{series.prefix}{region}",
        "t_rec": to_iso_utc(t_utc),
        "t_rec_tai": trec,
        "noaa_ars": normalise_noaa_ars(header.get("NOAA_ARS", "") or ""),
        "quality": _whole(path, "QUALITY", header.get("QUALITY", 0) or 0),
        "lat_fwt": _float(header, "LAT_FWT"),
        "lon_fwt": _float(header, "LON_FWT"),
        "obs_vr": _float(header, "OBS_VR"),
    }
    for k in KEYWORDS:
        rec[k.column] = _float(header, k.fits_card)
    rec["nx"] = int(header.get("ZNAXIS1", header.get("NAXIS1", 0)))
    rec["ny"] = int(header.get("ZNAXIS2", header.get("NAXIS2", 0)))
    rec["path"] = str(path.relative_to(archive_dir)) if archive_dir else str(path)
    return rec


_BLANK = -2147483648
_BLOCK = 2880
_PRIMARY = fits.PrimaryHDU().header.tostring().encode("ascii")
_END = "END" + " " * 77
_TEMPLATES: dict[tuple, _HeaderTemplate] = {}
_TEMPLATES_LOCK = threading.Lock()
_KEY = re.compile(r"^[A-Z0-9_-]{1,8}$")
_PLAIN = (str, bool, np.bool_, int, np.integer, float, np.floating)


def _pad(buf: bytes, fill: bytes) -> bytes:
    return buf + fill * (-len(buf) % _BLOCK)


def _card_image(key: str, value) -> str:
    """The 80-character image astropy gives ``fits.Card(key, value)`` (value, no comment).

    Numbers, booleans and short printable strings of a standard keyword are formatted with
    astropy's own value formatter (``astropy.io.fits.card._format_value``) without building a
    ``Card`` (whose config look-ups cost ~50 µs); anything else (NaN, long strings that need
    ``CONTINUE`` cards, HIERARCH keywords) goes through ``Card`` itself. ``tests/test_fitsio.py``
    checks the two agree.
    """
    if isinstance(value, _PLAIN) and _KEY.match(key):
        if isinstance(value, np.bool_):
            value = bool(value)  # as Card's value setter does
        if isinstance(value, (float, np.floating)) and not math.isfinite(value):
            return str(fits.Card(key, value))  # astropy raises: no NaN/inf in headers
        if not isinstance(value, str) or (value.isascii() and value.isprintable()):
            image = f"{key:8}= {_format_value(value)}"
            if len(image) <= 80:
                return f"{image:80}"
    return str(fits.Card(key, value))


class _HeaderTemplate:
    """The card images of one key sequence's image-extension header, updated value by value."""

    def __init__(self, shape: tuple[int, int], cards: dict, bscale: float):
        header = fits.Header([fits.Card(k, v) for k, v in cards.items()])
        h = fits.ImageHDU(data=np.zeros(shape, np.int32), header=header).header.copy()
        h["BSCALE"] = bscale
        h["BZERO"] = 0.0
        h["BLANK"] = _BLANK
        self.images = [str(c) for c in h.cards]
        self.index = {c.keyword: i for i, c in enumerate(h.cards)}
        self.values = {c.keyword: c.value for c in h.cards}

    def bytes(self, values: dict) -> bytes:
        for k, v in values.items():
            old = self.values[k]
            # only changed cards are formatted again (0.0 and -0.0 are equal, but print apart)
            if type(old) is not type(v) or old != v or (v == 0 and str(v) != str(old)):
                self.images[self.index[k]] = _card_image(k, v)
                self.values[k] = v
        text = "".join(self.images) + _END
        return (text + " " * (-len(text) % _BLOCK)).encode("ascii")


def _image_header(shape: tuple[int, int], cards: dict, bscale: float) -> bytes:
    """Header block of an uncompressed int32 image extension, as astropy formats it.

    astropy builds the header of each distinct key sequence once (card order, structural cards);
    after that only the images of cards whose value changed are formatted again, by
    :func:`_card_image`: parsing and verifying ~35 new cards per file, then astropy's
    ``Header.tostring``, dominated the writer's cost.
    """
    keys = tuple(cards)
    values = {"NAXIS1": int(shape[1]), "NAXIS2": int(shape[0]), **cards, "BSCALE": bscale}
    with _TEMPLATES_LOCK:
        t = _TEMPLATES.get(keys)
        if t is None:
            t = _TEMPLATES[keys] = _HeaderTemplate(shape, cards, bscale)
        return t.bytes(values)


def write_patch(
    path: str | os.PathLike,
    data: np.ndarray,
    cards: dict,
    bscale: float = 0.01,
    compress: bool = True,
    clean: bool = True,
) -> str:
    """Write a patch as JSOC does: int32 in HDU 1 with ``BSCALE``, ``BLANK`` for NaN.

    ``compress=True`` writes a RICE_1-compressed HDU (JSOC's default export) with astropy;
    ``False`` a plain image extension (JSOC's uncompressed export): astropy formats the header cards
    and the blocks are assembled here, which is about ten times faster than ``HDUList.writeto``
    and gives the same file (tested).

    ``data`` must already be quantised to multiples of ``bscale`` if the caller needs the stored
    values to equal its array exactly (see :func:`quantise`). Written atomically; ``clean=False``
    skips the removal of the target's stale temporaries (a caller writing many files removes them
    once: :func:`flarepipe.io.atomic.remove_stale_temporaries`). Returns the file's SHA-256 (hex),
    computed from the bytes written (uncompressed) or from the file (compressed).
    """
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D image, got shape {data.shape}")
    ints = np.where(np.isfinite(data), np.round(np.nan_to_num(data) / bscale), _BLANK)
    ints = ints.astype(np.int32)
    if compress:
        header = fits.Header([fits.Card(k, v) for k, v in cards.items()])
        hdu = fits.CompImageHDU(data=ints, header=header, compression_type="RICE_1")
        hdu.header["BSCALE"] = bscale
        hdu.header["BZERO"] = 0.0
        hdu.header["BLANK"] = _BLANK
        hdul = fits.HDUList([fits.PrimaryHDU(), hdu])
        with atomic_path(path, suffix=".fits.part", clean=clean) as tmp:
            hdul.writeto(tmp, overwrite=True)
        return sha256_file(path)
    blob = (
        _PRIMARY
        + _pad(_image_header(ints.shape, cards, bscale), b" ")
        + _pad(ints.astype(">i4").tobytes(), b"\0")
    )
    with atomic_path(path, suffix=".fits.part", clean=clean) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(blob)
    return hashlib.sha256(blob).hexdigest()


def quantise(data: np.ndarray, bscale: float = 0.01) -> np.ndarray:
    """Round to the storage grid of :func:`write_patch`, keeping NaN."""
    out = np.round(data.astype(np.float64) / bscale) * bscale
    return out.astype(np.float32)
