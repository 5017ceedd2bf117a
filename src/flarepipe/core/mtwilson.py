"""Mt. Wilson magnetic classes of a region's line-of-sight field, by the classes' definitions.

The Mt. Wilson scheme (Hale et al. 1919; Künzel 1960) as NOAA's SRS reports use it:

* **alpha**: a unipolar group;
* **beta**: a bipolar group with a simple, distinct division between the polarities;
* **gamma**: polarities so irregularly distributed that the group cannot be called bipolar;
* **beta-gamma**: bipolar, but no single continuous line separates the polarities;
* **delta** (a flag on beta, beta-gamma, gamma): umbrae of opposite polarity inside one penumbra,
  less than 2 degrees apart.

:func:`classify_field` applies these to a map: the spot pixels (``|B| >= strong_g``, penumbra and
umbra: the classes are those of the sunspots, plage does not count) are the group. It is unipolar
when the minority polarity holds less than ``unipolar_frac`` of their flux. Otherwise the best
single straight line through the group (searched over every direction, the best offset for each)
leaves a fraction of the flux on the wrong side: below ``line_frac`` the group is beta, above
``gamma_frac`` (near the 0.5 of no organisation at all) gamma, between them beta-gamma. Delta:
umbral pixels (``|B| >= umbra_g``) of both polarities closer than ``delta_deg`` of heliographic
arc, in one penumbra (``|B| >= penumbra_g`` connecting them; the closing of that area over
``bridge_deg`` bridges the zero-crossing line between them).

The synthetic regions built to a class (:mod:`flarepipe.archive.sources.synthetic.mtwilson`) give
their class back through these rules (a test), and the rules agree with the generator's own classes
(``benchmarks/mtwilson_rules.py``); on real data they are a rule-based baseline beside the learned
classifier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["MtWilsonRules", "classify_field", "line_separation"]


@dataclass(frozen=True)
class MtWilsonRules:
    """Thresholds of :func:`classify_field` (gauss; fractions of the group's unsigned flux).

    The defaults agree with the synthetic generator's own classes on 95% of its spotted HMI
    region-days and on the delta flag of 95% (``benchmarks/mtwilson_rules.py``).
    """

    strong_g: float = 800.0
    umbra_g: float = 1200.0
    penumbra_g: float = 800.0
    unipolar_frac: float = 0.1
    line_frac: float = 0.1
    gamma_frac: float = 0.3
    delta_deg: float = 2.0
    bridge_deg: float = 0.2


def line_separation(x: np.ndarray, y: np.ndarray, b: np.ndarray, n_angles: int = 180) -> float:
    """Smallest fraction of ``sum |b|`` on the wrong side of any straight line.

    For every direction (``n_angles`` over 180 degrees) the points are projected on the normal and
    the best threshold, with either polarity on either side, is found exactly from the cumulative
    flux; 0 means one line separates the polarities, 0.5 that no line does better than chance.
    """
    w = np.abs(b).astype(float)
    total = w.sum()
    if total == 0:
        return 0.0
    pos = np.where(b > 0, w, 0.0)
    neg = np.where(b < 0, w, 0.0)
    best = 0.5
    for theta in np.linspace(0.0, np.pi, n_angles, endpoint=False):
        proj = x * np.cos(theta) + y * np.sin(theta)
        order = np.argsort(proj, kind="stable")
        cp = np.concatenate([[0.0], np.cumsum(pos[order])])
        cn = np.concatenate([[0.0], np.cumsum(neg[order])])
        # positives left of the cut and negatives right of it are wrong (or the reverse)
        wrong = np.minimum(cp + (cn[-1] - cn), cn + (cp[-1] - cp))
        best = min(best, float(wrong.min() / total))
    return best


def _has_delta(bmap: np.ndarray, px_deg: float, rules: MtWilsonRules) -> bool:
    """Opposite umbrae closer than ``delta_deg``, joined by one penumbra."""
    umbra_p, umbra_n = bmap >= rules.umbra_g, bmap <= -rules.umbra_g
    if not umbra_p.any() or not umbra_n.any():
        return False
    dist_to_n = ndimage.distance_transform_edt(~umbra_n) * px_deg
    close = umbra_p & (dist_to_n < rules.delta_deg)
    if not close.any():
        return False
    # one penumbra: the |B| >= penumbra_g area, closed over the thin zero-crossing gap that a
    # line-of-sight map shows between opposite umbrae in it
    radius = max(1, int(np.ceil(rules.bridge_deg / px_deg)))
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    disk = xx**2 + yy**2 <= radius**2
    strong = ndimage.binary_closing(np.abs(bmap) >= rules.penumbra_g, structure=disk)
    penumbra, _ = ndimage.label(strong | umbra_p | umbra_n)
    shared = set(np.unique(penumbra[close])) & set(np.unique(penumbra[umbra_n]))
    return bool(shared - {0})


def classify_field(
    bmap: np.ndarray, px_deg: float, rules: MtWilsonRules | None = None
) -> tuple[str, bool]:
    """``(class, delta)`` of a region map (gauss, ``px_deg`` heliographic degrees per pixel).

    Class is one of ``alpha``, ``beta``, ``beta-gamma``, ``gamma`` (:mod:`module doc
    <flarepipe.core.mtwilson>`); ``ValueError`` when no pixel reaches ``strong_g``.
    """
    r = rules or MtWilsonRules()
    b = np.nan_to_num(np.asarray(bmap, dtype=float))
    strong = np.abs(b) >= r.strong_g
    if not strong.any():
        raise ValueError(f"no pixel reaches {r.strong_g} G: no sunspot, so no Mt. Wilson class")
    yy, xx = np.nonzero(strong)
    vals = b[yy, xx]
    flux = np.abs(vals).sum()
    minority = min(vals[vals > 0].sum(), -vals[vals < 0].sum()) / flux
    if minority < r.unipolar_frac:
        return "alpha", False
    wrong = line_separation(xx.astype(float), yy.astype(float), vals)
    if wrong < r.line_frac:
        cls = "beta"
    elif wrong > r.gamma_frac:
        cls = "gamma"
    else:
        cls = "beta-gamma"
    return cls, _has_delta(b, px_deg, r)
