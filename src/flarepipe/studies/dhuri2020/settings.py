"""Cross-checks of the validated ``emergence`` section of the S4 study (light: no torch).

The schema (``src/flarepipe/config/schema.yaml``, ``emergence``) holds the defaults and bounds;
:func:`check_emergence` checks what one field alone cannot say (the site must fit in a segment,
three segments in a map, the network in a segment, a local source needs its folder), naming the
fields, before any job runs (``rules/emergence.smk`` calls it when the workflow is parsed).
:func:`flarepipe.studies.dhuri2020.experiment.study_settings` builds the typed settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flarepipe.archive.sources.synthetic.emergence import EmergenceParams

__all__ = ["check_emergence", "lead_name"]


def lead_name(lead_h: float) -> str:
    """The file-name form of a lead time (``3.2`` -> ``"3.2"``, ``24`` -> ``"24"``)."""
    return f"{float(lead_h):g}"


def _min_side(depth: int, padding: int) -> int:
    """Smallest input side of ``dhuri_fcn`` (as :meth:`flarepipe.models.fcn.DhuriFCN.min_size`)."""
    s = 3 if padding == 0 else 1
    for _ in range(depth):
        s = 2 * s + (2 if padding == 0 else 0)
    return s


def check_emergence(em: Mapping[str, Any]) -> EmergenceParams | None:
    """Cross-check a filled ``emergence`` section; the synthetic set's parameters (None: local).

    Light to import (no torch): the workflow calls it when it is parsed.

    Raises
    ------
    ValueError
        Naming the ``emergence.*`` fields that disagree.
    """
    seg, site = float(em["segment_deg"]), float(em["site_radius_deg"])
    if 2 * site >= seg:
        raise ValueError(
            f"config: emergence.site_radius_deg ({site}) must be less than half of "
            f"emergence.segment_deg ({seg}): a PE segment holds the whole site"
        )
    if em["source"] == "local":
        if not em.get("local_root"):
            raise ValueError("config: emergence.source is local: set emergence.local_root")
        return None
    syn = dict(em["synthetic"])
    if 3 * seg > syn["map_deg"]:
        raise ValueError(
            f"config: three emergence.segment_deg ({seg}) segments must fit in "
            f"emergence.synthetic.map_deg ({syn['map_deg']}): the 3x3 evaluation grid"
        )
    px = syn["map_px"] * seg / syn["map_deg"]
    if px < 8:
        raise ValueError(
            f"config: a segment is {px:.1f} px (emergence.segment_deg / map_deg x map_px); "
            "the network needs at least 8"
        )
    for d in {int(em["network"]["depth"]), *(int(x) for x in em.get("depths", []))}:
        need = _min_side(d, int(em["network"]["padding"]))
        if round(px) < need:
            raise ValueError(
                f"config: a {round(px)}-px segment is too small for a depth-{d} network with "
                f"emergence.network.padding {em['network']['padding']} (needs {need} px): lower "
                "emergence.depths / emergence.network.depth or set emergence.network.padding: 1"
            )
    if syn["n_regions"] < em["folds"]:
        raise ValueError(
            f"config: emergence.synthetic.n_regions ({syn['n_regions']}) must be at least "
            f"emergence.folds ({em['folds']}): folds are by region pair"
        )
    return EmergenceParams(
        lead_times_h=tuple(float(x) for x in em["lead_times_h"]),
        signature_radius_deg=site,
        **syn,
    )
