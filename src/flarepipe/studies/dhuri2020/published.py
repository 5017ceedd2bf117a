"""Published TSS of Dhuri et al. 2020 (SCIENCE.md S4) against lead time (hours before t0).

Only the values the study brief quotes are recorded (the network at −3.2 h and −24.5 h, the KDE
on total unsigned flux at −3.2 h); the other lead times are NaN rather than read off a figure.
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["PUBLISHED_TSS", "published_table"]

_NAN = math.nan
#: (method, lead_h) -> (TSS, sd); sd NaN where none is published
PUBLISHED_TSS: dict[tuple[str, float], tuple[float, float]] = {
    ("network", 3.2): (0.846, 0.064),
    ("network", 24.5): (0.433, _NAN),
    ("kde_flux", 3.2): (0.658, _NAN),
}


def published_table() -> pd.DataFrame:
    """:data:`PUBLISHED_TSS` as rows ``method, lead_h, tss_published, tss_published_sd``."""
    return pd.DataFrame(
        [
            {"method": m, "lead_h": lead, "tss_published": t, "tss_published_sd": sd}
            for (m, lead), (t, sd) in PUBLISHED_TSS.items()
        ]
    )
