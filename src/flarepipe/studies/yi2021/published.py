"""Published result of Yi et al. 2021 that the study's report sets beside the measured ones.

Only the figures the project's sources state (SCIENCE.md S3, issue 14): the test TSS of their
network at its natural event rate. Other Table 1 columns are left empty rather than guessed.
"""

from __future__ import annotations

__all__ = ["PUBLISHED", "PUBLISHED_LABEL"]

#: Table 1 columns -> published value (test set, >= C1.0 within the UTC day, natural event rate)
PUBLISHED: dict[str, float] = {"TSS": 0.65, "event_rate": 0.55}
#: the row name of the published figures in a Table 1
PUBLISHED_LABEL = "Yi et al. 2021 (published)"
