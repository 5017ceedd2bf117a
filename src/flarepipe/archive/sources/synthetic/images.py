"""Magnetograms of synthetic regions: sunspots, plage, quiet-Sun network, noise, point-spread.

A region at one time step is a :class:`Scene`: bipolar plage envelopes (the S1 field of
:mod:`flarepipe.core.bipole`, one per emerging bipole), a list of :class:`Spot` (umbra, penumbra
with radial filaments, or a pore), and the geometry of its planted causes. :func:`render` draws it
on a CEA grid as the radial-field estimate ``B_LOS/μ``:

- plage: the envelope, modulated on ~4 Mm scales (a lognormal of its own) and on the scale of
  single flux elements (a lognormal "texture" of correlation length ``InstrumentSpec.element_mm``),
  so that its ~100–200 G mean field is made of kG-like knots and gaps, as real plage;
- sunspots: umbra ~1.7–2.6 kG at the centre (HMI-like; MDI reads ×1.3), penumbra falling from
  ~1.4 kG to ~0.5 kG with filaments, a moat around them where the plage is swept away; pores below
  ~2 Mm radius;
- quiet-Sun network: mixed-polarity domains of a few Mm times the element texture, everywhere;
- noise: Gaussian, ``noise_g/μ``, correlated between neighbours as in the real CEA remaps; the
  field seen through the instrument's point-spread kernel (FWHM ~1.7 px).

The textures of a region are drawn once (:class:`RegionTextures`) and evolve slowly between records
(a rotation between two independent fields keeps their statistics); the noise is new per record.
The envelopes are evaluated on a grid of MDI resolution and interpolated bilinearly to HMI pixels.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
from scipy import ndimage
from scipy.special import ndtri

from flarepipe.archive.sources.synthetic.params import InstrumentSpec
from flarepipe.archive.sources.synthetic.regions import SPOT_MIN_FLUX, spot_fraction
from flarepipe.core.bipole import A_SHAPE, b0_for_flux, bipole_field, bipole_frame, lobe_offset
from flarepipe.core.magnetic import RSUN_MM, pixel_size_mm

__all__ = [
    "Spot",
    "Bipole",
    "Scene",
    "scene_at",
    "RegionTextures",
    "render",
    "scene_cause_mask",
    "patch_shape",
    "spot_radii",
    "PIL_HALF_WIDTH",
    "PIL_HALF_LENGTH",
]

#: the planted-cause band around a rotated bipole's inversion line: half-width (Mm; a band of
#: ~3 px at MDI/feature resolution, as the dilated strong-field PILs of Schrijver 2007 and Yi
#: et al.) and half-length (units of aρ) of its strong-gradient part, where the S1 field's gradient
#: across the line, ∝ exp(−2 arcsin²(v)/(aρ)²), is at least half its peak: 2 arcsin²(v) = ln 2·(aρ)²
PIL_HALF_WIDTH, PIL_HALF_LENGTH = 2.0, math.sqrt(math.log(2.0) / 2.0)
_PENUMBRA_RATIO = 2.3  # R_penumbra / R_umbra (umbra ≈ 19% of the spot's area, as observed)
_PORE_MAX_RADIUS_MM = 2.0
_PENUMBRA_DROP = 0.5  # the penumbra's field falls linearly by this share from inner to outer edge
_PATCH_EDGE = 0.15  # sharpness of plage-patch edges (in units of the patch field's σ)
_COARSE_DEG = 0.12  # envelope grid (MDI resolution)
_MM_PER_RAD = RSUN_MM
#: mean-field scales (G) at which strong plage and the halo flatten (:func:`_plage_envelope`)
PLAGE_CAP_G, HALO_CAP_G = 150.0, 30.0
#: share of a region's flux (at full development) dispersed in a halo of ``HALO_SIZE`` times its ρ
HALO_SHARE, HALO_SIZE = 0.0, 1.0


def _spot_shape(q: np.ndarray) -> np.ndarray:
    """Normalised field of a spot at radius ``q = r/R_umbra`` (1 at the centre)."""
    Q = _PENUMBRA_RATIO
    out = np.where(q < 1.0, 1.0 - 0.35 * q * q, 0.0)
    pen = (q >= 1.0) & (q < Q)
    qp = np.clip((q - 1.0) / (Q - 1.0), 0.0, 1.0)
    out = np.where(pen, 0.65 * (1.0 - _PENUMBRA_DROP * qp), out)
    edge = 0.65 * (1.0 - _PENUMBRA_DROP)
    return np.where(q >= Q, edge * np.exp(-(((q - Q) / 0.25) ** 2)), out)


def _pore_shape(q: np.ndarray) -> np.ndarray:
    return np.exp(-0.598 * q * q)  # 0.55 of the peak at q = 1


@functools.lru_cache(maxsize=2)
def _shape_integral(pore: bool) -> float:
    """``∫ shape(q) 2πq dq``: flux of a spot is ``B_peak · R_umbra² · K``."""
    q = np.linspace(0.0, 6.0, 24001)
    f = _pore_shape(q) if pore else _spot_shape(q)
    return float(np.trapezoid(f * 2.0 * np.pi * q, q))


def spot_radii(flux_mx: float) -> tuple[float, float, float, bool]:
    """Umbral radius (Mm), outer radius (Mm), peak field (G, HMI-like) and whether it is a pore.

    Spots: ``B_peak = 1700 + 900 (1 − e^{−R_u/3 Mm})`` G; penumbra out to 2.3 ``R_u``. A spot whose
    penumbra would be smaller than 2 Mm is a pore (no penumbra, 1.2–1.7 kG).
    """
    cm2 = 1e16  # per Mm²
    r_u = 3.0
    for _ in range(4):
        b_peak = 1700.0 + 900.0 * (1.0 - math.exp(-r_u / 3.0))
        r_u = math.sqrt(flux_mx / (b_peak * _shape_integral(False) * cm2))
    if _PENUMBRA_RATIO * r_u >= _PORE_MAX_RADIUS_MM:
        return r_u, _PENUMBRA_RATIO * r_u, b_peak, False
    r = 1.0
    for _ in range(4):
        b_peak = 1200.0 + 500.0 * min(1.0, r / 1.5)
        r = math.sqrt(flux_mx / (b_peak * _shape_integral(True) * cm2))
    return r, 1.3 * r, b_peak, True


@dataclasses.dataclass(frozen=True)
class Spot:
    """One sunspot or pore: centre (rad, image frame), sizes (Mm), peak field (G), polarity."""

    x: float
    y: float
    r_umbra_mm: float
    r_outer_mm: float
    b_peak: float
    sign: int
    pore: bool
    ell: float = 1.0  # axis ratio
    ang: float = 0.0  # orientation of the long axis (rad)
    fil_seed: int = 0

    @property
    def area_uhem(self) -> float:
        """Area of the spot (umbra and penumbra), micro-hemispheres."""
        return math.pi * self.r_outer_mm**2 * self.ell / (2.0 * math.pi * RSUN_MM**2) * 1e6


@dataclasses.dataclass(frozen=True)
class Bipole:
    """A plage envelope: the S1 bipole field carrying ``flux`` Mx (unsigned), leading sign at +u."""

    flux: float
    rho: float
    theta_deg: float
    dx: float
    dy: float
    lead_sign: int
    cap: float = (
        150.0  # mean-field scale (G) at which the envelope flattens (:func:`_plage_envelope`)
    )


@dataclasses.dataclass(frozen=True)
class Scene:
    """Everything drawn at one step of a region, and the geometry of its planted causes."""

    bipoles: tuple[Bipole, ...]
    spots: tuple[Spot, ...]
    pil: Bipole | None  # the rotated main bipole whose inversion-line band is a planted cause
    delta_discs: tuple[tuple[float, float, float], ...]  # (x, y, radius) rad: delta-spot cores
    mtwilson: str  # Mt. Wilson class as NOAA's SRS spells it ("" without spots)
    spot_area_uhem: float


def _to_image(
    u: float, v: float, theta_deg: float, dx: float = 0.0, dy: float = 0.0
) -> tuple[float, float]:
    th = math.radians(theta_deg)
    return dx + u * math.cos(th) - v * math.sin(th), dy + u * math.sin(th) + v * math.cos(th)


def _make_spot(
    flux: float, x: float, y: float, sign: int, ell: float, ang: float, seed: int
) -> Spot | None:
    if flux < SPOT_MIN_FLUX:
        return None
    r_u, r_o, b_peak, pore = spot_radii(flux)
    return Spot(x, y, r_u, r_o, b_peak, int(sign), pore, ell, ang, seed)


def scene_at(reg: dict, geo: dict, k: int) -> Scene:
    """The :class:`Scene` of region ``reg`` (``simulate_region``) at its step ``k``.

    Geometry follows the region's life: the bipole's lobes separate while it emerges
    (``ρ`` from 0.55 to 1 of ``rho_max``) and spread as it decays; the spots hold a share of the
    flux that grows with the flux and shrinks in decay, the following spots faster.
    """
    phi_max = max(reg["phi_max"], 1.0)
    main = float(reg["phi_main"][k])
    g = min(1.0, main / phi_max)
    growing = reg["age"][k] < 4.0 * reg["t_grow"]
    rho = (
        reg["rho_max"]
        * (0.55 + 0.45 * (g if growing else 1.0))
        * (1.0 + (0.0 if growing else 0.5 * (1.0 - g)))
    )
    tilt = reg["tilt_img"]
    sign = int(reg["lead_sign"])
    share = geo["f_spot"] * math.sqrt(g)
    lead_flux = main * share * geo["f_lead"]
    follow_flux = main * share * (1.0 - geo["f_lead"]) * math.sqrt(g)
    # the dispersed flux around a region: a wide, weak halo of the same bipole, growing with age
    halo = main * (HALO_SHARE + (0.0 if growing else 0.25 * (1.0 - g)))
    plage_flux = max(0.0, main - lead_flux - follow_flux - halo)
    bipoles = [
        Bipole(plage_flux, rho, tilt, 0.0, 0.0, sign, PLAGE_CAP_G),
        Bipole(halo, HALO_SIZE * rho, tilt, 0.0, 0.0, sign, HALO_CAP_G),
    ]
    L = lobe_offset(rho)
    spots: list[Spot] = []
    lg = geo["lead"]
    lx, ly = _to_image(lg["u"] * L, lg["v"] * rho, tilt)
    lead = _make_spot(lead_flux, lx, ly, sign, lg["ell"], lg["ang"], lg["fil"])
    if lead:
        spots.append(lead)
    follow = []
    for fg in geo["follow"]:
        fx, fy = _to_image(fg["u"] * L, fg["v"] * rho, tilt)
        s = _make_spot(follow_flux * fg["share"], fx, fy, -sign, fg["ell"], fg["ang"], fg["fil"])
        if s:
            follow.append(s)
    spots += follow
    delta_discs = []
    intruder = None
    if reg["delta"] and lead is not None and not lead.pore:
        dg = geo["delta"]
        fl = dg["share"] * lead_flux
        r_i = spot_radii(fl)[0] if fl >= SPOT_MIN_FLUX else 0.0
        if r_i > 0:
            d = (lead.r_umbra_mm + 0.9 * r_i) / _MM_PER_RAD
            ang = math.radians(tilt) + dg["angle"]
            ix, iy = lx + d * math.cos(ang), ly + d * math.sin(ang)
            intruder = _make_spot(fl, ix, iy, -sign, 1.0, 0.0, dg["fil"])
        if intruder is not None:
            spots.append(intruder)
            r_rad = intruder.r_umbra_mm / _MM_PER_RAD
            edge = lead.r_umbra_mm / _MM_PER_RAD
            delta_discs = [
                (ix, iy, r_rad),
                (lx + edge * math.cos(ang), ly + edge * math.sin(ang), r_rad),
            ]
    gamma = False
    scale = reg["rho_max"] / math.radians(1.9)  # secondaries' offsets are drawn for a ρ of 1.9°
    for j, sec in enumerate(reg["secondaries"]):
        f = float(reg["phi_sec"][j, k])
        if f <= 1e19:
            continue
        gs = min(1.0, f / (sec["frac"] * phi_max))
        rho_s = reg["rho_max"] * 0.5 * (0.5 + 0.5 * gs)
        dx, dy = math.radians(sec["dx"]) * scale, math.radians(sec["dy"]) * scale
        fs = f * spot_fraction(f) * math.sqrt(gs)
        placed = []
        if fs >= 2 * SPOT_MIN_FLUX:
            Ls = lobe_offset(rho_s)
            for side, sg in ((1.0, sign), (-1.0, -sign)):
                sx, sy = _to_image(side * Ls, 0.0, sec["tilt"], dx, dy)
                s = _make_spot(fs / 2, sx, sy, sg, 1.0, 0.0, geo["sec_fil"][j] + (side > 0))
                if s:
                    placed.append(s)
        spots += placed
        bipoles.append(
            Bipole(
                max(0.0, f - fs * (len(placed) > 0)), rho_s, sec["tilt"], dx, dy, sign, PLAGE_CAP_G
            )
        )
        off = abs((sec["tilt"] - tilt + 180.0) % 360.0 - 180.0)
        if len(placed) == 2 and off > 60.0 and f > 0.3 * main:
            gamma = True
    counted = [s for s in spots if s.area_uhem >= 2.0]
    area = float(sum(s.area_uhem for s in counted))
    pols = {s.sign for s in counted}
    if not counted:
        cls = ""
    elif len(pols) == 1:
        cls = "ALPHA"
    else:
        cls = "BETA" + ("-GAMMA" if gamma else "")
        if intruder is not None and intruder.area_uhem >= 2.0:
            cls += "-DELTA"
    pil = bipoles[0] if reg["rotated"] else None
    return Scene(tuple(bipoles), tuple(spots), pil, tuple(delta_discs), cls, area)


# --------------------------------------------------------------------------------------------------
# textures and grids


def _factor(inst: InstrumentSpec) -> int:
    return max(1, int(round(_COARSE_DEG / inst.cdelt_deg)))


def _unit_field(rng: np.random.Generator, shape: tuple[int, int], sigma_px: float) -> np.ndarray:
    f = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), sigma_px, mode="wrap")
    return (f / max(float(f.std()), 1e-12)).astype(np.float32)


class _Grid:
    """Pixel and envelope-grid coordinates of an ``ny × nx`` patch, and bilinear interpolation."""

    def __init__(self, inst: InstrumentSpec, ny: int, nx: int):
        self.ny, self.nx, self.f = ny, nx, _factor(inst)
        cd = math.radians(inst.cdelt_deg)
        f = self.f
        self.x = ((np.arange(nx) - (nx - 1) / 2.0) * cd).astype(np.float32)
        self.y = ((np.arange(ny) - (ny - 1) / 2.0) * cd).astype(np.float32)
        if f == 1:
            self.cx, self.cy = self.x, self.y
            return
        # envelope points at fine positions f·J + (f−1)/2, J = −1 … ceil(n/f)
        jx = np.arange(-1, -(-nx // f) + 1)
        jy = np.arange(-1, -(-ny // f) + 1)
        self.cx = ((f * jx + (f - 1) / 2.0 - (nx - 1) / 2.0) * cd).astype(np.float32)
        self.cy = ((f * jy + (f - 1) / 2.0 - (ny - 1) / 2.0) * cd).astype(np.float32)

        def weights(n):
            p = (np.arange(n) - (f - 1) / 2.0) / f
            j0 = np.floor(p).astype(np.int64)
            return j0 + 1, (p - j0).astype(np.float32)

        self.ix, self.tx = weights(nx)
        self.iy, self.ty = weights(ny)
        # how much of each envelope node the pixels receive: Σ pixels = wy · c · wx
        self.wx = np.bincount(self.ix, 1 - self.tx, len(jx)) + np.bincount(
            self.ix + 1, self.tx, len(jx)
        )
        self.wy = np.bincount(self.iy, 1 - self.ty, len(jy)) + np.bincount(
            self.iy + 1, self.ty, len(jy)
        )

    def pixel_sum(self, c: np.ndarray) -> float:
        """``upsample(c).sum()`` without upsampling."""
        if self.f == 1:
            return float(np.sum(c, dtype=np.float64))
        return float(self.wy @ c.astype(np.float64) @ self.wx)

    def upsample(self, c: np.ndarray) -> np.ndarray:
        """Bilinear interpolation of an envelope-grid field to the pixels.

        Between envelope nodes ``J`` and ``J+1`` lie ``f`` pixels at fractions ``(j + 1/2)/f``; the
        interpolation is done with slices (no gathers), first along x, then along y.
        """
        if self.f == 1:
            return c
        f = self.f
        t = ((np.arange(f) + 0.5) / f).astype(np.float32)
        lo = f // 2  # the first pixel lies this far into the first segment

        def along_x(a):
            seg = a[:, :-1, None] + (a[:, 1:, None] - a[:, :-1, None]) * t
            return seg.reshape(a.shape[0], -1)[:, lo : lo + self.nx]

        rows = along_x(c)
        seg = rows[:-1, None, :] + (rows[1:, None, :] - rows[:-1, None, :]) * t[:, None]
        return seg.reshape(-1, self.nx)[lo : lo + self.ny]


class RegionTextures:
    """The slowly evolving small-scale structure of one region's patch (drawn once per region).

    Two independent unit Gaussian fields per scale, mixed at an angle that turns with time
    (``cos θ·A + sin θ·B`` keeps the statistics): on the pixels, the flux-element texture
    (``element_mm``, period 1 day) and the field whose level sets carve plage patches (~1.5 Mm,
    2 days); on the envelope grid, the network polarity (~3 Mm, 3 days) and the mixed-polarity
    field (~1.5 Mm, 2 days).
    """

    def __init__(self, inst: InstrumentSpec, ny: int, nx: int, seed: list[int]):
        rng = np.random.default_rng(seed)
        self.inst = inst
        self.grid = _Grid(inst, ny, nx)
        px = pixel_size_mm(inst.cdelt_deg)
        cpx = pixel_size_mm(inst.cdelt_deg * self.grid.f)
        cshape = (len(self.grid.cy), len(self.grid.cx))
        self.g = [_unit_field(rng, (ny, nx), inst.element_mm / px) for _ in range(2)]
        self.p = [_unit_field(rng, (ny, nx), 1.5 / px) for _ in range(2)]
        self.h = [_unit_field(rng, cshape, 3.0 / cpx) for _ in range(2)]
        self.x = [_unit_field(rng, cshape, 1.5 / cpx) for _ in range(2)]
        self.phase = rng.uniform(0.0, 2.0 * math.pi, 4)

    @staticmethod
    def _mix(pair, angle):
        return pair[0] * np.float32(math.cos(angle)) + pair[1] * np.float32(math.sin(angle))

    def at(self, t_days: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Element texture (lognormal, mean 1) and plage-patch field (unit Gaussian) on the pixels;
        network polarity and mixed-polarity field (unit Gaussian) on the envelope grid.
        """
        s = self.inst.intermittency
        tex = np.exp(
            self._mix(self.g, self.phase[0] + 2 * math.pi * t_days) * np.float32(s)
            - np.float32(s * s / 2)
        )
        patches = self._mix(self.p, self.phase[1] + 2 * math.pi * t_days / 2.0)
        net = self._mix(self.h, self.phase[2] + 2 * math.pi * t_days / 3.0)
        mixed = self._mix(self.x, self.phase[3] + 2 * math.pi * t_days / 2.0)
        return tex, patches, net, mixed


@functools.lru_cache(maxsize=1)
def _noise_table() -> np.ndarray:
    """Gaussian quantiles at 65,536 equal-probability levels, scaled to unit variance."""
    q = ndtri((np.arange(65536) + 0.5) / 65536.0)
    return (q / q.std()).astype(np.float32)


def _psf(a: np.ndarray, w: tuple[float, ...]) -> np.ndarray:
    """Separable symmetric kernel ``w`` (odd length) along both axes, edges replicated."""
    w = tuple(np.float32(x) for x in w)
    h = len(w) // 2
    if h == 1:
        w0, w1 = w[0], w[1]
        out = a * w1
        out[:, 1:] += w0 * a[:, :-1]
        out[:, :-1] += w0 * a[:, 1:]
        out[:, 0] += w0 * a[:, 0]
        out[:, -1] += w0 * a[:, -1]
        res = out * w1
        res[1:] += w0 * out[:-1]
        res[:-1] += w0 * out[1:]
        res[0] += w0 * out[0]
        res[-1] += w0 * out[-1]
        return res

    def along(x: np.ndarray, axis: int) -> np.ndarray:
        n = x.shape[axis]
        pad = [(0, 0), (0, 0)]
        pad[axis] = (h, h)
        xp = np.pad(x, pad, mode="edge")
        out = x * w[h]
        for k in range(1, h + 1):
            lo = [slice(None), slice(None)]
            hi = [slice(None), slice(None)]
            lo[axis] = slice(h - k, h - k + n)
            hi[axis] = slice(h + k, h + k + n)
            out += w[h - k] * (xp[tuple(lo)] + xp[tuple(hi)])
        return out

    return along(along(a, 1), 0)


def _plage_envelope(bipoles, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The plage's mean field on the envelope grid: each S1 envelope flattened, with its flux.

    Plage holds a typical mean field: where an S1 envelope would be denser than its ``cap`` the
    flux spreads outwards, ``cap·tanh(B/cap)`` rescaled to the envelope's flux on the grid (a few
    fixed-point steps). Strong plage has a cap of ~150 G, the dispersed halo ~30 G.
    """
    out = np.zeros((len(y), len(x)), dtype=np.float32)
    for bp in bipoles:
        env = _envelope([bp], x, y)
        total = float(np.sum(np.abs(env), dtype=np.float64))
        if total <= 0:
            continue
        cap = np.float32(bp.cap)
        if float(np.abs(env).max()) > 0.3 * bp.cap:
            flat = env
            for _ in range(4):
                scale = total / max(float(np.sum(np.abs(flat), dtype=np.float64)), 1e-30)
                flat = np.tanh(env * np.float32(scale) / cap) * cap
            env = flat * np.float32(
                total / max(float(np.sum(np.abs(flat), dtype=np.float64)), 1e-30)
            )
        out += env
    return out


def _envelope(bipoles, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.zeros((len(y), len(x)), dtype=np.float32)
    xx, yy = x[None, :], y[:, None]
    for bp in bipoles:
        if bp.flux <= 0:
            continue
        u, v = bipole_frame(xx, yy, bp.theta_deg, bp.dx, bp.dy)
        out += bipole_field(u, v, b0_for_flux(bp.flux, bp.rho) * (-bp.lead_sign), bp.rho)
    return out


def _spot_box(spot: Spot, grid: _Grid, cd: float):
    """Bounding box of ``spot``'s reach (moat included) and its distances there (Mm, normalised)."""
    px_mm = cd * _MM_PER_RAD
    reach = max(2.0 * spot.r_outer_mm, spot.r_outer_mm + 2.0) * spot.ell
    cxp = spot.x / cd + (grid.nx - 1) / 2.0
    cyp = spot.y / cd + (grid.ny - 1) / 2.0
    rp = reach / px_mm
    x0, x1 = max(0, int(cxp - rp)), min(grid.nx, int(cxp + rp) + 2)
    y0, y1 = max(0, int(cyp - rp)), min(grid.ny, int(cyp + rp) + 2)
    if x0 >= x1 or y0 >= y1:
        return None
    dx = (np.arange(x0, x1, dtype=np.float32) - np.float32(cxp))[None, :] * np.float32(px_mm)
    dy = (np.arange(y0, y1, dtype=np.float32) - np.float32(cyp))[:, None] * np.float32(px_mm)
    c, s = np.float32(math.cos(spot.ang)), np.float32(math.sin(spot.ang))
    a = (dx * c + dy * s) / np.float32(spot.ell)
    b = -dx * s + dy * c
    r = np.sqrt(a * a + b * b)
    return (slice(y0, y1), slice(x0, x1)), r, a, b


def _draw_spots(field: np.ndarray, spots, grid: _Grid, cd: float, calibration: float) -> None:
    """Sweep the moats around ``spots``, then draw each spot over what lies beneath it, in place.

    A spot replaces the field inside ~1.3 umbral radii (so a delta spot's intruding umbra sits in
    the leading spot's penumbra) and adds its own profile; penumbrae carry radial filaments.
    """
    boxes = [_spot_box(s, grid, cd) for s in spots]
    for spot, bx in zip(spots, boxes, strict=True):
        if bx is not None:
            sl, r, _, _ = bx
            field[sl] *= 1.0 - 0.85 * np.exp(-((r / np.float32(1.6 * spot.r_outer_mm)) ** 4))
    for spot, bx in zip(spots, boxes, strict=True):
        if bx is None:
            continue
        sl, r, a, b = bx
        q = r / np.float32(spot.r_umbra_mm)
        if spot.pore:
            prof = _pore_shape(q)
        else:
            prof = _spot_shape(q)
            # penumbral filaments: radial streaks from a few random azimuthal harmonics
            rng = np.random.default_rng(spot.fil_seed)
            phi = np.arctan2(b, a)
            circ = 2 * math.pi * spot.r_outer_mm
            fil = np.zeros_like(q)
            for _ in range(4):
                m = max(6, int(round(circ / rng.uniform(1.2, 2.5))))
                fil += np.cos(
                    m * phi
                    + np.float32(rng.uniform(0, 2 * math.pi))
                    + np.float32(rng.normal(0, 1.5)) * q
                )
            pen = np.clip((q - 1.0) / 0.2, 0.0, 1.0) * np.clip(
                (_PENUMBRA_RATIO + 0.3 - q) / 0.3, 0.0, 1.0
            )
            prof = prof * (1.0 + np.float32(0.3 / math.sqrt(2.0)) * pen * fil)
        field[sl] *= 1.0 - np.exp(-((q / np.float32(1.3)) ** 4))
        field[sl] += prof * np.float32(spot.sign * spot.b_peak * calibration)


def render(
    scene: Scene, tex: RegionTextures, mu: float, t_days: float, rng: np.random.Generator
) -> np.ndarray:
    """The stored magnetogram (``B_LOS/μ``, G, float32, ``tex``'s shape) of ``scene`` at ``t_days``.

    ``mu`` is the cosine of the region's heliocentric angle (noise ``noise_g/μ``); ``rng`` draws the
    noise.
    """
    inst, grid = tex.inst, tex.grid
    element, patches, net, mixed = tex.at(t_days)
    env = _plage_envelope(scene.bipoles, grid.cx, grid.cy)
    cal, sat = np.float32(inst.calibration), np.float32(inst.plage_sat_g)
    # plage: patches of mean field ``plage_g`` covering the share |env|/plage_g of the area (level
    # sets of a Gaussian field), of the envelope's polarity except for intrusions where
    # 1 + χ·mixed < 0, textured by the flux elements, rescaled to the envelope's flux in the patch
    cover = np.clip(np.abs(env) * np.float32(1.0 / inst.plage_g), 1e-6, 0.995)
    level = np.clip(ndtri(1.0 - cover), -3.0, 4.5).astype(np.float32)
    polarity = np.sign(env * (1.0 + np.float32(inst.mixing) * mixed)) * np.float32(inst.plage_g)
    inside = np.tanh((patches - grid.upsample(level)) * np.float32(1.0 / (2 * _PATCH_EDGE))) + 1.0
    plage = grid.upsample(polarity) * inside * np.sqrt(element)
    plage = np.tanh(plage * (cal / sat)) * sat
    target = grid.pixel_sum(np.abs(env)) * float(cal)
    have = float(np.sum(np.abs(plage), dtype=np.float64))
    if have > 0:
        plage *= np.float32(target / have)
    field = plage + grid.upsample(net * np.float32(inst.network_g)) * element
    cd = math.radians(inst.cdelt_deg)
    _draw_spots(field, scene.spots, grid, cd, inst.spot_calibration)
    strong = np.float32(inst.strong_sat_g)  # the magnetograph saturates in umbrae (MDI strongly)
    field = np.tanh(field / strong) * strong
    # white noise seen through the remapping's kernel: its std after the kernel is noise_g/μ (the
    # 2-D kernel's gain is the square of the 1-D Σw²); the field through the optics' kernel
    sigma = inst.noise_g / max(mu, 0.05) / sum(w * w for w in inst.psf_noise)
    noise = _noise_table()[rng.integers(0, 65536, size=field.shape, dtype=np.uint16)] * np.float32(
        sigma
    )
    if inst.psf == inst.psf_noise:
        return _psf(field + noise, inst.psf)
    return _psf(field, inst.psf) + _psf(noise, inst.psf_noise)


def scene_cause_mask(scene: Scene, inst: InstrumentSpec, nx: int, ny: int) -> np.ndarray:
    """Planted-cause mask of ``scene`` on an ``ny × nx`` grid (bool).

    True on the strong-gradient inversion-line band of a rotated main bipole (``|u| ≤``
    :data:`PIL_HALF_WIDTH` Mm, at least 1.5 px; ``|v| ≤ sin(`` :data:`PIL_HALF_LENGTH` ``·aρ)``,
    where the gradient across the line is at least half its peak) and on the delta-spot cores (the
    intruding umbra and the part of the leading umbra facing it, discs of the intruder's umbral
    radius, at least 1.5 px). Empty when the region has neither.
    """
    grid = _Grid(inst, ny, nx)
    cd = math.radians(inst.cdelt_deg)
    xx, yy = grid.x[None, :].astype(np.float64), grid.y[:, None].astype(np.float64)
    mask = np.zeros((ny, nx), dtype=bool)
    if scene.pil is not None:
        bp = scene.pil
        u, v = bipole_frame(xx, yy, bp.theta_deg, bp.dx, bp.dy)
        half_w = max(PIL_HALF_WIDTH / _MM_PER_RAD, 1.5 * cd)
        half_l = math.sin(min(PIL_HALF_LENGTH * A_SHAPE * bp.rho, math.pi / 2))
        mask |= (np.abs(u) <= half_w) & (np.abs(v) <= half_l)
    for x, y, r in scene.delta_discs:
        mask |= np.hypot(xx - x, yy - y) <= max(r, 1.5 * cd)
    return mask


def patch_shape(
    reg: dict, geo: dict, inst: InstrumentSpec, max_patch_deg: float
) -> tuple[int, int]:
    """Fixed ``(nx, ny)`` of a region's patches: the box around its region mask over its passage.

    Like a HARP's, the box holds the largest extent of the region (its flux smoothed over 8 Mm above
    ~12 G, the :func:`flarepipe.core.magnetic.activity_mask` rule) at any tracked step, plus a
    margin of 3 Mm; each side is at most ``max_patch_deg``.
    """
    n = len(reg["t"])
    if n == 0:
        return 0, 0
    ks = sorted(
        set(np.linspace(0, n - 1, min(n, 10)).astype(int).tolist()) | {int(np.argmax(reg["phi"]))}
    )
    cd = math.radians(_COARSE_DEG)
    half = math.radians(max_patch_deg / 2.0 + 1.0)
    m = int(half / cd)
    x = (np.arange(-m, m + 1) * cd).astype(np.float32)
    px = pixel_size_mm(_COARSE_DEG)
    ext_x = ext_y = 0.0
    for k in ks:
        sc = scene_at(reg, geo, k)
        a = np.abs(_plage_envelope(sc.bipoles, x, x)) * inst.calibration
        for s in sc.spots:
            flux_g_cm2 = (
                s.b_peak * s.r_umbra_mm**2 * 1e16 * _shape_integral(s.pore) * inst.spot_calibration
            )
            sig = max(s.r_outer_mm / 2.0, 0.5)
            blob = flux_g_cm2 / (2 * math.pi * (sig * 1e8) ** 2)
            d2 = ((x[None, :] - s.x) ** 2 + (x[:, None] - s.y) ** 2) * _MM_PER_RAD**2
            a += blob * np.exp(-d2 / (2 * sig * sig))
        sm = ndimage.gaussian_filter(a, 8.0 / px, mode="constant") > 12.0
        if sm.any():
            ys, xs = np.nonzero(sm)
            ext_x = max(ext_x, float(np.abs(x[xs]).max()))
            ext_y = max(ext_y, float(np.abs(x[ys]).max()))
    margin = 3.0 / _MM_PER_RAD
    cap = math.radians(max_patch_deg)
    w = min(cap, max(math.radians(3.0), 2 * (ext_x + margin)))
    h = min(cap, max(math.radians(2.5), 2 * (ext_y + margin)))
    c = math.radians(inst.cdelt_deg)
    return int(round(w / c)), int(round(h / c))
