"""The integrated system of de Oliveira & Gradvohl 2020: a full-disk frame in, its active regions
out, as a table and an annotated picture.

:func:`annotate_frame` reads one full-disk line-of-sight magnetogram (any FITS sunpy reads: the
real ``hmi.M_720s`` / ``mdi.fd_M_96m`` files or the synthetic ones), bins it to a working size,
finds the regions with the classical detector, places each in heliographic coordinates through the
frame's WCS, classifies its crop when a classifier is given, and writes

* ``regions.csv``: one row per region, strongest first: the box in pixels of the *original* frame,
  the centre in pixels and in Stonyhurst latitude/longitude, ``mu``, the total unsigned flux of
  its strong pixels (Mx), class and confidence (empty without a classifier);
* ``annotated.png``: the frame (grey, clipped at ``clip_g``) with every box, its number, class and
  confidence.

A frame without a usable WCS (no CDELT/CRPIX/RSUN keywords sunpy can read), or whose disk does
not lie in the image, is refused with a message naming the file and the missing keywords.
``python -m flarepipe.detection.annotate FRAME --out DIR`` runs it from the command line.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from flarepipe.detection.classical import DetectorSettings, detect_regions, disk_mu
from flarepipe.io.atomic import atomic_path, write_csv

__all__ = ["REGION_COLUMNS", "AnnotateResult", "annotate_frame", "load_frame", "main"]

REGION_COLUMNS = (
    "region",
    "x0",
    "y0",
    "x1",
    "y1",
    "x",
    "y",
    "latitude_deg",
    "longitude_deg",
    "mu",
    "flux_mx",
    "mw_class",
    "confidence",
)

#: WCS keywords a full-disk frame needs (alternatives separated by "|")
_WCS_KEYS = ("CDELT1", "CDELT2", "CRPIX1", "CRPIX2", "RSUN_OBS|RSUN_REF|R_SUN", "DATE-OBS|T_OBS")

#: A classifier: region crops (n, size, size), field in gauss -> (classes, confidences)
Classifier = Callable[[np.ndarray], tuple[Sequence[str], Sequence[float]]]


@dataclass
class AnnotateResult:
    """What :func:`annotate_frame` wrote: the region table and the paths of its two files."""

    regions: pd.DataFrame
    csv: Path
    png: Path


def load_frame(path: str | Path, work_size: int = 1024):
    """The frame as a sunpy Map binned to at most ``work_size`` pixels a side (mean of each block;
    the header follows), and the binning factor.
    """
    import astropy.units as u
    import sunpy.map
    from astropy.io import fits

    path = Path(path)
    try:
        with fits.open(path) as hdul:
            hdu = next((h for h in hdul if getattr(h, "data", None) is not None), None)
            if hdu is None or hdu.data.ndim != 2:
                raise ValueError(f"{path}: no 2-d image in the file")
            header = hdu.header
            missing = [k for k in _WCS_KEYS if not any(alt in header for alt in k.split("|"))]
            if missing:
                raise ValueError(
                    f"{path}: the frame lacks WCS keyword(s) {', '.join(missing)}; "
                    "flarepipe places regions with the header's WCS and does not guess it"
                )
            smap = sunpy.map.Map(np.asarray(hdu.data, dtype=np.float32), header)
    except OSError as exc:
        raise ValueError(f"{path}: unreadable FITS file ({exc})") from None
    ny, nx = smap.data.shape
    factor = max(1, math.ceil(max(nx, ny) / work_size))
    if factor > 1:
        if nx % factor or ny % factor:
            raise ValueError(f"{path}: a {nx}x{ny} frame does not bin by {factor}")
        smap = smap.superpixel([factor, factor] * u.pix, func=np.mean)
    return smap, factor


def annotate_frame(
    path: str | Path,
    out_dir: str | Path,
    *,
    settings: DetectorSettings | None = None,
    work_size: int = 1024,
    classifier: Classifier | None = None,
    crop_px: int = 64,
    clip_g: float = 300.0,
) -> AnnotateResult:
    """Detect, place, classify and draw the active regions of one full-disk frame (module doc)."""
    import astropy.units as u
    from sunpy.coordinates import HeliographicStonyhurst

    smap, factor = load_frame(path, work_size)
    mu = disk_mu(smap)
    if not np.isfinite(mu).any():
        raise ValueError(f"{path}: the solar disk its WCS describes lies outside the image")
    found = detect_regions(smap.data, settings, mu=mu)
    if len(found):
        world = smap.pixel_to_world(found["x"].to_numpy() * u.pix, found["y"].to_numpy() * u.pix)
        hgs = world.transform_to(HeliographicStonyhurst(obstime=smap.date))
        lat, lon = hgs.lat.to_value(u.deg), hgs.lon.to_value(u.deg)
    else:
        lat = lon = np.zeros(0)
    pixel_cm2 = _pixel_area_cm2(smap)
    classes: Sequence[str] = [""] * len(found)
    confidence: Sequence[float] = [float("nan")] * len(found)
    if classifier is not None and len(found):
        classes, confidence = classifier(_crops(smap.data, found, crop_px))
    table = pd.DataFrame(
        {
            "region": np.arange(1, len(found) + 1),
            # boxes and centres in pixels of the original frame
            "x0": found["x0"].to_numpy() * factor,
            "y0": found["y0"].to_numpy() * factor,
            "x1": found["x1"].to_numpy() * factor,
            "y1": found["y1"].to_numpy() * factor,
            "x": (found["x"].to_numpy() + 0.5) * factor - 0.5,
            "y": (found["y"].to_numpy() + 0.5) * factor - 0.5,
            "latitude_deg": lat,
            "longitude_deg": lon,
            "mu": [mu[int(y), int(x)] for x, y in zip(found["x"], found["y"], strict=True)],
            "flux_mx": found["flux"].to_numpy() * pixel_cm2,
            "mw_class": list(classes),
            "confidence": list(confidence),
        },
        columns=list(REGION_COLUMNS),
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv, png = out / "regions.csv", out / "annotated.png"
    write_csv(table, csv, index=False)
    _draw(smap, found, table, png, clip_g, title=Path(path).name)
    return AnnotateResult(table, csv, png)


def _pixel_area_cm2(smap) -> float:
    """Area of one binned pixel at disk centre, cm^2 (arcsec -> km at the observer's distance)."""
    import astropy.units as u

    scale = smap.scale.axis1.to_value(u.arcsec / u.pix)
    km_per_arcsec = smap.dsun.to_value(u.km) * math.radians(1 / 3600)
    return (scale * km_per_arcsec * 1e5) ** 2


def _crops(data: np.ndarray, boxes: pd.DataFrame, size: int) -> np.ndarray:
    """Square crops centred on each box, ``size`` pixels a side (zero beyond the image)."""
    field = np.nan_to_num(np.asarray(data, dtype=np.float32))
    padded = np.pad(field, size)
    out = np.empty((len(boxes), size, size), np.float32)
    for i, (x, y) in enumerate(zip(boxes["x"], boxes["y"], strict=True)):
        cx, cy = int(round(x)) + size, int(round(y)) + size
        out[i] = padded[
            cy - size // 2 : cy - size // 2 + size, cx - size // 2 : cx - size // 2 + size
        ]
    return out


def _draw(smap, found, table, png: Path, clip_g: float, title: str) -> None:
    """The frame turned solar north up (sunpy ``rotate``: HMI frames have CROTA2 ~ 180), with a
    heliographic grid, and each box carried through the WCS onto the turned frame.
    """
    import astropy.units as u
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = smap.rotate(order=1, missing=np.nan)
    fig = plt.figure(figsize=(7, 7), dpi=110)
    ax = fig.add_subplot(projection=shown)
    ax.imshow(
        np.clip(shown.data, -clip_g, clip_g), cmap="gray", origin="lower", vmin=-clip_g, vmax=clip_g
    )
    shown.draw_grid(axes=ax, grid_spacing=15 * u.deg, color="white", alpha=0.25, linewidth=0.5)
    for box, row in zip(found.itertuples(), table.itertuples(), strict=True):
        xs = np.array([box.x0, box.x1, box.x1, box.x0, box.x0]) - 0.5
        ys = np.array([box.y0, box.y0, box.y1, box.y1, box.y0]) - 0.5
        px, py = shown.world_to_pixel(smap.pixel_to_world(xs * u.pix, ys * u.pix))
        ax.plot(px.value, py.value, color="gold", linewidth=1.1)
        label = f"{row.region}"
        if row.mw_class:
            label += f" {row.mw_class} {row.confidence:.2f}"
        ax.text(px.value.max() + 3, py.value.max(), label, color="gold", fontsize=7)
    ax.set_title(f"{title}: {len(table)} regions, solar north up", fontsize=9)
    ax.coords[0].set_axislabel("helioprojective x")
    ax.coords[1].set_axislabel("helioprojective y")
    fig.tight_layout()
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m flarepipe.detection.annotate FRAME --out DIR``; exit 2 with the
    reason on a frame it cannot read.
    """
    parser = argparse.ArgumentParser(
        prog="python -m flarepipe.detection.annotate",
        description="Detect the active regions of a full-disk magnetogram; write regions.csv and "
        "annotated.png.",
    )
    parser.add_argument("frame", help="full-disk line-of-sight magnetogram (FITS)")
    parser.add_argument("--out", default=".", help="output folder (default: here)")
    parser.add_argument("--work-size", type=int, default=1024, help="bin the frame to this size")
    parser.add_argument("--threshold", type=float, default=100.0, help="strong field, gauss")
    args = parser.parse_args(argv)
    try:
        result = annotate_frame(
            args.frame,
            args.out,
            settings=DetectorSettings(threshold_g=args.threshold),
            work_size=args.work_size,
        )
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(result.regions)} regions: {result.csv}, {result.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
