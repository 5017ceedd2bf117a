"""Synthetic probes: magnetograms whose answer is known, fed through a network's real preprocessing.

Two probe families, each swept one parameter at a time around a reference:

* ``bipole`` -- the bipolar-region model of SCIENCE.md S1 (Sun et al. 2022 Fig. 12),
  ``B(u, v) = -B0 (u/ρ) exp(-(u² + 2 arcsin²(v)) / (aρ)²)``, swept over ``b0_g``, ``rho_deg`` and
  ``tilt_deg`` (axis angle from the image x axis). The field is
  :func:`flarepipe.attribution.inputs.bipole_field`, the function the synthetic archive draws.
* ``uniform`` -- two discs of uniform field ±B (Bhattacharjee et al. 2020 Figs. 7, 9, 10), swept
  over ``radius_deg``, ``field_g``, ``orientation`` (``+-``: positive disc on the left; ``-+``), and
  the image's ``width_deg`` and ``aspect`` (height / width). Disc centres are ``3·radius`` apart.

Probes are drawn on the CEA grid of the dataset's primary instrument (0.03° SHARP, 0.12° SMARP) in
gauss, then go through :class:`flarepipe.attribution.inputs.Preprocessing`: HMI subsampling, resize
and the run's z-score for image networks; keywords computed from the map (the definitions the
archive uses), held constant over the sequence and standardised, for keyword networks.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from flarepipe.attribution.inputs import (
    CEA_PIXEL_DEG,
    AttributionInputError,
    Network,
    Preprocessing,
    bipole_field,
)
from flarepipe.attribution.methods import ScoreHead

__all__ = [
    "PROBE_DEFAULTS",
    "ProbeSpec",
    "bipole_map",
    "probe_inputs",
    "probe_maps",
    "probe_table",
    "uniform_bipole_map",
]

#: reference values and sweeps of the probe parameters (the ``attribution.probes`` section)
PROBE_DEFAULTS: dict[str, Any] = {
    "width_deg": 5.0,
    "aspect": 0.7,
    "noise_g": 0.0,
    "seed": 0,
    "bipole": {
        "reference": {"b0_g": 6000.0, "rho_deg": 1.2, "tilt_deg": 0.0},
        "b0_g": [500.0, 1000.0, 2000.0, 4000.0, 8000.0, 12000.0],
        "rho_deg": [0.4, 0.8, 1.2, 1.6, 2.0],
        "tilt_deg": [-90.0, -60.0, -30.0, 0.0, 30.0, 60.0, 90.0],
    },
    "uniform": {
        "reference": {
            "radius_deg": 0.5,
            "field_g": 1000.0,
            "orientation": "+-",
            "width_deg": 5.0,
            "aspect": 0.7,
        },
        "radius_deg": [0.2, 0.35, 0.5, 0.65, 0.8],
        "field_g": [250.0, 500.0, 1000.0, 2000.0, 3000.0],
        "orientation": ["+-", "-+"],
        "width_deg": [3.0, 4.0, 5.0, 6.0, 8.0],
        "aspect": [0.4, 0.55, 0.7, 0.85, 1.0],
    },
}
_SWEEPS = {
    "bipole": ("b0_g", "rho_deg", "tilt_deg"),
    "uniform": ("radius_deg", "field_g", "orientation", "width_deg", "aspect"),
}


def _grid(instrument: str, width_deg: float, aspect: float) -> tuple[np.ndarray, np.ndarray, float]:
    if instrument not in CEA_PIXEL_DEG:
        raise AttributionInputError(f"probes: unknown instrument {instrument!r}")
    cdelt = CEA_PIXEL_DEG[instrument]
    nx = max(8, int(round(width_deg / cdelt)))
    ny = max(8, int(round(width_deg * aspect / cdelt)))
    cd = math.radians(cdelt)
    x = (np.arange(nx) - (nx - 1) / 2.0) * cd
    y = (np.arange(ny) - (ny - 1) / 2.0) * cd
    xx, yy = np.meshgrid(x, y)
    return xx, yy, cd


def bipole_map(
    instrument: str,
    b0_g: float,
    rho_deg: float,
    tilt_deg: float,
    width_deg: float = 5.0,
    aspect: float = 0.7,
) -> np.ndarray:
    """The S1 bipolar region (G) on a ``width_deg x aspect·width_deg`` patch of ``instrument``."""
    if rho_deg <= 0:
        raise AttributionInputError(f"probes.bipole: rho_deg must be > 0, got {rho_deg}")
    xx, yy, _ = _grid(instrument, width_deg, aspect)
    th = math.radians(tilt_deg)
    u = xx * math.cos(th) + yy * math.sin(th)
    v = -xx * math.sin(th) + yy * math.cos(th)
    return bipole_field(u, v, float(b0_g), math.radians(rho_deg)).astype(np.float32)


def uniform_bipole_map(
    instrument: str,
    radius_deg: float,
    field_g: float,
    orientation: str = "+-",
    width_deg: float = 5.0,
    aspect: float = 0.7,
) -> np.ndarray:
    """Two uniform discs ±``field_g`` (G), centres ``3·radius_deg`` apart along x."""
    if orientation not in ("+-", "-+"):
        raise AttributionInputError(
            f"probes.uniform: orientation must be +- or -+, got {orientation!r}"
        )
    xx, yy, _ = _grid(instrument, width_deg, aspect)
    r = math.radians(radius_deg)
    left = np.hypot(xx + 1.5 * r, yy) <= r
    right = np.hypot(xx - 1.5 * r, yy) <= r
    sign = 1.0 if orientation == "+-" else -1.0
    return sign * float(field_g) * (left.astype(np.float32) - right.astype(np.float32))


@dataclasses.dataclass
class ProbeSpec:
    """One probe: family, swept parameter and value, and its full parameter set."""

    family: str
    parameter: str
    value: Any
    params: dict

    def draw(self, instrument: str, width_deg: float, aspect: float) -> np.ndarray:
        """The probe's magnetogram (G)."""
        p = dict(self.params)
        if self.family == "bipole":
            return bipole_map(instrument, p["b0_g"], p["rho_deg"], p["tilt_deg"], width_deg, aspect)
        w, asp = p.pop("width_deg", width_deg), p.pop("aspect", aspect)
        return uniform_bipole_map(
            instrument, p["radius_deg"], p["field_g"], p["orientation"], w, asp
        )


def _merge(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    out = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in PROBE_DEFAULTS.items()}
    for k, v in (cfg or {}).items():
        if k in ("bipole", "uniform") and isinstance(v, Mapping):
            fam = dict(out[k])
            for kk, vv in v.items():
                if kk == "reference":
                    fam["reference"] = {**fam["reference"], **dict(vv)}
                else:
                    fam[kk] = vv
            out[k] = fam
        elif k in out or k == "enabled":
            out[k] = v
        else:
            raise AttributionInputError(
                f"attribution.probes: unknown setting {k!r}; accepted: {sorted(PROBE_DEFAULTS)}"
            )
    return out


def probe_maps(
    cfg: Mapping[str, Any] | None = None,
) -> tuple[list[ProbeSpec], dict[str, Any]]:
    """Every probe of the sweeps in ``cfg`` (over :data:`PROBE_DEFAULTS`), and the settings."""
    c = _merge(cfg)
    specs = []
    for family, names in _SWEEPS.items():
        ref = c[family]["reference"]
        for name in names:
            for value in c[family].get(name) or []:
                specs.append(ProbeSpec(family, name, value, {**ref, name: value}))
    return specs, c


def probe_inputs(
    network: Network,
    pre: Preprocessing,
    instrument: str,
    specs: Sequence[ProbeSpec],
    settings: Mapping[str, Any],
    steps: int | None = None,
) -> np.ndarray:
    """Network inputs of ``specs``: images [N,1,S,S] or keyword sequences [N,T,K]."""
    rng = np.random.default_rng(int(settings.get("seed", 0)))
    out = []
    for spec in specs:
        bmap = spec.draw(instrument, float(settings["width_deg"]), float(settings["aspect"]))
        noise = float(settings.get("noise_g", 0.0))
        if noise > 0:
            bmap = bmap + rng.standard_normal(bmap.shape).astype(np.float32) * noise
        if network.input_key == "image":
            out.append(pre.image(bmap, instrument))
        else:
            if not steps:
                raise AttributionInputError("probes: sequence networks need the sequence length")
            out.append(pre.sequence_from_map(bmap, instrument, int(steps)))
    return np.stack(out).astype(np.float32)


def probe_table(
    network: Network,
    pre: Preprocessing,
    instrument: str,
    cfg: Mapping[str, Any] | None = None,
    steps: int | None = None,
    device: str | torch.device = "cpu",
) -> pd.DataFrame:
    """Flare probability of ``network`` for every probe of the sweeps.

    Returns
    -------
    DataFrame
        ``family, parameter, value, prob`` plus every probe parameter as a column
        (``b0_g, rho_deg, tilt_deg`` / ``radius_deg, field_g, orientation, width_deg, aspect``).
    """
    specs, settings = probe_maps(cfg)
    if not specs:
        return pd.DataFrame(columns=["family", "parameter", "value", "prob"])
    x = torch.from_numpy(probe_inputs(network, pre, instrument, specs, settings, steps))
    head = ScoreHead(network.module, network.n_outputs, probability=True).eval().to(device)
    with torch.no_grad():
        prob = head(x.to(device))[:, 1].float().cpu().numpy()
    rows = []
    for spec, p in zip(specs, prob, strict=True):
        rows.append(
            {
                "family": spec.family,
                "parameter": spec.parameter,
                "value": str(spec.value),
                **{k: v for k, v in spec.params.items()},
                "prob": float(p),
            }
        )
    return pd.DataFrame(rows)
