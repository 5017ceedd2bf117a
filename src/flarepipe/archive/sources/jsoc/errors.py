"""Errors of the JSOC source (the retry classification lives in :mod:`flarepipe.io.download`)."""

from __future__ import annotations

from flarepipe.io.download import PermanentError, TransientError

__all__ = ["UnitError", "ExportFailed"]


class UnitError(PermanentError):
    """A unit cannot be fetched as configured (bad query, unsupported server, no e-mail)."""


class ExportFailed(TransientError):
    """An export failed or expired on the server; a new export request is worth a try."""
