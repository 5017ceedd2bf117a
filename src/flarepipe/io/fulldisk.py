"""Read full-disk line-of-sight magnetograms: JSOC hmi.M_720s and mdi.fd_M_96m_lev182, synthetic.

One reader for every source: the image through :func:`flarepipe.io.fitsio.read_patch` (RICE in
HDU 1 or a plain image, ``BSCALE``, ``BLANK``, malformed cards repaired), the geometry from the
header's WCS (astropy :class:`~astropy.wcs.WCS`; sunpy's frames give it its observer from
``DSUN_OBS``/``HGLN_OBS``/``CRLN_OBS``/``CRLT_OBS`` and ``DATE-OBS``), never guessed from the image.
Pixels off the disk are NaN in the returned frame (the real HMI series keeps ~5% of a radius of
off-limb pixels: their count is kept in :attr:`FullDiskFrame.n_off_disk_finite`).
"""

from __future__ import annotations

import dataclasses
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from astropy.io import fits

from flarepipe.core.disk import FULLDISK_SERIES, FullDiskSeries, disk_mask
from flarepipe.core.timeutil import parse_trec, to_iso_utc
from flarepipe.io.fitsio import read_patch

__all__ = [
    "FullDiskFrame",
    "read_fulldisk",
    "series_of_frame",
    "WCS_CARDS",
    "RECORD_COLUMNS",
    "frame_record",
    "read_fulldisk_header",
]

#: columns of a full-disk ``fulldisk/records.csv`` (every source writes these; ``planted`` is the
#: synthetic archive's bad-record kind, empty elsewhere)
RECORD_COLUMNS = [
    "series",
    "instrument",
    "t_rec",
    "t_rec_tai",
    "quality",
    "nx",
    "ny",
    "planted",
    "path",
]
#: the header cards a full-disk frame must carry (its WCS and observer)
WCS_CARDS = ("CTYPE1", "CTYPE2", "CDELT1", "CDELT2", "CRPIX1", "CRPIX2", "DSUN_OBS", "T_REC")
_NAME = re.compile(r"^(?P<series>[a-z]+\.[A-Za-z_0-9]+)\.(?P<date>\d{8})_(?P<time>\d{6})_TAI\.")


def series_of_frame(header: fits.Header, path: str | os.PathLike) -> FullDiskSeries:
    """The :class:`~flarepipe.core.disk.FullDiskSeries` of a frame: its file name, else its header.

    Raises ``ValueError`` naming the file when neither names a known series.
    """
    m = _NAME.match(Path(path).name)
    if m and m.group("series") in FULLDISK_SERIES:
        return FULLDISK_SERIES[m.group("series")]
    tel = f"{header.get('TELESCOP', '')} {header.get('INSTRUME', '')}".upper()
    for s in FULLDISK_SERIES.values():
        if s.instrument in tel:
            return s
    raise ValueError(
        f"{path}: not a known full-disk series (file name or TELESCOP/INSTRUME naming "
        f"{sorted(s.instrument for s in FULLDISK_SERIES.values())}; known series "
        f"{sorted(FULLDISK_SERIES)})"
    )


@dataclasses.dataclass
class FullDiskFrame:
    """One full-disk magnetogram: ``data`` (float32 G, NaN off disk and blank), header, WCS."""

    path: Path
    data: np.ndarray
    header: fits.Header
    series: FullDiskSeries
    n_off_disk_finite: int
    on_disk: np.ndarray  # bool, the pixels whose line of sight meets the Sun

    @property
    def instrument(self) -> str:
        """``HMI`` or ``MDI``."""
        return self.series.instrument

    @property
    def t_rec(self) -> pd.Timestamp:
        """``T_REC`` as a UTC timestamp."""
        return parse_trec(str(self.header["T_REC"]).strip())

    @property
    def quality(self) -> int:
        """The ``QUALITY`` word (0 when absent)."""
        return int(self.header.get("QUALITY", 0) or 0)

    @property
    def wcs(self):
        """The header's :class:`astropy.wcs.WCS` (with sunpy's frames: observer included)."""
        import sunpy.coordinates  # noqa: F401 - registers the solar frames with astropy's WCS
        from astropy.wcs import WCS, FITSFixedWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            return WCS(self.header)

    def world_to_pixel(self, lon_deg, lat_deg) -> tuple[np.ndarray, np.ndarray]:
        """0-based pixel ``(x, y)`` of heliographic Stonyhurst ``(lon, lat)`` through the WCS."""
        import astropy.units as u
        from astropy.coordinates import SkyCoord
        from sunpy.coordinates import frames

        w = self.wcs
        obstime = self.header.get("DATE-OBS") or to_iso_utc(self.t_rec)
        observer = w.pixel_to_world(0, 0).observer
        c = SkyCoord(
            np.asarray(lon_deg) * u.deg,
            np.asarray(lat_deg) * u.deg,
            frame=frames.HeliographicStonyhurst,
            obstime=obstime,
            observer=observer,
        )
        x, y = w.world_to_pixel(c)
        return np.asarray(x), np.asarray(y)

    def disk_fraction_nan(self) -> float:
        """Share of on-disk pixels that are NaN (missing data on the disk)."""
        on = self.on_disk
        return float(np.isnan(self.data[on]).mean()) if on.any() else 1.0


def _check_header(header: fits.Header, path: Path) -> FullDiskSeries:
    missing = [k for k in WCS_CARDS if k not in header]
    if missing:
        raise ValueError(f"{path}: full-disk header lacks the WCS card(s) {missing}")
    if not (str(header["CTYPE1"]).startswith("HPLN") and str(header["CTYPE2"]).startswith("HPLT")):
        raise ValueError(
            f"{path}: CTYPE1/CTYPE2 are {header['CTYPE1']!r}/{header['CTYPE2']!r}, "
            "not a helioprojective (HPLN/HPLT) full-disk image"
        )
    return series_of_frame(header, path)


def read_fulldisk_header(path: str | os.PathLike) -> fits.Header:
    """The image header of a full-disk FITS file, checked as :func:`read_fulldisk` checks it,
    without decompressing the image (for scanning a folder).
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=False) as hdul:
                hdu = next(
                    (
                        h
                        for h in hdul
                        if h.header.get("NAXIS", 0) >= 2
                        or h.is_image
                        and h.header.get("ZNAXIS", 0) >= 2
                    ),
                    None,
                )
                if hdu is None:
                    raise ValueError("no image HDU")
                hdu.verify("silentfix")
                header = hdu.header.copy()
    except Exception as exc:  # noqa: BLE001 - astropy raises many unrelated types
        raise ValueError(f"{path}: cannot read FITS header ({type(exc).__name__}: {exc})") from exc
    _check_header(header, path)
    return header


def read_fulldisk(path: str | os.PathLike, mask_off_disk: bool = True) -> FullDiskFrame:
    """Read a full-disk FITS file (real JSOC export or synthetic) into a :class:`FullDiskFrame`.

    Raises
    ------
    ValueError
        Naming the file: unreadable (see :func:`~flarepipe.io.fitsio.read_patch`), not a known
        series, or a header without the WCS cards :data:`WCS_CARDS`, or not a helioprojective
        (``HPLN-*``/``HPLT-*``) image.
    """
    path = Path(path)
    data, header = read_patch(path)
    missing = [k for k in WCS_CARDS if k not in header]
    if missing:
        raise ValueError(f"{path}: full-disk header lacks the WCS card(s) {missing}")
    if not (str(header["CTYPE1"]).startswith("HPLN") and str(header["CTYPE2"]).startswith("HPLT")):
        raise ValueError(
            f"{path}: CTYPE1/CTYPE2 are {header['CTYPE1']!r}/{header['CTYPE2']!r}, "
            "not a helioprojective (HPLN/HPLT) full-disk image"
        )
    series = series_of_frame(header, path)
    on = disk_mask(header, data.shape)
    off = ~on & np.isfinite(data)
    n_off = int(off.sum())
    if mask_off_disk:
        data[off] = np.nan
    return FullDiskFrame(path, data, header, series, n_off, on)


def frame_record(header: fits.Header, path: str | os.PathLike, root: str | os.PathLike | None):
    """One row of a full-disk ``records.csv`` from a frame's header (the columns of
    :data:`RECORD_COLUMNS`, ``planted`` empty).
    """
    path = Path(path)
    series = series_of_frame(header, path)
    trec = str(header.get("T_REC", "")).strip()
    if not trec:
        raise ValueError(f"{path}: header has no T_REC")
    return {
        "series": series.name,
        "instrument": series.instrument,
        "t_rec": to_iso_utc(parse_trec(trec)),
        "t_rec_tai": trec,
        "quality": int(header.get("QUALITY", 0) or 0),
        "nx": int(header.get("ZNAXIS1", header.get("NAXIS1", 0))),
        "ny": int(header.get("ZNAXIS2", header.get("NAXIS2", 0))),
        "planted": "",
        "path": str(path.relative_to(root)) if root else str(path),
    }
