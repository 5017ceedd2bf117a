"""The JSOC archive source: SHARP/SMARP keywords and magnetograms through drms, in resumable units.

Layers, as drms itself is built (``docs/SOURCES.md``, section jsoc), one module each and each
testable alone:

1. **Settings** (:mod:`.settings`): :class:`JsocSettings` from the validated ``archive.jsoc``
   section (the schema holds every key, bound and default).
2. **Query (pure)** (:mod:`.query`): :func:`build_recordset` writes DRMS record-set strings such as
   ``hmi.sharp_cea_720s[377][2011.02.14_00:00:00_TAI/2d@96m][? QUALITY<65536 ?]{magnetogram}``;
   :mod:`.units`: :func:`plan_units` splits the configured series x time range (or region list)
   into small units that Snakemake runs in parallel and reruns one by one.
3. **Send** (:mod:`.client`): :func:`make_client` builds a ``drms.Client`` on demand (a mirror,
   local NetDRMS or the test server take the same path as ``'jsoc'``) and
   :class:`~.client.JsocSession` sends one unit's requests through the client it is given:
   pending-export limit (status 7), failed/expired exports (4, 5, 6), slow status, retries with
   backoff within ``archive.jsoc.retry``. Files come through
   :func:`flarepipe.io.download.download_file` (``.part`` + rename, HTTP ``Range`` resume).
4. **Parse (pure)** (:mod:`.parse`): which keywords to ask for, hex ``QUALITY``, export record
   names.
5. **Convert** (:mod:`.records`): :func:`keywords_to_records` turns the keyword table into
   ``records.csv`` rows (``docs/FILES.md``), TAI ``T_REC`` converted once to UTC; rows that
   cannot be converted go to a rejected table with a reason.
6. **Fetch** (:mod:`.fetch`): :func:`fetch_unit` runs one unit (resumable, ledger of completed
   files, the e-mail never written); **merge** (:mod:`.merge`): :func:`merge_units` writes the
   archive layout: ``records.csv``, ``flares.csv``, ``manifest.json``, ``fits/<series>/<name>``.

The source imports only :mod:`flarepipe.archive.layout`, :mod:`flarepipe.archive.catalogues`,
:mod:`flarepipe.io` and :mod:`flarepipe.core` (``tests/test_structure.py``).
"""

from __future__ import annotations

from flarepipe.archive.sources.jsoc.client import JsocSession, make_client, make_server_config
from flarepipe.archive.sources.jsoc.errors import ExportFailed, UnitError
from flarepipe.archive.sources.jsoc.fetch import fetch_unit, run_unit
from flarepipe.archive.sources.jsoc.merge import merge_units
from flarepipe.archive.sources.jsoc.parse import parse_export_record
from flarepipe.archive.sources.jsoc.query import build_recordset, format_duration, quality_clause
from flarepipe.archive.sources.jsoc.records import keywords_to_records
from flarepipe.archive.sources.jsoc.settings import (
    EMAIL_ENV,
    JsocSettings,
    move_email_to_env,
    resolve_email,
)
from flarepipe.archive.sources.jsoc.units import UNIT_ID_PATTERN, Unit, get_unit, plan_units
from flarepipe.core.noaa import normalise_noaa_ars

__all__ = [
    "EMAIL_ENV",
    "UNIT_ID_PATTERN",
    "JsocSettings",
    "JsocSession",
    "Unit",
    "UnitError",
    "ExportFailed",
    "build_recordset",
    "quality_clause",
    "format_duration",
    "plan_units",
    "get_unit",
    "resolve_email",
    "move_email_to_env",
    "make_server_config",
    "make_client",
    "keywords_to_records",
    "parse_export_record",
    "normalise_noaa_ars",
    "fetch_unit",
    "run_unit",
    "merge_units",
]
