"""PROVISIONAL planted-cause masks of the synthetic archive, recomputed from today's generator.

.. warning::
   Provisional. The synthetic generator is being rewritten (h-synth, issue 18), which provides
   ``flarepipe.archive.sources.synthetic.cause_mask(archive_dir, record)`` itself. Until then
   this module rebuilds the latent state of a record's region from the archive's
   ``manifest.json`` (the generator is deterministic from its parameters) and draws the causes
   on the record's pixel grid. It uses private helpers of
   :mod:`flarepipe.archive.sources.synthetic`; delete this module once the generator's own
   ``cause_mask`` is merged (:mod:`flarepipe.attribution.inputs` prefers it already).

The planted causes of a region's flare rate that an image shows (the module docstring of the
generator lists the rate model):

* a *rotated* bipole (axis ≥ 55° from east-west): the band around its polarity inversion line,
  the line ``u = 0`` across the bipole axis, ``|u| <= 0.25·aρ`` and ``|v| <= aρ``
  (``a = 0.56``, ``ρ`` the half-separation at that time step; at least 1.5 px wide);
* a *delta spot*: the core of the compact reversed bipole pressed against the leading spot, a disc
  of radius ``a·ρ_δ`` (at least 1.5 px) around its centre.

A region with neither cause has an empty mask (its rate is set by flux and emergence only).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from flarepipe.core.timeutil import format_trec

__all__ = ["PIL_HALF_WIDTH", "PIL_HALF_LENGTH", "DELTA_RADIUS", "cause_mask"]

#: half-width of the PIL band across the bipole axis, in units of ``a·ρ``
PIL_HALF_WIDTH = 0.25
#: half-length of the PIL band along the PIL, in units of ``a·ρ``
PIL_HALF_LENGTH = 1.0
#: radius of the delta-spot core, in units of ``a·ρ_δ``
DELTA_RADIUS = 1.0
_A = 0.56  # shape constant of the bipole model (SCIENCE.md S1)


@functools.lru_cache(maxsize=8)
def _manifest(path: str) -> dict:
    return json.loads(Path(path).read_text())


@functools.lru_cache(maxsize=256)
def _region_state(manifest_path: str, instrument: str, region: int) -> dict:
    from flarepipe.archive.sources import synthetic as syn

    manifest = _manifest(manifest_path)
    if manifest.get("source") != "synthetic":
        raise ValueError(
            f"{manifest_path}: planted causes exist only for synthetic archives "
            f"(source is {manifest.get('source')!r})"
        )
    if manifest.get("generator") != syn.GENERATOR_VERSION:
        raise ValueError(
            f"{manifest_path}: archive made by {manifest.get('generator')!r}, this flarepipe's "
            f"generator is {syn.GENERATOR_VERSION!r}; the planted causes cannot be recomputed "
            "(regenerate the archive)"
        )
    fields = {f.name for f in dataclasses.fields(syn.SyntheticParams)}
    given = {k: v for k, v in manifest["parameters"].items() if k in fields}
    if "instruments" in given:
        given["instruments"] = tuple(given["instruments"])
    params = syn.SyntheticParams(**given)
    for job in syn._plan(params):
        _, inst_name, index, t_birth, span, number, _ = job
        if inst_name == instrument and int(number) == int(region):
            reg = syn.simulate_region(params, syn.INSTRUMENTS[inst_name], index, t_birth, span)
            inst = syn.INSTRUMENTS[inst_name]
            reg["trec"] = [format_trec(syn._trec_tai(inst, t)) for t in reg["t"]]
            return reg
    raise ValueError(f"{manifest_path}: no {instrument} region {region} in the synthetic plan")


def cause_mask(archive_dir: str | os.PathLike, record: Mapping[str, Any]) -> np.ndarray:
    """Planted-cause mask of one record of a synthetic archive, on the record's pixel grid.

    Parameters
    ----------
    archive_dir
        The archive folder (holds ``manifest.json``).
    record
        One row of ``records.csv`` (needs ``instrument``, ``region``, ``t_rec_tai``, ``nx``,
        ``ny``).

    Returns
    -------
    numpy.ndarray
        bool ``[ny, nx]``: True on the rotated bipole's PIL band and the delta-spot core.

    Raises
    ------
    ValueError
        When the archive is not synthetic or was made by another generator version, or the
        record is not in the generator's plan (named).
    """
    from flarepipe.archive.sources import synthetic as syn

    manifest_path = str(Path(archive_dir).resolve() / "manifest.json")
    if not Path(manifest_path).exists():
        raise FileNotFoundError(f"{manifest_path}: archive manifest not found")
    inst = syn.INSTRUMENTS[str(record["instrument"])]
    reg = _region_state(manifest_path, inst.name, int(record["region"]))
    try:
        k = reg["trec"].index(str(record["t_rec_tai"]))
    except ValueError:
        raise ValueError(
            f"{archive_dir}: record {record['t_rec_tai']} of {inst.name} region {record['region']} "
            "is not a time step of the planted region"
        ) from None
    nx, ny = int(record["nx"]), int(record["ny"])
    cd = math.radians(inst.cdelt_deg)
    x = (np.arange(nx) - (nx - 1) / 2.0) * cd
    y = (np.arange(ny) - (ny - 1) / 2.0) * cd
    xx, yy = np.meshgrid(x, y)
    mask = np.zeros((ny, nx), dtype=bool)
    growth = 0.55 + 0.45 * reg["phi_main"][k] / max(reg["phi_max"], 1.0)
    rho = reg["rho_max"] * growth  # as render_map
    th = math.radians(reg["tilt_img"])
    if reg["rotated"]:
        u = xx * math.cos(th) + yy * math.sin(th)
        v = -xx * math.sin(th) + yy * math.cos(th)
        half_w = max(PIL_HALF_WIDTH * _A * rho, 1.5 * cd)
        mask |= (np.abs(u) <= half_w) & (np.abs(v) <= PIL_HALF_LENGTH * _A * rho)
    if reg["delta"]:
        off = 0.55 * rho
        cx, cy = off * math.cos(th), off * math.sin(th)
        radius = max(DELTA_RADIUS * _A * 0.28 * rho, 1.5 * cd)
        mask |= np.hypot(xx - cx, yy - cy) <= radius
    return mask
