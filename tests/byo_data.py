"""Seeded "bring your own data" inputs in third-party layouts (docs/SOURCES.md), and their truth.

* :func:`third_party_table`: a semicolon-separated keyword table with decimal commas, other column
  names (``Zeit``, ``NOAA``), NOAA numbers but no HARP numbers (one written without its 10000
  offset), a German date format, rows off the 96-minute grid (snapped or rejected), a QUALITY
  column (one record 65536), positions, OBS_VR and an extra keyword (``TOTUSJH``).
* :func:`harp_noaa_map`: the JSOC HARP -> NOAA map of those regions (one NOAA number in two
  HARPs: ambiguous; one in none).
* :func:`sharp_fits_folder`: SHARP-style exports of one HARP, five segments per record
  (magnetogram, bitmap, Br, Bp, Bt), headers with ``USFLUX``/``MEANGBZ`` but no line-of-sight
  ``USFLUXL``/``MEANGBL``, ``R_VALUE = 'nan'``.
* :func:`flare_tsv`: a tab-separated flare list with other column names and a slash date format,
  a duplicate row, NOAA numbers without their offset and one unreadable class.

Every function returns the path it wrote; :data:`TRUTH` holds the counts a test expects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from flarepipe.core.bipole import b0_for_flux, bipole_field, bipole_frame

T0 = pd.Timestamp("2012-03-01 00:00:00")  # TAI, on the 96-minute T_REC grid
STEP = pd.Timedelta(minutes=96)
N_GOOD = 45  # grid rows of HARP 101 (NOAA 11500)
#: what the inputs hold (the tests check the pipeline against it)
TRUTH = {
    "table_rows": N_GOOD + 2 + 3 + 2,  # HARP 101 + off-grid pair + HARP 102 + ambiguous/unknown
    "snapped": 1,  # row 5 of HARP 101 written 5 min late (tolerance 10 min)
    "off_grid": 1,  # a 23:48 row (12 min before the 00:00 grid point)
    "ambiguous": 1,  # NOAA 11503: HARPs 103 and 104
    "in_no_harp": 1,  # NOAA 11599
    "bad_quality_row": 7,  # the HARP 101 row with QUALITY 65536
    "flares_rows": 5,
    "flare_duplicates": 1,
    "flare_bad_class": 1,
    "flare_offset_fixed": 2,
    "flare_start": pd.Timestamp("2012-03-03 06:00:00"),  # M2.0 of NOAA 11500 (UTC)
}


def harp_noaa_map(folder: Path) -> Path:
    """JSOC's ``harp_noaa_map.txt`` layout: ``HARPNUM NOAA_ARS``."""
    p = folder / "harp_noaa_map.txt"
    p.write_text(
        "HARPNUM NOAA_ARS\n101 11500\n102 11501,11502\n103 11503\n104 11503,11504\n201 11600\n"
    )
    return p


def _fmt(t: pd.Timestamp) -> str:
    return t.strftime("%d.%m.%Y %H:%M")


def _num(x: float) -> str:
    return f"{x:.6g}".replace(".", ",")


def third_party_table(folder: Path, seed: int = 11) -> Path:
    """The semicolon table described in the module docstring (``export.csv``)."""
    rng = np.random.default_rng(seed)
    head = "Zeit;NOAA;USFLUXL;MEANGBL;R_VALUE;AREA;QUALITY;LON_FWT;LAT_FWT;OBS_VR;TOTUSJH;comment"
    lines = ["# exported by another group's pipeline", head]

    def row(t, noaa, quality=0, lon=-20.0):
        kw = [
            _num(1e22 * (1 + rng.random())),
            _num(40 + 10 * rng.random()),
            _num(3 + rng.random()),
            _num(500 + 100 * rng.random()),
        ]
        extra = [str(quality), _num(lon), _num(12.5), _num(100 * rng.standard_normal())]
        return ";".join([_fmt(t), noaa, *kw, *extra, _num(800 * rng.random()), "ok"])

    for i in range(N_GOOD):
        t = T0 + i * STEP
        noaa = "1500" if i == 3 else "11500"  # one NOAA number without its 10000 offset
        if i == 5:
            t = t + pd.Timedelta(minutes=5)  # snapped back to the grid
        lines.append(row(t, noaa, 65536 if i == TRUTH["bad_quality_row"] else 0, -20.0 + i))
    lines.append(row(T0 + N_GOOD * STEP - pd.Timedelta(minutes=12), "11500"))  # off the grid
    lines.append(row(T0 + (N_GOOD + 1) * STEP, "11500"))
    for i in range(3):
        lines.append(row(T0 + i * STEP, "11501"))
    lines.append(row(T0, "11503"))  # ambiguous
    lines.append(row(T0, "11599"))  # in no HARP
    p = folder / "export.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def flare_tsv(folder: Path) -> Path:
    """Tab-separated flare list, columns ``begin, max, stop, goes, region`` (UTC, ``%Y/%m/%d``)."""
    rows = [
        ("2012/03/03 06:00", "2012/03/03 06:10", "2012/03/03 06:30", "M2.0", "1500"),
        ("2012/03/03 06:00", "2012/03/03 06:10", "2012/03/03 06:30", "M2.0", "1500"),  # dup
        ("2012/03/01 10:00", "2012/03/01 10:05", "2012/03/01 10:20", "C1.0", "11501"),
        ("2012/03/02 10:00", "2012/03/02 10:05", "2012/03/02 10:20", "Q5", "11500"),  # bad class
        ("2012/03/05 01:00", "2012/03/05 01:05", "2012/03/05 01:20", "B3.0", "1600"),
    ]
    p = folder / "flares.tsv"
    p.write_text("begin\tmax\tstop\tgoes\tregion\n" + "".join("\t".join(r) + "\n" for r in rows))
    return p


def sharp_fits_folder(folder: Path, n_records: int = 2) -> Path:
    """SHARP-style exports of HARP 201 (NOAA 11600): five segments per record."""
    from flarepipe.io.fitsio import quantise, write_patch

    folder.mkdir(parents=True, exist_ok=True)
    ny, nx = 60, 80
    cdelt = 0.03
    y, x = np.mgrid[0:ny, 0:nx].astype(np.float64)
    rad = np.deg2rad(cdelt)
    xr, yr = (x - nx / 2) * rad, (y - ny / 2) * rad
    rho = np.deg2rad(0.4)
    u, v = bipole_frame(xr, yr, 10.0)
    bmap = quantise(bipole_field(u, v, b0_for_flux(5e21, rho), rho))
    inside = np.abs(bmap) > 20
    bitmap = np.where(inside, 34.0, 1.0).astype(np.float32)
    for k in range(n_records):
        t = T0 + k * STEP
        trec = t.strftime("%Y.%m.%d_%H:%M:%S_TAI")
        stem = f"hmi.sharp_cea_720s.201.{t.strftime('%Y%m%d_%H%M%S')}_TAI"
        cards = {
            "HARPNUM": 201,
            "T_REC": trec,
            "NOAA_ARS": "11600",
            "QUALITY": 0,
            "CDELT1": cdelt,
            "LAT_FWT": 10.0,
            "LON_FWT": 5.0,
            "OBS_VR": 1000.0,
            "USFLUX": 6.0e21,  # the vector-field flux: not the line-of-sight USFLUXL
            "MEANGBZ": 80.0,
            "R_VALUE": "nan",
            "AREA": 300.0,
        }
        write_patch(folder / f"{stem}.magnetogram.fits", bmap, cards)
        write_patch(folder / f"{stem}.bitmap.fits", bitmap, cards, bscale=1.0)
        for seg in ("Br", "Bp", "Bt"):
            write_patch(folder / f"{stem}.{seg}.fits", bmap * 0.5, cards)
    return folder
