"""The error every attribution input check raises (kept free of heavy imports)."""

from __future__ import annotations

__all__ = ["AttributionInputError"]


class AttributionInputError(ValueError):
    """An input of an attribution job is wrong; the message names the file or setting."""
