"""Reproduce Sun et al. 2022 (S1) on the real SHARP/SMARP keyword tables (LSTM and LR baseline).

Command line::

    python -m flarepipe.studies.sun2022.reproduce --data ../shared/data/real --out results/sun2022_real \\
        [--runs 10] [--datasets SHARP_ONLY FUSED_SHARP ...] [--models LSTM LR] [--quick]

Inputs (``<data>``, see ``data/real/README.md``): ``keywords/sharp_{0..4}.csv`` and
``keywords/smarp_{0..4}.csv`` (one row per 24 h observation window, stepping 96 minutes; the
keywords are those of the window's last record; ``label`` is true when a >= M1.0 flare of the region
starts in the next 24 h; ``flares`` lists the region's flares of that prediction window,
``FLARE_INDEX`` summarises the flares of the observation window), ``keywords/harp_noaa_map.txt``
and ``goes/goes_events_1995_2024.txt`` (plus ``goes/swpc_events_1996_2018.csv``, only to explain
relabelling disagreements).

Steps
-----
1. **Tables** -> one tidy frame (:func:`load_tables`, through
   :func:`flarepipe.archive.sources.local.load_keyword_tables`): ``region_id`` (``HARP<n>``/``TARP<n>``),
   ``instrument`` (HMI/MDI), ``t_end`` (UTC, converted from the table's TAI grid time
   ``t_end_tai``), the four keywords, ``label``, ``flares``, ``flare_index`` and ``fold`` (the
   authors' file suffix).
2. **Relabelling** (:func:`relabel`) with flarepipe's own rule
   (:func:`flarepipe.samples.labels.label_windows`:
   a flare counts when its start lies in ``(t_end, t_end + 24 h]`` and its NOAA number is one of the
   region's). HARPs use the JSOC HARP->NOAA map. No TARP->NOAA map exists in the data, so one is
   *derived* from the tables' own ``flares`` lists (:func:`derive_region_noaa`); the SMARP
   relabelling is then a consistency check, not an independent one. Disagreements are explained row
   by row (:func:`explain_disagreements`).
3. **Samples** (:func:`select_samples`, S1 ``strong_vs_quiet``): positive = ``label`` (a STRONG
   prediction window); negative = no flare in the prediction window (``flares`` empty) and none in
   the observation window (``FLARE_INDEX == 0``); every other row (a WEAK window) is discarded.
   Training uses the tables' labels (the data the authors trained on).
4. **Sequences** (:func:`build_sequences`): the 16-step keyword sequence of a sample is read from
   the rows of the same region at ``t_end - 15·96 min … t_end`` (any row of the table, discarded
   ones included); S1's bad-record rule then drops a sample whose last step is missing or with
   more than 2 missing steps, and fills the others' gaps from the next available step.
5. **Splits** (:func:`flarepipe.samples.split.make_dataset_splits`): 20 % of regions test, 20 % of the rest
   validation, the rest train (random by region, seeded per run); negatives undersampled to the
   positives in every (split, instrument); FUSED_* add all samples of the other instrument to train.
   Keywords are z-scored per instrument with training statistics (:func:`standardise`).
6. **Models**: the S1 LSTM (:func:`flarepipe.training.fit.train_one`, Adam 1e-3, batch 64, early stopping
   on validation TSS) and a scikit-learn logistic regression on the last record's four standardised
   keywords (:func:`fit_logistic`), on the same splits.
7. **Evaluation** (:mod:`flarepipe.evaluation.evaluate`): ACC/TSS/AUC/BSS… per run, mean ± sd against the
   published values, one-sided paired t-tests (FUSED vs ONLY for the LSTM, LSTM vs LR per dataset).

Outputs (``<out>/``): ``relabel_agreement.csv`` (+ ``relabel_disagreements.csv``,
``relabel_agreement.md``, ``tarp_noaa_derived.csv``), ``samples_summary.csv``,
``metrics.csv`` (tidy ``dataset, model, run, split, metric, value``), ``paired_tests.csv``,
``comparison.md``, and per run ``models/<dataset>/<model>/run<r>/predictions.csv``. Every file is
written atomically; finished runs are reused unless ``--force``.

Known catalogue issue worked around here
----------------------------------------
:func:`flarepipe.archive.catalogues.flares.read_goes_events_txt` canonicalises classes through
:func:`flarepipe.core.flareclass.flux_to_class`, which rounds the multiplier in the *next* class's
units, so ``C9.6``…``C9.9`` become ``M1.0`` (while ``peak_flux_wm2`` stays right). Labelling reads
``goes_class`` first, which would turn those C flares into STRONG ones. :func:`load_catalogue`
therefore blanks ``goes_class`` so that :func:`flarepipe.samples.labels.label_windows` falls back on
``peak_flux_wm2``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flarepipe.io.atomic import write_csv, write_json, write_text
from flarepipe.archive.catalogues.flares import read_goes_events_txt, read_harp_noaa_map, read_swpc_events_csv
from flarepipe.evaluation.evaluate import (
    PUBLISHED_SUN2022,
    evaluate_runs,
    paired_test,
    summary_table,
    to_markdown,
)
from flarepipe.data.features import standardise_keywords
from flarepipe.core.flareclass import M1_FLUX, class_to_flux
from flarepipe.samples.labels import label_windows
from flarepipe.archive.sources.local import keyword_tables_to_records, load_keyword_tables
from flarepipe.samples.split import DATASETS, SPLITS, derive_seed, make_dataset_splits

__all__ = [
    "DEFAULT_DATASETS",
    "GRID_ORIGIN",
    "KEYWORDS",
    "MODELS",
    "REAL_DATA_ENV",
    "SEQUENCE_DEFAULTS",
    "RunData",
    "agreement_summary",
    "build_sequences",
    "comparison_markdown",
    "default_data_dir",
    "derive_region_noaa",
    "explain_disagreements",
    "fit_logistic",
    "lr_population_check",
    "load_catalogue",
    "load_tables",
    "main",
    "make_run_data",
    "paired_tests",
    "read_region_noaa",
    "relabel",
    "reproduce",
    "select_samples",
    "standardise",
]

log = logging.getLogger(__name__)

#: Environment variable naming the shared real-data folder (default ``../shared/data/real``).
REAL_DATA_ENV = "FLAREPIPE_REAL_DATA"
#: The four S1 keywords, in the order of the sequence's last axis (archive column names).
KEYWORDS: tuple[str, ...] = ("usfluxl_mx", "meangbl_g_per_px", "r_value", "area_uhem")
#: Models fitted per (dataset, run): the S1 LSTM and the logistic-regression baseline.
MODELS: tuple[str, ...] = ("LSTM", "LR")
#: Datasets in display order.
DEFAULT_DATASETS: tuple[str, ...] = ("FUSED_SHARP", "SHARP_ONLY", "FUSED_SMARP", "SMARP_ONLY")
#: The JSOC T_REC epoch: the 96-minute grid is 00:00, 01:36, … TAI each day.
GRID_ORIGIN = pd.Timestamp("1993-01-01T00:00:00")
#: S1 sequence rule: 16 steps of 96 min (24 h, both ends), at most 2 missing, last must exist.
SEQUENCE_DEFAULTS: dict[str, Any] = {
    "n_steps": 16,
    "step_minutes": 96.0,
    "max_missing": 2,
    "tolerance_minutes": 3.0,
}
_DAY = pd.Timedelta(hours=24)
_FLUX_UNIT = 1e-10  # integer flux keys in units of 1e-10 W/m² (A1.0 = 100)


def default_data_dir() -> Path:
    """The real-data folder: ``$FLAREPIPE_REAL_DATA``, else ``../shared/data/real``."""
    return Path(os.environ.get(REAL_DATA_ENV, Path("..") / "shared" / "data" / "real"))


# ============================================================================================
# 1. inputs
# ============================================================================================
def _table_paths(data_dir: Path, kind: str, folds: Sequence[int] | None) -> list[Path]:
    paths = sorted((data_dir / "keywords").glob(f"{kind}_*.csv"))
    if folds is not None:
        paths = [p for p in paths if int(p.stem.rsplit("_", 1)[1]) in set(folds)]
    if not paths:
        raise FileNotFoundError(
            f"no {kind}_*.csv keyword tables under {data_dir / 'keywords'} (folds {folds}); "
            f"pass --data or set {REAL_DATA_ENV} to the shared data/real folder"
        )
    return paths


def load_tables(
    data_dir: str | os.PathLike,
    kinds: Sequence[str] = ("sharp", "smarp"),
    folds: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Read the Sun et al. 2022 keyword tables into one tidy frame.

    Parameters
    ----------
    data_dir
        The shared ``data/real`` folder (holding ``keywords/``).
    kinds
        Which tables: ``"sharp"`` and/or ``"smarp"``.
    folds
        File suffixes to read (the authors' region-grouped folds 0..4); None for all.

    Returns
    -------
    pandas.DataFrame
        :func:`flarepipe.archive.sources.local.load_keyword_tables` columns (``region_id``, ``instrument``,
        ``region``, ``t_end`` UTC, ``t_end_tai``, ``t_start``, :data:`KEYWORDS`, ``label`` bool,
        ``flares`` str, ``flare_index``, ``fold``), sorted by ``region_id, t_end``, index 0..n-1.

    Raises
    ------
    FileNotFoundError
        When no table matches.
    """
    data_dir = Path(data_dir)
    paths = [p for kind in kinds for p in _table_paths(data_dir, kind, folds)]
    table = load_keyword_tables(paths)
    table["flares"] = table["flares"].fillna("").astype(str)
    return table.reset_index(drop=True)


def load_catalogue(data_dir: str | os.PathLike) -> pd.DataFrame:
    """GOES events of ``goes/goes_events_1995_2024.txt`` for labelling (``flares.csv`` schema).

    ``goes_class`` is blanked so that labelling uses ``peak_flux_wm2`` (see the module docstring:
    the catalogue reader turns C9.6–C9.9 into ``M1.0``).
    """
    res = read_goes_events_txt(Path(data_dir) / "goes" / "goes_events_1995_2024.txt")
    flares = res.flares.copy()
    flares["goes_class"] = None
    return flares


def _class_rounding_flips(data_dir: str | os.PathLike) -> pd.DataFrame:
    """Catalogue events whose canonical ``goes_class`` is >= M1.0 while the flux is below it."""
    res = read_goes_events_txt(Path(data_dir) / "goes" / "goes_events_1995_2024.txt")
    f = res.flares
    cls_flux = f["goes_class"].map(class_to_flux)
    return f[(cls_flux >= M1_FLUX) & (f["peak_flux_wm2"] < M1_FLUX)]


def read_region_noaa(data_dir: str | os.PathLike) -> dict[str, list[int]]:
    """The JSOC HARP->NOAA map keyed by ``region_id`` (``HARP377`` -> ``[11158]``)."""
    m = read_harp_noaa_map(Path(data_dir) / "keywords" / "harp_noaa_map.txt")
    return {f"HARP{k}": list(v) for k, v in m.items()}


def _flux_keys(values: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(values, dtype=float) / _FLUX_UNIT).astype(np.int64)


def _listed_keys(flares: pd.Series) -> pd.DataFrame:
    """(row position, flux key) for every class in the tables' ``|``-joined ``flares`` lists."""
    rows, keys = [], []
    cache: dict[str, int] = {}
    for i, text in enumerate(flares.astype(str).to_numpy()):
        if not text:
            continue
        for c in text.split("|"):
            if c not in cache:
                try:
                    cache[c] = int(_flux_keys([class_to_flux(c)])[0])
                except ValueError:
                    cache[c] = -1
            rows.append(i)
            keys.append(cache[c])
    return pd.DataFrame({"row": np.asarray(rows, dtype=np.int64),
                         "key": np.asarray(keys, dtype=np.int64)}).drop_duplicates()


def _events_in_windows(
    flares: pd.DataFrame, t0: np.ndarray, t1: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(window position, event position) pairs with ``t0 <= start <= t1`` (both ends included).

    ``flares`` must be sorted by ``start_utc``.
    """
    start = flares["start_utc"].to_numpy().astype("datetime64[ns]")
    lo = np.searchsorted(start, t0.astype("datetime64[ns]"), side="left")
    hi = np.searchsorted(start, t1.astype("datetime64[ns]"), side="right")
    n = np.maximum(hi - lo, 0)
    win = np.repeat(np.arange(len(t0)), n)
    offs = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    return win, np.repeat(lo, n) + offs


def derive_region_noaa(
    table: pd.DataFrame, flares: pd.DataFrame, min_fraction: float = 0.5
) -> tuple[dict[str, list[int]], pd.DataFrame]:
    """Infer each region's NOAA numbers from the flare lists of its table rows.

    Used for TARPs, for which the data hold no TARP->NOAA map. The authors built ``flares`` from
    the GOES events of the region's NOAA numbers starting in ``[t_end, t_end + 24 h]`` (the TAI grid
    time compared with UTC event times, both ends included). For every row and every NOAA number
    ``n`` with catalogue events in that window, the pair *supports* ``n`` when all of ``n``'s events
    there have a peak flux listed in the row's ``flares`` (classes compared as fluxes). ``n`` is
    accepted for the region when it supports at least one row and ``support / windows >=
    min_fraction`` over the region's rows where ``n`` has events.

    A region without any listed flare gets no NOAA number (its relabelling is then all negative,
    which agrees with the table by construction). Checked on the HARPs against the real JSOC map:
    with ``min_fraction = 0.5`` the derived map relabels every SHARP row exactly as the real map
    does.

    Parameters
    ----------
    table
        Rows of :func:`load_tables` (``region_id``, ``t_end_tai``, ``flares``).
    flares
        Catalogue events (``start_utc``, ``peak_flux_wm2``, ``noaa_ar``).
    min_fraction
        Smallest fraction of supporting windows.

    Returns
    -------
    mapping : dict
        ``region_id`` -> sorted NOAA numbers.
    evidence : pandas.DataFrame
        ``region_id, noaa, support, windows, fraction, accepted``.
    """
    ev = flares[flares["noaa_ar"].notna()].sort_values("start_utc", kind="stable")
    t0 = table["t_end_tai"].to_numpy().astype("datetime64[ns]")
    win, evi = _events_in_windows(ev, t0, t0 + np.timedelta64(24, "h"))
    pairs = pd.DataFrame({
        "row": win,
        "noaa": ev["noaa_ar"].to_numpy(dtype=np.int64)[evi],
        "key": _flux_keys(ev["peak_flux_wm2"].to_numpy())[evi],
    })
    listed = _listed_keys(table["flares"])
    listed["in_list"] = True
    pairs = pairs.merge(listed, on=["row", "key"], how="left")
    pairs["in_list"] = pairs["in_list"].astype("boolean").fillna(False).astype(bool)
    per = pairs.groupby(["row", "noaa"], sort=False)["in_list"].all().reset_index()
    per["region_id"] = table["region_id"].to_numpy()[per["row"].to_numpy()]
    ev_tab = (
        per.groupby(["region_id", "noaa"])["in_list"]
        .agg(support="sum", windows="count")
        .reset_index()
    )
    ev_tab["support"] = ev_tab["support"].astype(np.int64)
    ev_tab["fraction"] = ev_tab["support"] / ev_tab["windows"]
    ev_tab["accepted"] = (ev_tab["support"] >= 1) & (ev_tab["fraction"] >= min_fraction)
    acc = ev_tab[ev_tab["accepted"]]
    mapping = {str(r): sorted(int(x) for x in g["noaa"]) for r, g in acc.groupby("region_id")}
    return mapping, ev_tab


# ============================================================================================
# 2. relabelling
# ============================================================================================
def relabel(
    table: pd.DataFrame, flares: pd.DataFrame, region_noaa: Mapping[str, Sequence[int]]
) -> pd.DataFrame:
    """Label every table row with flarepipe's rule (:func:`flarepipe.samples.labels.label_windows`).

    A flare counts for a row when its start lies in ``(t_end, t_end + 24 h]`` (``t_end`` in UTC)
    and its NOAA number is one of the region's (``region_noaa``); the row is STRONG when one such
    flare is >= M1.0.

    Returns
    -------
    pandas.DataFrame
        Index of ``table``; ``relabel`` (bool, STRONG prediction window), ``obs_type``,
        ``pred_type`` (QUIET/WEAK/STRONG).
    """
    records, rejected = keyword_tables_to_records(table)
    if len(rejected):
        raise ValueError(f"relabel: {len(rejected)} repeated (region_id, t_end) rows with "
                         f"different keywords, e.g. {rejected['reason'].iloc[0]}")
    records["noaa_ars"] = records["region_id"].map(
        lambda r: ",".join(str(n) for n in region_noaa.get(str(r), ()))
    )
    cand = label_windows(records, flares, None, {"task": "strong_vs_quiet"})
    key = table[["region_id", "t_end"]].copy()
    key["t_end"] = pd.DatetimeIndex(key["t_end"]).as_unit("ns")
    c = cand[["region_id", "t_end", "obs_type", "pred_type"]].copy()
    c["t_end"] = pd.DatetimeIndex(c["t_end"]).as_unit("ns")
    merged = key.merge(c, on=["region_id", "t_end"], how="left", validate="1:1")
    if merged["pred_type"].isna().any():
        bad = merged[merged["pred_type"].isna()].iloc[0]
        raise RuntimeError(f"relabel: no window for {bad['region_id']} at {bad['t_end']}")
    out = pd.DataFrame(index=table.index)
    out["obs_type"] = merged["obs_type"].to_numpy()
    out["pred_type"] = merged["pred_type"].to_numpy()
    out["relabel"] = out["pred_type"].eq("STRONG").to_numpy()
    return out


def _strong_list(text: str) -> list[float]:
    out = []
    for c in str(text).split("|"):
        try:
            f = class_to_flux(c)
        except ValueError:
            continue
        if f >= M1_FLUX:
            out.append(f)
    return out


def explain_disagreements(
    table: pd.DataFrame,
    relabelled: pd.DataFrame,
    flares: pd.DataFrame,
    region_noaa: Mapping[str, Sequence[int]],
    swpc: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per table row whose ``label`` differs from ``relabel``, with the reason.

    Windows: ours ``(t_end, t_end + 24 h]`` in UTC; the authors' ``[t_end_tai, t_end_tai + 24 h]``
    (TAI grid time read as UTC, both ends included). Reasons, first match wins::

        table positive, relabel negative
          window_edge                  a >= M1.0 flare of the region's NOAA numbers starts in the
                                       authors' window but not in ours (exactly at t_end_tai + 24 h:
                                       ours ends 32-37 s earlier, at t_end UTC + 24 h)
          region_not_in_map            the region has no NOAA number in the map
          noaa_not_in_map              a >= M1.0 flare of a class the table lists starts in the
                                       window but belongs to a NOAA number not mapped to the region
          flare_missing_from_catalogue no such flare in goes_events_1995_2024.txt at all (detail:
                                       whether the SWPC list has it, and for which region)
        relabel positive, table negative
          window_edge                  the flare is in our window but not in the authors'
          flare_absent_from_table      a mapped region's >= M1.0 flare the table's list lacks

    Returns
    -------
    pandas.DataFrame
        ``region_id, instrument, t_end_tai, t_end, table_label, relabel, table_flares, reason,
        detail``.
    """
    ev = flares[flares["noaa_ar"].notna()].sort_values("start_utc", kind="stable")
    ev_start = ev["start_utc"].to_numpy()
    ev_flux = ev["peak_flux_wm2"].to_numpy()
    ev_noaa = ev["noaa_ar"].to_numpy(dtype=np.int64)
    strong = ev_flux >= M1_FLUX
    sw = None
    if swpc is not None and len(swpc):
        sw = swpc[swpc["peak_flux_wm2"] >= M1_FLUX].sort_values("start_utc", kind="stable")

    def events(t0, t1, lo_incl, hi_incl):
        m = ((ev_start >= t0) if lo_incl else (ev_start > t0)) & (
            (ev_start <= t1) if hi_incl else (ev_start < t1))
        return np.flatnonzero(m & strong)

    def fmt(i: int) -> str:
        return (f"M/X {ev_flux[i]:.2g} W/m² at {pd.Timestamp(ev_start[i])} from NOAA "
                f"{ev_noaa[i]}")

    rows = []
    diff = np.flatnonzero(table["label"].to_numpy(bool) != relabelled["relabel"].to_numpy(bool))
    for pos in diff:
        r = table.iloc[pos]
        rid = str(r["region_id"])
        noaa = set(int(n) for n in region_noaa.get(rid, ()))
        ta, tu = pd.Timestamp(r["t_end_tai"]), pd.Timestamp(r["t_end"])
        auth = events(ta, ta + _DAY, True, True)
        ours = events(tu, tu + _DAY, False, True)
        auth_reg = [i for i in auth if ev_noaa[i] in noaa]
        ours_reg = [i for i in ours if ev_noaa[i] in noaa]
        listed = _strong_list(r["flares"])
        if bool(r["label"]):
            if auth_reg:
                reason, detail = "window_edge", fmt(auth_reg[0])
            elif not noaa:
                reason = "region_not_in_map"
                detail = f"{rid} has no NOAA number in the region->NOAA map"
                if rid.startswith("TARP"):
                    detail += " (none derived: no catalogue flare matches its listed flares)"
            else:
                other = [i for i in auth if any(abs(ev_flux[i] - f) < 1e-9 for f in listed)]
                if other:
                    reason = "noaa_not_in_map"
                    detail = f"{fmt(other[0])}; map has {sorted(noaa)}"
                else:
                    reason = "flare_missing_from_catalogue"
                    detail = f"table lists {'|'.join(f'{f:.2g}' for f in listed)} W/m²"
                    if sw is not None:
                        s = sw[(sw["start_utc"] >= ta) & (sw["start_utc"] <= ta + _DAY)]
                        s = s[[any(abs(x - f) < 1e-9 for f in listed)
                               for x in s["peak_flux_wm2"]]]
                        if len(s):
                            nr = s["noaa_ar"].iloc[0]
                            detail += (f"; SWPC list has it at {s['start_utc'].iloc[0]} for "
                                       f"{'no region' if pd.isna(nr) else f'NOAA {int(nr)}'}")
                        else:
                            detail += "; not in the SWPC list either"
        else:
            if ours_reg and not auth_reg:
                reason, detail = "window_edge", fmt(ours_reg[0])
            else:
                reason = "flare_absent_from_table"
                detail = fmt(ours_reg[0]) if ours_reg else ""
        rows.append({
            "region_id": rid,
            "instrument": r["instrument"],
            "t_end_tai": ta,
            "t_end": tu,
            "table_label": bool(r["label"]),
            "relabel": bool(relabelled["relabel"].iloc[pos]),
            "table_flares": r["flares"],
            "reason": reason,
            "detail": detail,
        })
    cols = ["region_id", "instrument", "t_end_tai", "t_end", "table_label", "relabel",
            "table_flares", "reason", "detail"]
    return pd.DataFrame(rows, columns=cols)


def agreement_summary(
    table: pd.DataFrame, relabelled: pd.DataFrame, reasons: pd.DataFrame,
    map_source: Mapping[str, str],
) -> pd.DataFrame:
    """Agreement counts per instrument, one row per (table label, relabel, reason).

    Columns ``instrument, map, table_label, relabel, reason, count, percent`` (percent of the
    instrument's rows); ``reason`` is ``agree`` on the diagonal.
    """
    rows = []
    for inst, idx in table.groupby("instrument", sort=True).groups.items():
        t = table.loc[idx, "label"].astype(bool)
        r = relabelled.loc[idx, "relabel"].astype(bool)
        n = len(idx)
        for tl in (True, False):
            for rl in (True, False):
                if tl == rl:
                    cnt = int(((t == tl) & (r == rl)).sum())
                    rows.append((inst, map_source.get(inst, ""), tl, rl, "agree", cnt))
                    continue
                sub = reasons[(reasons["instrument"] == inst) & (reasons["table_label"] == tl)
                              & (reasons["relabel"] == rl)]
                for reason, cnt in sub["reason"].value_counts().sort_index().items():
                    rows.append((inst, map_source.get(inst, ""), tl, rl, reason, int(cnt)))
                if sub.empty:
                    rows.append((inst, map_source.get(inst, ""), tl, rl, "-", 0))
    out = pd.DataFrame(rows, columns=["instrument", "map", "table_label", "relabel", "reason",
                                      "count"])
    totals = table["instrument"].value_counts()
    out["percent"] = [100.0 * c / totals[i] for i, c in zip(out["instrument"], out["count"],
                                                              strict=True)]
    return out


def _relabel_markdown(summary: pd.DataFrame, table: pd.DataFrame, notes: Sequence[str]) -> str:
    lines = ["# Relabelling the Sun et al. 2022 keyword tables with flarepipe's rule", ""]
    lines += ["| instrument | map | rows | agree | agreement | table-only positives | "
              "relabel-only positives |", "|---|---|---:|---:|---:|---:|---:|"]
    for inst, g in summary.groupby("instrument", sort=True):
        n = int((table["instrument"] == inst).sum())
        agree = int(g.loc[g["reason"] == "agree", "count"].sum())
        t_only = int(g.loc[g["table_label"] & ~g["relabel"], "count"].sum())
        r_only = int(g.loc[~g["table_label"] & g["relabel"], "count"].sum())
        lines.append(f"| {inst} | {g['map'].iloc[0]} | {n} | {agree} | {100 * agree / n:.3f} % | "
                     f"{t_only} | {r_only} |")
    lines += ["", "Disagreements by reason:", "", "| instrument | table label | relabel | reason | "
              "rows |", "|---|---|---|---|---:|"]
    dis = summary[(summary["reason"] != "agree") & (summary["count"] > 0)]
    for r in dis.itertuples(index=False):
        lines.append(f"| {r.instrument} | {r.table_label} | {r.relabel} | {r.reason} | {r.count} |")
    lines += ["", *notes, ""]
    return "\n".join(lines)


# ============================================================================================
# 3. samples and sequences
# ============================================================================================
def select_samples(table: pd.DataFrame) -> pd.DataFrame:
    """S1 ``strong_vs_quiet`` samples from the tables' own columns.

    Truth table (``label``; ``flares`` = prediction-window flares; ``flare_index`` over the
    observation window)::

        label   flares    flare_index   role
        True    any       any           positive (label 1)
        False   empty     0             negative (label 0): QUIET observation and prediction
        False   empty     > 0           discarded (WEAK observation window)
        False   listed    any           discarded (WEAK prediction window)

    (The tables hold no row with a >= M1.0 observation flare and a negative label: the authors
    removed those.)

    Returns
    -------
    pandas.DataFrame
        The kept rows (index of ``table``) with ``sample_id`` (``HARP377_20110215T015926``, UTC
        ``t_end``) and ``label`` int64 0/1.
    """
    pos = table["label"].astype(bool)
    neg = ~pos & (table["flares"].astype(str) == "") & (table["flare_index"].fillna(1) == 0)
    out = table[pos | neg].copy()
    out["label"] = pos[pos | neg].astype(np.int64)
    out["sample_id"] = (out["region_id"].astype(str) + "_"
                        + pd.DatetimeIndex(out["t_end"]).strftime("%Y%m%dT%H%M%S"))
    if out["sample_id"].duplicated().any():
        dup = out.loc[out["sample_id"].duplicated(), "sample_id"].iloc[0]
        raise ValueError(f"two table rows give the sample id {dup!r}")
    return out


def _grid_index(t: pd.Series | pd.DatetimeIndex, step: pd.Timedelta, tol: pd.Timedelta,
                what: str) -> np.ndarray:
    rel = (pd.DatetimeIndex(t) - GRID_ORIGIN).to_numpy().astype("timedelta64[ns]").astype(np.int64)
    s = int(step.value)
    k = np.floor_divide(rel + s // 2, s)
    off = np.abs(rel - k * s)
    if (off > tol.value).any():
        i = int(np.flatnonzero(off > tol.value)[0])
        raise ValueError(f"{what}: time {pd.DatetimeIndex(t)[i]} is not on the "
                         f"{step} grid from {GRID_ORIGIN} (tolerance {tol})")
    return k


def build_sequences(
    records: pd.DataFrame,
    samples: pd.DataFrame,
    keywords: Sequence[str] = KEYWORDS,
    time_col: str = "t_end_tai",
    n_steps: int = 16,
    step_minutes: float = 96.0,
    max_missing: int = 2,
    tolerance_minutes: float = 3.0,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Keyword sequences ending at each sample's time, with S1's bad-record rule.

    Step ``j`` (0..``n_steps``-1) of a sample ending at grid time ``t`` is the record of the same
    ``region_id`` at ``t - (n_steps - 1 - j)·step``. A step is *missing* when no record sits there
    (within ``tolerance_minutes``) or one of its keywords is NaN. Then::

        last step missing                       -> dropped, "missing_last"
        else more than max_missing steps missing -> dropped, "too_many_missing"
        else                                    -> kept; each missing step takes the values of the
                                                   next available step (backward fill, as the
                                                   published code does; the last step always exists)

    Parameters
    ----------
    records
        Rows with ``region_id``, ``time_col`` and ``keywords`` (one per region and grid time).
    samples
        Rows with ``region_id`` and ``time_col``.
    keywords
        Columns forming the last axis.
    time_col
        Time column; times must lie on the ``step_minutes`` grid from :data:`GRID_ORIGIN`.
    n_steps, step_minutes, max_missing, tolerance_minutes
        The rule's parameters (:data:`SEQUENCE_DEFAULTS`).

    Returns
    -------
    sequences : numpy.ndarray
        float32 ``[len(samples), n_steps, len(keywords)]`` (NaN-filled for dropped samples).
    status : pandas.DataFrame
        Index of ``samples``; ``n_missing`` (int) and ``dropped`` (``""``, ``"missing_last"`` or
        ``"too_many_missing"``).

    Raises
    ------
    ValueError
        When a time is off the grid or a region has two records at one grid time.
    """
    if n_steps < 1 or max_missing < 0:
        raise ValueError(f"n_steps must be >= 1 and max_missing >= 0, got {n_steps}, {max_missing}")
    step = pd.Timedelta(minutes=step_minutes)
    tol = pd.Timedelta(minutes=tolerance_minutes)
    codes, _ = pd.factorize(pd.concat([records["region_id"], samples["region_id"]],
                                      ignore_index=True).astype(str))
    rc, sc = codes[: len(records)].astype(np.int64), codes[len(records):].astype(np.int64)
    rk = _grid_index(records[time_col], step, tol, "records")
    sk = _grid_index(samples[time_col], step, tol, "samples")
    span = np.int64(10**9)
    rkey = rc * span + (rk - rk.min() if len(rk) else rk)
    base = rk.min() if len(rk) else 0
    order = np.argsort(rkey, kind="stable")
    rkey_sorted = rkey[order]
    if len(rkey_sorted) > 1 and (np.diff(rkey_sorted) == 0).any():
        i = order[int(np.flatnonzero(np.diff(rkey_sorted) == 0)[0])]
        raise ValueError(f"records: two records of {records['region_id'].iloc[i]} at "
                         f"{records[time_col].iloc[i]}")
    vals = records[list(keywords)].to_numpy(dtype=np.float64)
    n, k_kw = len(samples), len(keywords)
    seq = np.full((n, n_steps, k_kw), np.nan, dtype=np.float64)
    missing = np.ones((n, n_steps), dtype=bool)
    for j in range(n_steps):
        want = sc * span + (sk - (n_steps - 1 - j) - base)
        p = np.searchsorted(rkey_sorted, want)
        p_ok = p < len(rkey_sorted)
        hit = np.zeros(n, dtype=bool)
        hit[p_ok] = rkey_sorted[p[p_ok]] == want[p_ok]
        rows = order[p[hit]]
        v = vals[rows]
        good = np.isfinite(v).all(axis=1)
        idx = np.flatnonzero(hit)[good]
        seq[idx, j] = v[good]
        missing[idx, j] = False
    n_missing = missing.sum(axis=1)
    dropped = np.where(missing[:, -1], "missing_last",
                       np.where(n_missing > max_missing, "too_many_missing", ""))
    for j in range(n_steps - 2, -1, -1):
        m = missing[:, j]
        seq[m, j] = seq[m, j + 1]
    seq[dropped != ""] = np.nan
    status = pd.DataFrame({"n_missing": n_missing.astype(np.int64),
                           "dropped": dropped.astype(object)}, index=samples.index)
    return seq.astype(np.float32), status


# ============================================================================================
# 4. splits, standardisation, models
# ============================================================================================
def standardise(
    sequences: np.ndarray, instruments: np.ndarray, train_mask: np.ndarray
) -> tuple[np.ndarray, dict[str, dict[str, list[float]]]]:
    """Z-score keywords per instrument with the training samples' statistics (all steps).

    The workflow's own standardisation (:func:`flarepipe.data.features.standardise_keywords`), as float32;
    an instrument without training samples is an error here (``ValueError``).
    """
    out, stats = standardise_keywords(sequences, instruments, train_mask, fallback_all=False)
    return out.astype(np.float32), stats


def fit_logistic(
    x_train: np.ndarray, y_train: np.ndarray, x_eval: Sequence[np.ndarray], seed: int = 0
) -> list[np.ndarray]:
    """Logistic regression (scikit-learn defaults: L2, C = 1) on already standardised features.

    Returns the positive-class probability for each array of ``x_eval``.
    """
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=1000, random_state=seed)
    clf.fit(x_train, y_train)
    return [clf.predict_proba(x)[:, 1] for x in x_eval]


@dataclass
class RunData:
    """One dataset run: standardised sequences, labels and metadata per split."""

    dataset: str
    run: int
    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    meta: dict[str, pd.DataFrame]
    stats: dict[str, dict[str, list[float]]]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)


def make_run_data(
    samples: pd.DataFrame,
    sequences: np.ndarray,
    dataset: str,
    run: int,
    seed: int = 0,
    stratify: bool = False,
) -> RunData:
    """Split, undersample and standardise one (dataset, run).

    ``samples`` are the kept samples (``sample_id, region_id, instrument, t_end, label``) in the
    order of ``sequences``. The split is :func:`flarepipe.samples.split.make_dataset_splits` with S1's
    ``random_regions`` method (test 0.2, val 0.2, negatives undersampled 1:1 per split and
    instrument; ``stratify`` by whether a region has positives is off, as in the paper).
    """
    cfg = {"seed": int(seed), "method": "random_regions", "test_frac": 0.2, "val_frac": 0.2,
           "undersample_ratio": 1.0, "stratify": bool(stratify)}
    base = samples[["sample_id", "region_id", "instrument", "label"]].reset_index(drop=True)
    split = make_dataset_splits(base, dataset, cfg, run)
    pos = pd.Series(np.arange(len(base)), index=base["sample_id"].to_numpy())
    idx = pos.loc[split["sample_id"].to_numpy()].to_numpy()
    which = split["split"].to_numpy()
    inst = base["instrument"].to_numpy()[idx]
    seq_std, stats = standardise(sequences[idx], inst, which == "train")
    x, y, meta, counts = {}, {}, {}, {}
    s_all = samples.reset_index(drop=True)
    for name in SPLITS:
        m = which == name
        x[name] = seq_std[m]
        y[name] = base["label"].to_numpy()[idx][m].astype(np.int64)
        meta[name] = s_all.iloc[idx[m]][["sample_id", "region_id", "instrument", "t_end"]]
        meta[name] = meta[name].reset_index(drop=True)
        counts[name] = {"n": int(m.sum()), "pos": int(y[name].sum()),
                        "regions": int(meta[name]["region_id"].nunique())}
        for i in np.unique(inst[m]):
            counts[name][f"n_{i}"] = int((inst[m] == i).sum())
    return RunData(dataset, int(run), x, y, meta, stats, counts)


def _prediction_frame(meta: pd.DataFrame, split: str, y: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"sample_id": meta["sample_id"].to_numpy(), "split": split,
                         "label": y.astype(np.int64), "prob": np.asarray(p, dtype=np.float64)})


def _train_lstm(rd: RunData, out_dir: Path, shard_dir: Path, seed: int,
                train_params: Mapping[str, Any], keep_shards: bool) -> dict[str, Any]:
    from flarepipe.data.shards import write_shard
    from flarepipe.training.fit import train_one

    paths = {}
    for split in SPLITS:
        paths[split] = write_shard(
            shard_dir / f"{split}.h5", meta=rd.meta[split],
            inputs={"sequence": rd.x[split]}, targets={"label": rd.y[split]},
            attrs={"keywords": list(KEYWORDS), "normalisation": rd.stats,
                   "note": "sun2022 real keyword tables (no images)"},
        )
    try:
        info = train_one(paths, "lstm", {}, dict(train_params), out_dir, seed=seed)
    finally:
        if not keep_shards:
            shutil.rmtree(shard_dir, ignore_errors=True)
    return info


def _quiet_lightning() -> None:
    for name in ("pytorch_lightning", "pytorch_lightning.utilities.rank_zero", "lightning",
                 "lightning.pytorch", "lightning.pytorch.utilities.rank_zero", "lightning_fabric",
                 "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*GPU available.*")


# ============================================================================================
# 5. the whole reproduction
# ============================================================================================
def _prepare(
    data_dir: Path, out_dir: Path, log_fn: Callable[[str], None], max_missing: int = 2
) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Tables -> relabel report -> samples with sequences. Returns (samples, sequences, facts)."""
    t0 = time.perf_counter()
    table = load_tables(data_dir)
    flares = load_catalogue(data_dir)
    harp = read_region_noaa(data_dir)
    log_fn(f"loaded {len(table)} table rows, {len(flares)} GOES events "
           f"({time.perf_counter() - t0:.1f} s)")

    # --- relabelling --------------------------------------------------------------------
    is_hmi = table["instrument"] == "HMI"
    tarp_map, evidence = derive_region_noaa(table[~is_hmi].reset_index(drop=True), flares)
    harp_check, _ = derive_region_noaa(table[is_hmi].reset_index(drop=True), flares)
    region_noaa: dict[str, list[int]] = {**harp, **tarp_map}
    rel = relabel(table, flares, region_noaa)
    swpc = None
    swpc_path = data_dir / "goes" / "swpc_events_1996_2018.csv"
    if swpc_path.exists():
        swpc = read_swpc_events_csv(swpc_path).flares
    reasons = explain_disagreements(table, rel, flares, region_noaa, swpc)
    summary = agreement_summary(table, rel, reasons, {
        "HMI": "JSOC harp_noaa_map.txt",
        "MDI": "derived from the tables' flare lists (consistency check only)",
    })
    # how the derived-map method fares where the truth is known
    hmi_tab = table[is_hmi]
    rel_check = relabel(hmi_tab.reset_index(drop=True), flares, harp_check)
    same = int((rel_check["relabel"].to_numpy() == rel.loc[is_hmi, "relabel"].to_numpy()).sum())
    flips = _class_rounding_flips(data_dir)
    rel_bug = relabel(hmi_tab.reset_index(drop=True),
                      read_goes_events_txt(data_dir / "goes" / "goes_events_1995_2024.txt").flares,
                      harp)
    bug_extra = int((rel_bug["relabel"].to_numpy() & ~hmi_tab["label"].to_numpy(bool)).sum())
    n_tarp_flaring = int(table.loc[~is_hmi & (table["flares"] != ""), "region_id"].nunique())
    notes = [
        "Rule: a flare counts when its start lies in (t_end, t_end + 24 h], t_end in UTC "
        "(flarepipe.archive.sources.local converts the tables' TAI grid time, 32-37 s later), and its NOAA number "
        "is one of the region's; STRONG = a flare >= M1.0 (flarepipe.samples.labels.label_windows).",
        "",
        f"- SMARP: the data hold no TARP->NOAA map. It is derived from the tables' own `flares` "
        f"lists (flarepipe.studies.sun2022.reproduce.derive_region_noaa): {len(tarp_map)} of the "
        f"{n_tarp_flaring} TARPs with any listed flare get NOAA numbers (`tarp_noaa_derived.csv`); "
        f"TARPs without listed flares get none. SMARP agreement is therefore a consistency check "
        f"(it can only reveal window-edge and catalogue effects), not an independent test.",
        f"- The same derivation applied to the HARPs relabels {same} of {len(hmi_tab)} SHARP rows "
        f"exactly as the real JSOC map does.",
        f"- Catalogue bug worked around: flarepipe.archive.catalogues.flares canonicalises {len(flips)} events of "
        f"class C9.6-C9.9 in goes_events_1995_2024.txt to `M1.0` (flareclass.flux_to_class rounds "
        f"the multiplier in M units); with those classes the SHARP relabelling would have "
        f"{bug_extra} relabel-only positives. Labels here use `peak_flux_wm2` instead.",
        "- The shared README quotes 99.96 % agreement with 50 table-only positives. The difference "
        "to the count here is the `window_edge` rows: a flare starting exactly at the grid time "
        "t_end + 24 h is inside the authors' closed window on TAI grid times but outside "
        "flarepipe's (t_end_UTC, t_end_UTC + 24 h].",
    ]
    write_csv(summary, out_dir / "relabel_agreement.csv")
    write_csv(reasons, out_dir / "relabel_disagreements.csv")
    write_text(_relabel_markdown(summary, table, notes), out_dir / "relabel_agreement.md")
    ev_out = evidence.copy()
    write_csv(ev_out, out_dir / "tarp_noaa_derived.csv")
    for inst, g in summary.groupby("instrument"):
        agree = int(g.loc[g["reason"] == "agree", "count"].sum())
        log_fn(f"relabel {inst}: {agree}/{int((table['instrument'] == inst).sum())} agree; "
               + ", ".join(f"{r.reason}={r.count}" for r in g.itertuples()
                           if r.reason != "agree" and r.count))

    # --- samples and sequences ------------------------------------------------------------
    samples = select_samples(table)
    seq, status = build_sequences(table, samples, max_missing=max_missing)
    rows = []
    for inst in sorted(table["instrument"].unique()):
        t = table[table["instrument"] == inst]
        s = samples[samples["instrument"] == inst]
        st = status.loc[s.index]
        for lab, name in ((1, "positive"), (0, "negative")):
            sl = (s["label"] == lab).to_numpy()
            drop = st["dropped"].to_numpy()[sl]
            kept_rows = sl & (st["dropped"] == "").to_numpy()
            rows.append({
                "instrument": inst, "class": name, "table_rows": int(len(t)),
                "selected": int(sl.sum()),
                "dropped_missing_last": int((drop == "missing_last").sum()),
                "dropped_too_many_missing": int((drop == "too_many_missing").sum()),
                "filled_1_or_2": int(((drop == "") & (st["n_missing"].to_numpy()[sl] > 0)).sum()),
                "kept": int((drop == "").sum()),
                "regions_kept": int(s.loc[kept_rows, "region_id"].nunique()),
            })
        rows.append({"instrument": inst, "class": "discarded (WEAK windows)",
                     "table_rows": int(len(t)), "selected": int(len(t) - len(s))})
    sample_summary = pd.DataFrame(rows)
    write_csv(sample_summary, out_dir / "samples_summary.csv")
    keep = (status["dropped"] == "").to_numpy()
    kept = samples[keep].reset_index(drop=True)
    facts = {"sample_summary": sample_summary, "relabel_summary": summary,
             "n_table": len(table), "selected": samples.reset_index(drop=True)}
    log_fn("samples: " + "; ".join(
        f"{r['instrument']} {r['class']} {r.get('kept', r['selected'])}" for r in rows))
    return kept, seq[keep], facts


def lr_population_check(
    selected: pd.DataFrame,
    kept: pd.DataFrame,
    sequences: np.ndarray,
    datasets: Sequence[str],
    runs: Sequence[int],
    seed: int = 0,
    stratify: bool = False,
) -> pd.DataFrame:
    """Logistic-regression test TSS on the sequence-kept samples and on all selected samples.

    Same splitting, undersampling and standardisation as the main runs (the split differs where
    the region set differs). Shows how much the S1 sequence rule, applied to sequences rebuilt from
    the table rows, changes the sample population's difficulty.

    Returns
    -------
    pandas.DataFrame
        ``dataset, runs, tss_kept_mean, tss_kept_sd, tss_all_mean, tss_all_sd``.
    """
    from flarepipe.evaluation.metrics import all_metrics

    last = selected[list(KEYWORDS)].to_numpy(np.float32)[:, None, :]
    rows = []
    for d in datasets:
        res: dict[str, list[float]] = {"kept": [], "all": []}
        for name, s, x in (("kept", kept, sequences), ("all", selected, last)):
            for run in runs:
                rd = make_run_data(s, x, d, run, seed=seed, stratify=stratify)
                p = fit_logistic(rd.x["train"][:, -1, :], rd.y["train"],
                                 [rd.x["test"][:, -1, :]], seed=derive_seed(seed, run, 1))[0]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res[name].append(all_metrics(rd.y["test"], p)["TSS"])
        sd = {k: float(np.std(v, ddof=1)) if len(v) > 1 else math.nan for k, v in res.items()}
        rows.append({"dataset": d, "runs": len(runs),
                     "tss_kept_mean": float(np.mean(res["kept"])), "tss_kept_sd": sd["kept"],
                     "tss_all_mean": float(np.mean(res["all"])), "tss_all_sd": sd["all"]})
    return pd.DataFrame(rows)


def _remove_empty_dirs(root: Path) -> None:
    if not root.is_dir():
        return
    for path in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(path.iterdir()):
            path.rmdir()
    if not any(root.iterdir()):
        root.rmdir()


def _evaluate(out_dir: Path, datasets: Sequence[str], models: Sequence[str],
              runs: Sequence[int]) -> pd.DataFrame:
    files = []
    for d in datasets:
        for m in models:
            for r in runs:
                p = out_dir / "models" / d / m / f"run{r}" / "predictions.csv"
                if p.exists():
                    files.append((d, m, r, p))
    return evaluate_runs(files)


def paired_tests(tidy: pd.DataFrame, datasets: Sequence[str], models: Sequence[str],
                 metric: str = "TSS") -> pd.DataFrame:
    """One-sided paired t-tests across runs: FUSED_x > x_ONLY (LSTM), LSTM > LR per dataset."""
    pairs = []
    if "LSTM" in models:
        for fused, only in (("FUSED_SHARP", "SHARP_ONLY"), ("FUSED_SMARP", "SMARP_ONLY")):
            if fused in datasets and only in datasets:
                pairs.append(((fused, "LSTM"), (only, "LSTM")))
    if "LSTM" in models and "LR" in models:
        for d in datasets:
            pairs.append(((d, "LSTM"), (d, "LR")))
    rows = []
    for a, b in pairs:
        try:
            res = paired_test(tidy, a, b, metric=metric, split="test")
        except ValueError:
            continue
        rows.append({"a": f"{a[0]} {a[1]}", "b": f"{b[0]} {b[1]}", "metric": metric,
                     "n": res.n, "mean_diff": res.mean_diff, "t": res.statistic,
                     "p_one_sided": res.pvalue})
    return pd.DataFrame(rows, columns=["a", "b", "metric", "n", "mean_diff", "t", "p_one_sided"])


def comparison_markdown(
    tidy: pd.DataFrame,
    tests: pd.DataFrame,
    facts: Mapping[str, Any],
    split_counts: pd.DataFrame | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The ``comparison.md`` report: results table with published TSS, tests, data, deviations."""
    summary = summary_table(tidy)
    table = to_markdown(summary, published=PUBLISHED_SUN2022, metrics=("ACC", "TSS", "AUC", "BSS"),
                        splits=("test",), published_label="published TSS (S1)")
    lines = ["# Sun et al. 2022 (S1) on the real SHARP/SMARP keyword tables", "",
             "Test-set scores, mean ± sd over runs (threshold 0.5; BSS on the balanced test set). "
             "LR = logistic regression on the last record's four keywords, same splits.", "",
             table, "## One-sided paired t-tests (test TSS, paired by run)", ""]
    if len(tests):
        lines += ["| H1: a > b | b | runs | mean diff | t | p |", "|---|---|---:|---:|---:|---:|"]
        for r in tests.itertuples(index=False):
            t = "n/a" if not np.isfinite(r.t) else f"{r.t:.2f}"
            p = "n/a" if not np.isfinite(r.p_one_sided) else f"{r.p_one_sided:.3g}"
            lines.append(f"| {r.a} | {r.b} | {r.n} | {r.mean_diff:+.3f} | {t} | {p} |")
        lines += ["", "p is one-sided for H1: a > b; for the reverse direction it is 1 - p."]
    else:
        lines.append("(no pairs to test)")
    lines += ["", "## Data", ""]
    ss = facts.get("sample_summary")
    if ss is not None:
        cols = [c for c in ["instrument", "class", "selected", "dropped_missing_last",
                            "dropped_too_many_missing", "filled_1_or_2", "kept", "regions_kept"]
                if c in ss.columns]
        lines += ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        for r in ss[cols].itertuples(index=False):
            lines.append("| " + " | ".join("" if (isinstance(v, float) and math.isnan(v)) else
                                           str(int(v)) if isinstance(v, float) else str(v)
                                           for v in r) + " |")
        lines.append("")
        lines.append("Published S1 counts (before splitting): SHARP 2849 positives / 66349 "
                     "negatives, SMARP 4601 / 130695.")
    if split_counts is not None and len(split_counts):
        lines += ["", "Mean samples per split (after undersampling):", "",
                  "| dataset | train | val | test | test positives |", "|---|---:|---:|---:|---:|"]
        for d, g in split_counts.groupby("dataset", sort=False):
            lines.append(f"| {d} | {g['train'].mean():.0f} | {g['val'].mean():.0f} | "
                         f"{g['test'].mean():.0f} | {g['test_pos'].mean():.0f} |")
    pc = facts.get("population_check")
    if pc is not None and len(pc):
        lines += ["", "Sample population and LR test TSS (same protocol and runs): the S1 "
                  "sequence rule removes samples whose 24 h history is not in the table; LR on "
                  "all selected samples shows what that costs:", "",
                  "| dataset | LR TSS, sequence-kept samples | LR TSS, all selected samples |",
                  "|---|---:|---:|"]
        for r in pc.itertuples(index=False):
            lines.append(f"| {r.dataset} | {r.tss_kept_mean:.3f} ± {r.tss_kept_sd:.3f} | "
                         f"{r.tss_all_mean:.3f} ± {r.tss_all_sd:.3f} |")
    rs = facts.get("relabel_summary")
    if rs is not None:
        lines += ["", "## Relabelling (details in relabel_agreement.md)", ""]
        for inst, g in rs.groupby("instrument"):
            n = int(g["count"].sum())
            agree = int(g.loc[g["reason"] == "agree", "count"].sum())
            lines.append(f"- {inst}: {agree}/{n} rows agree ({100 * agree / n:.3f} %); "
                         + ", ".join(f"{r.reason} {r.count}" for r in g.itertuples()
                                     if r.reason not in ("agree", "-") and r.count))
    if notes:
        lines += ["", "## Protocol and deviations", "", *notes]
    return "\n".join(lines) + "\n"


def reproduce(
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    runs: int = 10,
    datasets: Sequence[str] = DEFAULT_DATASETS,
    models: Sequence[str] = MODELS,
    seed: int = 0,
    stratify: bool = False,
    max_epochs: int | None = None,
    threads: int | None = None,
    keep_shards: bool = False,
    force: bool = False,
    command: str = "",
    max_missing: int = 2,
) -> dict[str, Any]:
    """Run the whole reproduction (see the module docstring); returns paths and the summary.

    Runs whose ``predictions.csv`` already exist are reused unless ``force``.
    """
    import torch

    t_start = time.perf_counter()
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if not (data_dir / "keywords").is_dir():
        raise FileNotFoundError(
            f"{data_dir / 'keywords'} not found: pass --data or set {REAL_DATA_ENV} to the shared "
            "data/real folder")
    bad = [d for d in datasets if d not in DATASETS]
    if bad:
        raise ValueError(f"unknown dataset(s) {bad}; choose from {sorted(DATASETS)}")
    bad = [m for m in models if m not in MODELS]
    if bad:
        raise ValueError(f"unknown model(s) {bad}; choose from {list(MODELS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    if threads:
        torch.set_num_threads(int(threads))
    _quiet_lightning()

    def log_fn(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    samples, seqs, facts = _prepare(data_dir, out_dir, log_fn, max_missing=max_missing)
    train_params: dict[str, Any] = {"accelerator": "cpu", "num_workers": 0, "preload": True}
    if max_epochs:
        train_params["max_epochs"] = int(max_epochs)
    run_ids = list(range(int(runs)))
    split_rows, train_rows = [], []
    for run in run_ids:
        for d in datasets:
            rd = make_run_data(samples, seqs, d, run, seed=seed, stratify=stratify)
            split_rows.append({"dataset": d, "run": run,
                               **{s: rd.counts[s]["n"] for s in SPLITS},
                               "test_pos": rd.counts["test"]["pos"],
                               "train_HMI": rd.counts["train"].get("n_HMI", 0),
                               "train_MDI": rd.counts["train"].get("n_MDI", 0)})
            train_seed = derive_seed(seed, run, 1)
            if "LR" in models:
                target = out_dir / "models" / d / "LR" / f"run{run}" / "predictions.csv"
                if force or not target.exists():
                    probs = fit_logistic(rd.x["train"][:, -1, :], rd.y["train"],
                                         [rd.x["val"][:, -1, :], rd.x["test"][:, -1, :]],
                                         seed=train_seed)
                    pred = pd.concat([_prediction_frame(rd.meta[s], s, rd.y[s], p)
                                      for s, p in zip(("val", "test"), probs, strict=True)])
                    write_csv(pred, target)
            if "LSTM" in models:
                mdir = out_dir / "models" / d / "LSTM" / f"run{run}"
                if force or not (mdir / "predictions.csv").exists():
                    t0 = time.perf_counter()
                    info = _train_lstm(rd, mdir, out_dir / "shards" / d / f"run{run}",
                                       train_seed, train_params, keep_shards)
                    info = {k: v for k, v in info.items()
                            if isinstance(v, (int, float, str, bool))}
                    info.update({"dataset": d, "run": run,
                                 "wall_seconds": round(time.perf_counter() - t0, 1)})
                    write_json(info, mdir / "train_info.json")
                    train_rows.append(info)
                    log_fn(f"{d} run{run} LSTM: best epoch {info['best_epoch']}, val TSS "
                           f"{info['best_val_tss']:.3f}, {info['epochs_run']} epochs, "
                           f"{info['wall_seconds']} s (train {rd.counts['train']['n']})")
            # keep the running tables current, so a killed job leaves usable results
            tidy = _evaluate(out_dir, datasets, models, run_ids)
            write_csv(tidy, out_dir / "metrics.csv")
            if len(tidy):
                te = tidy[(tidy["dataset"] == d) & (tidy["run"] == run) & (tidy["split"] == "test")
                          & (tidy["metric"] == "TSS")]
                log_fn(f"{d} run{run} test TSS: " + ", ".join(
                    f"{r.model} {r.value:.3f}" for r in te.itertuples()))
    split_counts = pd.DataFrame(split_rows)
    write_csv(split_counts, out_dir / "split_counts.csv")
    tidy = _evaluate(out_dir, datasets, models, run_ids)
    write_csv(tidy, out_dir / "metrics.csv")
    tests = paired_tests(tidy, datasets, models)
    write_csv(tests, out_dir / "paired_tests.csv")
    if "LR" in models:
        facts["population_check"] = lr_population_check(
            facts["selected"], samples, seqs, datasets, run_ids, seed=seed, stratify=stratify)
        write_csv(facts["population_check"], out_dir / "lr_population_check.csv")
    if not keep_shards:
        _remove_empty_dirs(out_dir / "shards")
    lstm_s = 0.0
    for d in datasets:
        for r in run_ids:
            info_path = out_dir / "models" / d / "LSTM" / f"run{r}" / "train_info.json"
            if info_path.exists():
                lstm_s += float(json.loads(info_path.read_text()).get("wall_seconds", 0.0))
    wall = time.perf_counter() - t_start
    notes = [
        f"- Command: `{command or 'python -m flarepipe.studies.sun2022.reproduce'}`; {len(run_ids)} run(s), "
        f"datasets {', '.join(datasets)}, models {', '.join(models)}; this call took "
        f"{wall / 60:.1f} min on {torch.get_num_threads()} CPU thread(s) (finished runs are "
        f"reused, not retrained); LSTM training over all runs: {lstm_s / 60:.1f} min.",
        "- Splits: flarepipe.samples.split.make_dataset_splits, random_regions (test 0.2 of regions, val "
        f"0.2 of the rest), stratify={stratify}, seed derive_seed({seed}, run); negatives "
        "undersampled 1:1 per (split, instrument); FUSED_* = the ONLY split plus every sample of "
        "the other instrument in train. The published code drew the validation set from the "
        "fused training set (GroupShuffleSplit); here val/test are the ONLY dataset's, as in "
        "SCIENCE.md S1.",
        "- Keywords: USFLUXL, MEANGBL, R_VALUE, AREA (the tables' USFLUX/MEANGBZ columns), "
        "z-scored per instrument with the training samples' mean/std over all 16 steps. The "
        "published code standardised fused data after a linear SHARP->SMARP keyword mapping "
        "(sharp2smarp.npy), not per instrument.",
        "- Sequences: rebuilt from the table rows (one row per 96-min window end, keyword = that "
        "window's last record), not from the per-record keyword series the authors read; the first "
        "24 h of each region (and windows after gaps or after rows the authors removed) lack "
        "earlier rows, so those samples fall under the bad-record rule (counts above).",
        "- Negatives: QUIET observation (FLARE_INDEX = 0) and QUIET prediction (empty `flares`); "
        "labels are the tables' own.",
        "- LSTM: flarepipe.models LSTMNet (2×64, last output -> linear(2)), "
        "flarepipe.training.fit.train_one (Adam 1e-3, batch 64, cross-entropy without class weights, "
        "≤20 epochs, early stopping on val TSS with patience 5, best-val-TSS checkpoint). LR: "
        "sklearn LogisticRegression (L2, C = 1, lbfgs) on the last step's four standardised "
        "keywords.",
    ]
    md = comparison_markdown(tidy, tests, facts, split_counts, notes)
    write_text(md, out_dir / "comparison.md")
    log_fn(f"done in {wall / 60:.1f} min; wrote {out_dir / 'comparison.md'}")
    return {"metrics": out_dir / "metrics.csv", "comparison": out_dir / "comparison.md",
            "paired_tests": tests, "summary": summary_table(tidy) if len(tidy) else None,
            "wall_seconds": wall, "train": train_rows}


# ============================================================================================
# CLI
# ============================================================================================
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m flarepipe.studies.sun2022.reproduce",
        description="Reproduce Sun et al. 2022's LSTM (and a logistic baseline) on the real "
                    "SHARP/SMARP keyword tables.")
    p.add_argument("--data", default=str(default_data_dir()),
                   help=f"shared data/real folder (default ${REAL_DATA_ENV} or "
                        "../shared/data/real)")
    p.add_argument("--out", default="results/sun2022_real", help="output folder")
    p.add_argument("--runs", type=int, default=None,
                   help="repetitions (default 10; 2 with --quick)")
    p.add_argument("--datasets", nargs="+", default=None, choices=sorted(DATASETS),
                   help="datasets (default all four; SHARP_ONLY SMARP_ONLY with --quick)")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 2 runs of SHARP_ONLY and SMARP_ONLY, at most 5 epochs")
    p.add_argument("--seed", type=int, default=0, help="base seed of splits and training")
    p.add_argument("--stratify", action="store_true",
                   help="stratify the region split by whether a region has positives")
    p.add_argument("--max-epochs", type=int, default=None, help="override the LSTM's 20 epochs")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: on a shared 2-core machine more threads "
                        "spin against other jobs and run several times slower)")
    p.add_argument("--keep-shards", action="store_true", help="keep the HDF5 shards of each run")
    p.add_argument("--force", action="store_true", help="retrain runs that already have results")
    p.add_argument("--max-missing", type=int, default=2,
                   help="history steps a sample may lack (filled from the next step); 2 is the S1 rule "
                        "for bad records; 15 keeps every selected sample whose last record exists "
                        "(the tables hold only the authors' already-filtered samples, so a missing "
                        "history is rows they removed, not records we saw)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.runs is not None and args.runs < 1:
        print("error: --runs must be >= 1", file=sys.stderr)
        return 2
    runs = args.runs if args.runs is not None else (2 if args.quick else 10)
    datasets = args.datasets or (["SHARP_ONLY", "SMARP_ONLY"] if args.quick else
                                 list(DEFAULT_DATASETS))
    max_epochs = args.max_epochs or (5 if args.quick else None)
    cmd = "python -m flarepipe.studies.sun2022.reproduce " + " ".join(argv if argv is not None else sys.argv[1:])
    try:
        res = reproduce(args.data, args.out, runs=runs, datasets=datasets, models=args.models,
                        seed=args.seed, stratify=args.stratify, max_epochs=max_epochs,
                        threads=args.threads, keep_shards=args.keep_shards, force=args.force,
                        command=cmd.strip(), max_missing=args.max_missing)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(Path(res["comparison"]).read_text())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
