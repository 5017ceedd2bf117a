"""Published results of Sun et al. 2022 (SCIENCE.md S1), keyed by the workflow's registered names.

Keys are ``(dataset, model)`` with the names of :data:`flarepipe.samples.registry.DATASETS` and
:data:`flarepipe.models.registry.NETWORKS`, so the workflow's ``metrics.md`` rows find them.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["PUBLISHED_TSS", "published_tss"]

#: Published test TSS (mean, sd over 10 runs), by (dataset, model).
PUBLISHED_TSS: dict[tuple[str, str], tuple[float, float]] = {
    ("FUSED_SHARP", "lstm"): (0.900, 0.023),
    ("SHARP_ONLY", "lstm"): (0.884, 0.032),
    ("FUSED_SMARP", "lstm"): (0.810, 0.050),
    ("SMARP_ONLY", "lstm"): (0.800, 0.049),
    ("FUSED_SHARP", "cnn"): (0.812, 0.071),
    ("SHARP_ONLY", "cnn"): (0.843, 0.034),
    ("FUSED_SMARP", "cnn"): (0.802, 0.056),
    ("SMARP_ONLY", "cnn"): (0.754, 0.061),
}


def published_tss(
    rename: Mapping[str, str] | None = None,
) -> dict[tuple[str, str], tuple[float, float]]:
    """:data:`PUBLISHED_TSS`, with model names mapped through ``rename`` (e.g. ``{"lstm": "LSTM"}``
    for a table whose rows use display names); unmapped names are kept.
    """
    rename = dict(rename or {})
    return {(d, rename.get(m, m)): v for (d, m), v in PUBLISHED_TSS.items()}
