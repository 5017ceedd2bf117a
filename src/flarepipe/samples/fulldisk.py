"""Daily full-disk samples: frame quality, one frame a day, the day's flare label, persistence.

The rules (Yi et al. 2021, section 2):

- **Frame quality** (:func:`flag_frames`): every record of a full-disk ``records.csv`` is kept in
  the output with one boolean column per reason, a ``reasons`` string (``;``-joined, empty when
  kept) and ``keep``::

      reason           fires when                                          setting
      bad_quality      QUALITY & quality_mask != 0                          quality_mask
      missing_file     the path is empty or (with a root) no such file      -
      unreadable_file  the file does not read as a full-disk frame (the     -
                       reader's error, naming the file, in ``read_error``)
      nan_on_disk      NaN share of the on-disk pixels > max_nan_fraction   max_nan_fraction

  Off-disk pixels are not a reason: the reader sets them NaN (the real HMI series keeps ~5% of a
  radius beyond the limb; their count is in ``n_off_disk_finite``).
- **One frame a day** (:func:`daily_frames`): the frame of UTC day ``D`` is the latest kept record
  with ``D 00:00 UT − max_lag_h ≤ t_rec ≤ D 00:00 UT`` (the 00:00 UT record, or the nearest
  earlier one: never a later record, which would see part of the day it forecasts; JSOC's
  ``00:00_TAI`` records are at 23:59:2x UTC of the day before and so count for ``D``). Days in the
  span of the records without such a frame are listed in the rejected-days table with the
  reason ``missing`` and what the window held (``rejected frames: …``, or ``no record``).
- **The label** (:func:`daily_labels`): day ``D`` is positive when a flare of at least
  ``min_class`` has its ``time_column`` in ``[D + start_h, D + start_h + window_h)``. Truth
  table with the defaults (C1.0, start time, ``[D 00:00, D+1 00:00)``)::

      flare                          label of D    label of D+1
      C1.0 starting D 00:00:00        1             0
      C9.9 starting D 23:59           1             0
      M1.0 starting D+1 00:00:00      0             1
      B9.9 any time in D              0             0
      C1.0 peaking in D, started D-1  0 (start counts, not peak)

- **Persistence** (:func:`daily_labels`): ``label_prev`` is the label of ``D − 1`` when that day
  is a sample too, else NA (the persistence baseline forecasts it).

Samples carry ``sample_id``, ``region_id`` (``<instrument>-<day>``: a day is its own unit, so the
split's leakage check holds for a chronological split), ``instrument``, ``t_end`` (``D`` 00:00 UT,
the forecast time) and ``path``, the columns :mod:`flarepipe.samples.split` reads.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd

from flarepipe.core.flareclass import class_to_flux
from flarepipe.core.timeutil import to_iso_utc

__all__ = [
    "FRAME_REASONS",
    "FullDiskQualitySettings",
    "DailyLabelSettings",
    "scan_frames",
    "flag_frames",
    "daily_frames",
    "daily_labels",
]

FRAME_REASONS = ("bad_quality", "missing_file", "unreadable_file", "nan_on_disk")


@dataclasses.dataclass(frozen=True)
class FullDiskQualitySettings:
    """Frame filters and the daily-frame window (module docstring).

    ``quality_mask``: QUALITY bits that reject a frame (default all but ``0x200``, a benign MDI
    bit); ``max_nan_fraction``: largest share of NaN on the disk; ``max_lag_h``: how far before
    00:00 UT the day's frame may be.
    """

    quality_mask: int = 0xFFFFFDFF
    max_nan_fraction: float = 0.01
    max_lag_h: float = 6.0

    def __post_init__(self):
        if not 0.0 <= self.max_nan_fraction <= 1.0:
            raise ValueError(f"max_nan_fraction must be in [0, 1], got {self.max_nan_fraction}")
        if not self.max_lag_h >= 0.0:
            raise ValueError(f"max_lag_h must be >= 0, got {self.max_lag_h}")


@dataclasses.dataclass(frozen=True)
class DailyLabelSettings:
    """The daily label: ``min_class`` or stronger with ``time_column`` in the day's window."""

    min_class: str = "C1.0"
    start_h: float = 0.0
    window_h: float = 24.0
    time_column: str = "start_utc"

    def __post_init__(self):
        class_to_flux(self.min_class)  # raises on a bad class
        if not self.window_h > 0:
            raise ValueError(f"window_h must be > 0, got {self.window_h}")
        if self.time_column not in ("start_utc", "peak_utc"):
            raise ValueError(f"time_column must be start_utc or peak_utc, got {self.time_column!r}")


def _require(df: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; have {list(df.columns)}")


def scan_frames(records: pd.DataFrame, root: str | os.PathLike | None) -> pd.DataFrame:
    """Read every frame once, one at a time (no archive in memory): NaN share on the disk, the
    count of finite off-disk pixels, and the read error (empty when it read).

    Returns a table with ``path``, ``nan_fraction``, ``n_off_disk_finite``, ``read_error``.
    """
    from flarepipe.io.fulldisk import read_fulldisk

    rows = []
    for path in records["path"].astype(str):
        full = Path(root) / path if root else Path(path)
        row = {"path": path, "nan_fraction": np.nan, "n_off_disk_finite": 0, "read_error": ""}
        if not path or not full.exists():
            rows.append(row)
            continue
        try:
            frame = read_fulldisk(full)
            row["nan_fraction"] = frame.disk_fraction_nan()
            row["n_off_disk_finite"] = frame.n_off_disk_finite
        except ValueError as exc:
            row["read_error"] = str(exc)
        rows.append(row)
    return pd.DataFrame(rows, columns=["path", "nan_fraction", "n_off_disk_finite", "read_error"])


def flag_frames(
    records: pd.DataFrame,
    settings: FullDiskQualitySettings,
    scan: pd.DataFrame | None = None,
    root: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Every record with one column per :data:`FRAME_REASONS`, ``reasons`` and ``keep``."""
    _require(records, ["instrument", "t_rec", "quality", "path"], "full-disk records")
    out = records.copy().reset_index(drop=True)
    q = pd.to_numeric(out["quality"], errors="coerce")
    bad_q = q.isna() | ((q.fillna(0).astype("int64") & int(settings.quality_mask)) != 0)
    paths = out["path"].fillna("").astype(str)
    exists = paths.map(lambda p: bool(p) and (root is None or (Path(root) / p).exists()))
    out["bad_quality"] = bad_q.to_numpy()
    out["missing_file"] = ~exists.to_numpy()
    if scan is not None:
        s = scan.drop_duplicates("path").set_index("path")
        err = paths.map(s["read_error"]).fillna("").astype(str)
        nanf = pd.to_numeric(paths.map(s["nan_fraction"]), errors="coerce")
        out["read_error"] = err.to_numpy()
        out["nan_fraction"] = nanf.to_numpy()
        out["n_off_disk_finite"] = paths.map(s["n_off_disk_finite"]).fillna(0).astype(int)
        out["unreadable_file"] = (err != "").to_numpy() & exists.to_numpy()
        out["nan_on_disk"] = (nanf > settings.max_nan_fraction).to_numpy()
    else:
        out["unreadable_file"] = False
        out["nan_on_disk"] = False
    flags = out[list(FRAME_REASONS)].to_numpy(dtype=bool)
    out["reasons"] = [
        ";".join(r for r, f in zip(FRAME_REASONS, row, strict=True) if f) for row in flags
    ]
    out["keep"] = ~flags.any(axis=1)
    return out


def _ceil_day(t: pd.Timestamp) -> pd.Timestamp:
    d = t.normalize()
    return d if d == t else d + pd.Timedelta(days=1)


def daily_frames(
    flagged: pd.DataFrame, settings: FullDiskQualitySettings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One frame per UTC day (module docstring): ``(chosen, rejected_days)``.

    ``chosen`` has the chosen record's columns plus ``day`` (ISO date), ``t_end`` (the day's 00:00
    UT, ISO), ``lag_h`` (how long before 00:00 UT the frame was taken), ``sample_id`` and
    ``region_id``; ``rejected_days`` has ``day``, ``instrument``, ``reason`` and ``detail``. Days
    run over each instrument's span of records; a day both instruments serve takes HMI's frame.
    """
    _require(flagged, ["instrument", "t_rec", "keep", "path"], "flagged full-disk records")
    t = pd.DatetimeIndex(pd.to_datetime(flagged["t_rec"]))
    lag = pd.Timedelta(hours=settings.max_lag_h)
    chosen, rejected = [], []
    for inst in sorted(flagged["instrument"].astype(str).unique()):
        sel = (flagged["instrument"].astype(str) == inst).to_numpy()
        ti = t[sel]
        sub = flagged[sel].assign(_t=ti)
        days = pd.date_range(_ceil_day(ti.min()), _ceil_day(ti.max()), freq="D")
        good = sub[sub["keep"].astype(bool)].sort_values("_t")
        gt = pd.DatetimeIndex(good["_t"])
        for day in days:
            lo = np.searchsorted(gt.to_numpy(), (day - lag).to_datetime64(), side="left")
            hi = np.searchsorted(gt.to_numpy(), day.to_datetime64(), side="right")
            iso = to_iso_utc(day)[:10]
            if hi > lo:
                row = good.iloc[hi - 1].drop(labels="_t").to_dict()
                row.update(
                    day=iso,
                    t_end=to_iso_utc(day),
                    lag_h=(day - gt[hi - 1]).total_seconds() / 3600.0,
                    sample_id=f"{inst}-{iso}",
                    region_id=f"{inst}-{iso}",
                )
                chosen.append(row)
                continue
            window = sub[(sub["_t"] >= day - lag) & (sub["_t"] <= day)]
            detail = (
                "rejected frames: "
                + "; ".join(f"{r.t_rec} ({r.reasons})" for r in window.itertuples())
                if len(window)
                else f"no record in [{to_iso_utc(day - lag)}, {to_iso_utc(day)}]"
            )
            rejected.append({"day": iso, "instrument": inst, "reason": "missing", "detail": detail})
    chosen_df = pd.DataFrame(chosen)
    if not chosen_df.empty:
        # a day both instruments serve takes HMI's frame (the newer instrument)
        chosen_df = chosen_df.sort_values(["t_end", "instrument"], kind="stable")
        chosen_df = chosen_df.drop_duplicates("t_end", keep="first").reset_index(drop=True)
    return chosen_df, pd.DataFrame(rejected, columns=["day", "instrument", "reason", "detail"])


def daily_labels(
    days: pd.DataFrame, flares: pd.DataFrame, settings: DailyLabelSettings
) -> pd.DataFrame:
    """Label each day (module docstring): adds ``label`` (0/1), ``n_flares``, ``max_flux_wm2``
    and ``label_prev`` (the previous day's label, NA when that day is no sample).
    """
    _require(days, ["t_end"], "daily samples")
    _require(flares, [settings.time_column, "peak_flux_wm2"], "flares")
    out = days.copy().reset_index(drop=True)
    d0 = pd.DatetimeIndex(pd.to_datetime(out["t_end"])).normalize() + pd.Timedelta(
        hours=settings.start_h
    )
    d1 = d0 + pd.Timedelta(hours=settings.window_h)
    ft = pd.to_datetime(flares[settings.time_column], utc=True).dt.tz_convert(None)
    fl = pd.DataFrame({"t": ft, "flux": pd.to_numeric(flares["peak_flux_wm2"], errors="coerce")})
    fl = fl[fl["flux"] >= class_to_flux(settings.min_class) * (1 - 1e-9)].sort_values("t")
    tt = fl["t"].to_numpy()
    lo = np.searchsorted(tt, d0.to_numpy(), side="left")
    hi = np.searchsorted(tt, d1.to_numpy(), side="left")
    flux = fl["flux"].to_numpy()
    out["n_flares"] = hi - lo
    out["max_flux_wm2"] = [
        float(flux[a:b].max()) if b > a else 0.0 for a, b in zip(lo, hi, strict=True)
    ]
    out["label"] = (out["n_flares"] > 0).astype(int)
    by_day = pd.Series(
        out["label"].to_numpy(), index=pd.DatetimeIndex(pd.to_datetime(out["t_end"]))
    )
    by_day = by_day[~by_day.index.duplicated(keep="last")]
    prev = by_day.reindex(pd.DatetimeIndex(pd.to_datetime(out["t_end"])) - pd.Timedelta(days=1))
    out["label_prev"] = pd.array(
        [pd.NA if np.isnan(v) else int(v) for v in prev.to_numpy(dtype=float)], dtype="Int64"
    )
    return out
