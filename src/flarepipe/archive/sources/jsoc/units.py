"""Units (pure): the configured download cut into pieces that Snakemake runs and reruns alone.

A :class:`Unit` is one series over one time window (``chunk_days``) or one region; its id is a
file name and a Snakemake wildcard (``hmi.sharp_cea_720s.20110201-20110303``,
``mdi.smarp_cea_96m.TARP13520``). Nothing here talks to a server.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from flarepipe.archive.sources.jsoc.query import (
    as_tai,
    build_recordset,
    cadence_minutes,
    quality_clause,
)
from flarepipe.archive.sources.jsoc.settings import JsocSettings
from flarepipe.core.series import SERIES
from flarepipe.core.timeutil import format_trec

__all__ = ["UNIT_ID_PATTERN", "Unit", "plan_units", "get_unit"]

#: what a unit id may contain (a file name and a Snakemake wildcard value)
UNIT_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Unit:
    """One independently fetched and rerun piece of the JSOC download.

    ``start``/``end`` are TAI grid times as ``T_REC`` strings: records with
    ``start <= T_REC < end``. ``regions`` empty means every region of the series in that interval.
    """

    unit_id: str
    series: str
    start: str
    end: str
    regions: tuple[int, ...] = ()
    cadence: str | None = "96m"
    where: str | None = None
    segment: str = "magnetogram"
    download: bool = True

    def recordset(self, with_segment: bool = False) -> str:
        """The unit's DRMS record set (with ``{segment}`` for exports)."""
        return build_recordset(
            self.series,
            regions=self.regions,
            start=self.start,
            end=self.end,
            cadence=self.cadence,
            where=self.where,
            segments=[self.segment] if with_segment else (),
        )

    def to_dict(self) -> dict:
        """JSON-ready view."""
        d = dataclasses.asdict(self)
        d["regions"] = list(self.regions)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Unit:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["regions"] = tuple(int(r) for r in d.get("regions", ()))
        return cls(**d)


def _settings(settings: JsocSettings | Mapping) -> JsocSettings:
    return settings if isinstance(settings, JsocSettings) else JsocSettings.from_section(settings)


def _floor_to_grid(t: pd.Timestamp, cadence: str | None) -> pd.Timestamp:
    """Floor to the cadence grid counted from midnight, so that chunked ``@96m`` samples line up."""
    minutes = cadence_minutes(cadence)
    day = t.normalize()
    if not minutes or (1440 % minutes):
        return t
    k = math.floor((t - day).total_seconds() / 60 / minutes)
    return day + pd.Timedelta(minutes=k * minutes)


def _series_span(s: JsocSettings, series: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    spec = SERIES[series]
    start = pd.Timestamp(spec.first_day)
    end = (
        pd.Timestamp(spec.last_day)
        if spec.last_day
        else pd.Timestamp.now().normalize() + pd.Timedelta(days=1)
    )
    if s.start:
        start = max(start, as_tai(s.start))
    if s.end:
        end = min(end, as_tai(s.end))
    start = _floor_to_grid(start, s.cadence)
    return (start, end) if start < end else None


def plan_units(settings: JsocSettings | Mapping) -> list[Unit]:
    """Split the configured download into units (pure; no network).

    Without ``regions`` a series' time range (the configured ``start``/``end`` clipped to the
    mission span of :data:`flarepipe.core.series.SERIES`, start floored to the cadence grid from
    midnight) is cut into ``chunk_days`` windows, each chunk starting where the previous one
    ended; with ``regions`` there is one unit per region over the whole range.

    Parameters
    ----------
    settings
        :class:`JsocSettings`, or the validated ``archive.jsoc`` section.

    Raises
    ------
    ValueError
        Two units would get the same id (a chunk shorter than a day on a day-named grid).
    """
    s = _settings(settings)
    units: list[Unit] = []
    for series in s.series:
        span = _series_span(s, series)
        if span is None:
            continue
        start, end = span
        common = dict(
            series=series,
            cadence=s.cadence,
            where=quality_clause(s.max_quality, s.where),
            segment=s.segment,
            download=s.download_images,
        )
        regions = s.regions.get(series, ())
        if regions:
            prefix = SERIES[series].prefix
            for r in regions:
                units.append(
                    Unit(
                        unit_id=f"{series}.{prefix}{r}",
                        start=format_trec(start),
                        end=format_trec(end),
                        regions=(r,),
                        **common,
                    )
                )
            continue
        step = pd.Timedelta(days=s.chunk_days)
        t = start
        while t < end:
            t1 = min(t + step, end)
            uid = f"{series}.{t:%Y%m%d}-{t1:%Y%m%d}"
            if t.normalize() != t or t1.normalize() != t1:
                uid = f"{series}.{t:%Y%m%dT%H%M}-{t1:%Y%m%dT%H%M}"
            units.append(Unit(unit_id=uid, start=format_trec(t), end=format_trec(t1), **common))
            t = t1
    ids = [u.unit_id for u in units]
    if len(set(ids)) != len(ids):
        raise ValueError("archive.jsoc: unit ids are not unique; use whole-day chunk_days")
    bad = [i for i in ids if not UNIT_ID_PATTERN.match(i)]
    if bad:
        raise ValueError(f"archive.jsoc: unit ids {bad[:3]} are not safe file names")
    return units


def get_unit(settings: JsocSettings | Mapping, unit_id: str) -> Unit:
    """The planned unit called ``unit_id`` (what a Snakemake job receives as wildcard).

    Raises
    ------
    KeyError
        No such unit in the current plan.
    """
    for u in plan_units(settings):
        if u.unit_id == unit_id:
            return u
    raise KeyError(
        f"jsoc: no unit {unit_id!r} in the current plan (config changed since the DAG was built?)"
    )
