"""Synthetic active regions whose Mt. Wilson class holds by construction.

Each class is built from its definition (:mod:`flarepipe.core.mtwilson`), out of sunspots (an umbra
inside a penumbra) and weak plage:

* **alpha**: one spot, its opposite polarity only as plage below the strong-field level;
* **beta**: a leading and a following spot of opposite polarity along a tilted axis, 4-8 degrees
  apart, so one straight line divides them;
* **beta-gamma**: a beta pair plus a spot of the following polarity beyond the leading spot (12-22%
  of the group's flux), so no single line divides the polarities;
* **gamma**: six or eight spots of alternating polarity around a ring (no bipolar organisation),
  more than 2 degrees apart;
* **delta** (flag): an umbra of the opposite polarity 1.0-1.5 degrees from the leading spot, inside
  the same penumbra.

:func:`draw_class` draws a region-day's class from the class frequencies NOAA reports for groups of
its sunspot area (:data:`CLASS_GIVEN_AREA`, measured on the real SRS 1996-2018 by
``flarepipe.archive.catalogues.srs``; spotless groups are alpha or beta), so the synthetic class
mix follows the real one through the regions' size distribution. :func:`render_class` draws the
field of a class on a local heliographic grid; ``tests/test_mtwilson.py`` checks that the rules of
:func:`flarepipe.core.mtwilson.classify_field` give every constructed class back.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "AREA_BINS_USH",
    "CLASS_GIVEN_AREA",
    "COMBINATIONS",
    "draw_class",
    "render_class",
    "spot_area_ush",
]

#: the (class, delta) combinations NOAA reports, in the column order of :data:`CLASS_GIVEN_AREA`
COMBINATIONS = (
    ("alpha", False),
    ("beta", False),
    ("beta-gamma", False),
    ("gamma", False),
    ("beta", True),
    ("beta-gamma", True),
    ("gamma", True),
)
#: upper edges of the sunspot-area bins (millionths of a hemisphere); the last bin is open
AREA_BINS_USH = (0.0, 10.0, 30.0, 100.0, 200.0, 400.0, 800.0, math.inf)
#: P(class combination | area bin) of the real SRS region-days 1996-2018 (33,692 rows), rows
#: normalised; measured with flarepipe.archive.catalogues.srs (tests/test_mtwilson.py re-measures
#: them when the real data are present)
CLASS_GIVEN_AREA = np.array(
    [
        [0.8507, 0.1493, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000],
        [0.4471, 0.5524, 0.0006, 0.0000, 0.0000, 0.0000, 0.0000],
        [0.3140, 0.6816, 0.0041, 0.0000, 0.0000, 0.0003, 0.0000],
        [0.3300, 0.6375, 0.0293, 0.0000, 0.0014, 0.0017, 0.0000],
        [0.1986, 0.6431, 0.1390, 0.0000, 0.0058, 0.0132, 0.0004],
        [0.0940, 0.4991, 0.3171, 0.0000, 0.0165, 0.0724, 0.0009],
        [0.0124, 0.2657, 0.4360, 0.0026, 0.0313, 0.2493, 0.0026],
        [0.0000, 0.0464, 0.2622, 0.0000, 0.0394, 0.6497, 0.0023],
    ]
)
CLASS_GIVEN_AREA = CLASS_GIVEN_AREA / CLASS_GIVEN_AREA.sum(axis=1, keepdims=True)

#: unsigned flux per millionth of a hemisphere of sunspot area (Mx): a group of 600 uSH holds
#: ~2.4e22 Mx (NOAA 11158's order); an approximation used only to draw classes from fluxes
FLUX_PER_USH = 4e19


def spot_area_ush(flux_mx: float) -> float:
    """Sunspot area (uSH) of a region of total unsigned flux ``flux_mx`` (:data:`FLUX_PER_USH`)."""
    return max(float(flux_mx), 0.0) / FLUX_PER_USH


def draw_class(rng: np.random.Generator, area_ush: float) -> tuple[str, bool]:
    """A ``(class, delta)`` for a group of sunspot area ``area_ush`` (:data:`CLASS_GIVEN_AREA`)."""
    if not np.isfinite(area_ush) or area_ush < 0:
        raise ValueError(f"sunspot area must be a finite number >= 0, got {area_ush}")
    row = int(np.searchsorted(AREA_BINS_USH, area_ush, side="left"))
    return COMBINATIONS[int(rng.choice(len(COMBINATIONS), p=CLASS_GIVEN_AREA[row]))]


def _spot(x, y, cx, cy, polarity, umbra_deg, b_umbra=2600.0, b_penumbra=1000.0):
    """An umbra (Gaussian core) inside a penumbra (flat-topped ring 2.3x wider)."""
    r2 = ((x - cx) ** 2 + (y - cy) ** 2) / umbra_deg**2
    return polarity * (b_umbra * np.exp(-r2) + b_penumbra * np.exp(-((r2 / 2.3**2) ** 3)))


def render_class(
    mw_class: str,
    delta: bool,
    *,
    size_px: int = 128,
    px_deg: float = 0.15,
    rng: np.random.Generator | None = None,
    noise_g: float = 10.0,
) -> np.ndarray:
    """Line-of-sight field (gauss) of a region of the given class, ``size_px`` square at
    ``px_deg`` degrees per pixel, centred on the group (module doc for the constructions).
    """
    if mw_class not in ("alpha", "beta", "beta-gamma", "gamma"):
        raise ValueError(f"unknown Mt. Wilson class {mw_class!r}")
    if mw_class == "alpha" and delta:
        raise ValueError("an alpha group has no delta")
    rng = rng or np.random.default_rng(0)
    half = size_px * px_deg / 2
    if half < 9.0:
        raise ValueError(f"a {size_px} px map at {px_deg} deg/px is too small (needs 18 degrees)")
    c = (np.arange(size_px) + 0.5) * px_deg - half
    x, y = np.meshgrid(c, c)
    p = 1.0 if rng.random() < 0.5 else -1.0  # leading polarity
    tilt = math.radians(rng.uniform(-25, 25))
    ax, ay = math.cos(tilt), math.sin(tilt)
    umbra = rng.uniform(0.45, 0.65)
    field = rng.normal(0.0, noise_g, x.shape)
    if mw_class == "alpha":
        field += _spot(x, y, 0.0, 0.0, p, umbra)
        plage = -p * 60.0 * np.exp(-((x + 3 * ax) ** 2 + (y + 3 * ay) ** 2) / 2.5**2)
        return field + plage
    if mw_class == "gamma":
        n = int(rng.choice([6, 8]))
        radius = rng.uniform(4.6, 5.4) if n == 6 else rng.uniform(5.6, 6.2)
        for k in range(n):
            phi = 2 * math.pi * k / n + tilt
            field += _spot(
                x, y, radius * math.cos(phi), radius * math.sin(phi), p * (-1) ** k, umbra * 0.8
            )
        lead = (radius * math.cos(tilt), radius * math.sin(tilt))
    else:
        d = rng.uniform(4.0, 6.0) / 2
        lead = (d * ax, d * ay)
        field += _spot(x, y, lead[0], lead[1], p, umbra)
        field += _spot(x, y, -d * ax, -d * ay, -p, umbra * rng.uniform(0.9, 1.1))
        if mw_class == "beta-gamma":
            # a following-polarity spot beyond the leading one: no line divides the polarities
            gap = rng.uniform(3.6, 4.2)
            field += _spot(
                x, y, lead[0] + gap * ax, lead[1] + gap * ay, -p, umbra * rng.uniform(0.6, 0.75)
            )
    if delta:
        # an opposite umbra on the inner side of the leading spot, inside its penumbra
        sep = rng.uniform(1.0, 1.3)
        ux, uy = (-ax, -ay) if mw_class != "gamma" else (-lead[0] / 4, -lead[1] / 4)
        norm = math.hypot(ux, uy)
        field += _spot(
            x,
            y,
            lead[0] + sep * ux / norm,
            lead[1] + sep * uy / norm,
            -p,
            umbra * 0.6,
            b_penumbra=0.0,
        )
    return field
