"""The synthetic archive job per record: rendering against writing, today's writer against the old.

A record of the archive job costs its rendering (scene, textures, noise, point spread), its four
keywords, and the writing of its FITS file. The writer used to list the series folder for stale
temporaries before every file (quadratic: the default archive puts ~26,000 files in each folder),
to let astropy format the whole header of every file, and to read every file back for the
manifest's digests; :func:`pinned_old_write` keeps that
writer, verbatim in what it costs, so both run side by side on the same maps, alternating, into
folders already holding ``--fill`` files. Figures are CPU seconds of this process
(``time.process_time``), medians over ``--repeats`` alternations, so load on the shared machine
counts less than in wall time.

Usage::

    python benchmarks/bench_archive.py [--records 150] [--fill 0 5000 26000] [--repeats 3]

Printed: ms/record to render + compute keywords, ms/record to write with each writer at each folder
size, and the archive job's records per CPU-second with each (``1 / (render + write)``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.io import fits

from flarepipe.archive.sources.synthetic import INSTRUMENTS, SyntheticParams, render_sample
from flarepipe.io.atomic import atomic_path, remove_stale_temporaries, sha256_file
from flarepipe.io.fitsio import _BLANK, _PRIMARY, _pad, write_patch

_OLD_TEMPLATES: dict[tuple, fits.Header] = {}


def _old_header(shape, cards, bscale) -> bytes:
    """The header formatter before issue 17: astropy Header per key sequence, updated, printed."""
    keys = tuple(cards)
    h = _OLD_TEMPLATES.get(keys)
    if h is None:
        header = fits.Header([fits.Card(k, v) for k, v in cards.items()])
        h = fits.ImageHDU(data=np.zeros(shape, np.int32), header=header).header.copy()
        h["BSCALE"], h["BZERO"], h["BLANK"] = bscale, 0.0, _BLANK
        _OLD_TEMPLATES[keys] = h
    for k, v in {"NAXIS1": int(shape[1]), "NAXIS2": int(shape[0]), **cards}.items():
        old = h[k]
        if type(old) is not type(v) or old != v:
            h[k] = v
    return h.tostring().encode("ascii")


def pinned_old_write(path: Path, data: np.ndarray, cards: dict, bscale: float) -> None:
    """The uncompressed writer before issue 17 (per-file folder listing, astropy header)."""
    ints = np.where(np.isfinite(data), np.round(np.nan_to_num(data) / bscale), _BLANK)
    ints = ints.astype(np.int32)
    blob = (
        _PRIMARY
        + _pad(_old_header(ints.shape, cards, bscale), b" ")
        + _pad(ints.astype(">i4").tobytes(), b"\0")
    )
    # the old atomic_path: list the whole folder for this target's stale temporaries first
    pat = re.compile(rf"^\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.fits\.part$")
    _ = sorted(p for p in path.parent.iterdir() if pat.match(p.name) and p.is_file())
    with atomic_path(path, suffix=".fits.part", clean=False) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(blob)


def _cards(i: int, row) -> dict:
    return {
        "TELESCOP": "SDO/HMI",
        "T_REC": f"2011.01.{1 + i // 15:02d}_{(i % 15) * 96 // 60:02d}:{(i * 96) % 60:02d}:00_TAI",
        "HARPNUM": 101 + i % 7,
        "NOAA_ARS": "11101",
        "QUALITY": 0,
        "LAT_FWT": 12.5,
        "LON_FWT": float(row.lon_fwt),
        "OBS_VR": 1234.5 + i,
        "CRPIX1": (row.nx + 1) / 2.0,
        "CRPIX2": (row.ny + 1) / 2.0,
        "USFLUXL": float(row.usfluxl_mx),
        "MEANGBL": float(row.meangbl_g_per_px),
        "R_VALUE": float(row.r_value),
        "AREA": float(row.area_uhem),
        "GENERATR": "flarepipe-synthetic bench (model 2.1: spots, plage, network; long name)",
    }


def main() -> None:
    """Print render and write costs per record, and records per CPU-second, old vs new writer."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=150)
    ap.add_argument("--fill", type=int, nargs="+", default=[0, 5000, 26000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--instrument", choices=["HMI", "MDI"], default="HMI")
    a = ap.parse_args()
    params = SyntheticParams()  # the default scale, its patch sizes
    # render_sample simulates every region of the plan first: the marginal cost of a record is the
    # difference between rendering many records and one
    c0 = time.process_time()
    render_sample(params, a.instrument, 1, seed=1)
    c1 = time.process_time()
    rows, maps = render_sample(params, a.instrument, a.records, seed=1)
    render_ms = ((time.process_time() - c1) - (c1 - c0)) / (len(maps) - 1) * 1e3
    px = np.mean([m.size for m in maps])
    print(f"default scale, {a.instrument}: {len(maps)} records, mean {px:.0f} px")
    print(f"render + keywords: {render_ms:.1f} ms/record CPU (render_sample's marginal cost)")
    cards = [_cards(i, r) for i, r in enumerate(rows.itertuples())]
    bscale = INSTRUMENTS[a.instrument].bscale

    def old(folder: Path) -> None:
        for i, m in enumerate(maps):
            pinned_old_write(folder / f"r{i}.fits", m, cards[i], bscale)
        for i in range(len(maps)):  # the manifest's digests: every file read back
            sha256_file(folder / f"r{i}.fits")

    def new(folder: Path) -> None:
        remove_stale_temporaries(folder, ".fits.part")
        for i, m in enumerate(maps):
            write_patch(
                folder / f"r{i}.fits", m, cards[i], bscale=bscale, compress=False, clean=False
            )

    print(
        f"{'folder files':>12s} {'old write':>10s} {'new write':>10s} {'old rec/cpu-s':>14s} "
        f"{'new rec/cpu-s':>14s} {'ratio':>6s}"
    )
    for fill in a.fill:
        root = Path(tempfile.mkdtemp(prefix="bench_archive_"))
        folder = root / "fits"
        folder.mkdir()
        for j in range(fill):
            (folder / f"hmi.sharp_cea_720s.{j}.20110101_000000_TAI.magnetogram.fits").touch()
        times: dict[str, list[float]] = {"old": [], "new": []}
        for _ in range(a.repeats):
            for name, fn in (("old", old), ("new", new)):
                c = time.process_time()
                fn(folder)
                times[name].append((time.process_time() - c) / len(maps) * 1e3)
        o, n = statistics.median(times["old"]), statistics.median(times["new"])
        print(
            f"{fill:12d} {o:8.2f}ms {n:8.2f}ms {1e3 / (render_ms + o):14.1f} "
            f"{1e3 / (render_ms + n):14.1f} {(render_ms + o) / (render_ms + n):5.2f}x"
        )
        shutil.rmtree(root, ignore_errors=True)
    print(f"cores available: {os.cpu_count()}; CPU seconds of this process, medians")


if __name__ == "__main__":
    main()
