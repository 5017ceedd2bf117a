"""How large an archive will be, estimated from its configuration before any job runs.

An archive of terabytes should be a decision, not a surprise three days into a download. Config
validation (:mod:`flarepipe.config.checks`) warns with :func:`estimate_archive`'s figure when it
reaches ``archive.size_warn_gb`` and refuses the configuration above ``archive.size_limit_gb``; the
synthetic archive build checks the disk has room for it before it writes its first file.

The estimates are rough (within a factor of about 1.5 on the presets measured) and state what they
assume:

synthetic
    ``records = instruments x n_regions x 15 records/day at 96 min x 6 days``: a region's patch
    is recorded for about 6 days on average (measured: 53,285 records for the default preset's
    2 x 300 regions, 2,124 for 24 default-scale HMI regions, 2,163 for the tiny preset). A file
    holds ``4 bytes x (side / CDELT)^2`` plus two header blocks, ``side = min(max_patch_deg, 14)``
    degrees (the mean patch area of the 24-degree presets is that of a 14-degree square: 864 kB
    per HMI file measured; the 8-degree tiny patches fill their cap). RICE compression
    (``compress: true``) is counted as halving a file.
jsoc
    ``records = days of the series' span x records/day (cadence) x patches on the disk``, with
    10 HARPs / 8 TARPs on the disk at a time (cycle-24/23 means; one per unit region with
    ``regions``, for at most 14 days of disk passage each), and files of the size of the real
    RICE exports of HARP 377 and TARP 13520 (``../shared/data/real/fits``): 330 kB per
    SHARP and 80 kB per SMARP magnetogram. Keywords only (``download_images: false``): 1 kB per
    record.
local, tables
    No estimate (the files are already on disk).
fulldisk jsoc (``fulldisk.source: jsoc``)
    ``records = days of each instrument's span`` (one frame a day), files of the size of the real
    RICE export of ``hmi.M_720s`` (``../shared/data/real/fulldisk``: 13.4 MB) and, for
    ``mdi.fd_M_96m_lev182`` (no real file measured), 1024² int32 halved by RICE (2.1 MB).
"""

from __future__ import annotations

import functools
import importlib.util
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pandas as pd

from flarepipe.core.series import SERIES

__all__ = [
    "Estimate",
    "estimate_archive",
    "synthetic_estimate",
    "jsoc_estimate",
    "fulldisk_jsoc_estimate",
]

#: a region's patch is recorded for this many days on average (synthetic presets, measured)
SYNTHETIC_DAYS_PER_REGION = 6.0
#: the mean patch area of the 24-degree presets is that of a square of this side, degrees
SYNTHETIC_MEAN_SIDE_DEG = 14.0
#: two FITS header blocks per file (primary and image extension)
HEADER_BYTES = 2 * 2880
#: patches on the disk at a time, per series (cycle means), and days a region stays on the disk
JSOC_PATCHES_ON_DISK = {"hmi.sharp_cea_720s": 10, "mdi.smarp_cea_96m": 8}
JSOC_DAYS_PER_REGION = 14.0
#: bytes of one exported magnetogram (RICE), per series: the real HARP 377 / TARP 13520 files
JSOC_FILE_BYTES = {"hmi.sharp_cea_720s": 331_200, "mdi.smarp_cea_96m": 80_640}
#: bytes of one records.csv row when only keywords are fetched
KEYWORD_ROW_BYTES = 1_000
#: bytes of one full-disk export per instrument: the real hmi.M_720s file; MDI's 1024² int32
#: halved by RICE (no real file measured)
FULLDISK_FILE_BYTES = {"HMI": 13_426_560, "MDI": 4 * 1024 * 1024 // 2 + HEADER_BYTES}


@dataclass(frozen=True)
class Estimate:
    """An archive's expected record count and size, and what the figure assumed."""

    records: int
    bytes: int
    basis: str

    @property
    def gb(self) -> float:
        """The size in GB (1e9 bytes)."""
        return self.bytes / 1e9

    def describe(self) -> str:
        """``about 25.3 GB (54,000 records; <basis>)``; below 1 GB in MB."""
        size = f"{self.gb:,.1f} GB" if self.gb >= 1 else f"{self.bytes / 1e6:,.0f} MB"
        return f"about {size} ({self.records:,} records; {self.basis})"


@functools.lru_cache(maxsize=1)
def _synthetic_params() -> ModuleType:
    """:mod:`flarepipe.archive.sources.synthetic.params`, loaded without its package.

    The package's ``__init__`` imports the generator (scipy); config validation runs in
    Snakemake's environment and imports no scipy (``tests/test_models.py``). ``params.py``
    itself imports nothing heavy, so it is loaded from its file: the presets stay named once
    (``tests/test_checks.py`` compares the two).
    """
    loaded = sys.modules.get("flarepipe.archive.sources.synthetic.params")
    if loaded is not None:
        return loaded
    path = Path(__file__).resolve().parent / "sources" / "synthetic" / "params.py"
    spec = importlib.util.spec_from_file_location("_flarepipe_synthetic_params_light", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def synthetic_estimate(section: Mapping) -> Estimate:
    """The synthetic archive of the validated ``archive.synthetic`` section (module docstring)."""
    p = _synthetic_params()
    scale = dict(p.SCALES[section.get("scale", "default")])
    n_regions = section.get("n_regions") or scale["n_regions"]
    days = section.get("days") or scale["days"]
    side = section.get("max_patch_deg") or scale["max_patch_deg"]
    cadence = section.get("cadence_min") or 96
    instruments = section.get("instruments") or list(p.INSTRUMENTS)
    per_region = (1440 / cadence) * min(float(days), SYNTHETIC_DAYS_PER_REGION)
    records = 0
    size = 0.0
    for name in instruments:
        inst = p.INSTRUMENTS[name]
        n = n_regions * per_region
        px = (min(float(side), SYNTHETIC_MEAN_SIDE_DEG) / inst.cdelt_deg) ** 2
        file_bytes = 4 * px * (0.5 if section.get("compress") else 1.0) + HEADER_BYTES
        records += round(n)
        size += n * file_bytes
    basis = (
        f"{len(instruments)} instrument(s) x {n_regions} regions x ~{per_region:.0f} records, "
        f"patches up to {float(side):g} deg"
    )
    return Estimate(int(records), int(size), basis)


def _day(value: object, default: str) -> pd.Timestamp:
    """A configured jsoc time (a date or a ``T_REC``) to the day's precision an estimate needs.

    Not :func:`flarepipe.archive.sources.jsoc.query.as_tai`: importing the jsoc package would
    put drms, sunpy and tqdm into every job's imports (config validation runs in each,
    ``tests/test_envs.py``); TAI and UTC differ by seconds, nothing here.
    """
    if value is None:
        return pd.Timestamp(default)
    text = str(value).strip()
    m = re.match(r"^(\d{4})\.(\d{2})\.(\d{2})", text)
    ts = pd.Timestamp("-".join(m.groups())) if m else pd.Timestamp(text)
    return ts.tz_localize(None) if ts.tzinfo else ts


def _cadence_minutes(cadence: object) -> float | None:
    """Minutes of a DRMS cadence (``96m``, ``720s``, ``1d``; the schema checks the form)."""
    m = re.match(r"^(\d+)([smhd])$", str(cadence or ""))
    return int(m.group(1)) * {"s": 1 / 60, "m": 1, "h": 60, "d": 1440}[m.group(2)] if m else None


def jsoc_estimate(section: Mapping, now: pd.Timestamp | None = None) -> Estimate:
    """The JSOC archive of the validated ``archive.jsoc`` section (module docstring)."""
    today = (now or pd.Timestamp.now()).normalize()
    cadence = _cadence_minutes(section.get("cadence")) or 12.0
    records = 0.0
    size = 0.0
    parts = []
    for name in section.get("series") or []:
        s = SERIES[name]
        t0 = max(_day(section.get("start"), s.first_day), pd.Timestamp(s.first_day))
        t1 = _day(section.get("end"), str(today.date()))
        if s.last_day:
            t1 = min(t1, pd.Timestamp(s.last_day))
        days = max((t1 - t0).total_seconds() / 86400, 0.0)
        regions = (section.get("regions") or {}).get(name) or []
        step = max(cadence, 96.0 if s.instrument == "MDI" else 12.0)
        if regions:
            n = len(regions) * min(days, JSOC_DAYS_PER_REGION) * 1440 / step
        else:
            n = days * 1440 / step * JSOC_PATCHES_ON_DISK[name]
        per_file = (
            JSOC_FILE_BYTES[name] if section.get("download_images", True) else KEYWORD_ROW_BYTES
        )
        records += n
        size += n * per_file
        parts.append(f"{name}: {days:,.0f} days")
    basis = "; ".join(parts) + f" at {cadence:g} min" if parts else "no series"
    return Estimate(int(math.ceil(records)), int(size), basis)


def fulldisk_jsoc_estimate(section: Mapping, now: pd.Timestamp | None = None) -> Estimate:
    """The full-disk download of the validated ``fulldisk.jsoc`` section (module docstring)."""
    from flarepipe.core.disk import fulldisk_series_of

    today = (now or pd.Timestamp.now()).normalize()
    records, size, parts = 0, 0, []
    for inst in section.get("instruments") or []:
        s = fulldisk_series_of(inst)
        t0 = max(_day(section.get("start"), s.first_day), pd.Timestamp(s.first_day))
        t1 = _day(section.get("end"), str(today.date()))
        if s.last_day:
            t1 = min(t1, pd.Timestamp(s.last_day) + pd.Timedelta(days=1))
        days = max(int((t1 - t0).days), 0)
        records += days
        size += days * FULLDISK_FILE_BYTES[inst]
        parts.append(f"{inst}: {days:,} days")
    return Estimate(records, size, "; ".join(parts) + ", one frame a day" if parts else "none")


def estimate_archive(archive: Mapping, now: pd.Timestamp | None = None) -> Estimate | None:
    """The estimate for the validated ``archive`` section; ``None`` for local and tables."""
    source = archive.get("source", "synthetic")
    if source == "synthetic":
        return synthetic_estimate(archive.get("synthetic") or {})
    if source == "jsoc":
        return jsoc_estimate(archive.get("jsoc") or {}, now)
    return None
