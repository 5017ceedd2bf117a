"""Samples and labels: sliding observation windows, flare evolution types and task definitions.

Two steps, both pure functions over DataFrames:

1. :func:`label_windows` builds every *candidate* window of every region and types its observation
   and prediction windows (QUIET / WEAK / STRONG), with the bad-record bookkeeping. Candidates are
   what :func:`evolution_counts` tabulates (Sun et al. 2022, Table 2), before any task filter.
2. A *task* (registered in :data:`flarepipe.samples.registry.TASKS`, selected by name in
   ``cfg["task"]``) turns candidates into labelled samples: :func:`strong_vs_quiet` (S1) or
   :func:`flaring_region` (S2).
   :func:`make_samples` chains both and returns the ``samples.csv`` frame of ``docs/FILES.md``.

Settings are the fields of :class:`LabelSettings`; the defaults quoted below are those of the config
schema (``flarepipe/config/schema.yaml``, section ``labels``), the one place they are set.

Time rules
----------
* A flare belongs to a window ``(t0, t1]`` when its **start** time ``s`` satisfies ``t0 < s <= t1``
  (left-open, right-closed). The observation window of a sample ending at ``t_end`` is
  ``(t_end - obs_hours, t_end]``, the prediction window ``(t_end, t_end + pred_hours]``. A flare
  starting exactly at ``t_end`` is therefore an *observation* flare, one starting exactly at
  ``t_end + pred_hours`` a *prediction* flare. ``t_end`` is the UTC time of the window's last
  record.
* A flare belongs to a region when its ``noaa_ar`` is one of the region's NOAA numbers: with
  ``noaa_match: region`` (default) the union of ``noaa_ars`` over all the region's records (what
  Sun et al.'s HARP→NOAA map does, and what reproduces the published SHARP labels); with
  ``noaa_match: record`` only the ``noaa_ars`` of the window's last record. Flares without a
  region never match.
* Windows end on a time grid: ``grid_origin + k·step_minutes`` (origin default
  ``1993-01-01T00:00:00``, the JSOC ``T_REC`` epoch, so the 96-minute grid is 00:00, 01:36, … each
  day). The UTC ``t_rec`` of a record sits 34–37 s (TAI−UTC) before its nominal TAI grid time, so a
  record is matched to grid point ``g`` when ``|t_rec - g| <= tolerance_minutes``, the nearest one
  when several qualify; records off the grid (e.g. HMI's 12-minute records between 96-minute
  points) are never window ends nor sequence members.

Evolution type of a window (``strong_class`` default ``M1.0``; ``min_class`` default none: flares
below it are ignored entirely)::

    matching flares in window           type
    none                                QUIET
    some, all below strong_class        WEAK
    at least one >= strong_class        STRONG

Flare size is ``class_to_flux(goes_class)`` (``peak_flux_wm2`` when the class is empty), compared
with ``class_to_flux(strong_class)``.

Sequences and bad records (S1)
------------------------------
A window ending at grid point ``k`` holds ``n_steps`` slots, grid points ``k-n_steps+1 … k``
(default ``n_steps = obs_hours·60/step_minutes + 1`` = 16: the 24 h window includes both ends).
Each slot gets the record id (row number) matched to that grid point or ``-1``. A slot is *bad*
when its record has ``keep == False`` in the flagged records (all records are good when no flags
are given), or when it is empty and ``missing_counts_as_bad`` (default true). ``n_bad`` counts bad
slots. A candidate is dropped (column ``dropped``)::

    last slot bad                  -> "bad_last_record"
    else n_bad > max_bad_records   -> "too_many_bad"      (max_bad_records default 2)
    else                           -> "" (kept)

Tasks
-----
``strong_vs_quiet`` (S1)::

    obs_type / pred_type   QUIET      WEAK       STRONG
    QUIET                  0          discard    1
    WEAK                   discard    discard    1
    STRONG                 discard    discard    1

``flaring_region`` (S2): every kept candidate (configure ``obs_hours: 0`` and ``step_minutes: 60``
for one sample per hourly good record) is a sample; ``label`` is 1 when the region's type over its
whole record span ``[first t_rec, last t_rec]`` (both ends included, all of its records, good or
bad) is STRONG, else 0. For these samples ``pred_type`` is that region type and ``pred_end`` the
region's last record time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from flarepipe.core.flareclass import class_to_flux
from flarepipe.core.timeutil import parse_utc, to_iso_utc
from flarepipe.io.atomic import record_integrity, verify_integrity, write_csv
from flarepipe.samples.quality import noaa_lists, region_noaa
from flarepipe.samples.registry import TASKS

__all__ = [
    "EVOLUTION_TYPES",
    "SAMPLE_COLUMNS",
    "LabelSettings",
    "TASKS",
    "apply_task",
    "evolution_type",
    "label_windows",
    "strong_vs_quiet",
    "flaring_region",
    "make_samples",
    "no_positive_diagnosis",
    "evolution_counts",
    "drop_counts",
    "write_samples",
    "read_samples",
]

EVOLUTION_TYPES: tuple[str, ...] = ("QUIET", "WEAK", "STRONG")
SAMPLE_COLUMNS: list[str] = [
    "sample_id",
    "region_id",
    "instrument",
    "series",
    "t_start",
    "t_end",
    "pred_end",
    "label",
    "obs_type",
    "pred_type",
    "n_bad",
    "record_ids",
    "last_record",
]
_TIME_COLUMNS = ("t_start", "t_end", "pred_end")
_MS_SPAN = 10**13  # ms since 1970 must stay below this (year 2286) for the composite flare keys


# --------------------------------------------------------------------------------------------
# settings and inputs
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LabelSettings:
    """Windows, grid, thresholds and task, typed (the rules are in the module docstring).

    Build it from the configuration with ``flarepipe.config.settings("labels", ...)``, which fills
    the schema defaults and checks each field's bounds; the constructor checks what one field
    cannot say alone (the grid and window sizes against each other, class strings, the origin).
    """

    task: str
    obs_hours: float
    pred_hours: float
    step_minutes: float
    n_steps: int | None
    tolerance_minutes: float
    grid_origin: str
    strong_class: str
    min_class: str | None
    max_bad_records: int
    missing_counts_as_bad: bool
    noaa_match: str

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {sorted(TASKS)}, got {self.task!r}")
        step = self.step_minutes
        if not 2 * self.tolerance_minutes < step:
            raise ValueError(
                f"tolerance_minutes ({self.tolerance_minutes}) must be less than half of "
                f"step_minutes ({step}) so that a record matches at most one grid point"
            )
        if abs((self.max_steps - 1) * step - self.obs_hours * 60.0) > 1e-6:
            raise ValueError(
                f"obs_hours ({self.obs_hours} h) must be a whole number of "
                f"step_minutes ({step} min)"
            )
        if self.n_steps is not None and not 1 <= self.n_steps <= self.max_steps:
            raise ValueError(
                f"n_steps must be an integer in [1, {self.max_steps}] "
                f"(obs_hours·60/step_minutes + 1), got {self.n_steps!r}"
            )
        for key in ("strong_class", "min_class"):
            value = getattr(self, key)
            if value is not None or key == "strong_class":
                try:
                    class_to_flux(value)
                except ValueError:
                    msg = f"{key} must be a GOES class such as 'M1.0', got {value!r}"
                    raise ValueError(msg) from None
        try:
            pd.Timestamp(self.grid_origin)
        except (ValueError, TypeError):
            raise ValueError(f"grid_origin must be an ISO time, got {self.grid_origin!r}") from None

    @property
    def max_steps(self) -> int:
        """Grid points in the observation window, both ends included: obs_hours·60/step + 1."""
        return int(round(self.obs_hours * 60.0 / self.step_minutes)) + 1

    @property
    def steps(self) -> int:
        """The sequence length: ``n_steps``, or :attr:`max_steps` when that is ``None``."""
        return self.max_steps if self.n_steps is None else int(self.n_steps)


def _times(df: pd.DataFrame, col: str, what: str) -> pd.Series:
    """Return a column as naive-UTC datetime64[ns], parsing ISO strings (errors name the row)."""
    if col not in df.columns:
        raise ValueError(f"{what}: missing column {col!r}; have {list(df.columns)}")
    v = df[col]
    if isinstance(v.dtype, pd.DatetimeTZDtype):
        v = v.dt.tz_convert("UTC").dt.tz_localize(None)
    elif not pd.api.types.is_datetime64_any_dtype(v):
        v = pd.Series(parse_utc(v.to_numpy(), what=f"{what}.{col}"), index=df.index)
    if v.isna().any():
        raise ValueError(f"{what}.{col}: empty time at row {v[v.isna()].index[0]!r}")
    return v.astype("datetime64[ns]")


def _require(df: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; have {list(df.columns)}")


def _keep_mask(records: pd.DataFrame, flagged: pd.DataFrame | None) -> np.ndarray:
    if flagged is None:
        return np.ones(len(records), dtype=bool)
    _require(flagged, ["keep"], "flagged records")
    if not flagged.index.equals(records.index):
        raise ValueError(
            "flagged records: index differs from records' index (row numbers); pass the output "
            "of quality.flag_records for the same records"
        )
    keep = flagged["keep"]
    if keep.isna().any():
        raise ValueError(f"flagged records.keep: empty at row {keep[keep.isna()].index[0]!r}")
    if keep.dtype == object or pd.api.types.is_string_dtype(keep):
        keep = keep.astype(str).str.strip().str.lower().map({"true": True, "false": False})
        if keep.isna().any():
            raise ValueError("flagged records.keep: values must be True/False")
    return keep.astype(bool).to_numpy()


def _flare_table(flares: pd.DataFrame, strong_flux: float, min_flux: float | None):
    """Sorted composite keys (noaa, start ms) with prefix counts of all and of strong flares."""
    _require(flares, ["start_utc", "goes_class", "noaa_ar"], "flares")
    start = _times(flares, "start_utc", "flares")
    noaa = pd.to_numeric(flares["noaa_ar"], errors="coerce")
    cls = flares["goes_class"].astype("object")
    flux = np.empty(len(flares))
    peak = flares["peak_flux_wm2"] if "peak_flux_wm2" in flares.columns else None
    for i, (row, c) in enumerate(cls.items()):
        if c is not None and not (isinstance(c, float) and np.isnan(c)) and str(c).strip():
            try:
                flux[i] = class_to_flux(str(c))
            except ValueError as exc:
                raise ValueError(f"flares.goes_class at row {row!r}: {exc}") from None
        elif peak is not None and pd.notna(peak.loc[row]):
            flux[i] = float(peak.loc[row])
        else:
            raise ValueError(f"flares row {row!r}: neither goes_class nor peak_flux_wm2 given")
    ok = noaa.notna().to_numpy() & (noaa.fillna(0).to_numpy() > 0)
    if min_flux is not None:
        ok &= flux >= min_flux
    ms = start.to_numpy().astype("datetime64[ms]").astype("int64")
    if ((ms < 0) | (ms >= _MS_SPAN)).any():
        raise ValueError("flares.start_utc: times must lie between 1970 and 2286")
    keys = noaa.to_numpy()[ok].astype("int64") * _MS_SPAN + ms[ok]
    strong = flux[ok] >= strong_flux
    order = np.argsort(keys, kind="stable")
    keys, strong = keys[order], strong[order]
    cum_all = np.arange(len(keys) + 1, dtype="int64")
    cum_strong = np.concatenate([[0], np.cumsum(strong, dtype="int64")])
    return keys, cum_all, cum_strong


def _count_flares(table, noaa_sets: list[tuple[int, ...]], t0: np.ndarray, t1: np.ndarray):
    """Numbers of (all, strong) flares starting in (t0, t1] per window, over its NOAA numbers."""
    keys, cum_all, cum_strong = table
    n = len(noaa_sets)
    lengths = np.fromiter((len(s) for s in noaa_sets), dtype="int64", count=n)
    rep = np.repeat(np.arange(n), lengths)
    flat = np.fromiter((a for s in noaa_sets for a in s), dtype="int64", count=int(lengths.sum()))
    ms0 = t0.astype("datetime64[ms]").astype("int64")[rep]
    ms1 = t1.astype("datetime64[ms]").astype("int64")[rep]
    if len(rep) and ((np.minimum(ms0, ms1) < 0).any() or (np.maximum(ms0, ms1) >= _MS_SPAN).any()):
        raise ValueError("window times must lie between 1970 and 2286")
    lo = np.searchsorted(keys, flat * _MS_SPAN + ms0, side="right")
    hi = np.searchsorted(keys, flat * _MS_SPAN + ms1, side="right")
    n_all = np.bincount(rep, weights=cum_all[hi] - cum_all[lo], minlength=n).astype("int64")
    n_strong = np.bincount(rep, weights=cum_strong[hi] - cum_strong[lo], minlength=n)
    return n_all, n_strong.astype("int64")


def evolution_type(n_flares: np.ndarray, n_strong: np.ndarray) -> np.ndarray:
    """QUIET (no flare), WEAK (flares, none strong) or STRONG (any strong), elementwise."""
    n_flares, n_strong = np.asarray(n_flares), np.asarray(n_strong)
    return np.where(n_strong > 0, "STRONG", np.where(n_flares > 0, "WEAK", "QUIET")).astype(object)


# --------------------------------------------------------------------------------------------
# candidates
# --------------------------------------------------------------------------------------------
def label_windows(
    records: pd.DataFrame,
    flares: pd.DataFrame,
    settings: LabelSettings,
    flagged: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every candidate window of every region, typed, with bad-record bookkeeping.

    Parameters
    ----------
    records
        ``records.csv`` frame (``region_id, instrument, series, t_rec, noaa_ars``); ``t_rec`` as
        timestamps (ISO strings are parsed). Its index labels are the record ids (row numbers).
    flares
        ``flares.csv`` frame (``start_utc, goes_class, noaa_ar``; ``peak_flux_wm2`` optional).
    settings
        Windows, grid and thresholds (:class:`LabelSettings`); rules in the module docstring.
    flagged
        Output of :func:`flarepipe.samples.quality.flag_records` for the same records, or ``None``
        (all records good).

    Returns
    -------
    pandas.DataFrame
        One row per window end (a record on the grid), in records order, with the
        :data:`SAMPLE_COLUMNS` except ``label`` plus ``n_missing`` (empty slots), ``dropped``
        (``""``, ``"bad_last_record"`` or ``"too_many_bad"``), ``region_type`` and ``region_end``.
        Times are ``datetime64[ns]`` (naive UTC).
    """
    s = settings
    _require(records, ["region_id", "instrument", "series", "t_rec", "noaa_ars"], "records")
    if not records.index.is_unique or not pd.api.types.is_integer_dtype(records.index):
        raise ValueError("records: index must be unique integer row numbers (record ids)")
    keep = _keep_mask(records, flagged)
    t_rec = _times(records, "t_rec", "records").to_numpy()
    rec_ids = records.index.to_numpy().astype("int64")
    region_codes, region_names = pd.factorize(records["region_id"].astype(str), sort=False)
    noaa = noaa_lists(records["noaa_ars"]).tolist()

    # region-level facts: NOAA union, record span, type over the span
    n_reg = len(region_names)
    union = region_noaa(records)
    reg_sets = [union[r] for r in region_names]
    ts = pd.Series(t_rec)
    reg_first = ts.groupby(region_codes).min().reindex(range(n_reg)).to_numpy()
    reg_last = ts.groupby(region_codes).max().reindex(range(n_reg)).to_numpy()

    strong_flux = class_to_flux(s.strong_class)
    min_flux = None if s.min_class is None else class_to_flux(s.min_class)
    table = _flare_table(flares, strong_flux, min_flux)
    one_ms = np.timedelta64(1, "ms")
    ra, rs = _count_flares(table, reg_sets, reg_first - one_ms, reg_last)
    reg_type = evolution_type(ra, rs)

    # grid matching
    step = np.timedelta64(int(round(s.step_minutes * 60e9)), "ns")
    tol = np.timedelta64(int(round(s.tolerance_minutes * 60e9)), "ns")
    origin = np.datetime64(pd.Timestamp(s.grid_origin).to_datetime64(), "ns")
    rel = (t_rec - origin).astype("int64")
    step_i = step.astype("int64")
    k = np.floor_divide(rel + step_i // 2, step_i)
    off = np.abs(rel - k * step_i)
    on = off <= tol.astype("int64")
    pos_on = np.flatnonzero(on)
    grid = pd.DataFrame(
        {"r": region_codes[pos_on], "k": k[pos_on], "off": off[pos_on], "pos": pos_on}
    )
    grid = grid.sort_values(["r", "k", "off", "pos"], kind="stable").drop_duplicates(["r", "k"])
    g_r = grid["r"].to_numpy()
    g_k = grid["k"].to_numpy()
    g_pos = grid["pos"].to_numpy()

    # dense slot table per region: flat[base[r] + k - kmin[r]] = record position or -1
    n_steps = s.steps
    kmin = kmax = base = np.zeros(n_reg, dtype="int64")
    flat = np.full(0, -1, dtype="int64")
    if len(grid):
        kmin = pd.Series(g_k).groupby(g_r).min().reindex(range(n_reg)).fillna(0).astype("int64")
        kmax = pd.Series(g_k).groupby(g_r).max().reindex(range(n_reg)).fillna(-1).astype("int64")
        kmin, kmax = kmin.to_numpy(), kmax.to_numpy()
        sizes = kmax - kmin + 1
        base = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        flat = np.full(int(sizes.sum()), -1, dtype="int64")
        flat[base[g_r] + g_k - kmin[g_r]] = g_pos
    # window ends in records order
    end_order = np.argsort(g_pos, kind="stable")
    e_r, e_k, e_pos = g_r[end_order], g_k[end_order], g_pos[end_order]
    n_win = len(e_pos)
    slots = np.full((n_win, n_steps), -1, dtype="int64")
    for j in range(n_steps):
        kk = e_k - (n_steps - 1 - j)
        valid = kk >= kmin[e_r]
        slots[valid, j] = flat[base[e_r[valid]] + kk[valid] - kmin[e_r[valid]]]

    missing = slots < 0
    bad_rec = np.where(missing, False, ~keep[np.where(missing, 0, slots)])
    bad = bad_rec | (missing & bool(s.missing_counts_as_bad))
    n_bad = bad.sum(axis=1)
    dropped = np.where(
        bad[:, -1],
        "bad_last_record",
        np.where(n_bad > int(s.max_bad_records), "too_many_bad", ""),
    ).astype(object)

    t_end = t_rec[e_pos]
    obs = np.timedelta64(int(round(s.obs_hours * 3600e9)), "ns")
    pred = np.timedelta64(int(round(s.pred_hours * 3600e9)), "ns")
    t_start = t_end - obs
    pred_end = t_end + pred
    if s.noaa_match == "region":
        win_sets = [reg_sets[r] for r in e_r]
    else:
        win_sets = [noaa[p] for p in e_pos]
    oa, os_ = _count_flares(table, win_sets, t_start, t_end)
    pa, ps = _count_flares(table, win_sets, t_end, pred_end)

    ids = np.where(missing, -1, rec_ids[np.where(missing, 0, slots)])
    region_id = region_names.to_numpy()[e_r].astype(object)
    t_end_s = pd.Series(t_end)
    sample_id = pd.Series(region_id) + "_" + t_end_s.dt.strftime("%Y%m%dT%H%M%S")
    out = pd.DataFrame(
        {
            "sample_id": sample_id.to_numpy(dtype=object),
            "region_id": region_id,
            "instrument": records["instrument"].to_numpy()[e_pos],
            "series": records["series"].to_numpy()[e_pos],
            "t_start": t_start,
            "t_end": t_end,
            "pred_end": pred_end,
            "obs_type": evolution_type(oa, os_),
            "pred_type": evolution_type(pa, ps),
            "n_bad": n_bad.astype("int64"),
            "record_ids": [";".join(map(str, row)) for row in ids.tolist()],
            "last_record": rec_ids[e_pos],
            "n_missing": missing.sum(axis=1).astype("int64"),
            "dropped": dropped,
            "region_type": reg_type[e_r],
            "region_end": reg_last[e_r],
        }
    )
    if out["sample_id"].duplicated().any():
        dup = out.loc[out["sample_id"].duplicated(), "sample_id"].iloc[0]
        raise ValueError(f"records: two window ends give the same sample id {dup!r}")
    return out


# --------------------------------------------------------------------------------------------
# tasks
# --------------------------------------------------------------------------------------------
def _kept(candidates: pd.DataFrame) -> pd.DataFrame:
    if "dropped" in candidates.columns:
        return candidates[candidates["dropped"].fillna("") == ""]
    return candidates


def strong_vs_quiet(candidates: pd.DataFrame) -> pd.DataFrame:
    """S1 task: positive = STRONG prediction window; negative = QUIET observation and prediction.

    Truth table (rows: ``obs_type``, columns: ``pred_type``; "discard" rows are removed)::

                  QUIET     WEAK      STRONG
        QUIET     0         discard   1
        WEAK      discard   discard   1
        STRONG    discard   discard   1

    Dropped candidates (non-empty ``dropped``) are removed first.
    """
    c = _kept(candidates)
    pos = c["pred_type"] == "STRONG"
    neg = (c["obs_type"] == "QUIET") & (c["pred_type"] == "QUIET")
    out = c[pos | neg].copy()
    out["label"] = pos[pos | neg].astype("int64")
    return out


def flaring_region(candidates: pd.DataFrame) -> pd.DataFrame:
    """S2 task: every kept candidate, labelled with its region's type over the region's record span.

    ``label`` = 1 when ``region_type`` is STRONG (a >= ``strong_class`` flare from one of the
    region's NOAA numbers started within ``[first t_rec, last t_rec]``), else 0. ``pred_type``
    becomes ``region_type`` and ``pred_end`` the region's last record time.
    """
    _require(candidates, ["region_type", "region_end"], "candidates")
    out = _kept(candidates).copy()
    out["pred_type"] = out["region_type"]
    out["pred_end"] = out["region_end"]
    out["label"] = (out["region_type"] == "STRONG").astype("int64")
    return out


def make_samples(
    records: pd.DataFrame,
    flares: pd.DataFrame,
    settings: LabelSettings,
    flagged: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Labelled samples of the configured task, in the ``samples.csv`` layout (``docs/FILES.md``).

    :func:`label_windows` then the task ``settings.task``; columns exactly :data:`SAMPLE_COLUMNS`,
    times as naive-UTC timestamps (see :func:`write_samples` for the file).
    """
    return apply_task(label_windows(records, flares, settings, flagged), settings.task)


def apply_task(candidates: pd.DataFrame, task: str) -> pd.DataFrame:
    """The task named ``task`` (a key of :data:`TASKS`) applied to :func:`label_windows` candidates.

    Columns exactly :data:`SAMPLE_COLUMNS`, in candidate order.
    """
    if task not in TASKS:
        raise ValueError(f"unknown label task {task!r}; known: {sorted(TASKS)}")
    out = TASKS[task].label(candidates)
    return out[SAMPLE_COLUMNS].reset_index(drop=True)


def no_positive_diagnosis(
    records: pd.DataFrame,
    flares: pd.DataFrame,
    settings: LabelSettings,
    samples: pd.DataFrame,
    candidates: pd.DataFrame | None = None,
) -> str | None:
    """Why ``samples`` has no positive label when it should have; ``None`` when nothing is wrong.

    Silent zero positives are an error in two cases (else an archive may simply be quiet):

    * the flare list is empty although there are records (every flare of the catalogue was
      rejected, or none lies in the archive's time range);
    * it holds flares at or above ``strong_class`` that start between the first record and the
      last record plus ``pred_hours``. The message counts how many of those have no NOAA number,
      a NOAA number that no record's ``noaa_ars`` lists (a HARP/TARP to NOAA mapping problem), or
      match a region whose windows were all dropped or discarded.
    """
    if "label" in samples and (pd.to_numeric(samples["label"]) > 0).any():
        return None
    if not len(records):
        return None
    if not len(flares):
        return (
            f"no positive sample and no flare at all for {len(records)} records: the flare list "
            "is empty (every flare rejected by the catalogue reader, see the rejected_*.csv "
            "beside flares.csv, or none in the archive's time range)"
        )
    strong_flux = class_to_flux(settings.strong_class)
    flux = []
    for c, peak in zip(
        flares["goes_class"].astype("object"),
        flares.get("peak_flux_wm2", pd.Series(np.nan, index=flares.index)),
        strict=True,
    ):
        try:
            flux.append(class_to_flux(str(c)) if pd.notna(c) and str(c).strip() else float(peak))
        except (TypeError, ValueError):
            flux.append(np.nan)
    start = _times(flares, "start_utc", "flares")
    t_rec = _times(records, "t_rec", "records")
    lo, hi = t_rec.min(), t_rec.max() + pd.Timedelta(hours=float(settings.pred_hours))
    strong = (np.asarray(flux) >= strong_flux) & (start > lo).to_numpy() & (start <= hi).to_numpy()
    n = int(strong.sum())
    if n == 0:
        return None
    noaa = pd.to_numeric(flares["noaa_ar"], errors="coerce")[strong]
    listed = {int(x) for v in noaa_lists(records["noaa_ars"]) for x in v}
    no_noaa = int(noaa.isna().sum())
    unlisted = int((noaa.notna() & ~noaa.isin(listed)).sum())
    matched = n - no_noaa - unlisted
    dropped = ""
    if candidates is not None and "dropped" in candidates:
        d = candidates["dropped"].fillna("").astype(str)
        dropped = f"; of {len(candidates)} candidate windows {int((d != '').sum())} were dropped"
        dropped += f" ({d[d != ''].value_counts().to_dict()})" if (d != "").any() else ""
    return (
        f"no positive sample although flares.csv has {n} flare(s) >= {settings.strong_class} "
        f"between the first record ({lo}) and the last plus pred_hours ({hi}): {no_noaa} have "
        f"no NOAA number, {unlisted} a NOAA number that no record's noaa_ars lists (check the "
        f"HARP/TARP to NOAA map), {matched} match a region's NOAA number but fall in no kept "
        f"window (bad or missing records, quality rejections){dropped}"
    )


# --------------------------------------------------------------------------------------------
# tables and files
# --------------------------------------------------------------------------------------------
def evolution_counts(candidates: pd.DataFrame) -> pd.DataFrame:
    """Count observation type × prediction type per instrument (Sun et al. 2022, Table 2).

    Counted over kept candidates (``dropped`` empty, when that column exists), before any task
    filter. Columns: ``instrument, obs_type, QUIET, WEAK, STRONG, total``; three rows per
    instrument (QUIET, WEAK, STRONG observation windows), zeros included.
    """
    _require(candidates, ["instrument", "obs_type", "pred_type"], "candidates")
    c = _kept(candidates)
    rows = []
    for inst in sorted(c["instrument"].astype(str).unique()):
        g = c[c["instrument"].astype(str) == inst]
        tab = pd.crosstab(g["obs_type"], g["pred_type"])
        tab = tab.reindex(index=list(EVOLUTION_TYPES), columns=list(EVOLUTION_TYPES), fill_value=0)
        for o in EVOLUTION_TYPES:
            vals = [int(tab.loc[o, p]) for p in EVOLUTION_TYPES]
            rows.append([inst, o, *vals, sum(vals)])
    return pd.DataFrame(rows, columns=["instrument", "obs_type", *EVOLUTION_TYPES, "total"])


def drop_counts(candidates: pd.DataFrame) -> pd.DataFrame:
    """Candidates per instrument by outcome: total, kept, bad_last_record, too_many_bad.

    Columns ``instrument, outcome, count`` (the table of what the bad-record rule removed).
    """
    _require(candidates, ["instrument", "dropped"], "candidates")
    rows = []
    for inst, g in candidates.groupby(candidates["instrument"].astype(str), sort=True):
        d = g["dropped"].fillna("")
        rows.append((inst, "total", len(g)))
        rows.append((inst, "kept", int((d == "").sum())))
        for reason in ("bad_last_record", "too_many_bad"):
            rows.append((inst, reason, int((d == reason).sum())))
    return pd.DataFrame(rows, columns=["instrument", "outcome", "count"])


def write_samples(samples: pd.DataFrame, target: str | os.PathLike) -> None:
    """Write samples atomically with ISO-UTC millisecond times (``2011-02-15T01:59:26.000``).

    The row count and checksum are recorded beside it (:func:`flarepipe.io.atomic.record_integrity`)
    and verified by :func:`read_samples`.
    """
    out = samples.copy()
    for col in _TIME_COLUMNS:
        if col in out.columns and pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = to_iso_utc(pd.DatetimeIndex(out[col]))
    write_csv(out, target)
    record_integrity(target, rows=len(out))


def read_samples(path: str | os.PathLike) -> pd.DataFrame:
    """Read ``samples.csv``: ids as strings, times as naive-UTC timestamps.

    Raises :class:`flarepipe.io.atomic.IntegrityError` when the file is not what
    :func:`write_samples` wrote (e.g. cut at a line boundary: fewer rows, another checksum).
    """
    verify_integrity(path)
    df = pd.read_csv(
        path,
        dtype={"sample_id": str, "region_id": str, "record_ids": str},
        keep_default_na=False,
        na_values=[""],
    )
    _require(df, SAMPLE_COLUMNS, str(path))
    verify_integrity(path, rows=len(df))
    for col in _TIME_COLUMNS:
        df[col] = _times(df, col, str(path))
    return df
