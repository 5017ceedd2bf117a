"""Relabel audit of the Sun et al. 2022 keyword tables: flarepipe's labels beside the authors'.

The ``tables`` archive source (:mod:`flarepipe.archive.sources.tables`) turns the published tables
into an archive; the workflow then labels its windows with its own rule
(:func:`flarepipe.samples.labels.label_windows`: a flare counts when its start lies in
``(t_end, t_end + pred_hours]``, ``t_end`` in UTC, and its NOAA number is one of the region's),
from whatever flare list the archive was built with. This module compares those labels with the
tables' own ``label`` column, row by row, and explains every disagreement; it also compares the
workflow's samples with the selection the authors' columns imply (:func:`select_samples`).

SMARP: the data hold no TARP->NOAA map; the source derives one from the tables' own flare lists
(:func:`flarepipe.archive.sources.tables.derive_region_noaa`), so the SMARP relabelling is a
consistency check, not an independent one. The same derivation applied to the HARPs is compared
with JSOC's map (:func:`derived_map_check`).

Outputs of :func:`audit_tables`, written by the ``audit`` rule (``rules/audit.smk``):
``relabel_agreement.csv`` (counts per instrument, table label, relabel and reason),
``relabel_disagreements.csv`` (one row per disagreeing table row), ``relabel_agreement.md``,
``tarp_noaa_derived.csv`` (the derivation's evidence) and ``sample_agreement.csv`` (the
workflow's samples against the tables' selection).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from flarepipe.archive.sources.tables import derive_region_noaa, resolve_tables_config
from flarepipe.core.flareclass import class_to_flux
from flarepipe.samples.labels import label_windows
from flarepipe.samples.quality import parse_noaa_ars

__all__ = [
    "REASONS",
    "AuditResult",
    "agreement_summary",
    "audit_inputs",
    "audit_tables",
    "derived_map_check",
    "explain_disagreements",
    "region_noaa_of",
    "relabel",
    "relabel_markdown",
    "sample_agreement",
    "select_samples",
]

#: disagreement reasons of :func:`explain_disagreements`, in the order they are tried
REASONS: tuple[str, ...] = (
    "window_edge",
    "region_not_in_map",
    "noaa_not_in_map",
    "flare_missing_from_catalogue",
    "flare_absent_from_table",
)
_KEY = ["region_id", "t_end"]
_PREFIX_OF = {"HMI": "HARP", "MDI": "TARP"}


def _key_frame(df: pd.DataFrame, time_col: str) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "region_id": df["region_id"].astype(str).to_numpy(),
            "t_end": pd.DatetimeIndex(df[time_col]).as_unit("ns"),
        }
    )
    return out


def audit_inputs(config: Mapping) -> dict[str, object]:
    """The audit rule's file inputs from the workflow config: keyword tables and cross-check list.

    ``tables`` are the files ``archive.tables.keyword_tables`` names (globs expanded, relative to
    ``archive.tables.data_dir``); ``cross_check`` the file of ``audit.cross_check_flares`` (also
    relative to ``data_dir``), when set.

    Raises
    ------
    ValueError
        A table pattern matches nothing, or a named file does not exist (naming the config key).
    """
    section = config["archive"]["tables"]
    cfg = resolve_tables_config(section)
    out: dict[str, object] = {"tables": [str(p) for p in cfg["keyword_tables"]]}
    check = (config.get("audit") or {}).get("cross_check_flares")
    if check:
        data_dir = section.get("data_dir")
        path = Path(os.path.expanduser(str(data_dir))) / check if data_dir else Path(check)
        if not path.is_file():
            raise ValueError(f"audit.cross_check_flares: no such file {str(path)!r}")
        out["cross_check"] = str(path)
    return out


def region_noaa_of(records: pd.DataFrame) -> dict[str, list[int]]:
    """``region_id`` -> NOAA numbers, the union over the region's ``noaa_ars`` in ``records``."""
    out: dict[str, list[int]] = {}
    for rid, cell in records[["region_id", "noaa_ars"]].drop_duplicates().itertuples(index=False):
        nums = out.setdefault(str(rid), [])
        nums += [n for n in parse_noaa_ars(cell) if n not in nums]
    return {k: sorted(v) for k, v in out.items() if v}


def relabel(
    table: pd.DataFrame,
    records: pd.DataFrame,
    flares: pd.DataFrame,
    labels_cfg: Mapping | None = None,
) -> pd.DataFrame:
    """Type every table row's windows with the workflow's rule on the archive's records.

    Parameters
    ----------
    table
        Keyword-table rows (``region_id``, ``t_end`` in UTC).
    records
        The archive's ``records.csv`` frame built from those tables (``noaa_ars`` filled).
    flares
        The archive's ``flares.csv`` frame.
    labels_cfg
        The ``labels`` config section (windows, ``strong_class``); the task is not applied.

    Returns
    -------
    pandas.DataFrame
        Index of ``table``: ``obs_type``, ``pred_type`` (QUIET/WEAK/STRONG) and ``relabel``
        (bool: STRONG prediction window).

    Raises
    ------
    ValueError
        When a table row has no window in the records (the archive was built from other tables).
    """
    from flarepipe.config import settings

    cand = label_windows(records, flares, settings("labels", dict(labels_cfg or {})))
    c = _key_frame(cand, "t_end")
    c["obs_type"] = cand["obs_type"].to_numpy()
    c["pred_type"] = cand["pred_type"].to_numpy()
    merged = _key_frame(table, "t_end").merge(c, on=_KEY, how="left", validate="m:1")
    if merged["pred_type"].isna().any():
        bad = merged[merged["pred_type"].isna()].iloc[0]
        raise ValueError(
            f"relabel: no window of the archive ends at {bad['region_id']} "
            f"{bad['t_end']} (was the archive built from these tables?)"
        )
    out = pd.DataFrame(index=table.index)
    out["obs_type"] = merged["obs_type"].to_numpy()
    out["pred_type"] = merged["pred_type"].to_numpy()
    out["relabel"] = out["pred_type"].eq("STRONG").to_numpy()
    return out


def _strong_list(text: str, strong_flux: float) -> list[float]:
    out = []
    for c in str(text).split("|"):
        try:
            f = class_to_flux(c)
        except ValueError:
            continue
        if f >= strong_flux:
            out.append(f)
    return out


def explain_disagreements(
    table: pd.DataFrame,
    relabelled: pd.DataFrame,
    flares: pd.DataFrame,
    region_noaa: Mapping[str, Sequence[int]],
    cross_check: pd.DataFrame | None = None,
    pred_hours: float = 24.0,
    strong_class: str = "M1.0",
) -> pd.DataFrame:
    """One row per table row whose ``label`` differs from ``relabel``, with the reason.

    Windows: ours ``(t_end, t_end + pred_hours]`` in UTC; the authors' ``[t_end_tai, t_end_tai +
    pred_hours]`` (the TAI grid time read as UTC, both ends included). Reasons, first match
    wins::

        table positive, relabel negative
          window_edge                  a strong flare of the region's NOAA numbers starts in the
                                       authors' window but not in ours (at t_end_tai + 24 h:
                                       ours ends 32-37 s earlier, at t_end UTC + 24 h)
          region_not_in_map            the region has no NOAA number
          noaa_not_in_map              a strong flare of a class the table lists starts in the
                                       window but belongs to a NOAA number not the region's
          flare_missing_from_catalogue no such flare in the flare list at all (detail: whether
                                       the cross-check list has it, and for which region)
        relabel positive, table negative
          window_edge                  the flare is in our window but not in the authors'
          flare_absent_from_table      one of the region's strong flares the table lacks

    Parameters
    ----------
    table
        Keyword-table rows (``region_id``, ``instrument``, ``t_end``, ``t_end_tai``, ``label``,
        ``flares``).
    relabelled
        :func:`relabel` for the same rows.
    flares
        The flare list labelling used (``start_utc``, ``peak_flux_wm2``, ``noaa_ar``).
    region_noaa
        ``region_id`` -> NOAA numbers, as labelling used them.
    cross_check
        A second flare list (same columns), only to explain flares missing from the first.
    pred_hours, strong_class
        The labels settings.

    Returns
    -------
    pandas.DataFrame
        ``region_id, instrument, t_end_tai, t_end, table_label, relabel, table_flares, reason,
        detail``.
    """
    strong_flux = class_to_flux(strong_class)
    window = pd.Timedelta(hours=float(pred_hours))
    ev = flares[flares["noaa_ar"].notna() & flares["peak_flux_wm2"].notna()]
    ev = ev.sort_values("start_utc", kind="stable")
    ev_start = pd.DatetimeIndex(ev["start_utc"]).as_unit("ns").to_numpy()
    ev_flux = ev["peak_flux_wm2"].to_numpy(dtype=float)
    ev_noaa = ev["noaa_ar"].to_numpy(dtype=np.int64)
    strong = ev_flux >= strong_flux
    sw = None
    if cross_check is not None and len(cross_check):
        sw = cross_check[cross_check["peak_flux_wm2"] >= strong_flux]
        sw = sw.sort_values("start_utc", kind="stable")

    def events(t0, t1, lo_incl: bool) -> np.ndarray:
        t0, t1 = np.datetime64(t0, "ns"), np.datetime64(t1, "ns")
        lo = (ev_start >= t0) if lo_incl else (ev_start > t0)
        return np.flatnonzero(lo & (ev_start <= t1) & strong)

    def fmt(i: int) -> str:
        return f"flare {ev_flux[i]:.2g} W/m² at {pd.Timestamp(ev_start[i])} from NOAA {ev_noaa[i]}"

    rows = []
    diff = np.flatnonzero(table["label"].to_numpy(bool) != relabelled["relabel"].to_numpy(bool))
    for pos in diff:
        r = table.iloc[pos]
        rid = str(r["region_id"])
        noaa = {int(n) for n in region_noaa.get(rid, ())}
        ta, tu = pd.Timestamp(r["t_end_tai"]), pd.Timestamp(r["t_end"])
        auth = events(ta, ta + window, True)
        ours = events(tu, tu + window, False)
        auth_reg = [i for i in auth if ev_noaa[i] in noaa]
        ours_reg = [i for i in ours if ev_noaa[i] in noaa]
        listed = _strong_list(r["flares"], strong_flux)
        if bool(r["label"]):
            if auth_reg:
                reason, detail = "window_edge", fmt(auth_reg[0])
            elif not noaa:
                reason = "region_not_in_map"
                detail = f"{rid} has no NOAA number"
            else:
                other = [i for i in auth if any(abs(ev_flux[i] - f) < 1e-9 for f in listed)]
                if other:
                    reason = "noaa_not_in_map"
                    detail = f"{fmt(other[0])}; the region has {sorted(noaa)}"
                else:
                    reason = "flare_missing_from_catalogue"
                    detail = f"table lists {'|'.join(f'{f:.2g}' for f in listed)} W/m²"
                    if sw is not None:
                        s = sw[(sw["start_utc"] >= ta) & (sw["start_utc"] <= ta + window)]
                        s = s[[any(abs(x - f) < 1e-9 for f in listed) for x in s["peak_flux_wm2"]]]
                        if len(s):
                            nr = s["noaa_ar"].iloc[0]
                            where = "no region" if pd.isna(nr) else f"NOAA {int(nr)}"
                            detail += (
                                f"; the cross-check list has it at "
                                f"{s['start_utc'].iloc[0]} for {where}"
                            )
                        else:
                            detail += "; not in the cross-check list either"
        else:
            if ours_reg and not auth_reg:
                reason, detail = "window_edge", fmt(ours_reg[0])
            else:
                reason = "flare_absent_from_table"
                detail = fmt(ours_reg[0]) if ours_reg else ""
        rows.append(
            {
                "region_id": rid,
                "instrument": r["instrument"],
                "t_end_tai": ta,
                "t_end": tu,
                "table_label": bool(r["label"]),
                "relabel": bool(relabelled["relabel"].iloc[pos]),
                "table_flares": r["flares"],
                "reason": reason,
                "detail": detail,
            }
        )
    cols = [
        "region_id",
        "instrument",
        "t_end_tai",
        "t_end",
        "table_label",
        "relabel",
        "table_flares",
        "reason",
        "detail",
    ]
    return pd.DataFrame(rows, columns=cols)


def agreement_summary(
    table: pd.DataFrame,
    relabelled: pd.DataFrame,
    reasons: pd.DataFrame,
    map_source: Mapping[str, str],
) -> pd.DataFrame:
    """Agreement counts per instrument, one row per (table label, relabel, reason).

    Columns ``instrument, map, table_label, relabel, reason, count, percent`` (percent of the
    instrument's rows); ``reason`` is ``agree`` on the diagonal and ``-`` for an empty cell.
    """
    rows = []
    for inst, idx in table.groupby("instrument", sort=True).groups.items():
        t = table.loc[idx, "label"].astype(bool)
        r = relabelled.loc[idx, "relabel"].astype(bool)
        src = map_source.get(str(inst), "")
        for tl in (True, False):
            for rl in (True, False):
                if tl == rl:
                    rows.append((inst, src, tl, rl, "agree", int(((t == tl) & (r == rl)).sum())))
                    continue
                sub = reasons[
                    (reasons["instrument"] == inst)
                    & (reasons["table_label"] == tl)
                    & (reasons["relabel"] == rl)
                ]
                for reason, cnt in sub["reason"].value_counts().sort_index().items():
                    rows.append((inst, src, tl, rl, reason, int(cnt)))
                if sub.empty:
                    rows.append((inst, src, tl, rl, "-", 0))
    out = pd.DataFrame(
        rows, columns=["instrument", "map", "table_label", "relabel", "reason", "count"]
    )
    totals = table["instrument"].value_counts()
    out["percent"] = [
        100.0 * c / totals[i] for i, c in zip(out["instrument"], out["count"], strict=True)
    ]
    return out


def select_samples(table: pd.DataFrame) -> pd.DataFrame:
    """The S1 ``strong_vs_quiet`` samples the tables' own columns imply (the authors' selection).

    Truth table (``label``; ``flares`` = prediction-window flares; ``flare_index`` over the
    observation window)::

        label   flares    flare_index   role
        True    any       any           positive (label 1)
        False   empty     0             negative (label 0): QUIET observation and prediction
        False   empty     > 0 or NaN    discarded (WEAK observation window)
        False   listed    any           discarded (WEAK prediction window)

    Returns
    -------
    pandas.DataFrame
        The kept rows (index of ``table``) with ``sample_id`` (``HARP377_20110215T015926``, UTC
        ``t_end``, as the workflow names samples) and ``label`` int64 0/1.
    """
    pos = table["label"].astype(bool)
    flares = table["flares"].fillna("").astype(str)
    neg = ~pos & (flares == "") & (table["flare_index"].fillna(1) == 0)
    out = table[pos | neg].copy()
    out["label"] = pos[pos | neg].astype(np.int64)
    out["sample_id"] = (
        out["region_id"].astype(str)
        + "_"
        + pd.DatetimeIndex(out["t_end"]).strftime("%Y%m%dT%H%M%S")
    )
    return out


def sample_agreement(table_samples: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """The workflow's samples against the tables' selection, per instrument and class.

    Columns ``instrument, label, table, workflow, both, table_only, workflow_only,
    label_differs`` (``label_differs``: samples in both with the other label, counted under the
    table's label).
    """
    a = table_samples[["sample_id", "instrument", "label"]].astype({"label": np.int64})
    b = samples[["sample_id", "instrument", "label"]].astype({"label": np.int64})
    m = a.merge(b, on="sample_id", how="outer", suffixes=("_t", "_w"), indicator=True)
    m["instrument"] = m["instrument_t"].fillna(m["instrument_w"])
    rows = []
    for inst in sorted(m["instrument"].astype(str).unique()):
        g = m[m["instrument"] == inst]
        for lab in (1, 0):
            t = g["label_t"] == lab
            w = g["label_w"] == lab
            both = g["_merge"] == "both"
            rows.append(
                {
                    "instrument": inst,
                    "label": lab,
                    "table": int(t.sum()),
                    "workflow": int(w.sum()),
                    "both": int((t & w).sum()),
                    "table_only": int((t & (g["_merge"] == "left_only")).sum()),
                    "workflow_only": int((w & (g["_merge"] == "right_only")).sum()),
                    "label_differs": int((t & both & ~w).sum()),
                }
            )
    return pd.DataFrame(rows)


def derived_map_check(
    table: pd.DataFrame,
    records: pd.DataFrame,
    flares: pd.DataFrame,
    relabelled: pd.DataFrame,
    instrument: str = "HMI",
    labels_cfg: Mapping | None = None,
    min_fraction: float = 0.5,
) -> tuple[int, int] | None:
    """How the NOAA derivation fares where a real map is known.

    Derives NOAA numbers for ``instrument``'s regions from the tables' flare lists, relabels its
    rows with them, and counts rows labelled as with the archive's own (mapped) numbers.

    Returns
    -------
    tuple or None
        ``(rows labelled the same, rows)``; None when the instrument has no rows.
    """
    sel = (table["instrument"] == instrument).to_numpy()
    if not sel.any():
        return None
    sub = table[sel].reset_index(drop=True)
    derived, _ = derive_region_noaa(sub, flares, min_fraction)
    rec_sel = (records["instrument"] == instrument).to_numpy()
    recs = records[rec_sel].copy()
    recs["noaa_ars"] = [
        ",".join(str(n) for n in derived.get(str(r), ())) for r in recs["region_id"]
    ]
    check = relabel(sub, recs.reset_index(drop=True), flares, labels_cfg)
    same = int((check["relabel"].to_numpy() == relabelled["relabel"].to_numpy()[sel]).sum())
    return same, int(sel.sum())


def relabel_markdown(summary: pd.DataFrame, table: pd.DataFrame, notes: Sequence[str]) -> str:
    """The ``relabel_agreement.md`` report: agreement per instrument, disagreements by reason."""
    lines = ["# Relabelling the keyword tables with flarepipe's rule", ""]
    lines += [
        "| instrument | map | rows | agree | agreement | table-only positives | "
        "relabel-only positives |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for inst, g in summary.groupby("instrument", sort=True):
        n = int((table["instrument"] == inst).sum())
        agree = int(g.loc[g["reason"] == "agree", "count"].sum())
        t_only = int(g.loc[g["table_label"] & ~g["relabel"], "count"].sum())
        r_only = int(g.loc[~g["table_label"] & g["relabel"], "count"].sum())
        lines.append(
            f"| {inst} | {g['map'].iloc[0]} | {n} | {agree} | {100 * agree / n:.3f} % | "
            f"{t_only} | {r_only} |"
        )
    lines += [
        "",
        "Disagreements by reason:",
        "",
        "| instrument | table label | relabel | reason | rows |",
        "|---|---|---|---|---:|",
    ]
    dis = summary[(summary["reason"] != "agree") & (summary["count"] > 0)]
    for r in dis.itertuples(index=False):
        lines.append(f"| {r.instrument} | {r.table_label} | {r.relabel} | {r.reason} | {r.count} |")
    lines += ["", *notes, ""]
    return "\n".join(lines)


def _sample_markdown(agree: pd.DataFrame) -> list[str]:
    lines = [
        "## Samples: the workflow's against the tables' own selection",
        "",
        "| instrument | class | tables | workflow | both | tables only | workflow only | "
        "other label |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in agree.itertuples(index=False):
        cls = "positive" if r.label == 1 else "negative"
        lines.append(
            f"| {r.instrument} | {cls} | {r.table} | {r.workflow} | {r.both} | "
            f"{r.table_only} | {r.workflow_only} | {r.label_differs} |"
        )
    lines += [
        "",
        "Tables' selection: positive = `label`; negative = empty `flares` and "
        "`FLARE_INDEX` 0. Workflow: strong_vs_quiet on flarepipe's own window types, after "
        "the bad-record rule (labels.max_bad_records).",
        "",
    ]
    return lines


@dataclass
class AuditResult:
    """The relabel audit's tables and report (:func:`audit_tables`)."""

    agreement: pd.DataFrame
    disagreements: pd.DataFrame
    derived: pd.DataFrame
    samples: pd.DataFrame | None
    report: str


def audit_tables(
    table: pd.DataFrame,
    records: pd.DataFrame,
    flares: pd.DataFrame,
    samples: pd.DataFrame | None = None,
    *,
    labels_cfg: Mapping | None = None,
    derive_noaa: Sequence[str] = ("TARP",),
    min_fraction: float = 0.5,
    cross_check: pd.DataFrame | None = None,
) -> AuditResult:
    """Relabel the table rows, explain every disagreement, compare the samples.

    Parameters
    ----------
    table
        :func:`flarepipe.archive.sources.local.load_keyword_tables` rows of the tables the archive
        was built from (``label`` and ``flares`` columns needed).
    records, flares
        The archive's ``records.csv`` and ``flares.csv`` frames.
    samples
        The label stage's ``samples.csv`` frame, or None (no sample comparison).
    labels_cfg
        The ``labels`` config section.
    derive_noaa, min_fraction
        The source's NOAA derivation settings (``archive.tables``).
    cross_check
        A second flare list, only to explain flares missing from ``flares``.

    Returns
    -------
    AuditResult
        ``agreement`` (:func:`agreement_summary`), ``disagreements``
        (:func:`explain_disagreements`), ``derived`` (the derivation's evidence), ``samples``
        (:func:`sample_agreement`, None without samples) and the markdown ``report``.

    Raises
    ------
    ValueError
        When the tables lack the ``label`` or ``flares`` column.
    """
    missing = [c for c in ("label", "flares") if c not in table.columns]
    if missing:
        raise ValueError(
            f"relabel audit: the keyword tables have no {missing} column(s) "
            "(archive.tables.column_map)"
        )
    cfg = dict(labels_cfg or {})
    table = table.copy()
    table["flares"] = table["flares"].fillna("").astype(str)
    region_noaa = region_noaa_of(records)
    rel = relabel(table, records, flares, cfg)
    reasons = explain_disagreements(
        table,
        rel,
        flares,
        region_noaa,
        cross_check,
        pred_hours=float(cfg.get("pred_hours", 24.0)),
        strong_class=str(cfg.get("strong_class", "M1.0")),
    )
    derived_prefix = {p.upper() for p in derive_noaa}
    map_source = {}
    for inst in sorted(table["instrument"].astype(str).unique()):
        if _PREFIX_OF.get(inst) in derived_prefix:
            map_source[inst] = "derived from the tables' flare lists (consistency check only)"
        else:
            map_source[inst] = "harp_noaa_map"
    summary = agreement_summary(table, rel, reasons, map_source)
    is_derived = table["region_id"].astype(str).str[:4].isin(derived_prefix).to_numpy()
    _, evidence = derive_region_noaa(table[is_derived].reset_index(drop=True), flares, min_fraction)
    notes = [
        "Rule: a flare counts when its start lies in (t_end, t_end + "
        f"{cfg.get('pred_hours', 24)} h], t_end in UTC (the tables' TAI grid time converted, "
        "32-37 s earlier), and its NOAA number is one of the region's; STRONG = a flare >= "
        f"{cfg.get('strong_class', 'M1.0')} (flarepipe.samples.labels.label_windows).",
        "",
    ]
    n_derived = int(evidence.loc[evidence["accepted"].astype(bool), "region_id"].nunique())
    n_listed = int(table.loc[is_derived & (table["flares"] != ""), "region_id"].nunique())
    if is_derived.any():
        notes.append(
            f"- {', '.join(sorted(derived_prefix))}: NOAA numbers derived from the tables' own "
            f"`flares` lists (flarepipe.archive.sources.tables.derive_region_noaa): {n_derived} of "
            f"the {n_listed} regions with any listed flare get NOAA numbers "
            "(`tarp_noaa_derived.csv`); regions without listed flares get none. Their agreement "
            "is a consistency check (it can only reveal window-edge and catalogue effects), not "
            "an independent test."
        )
    for inst in [i for i, s in map_source.items() if s == "harp_noaa_map"]:
        res = derived_map_check(table, records, flares, rel, inst, cfg, min_fraction)
        if res is not None:
            notes.append(
                f"- The same derivation applied to the {inst} regions relabels "
                f"{res[0]} of {res[1]} rows exactly as the mapped NOAA numbers do."
            )
    notes.append(
        "- `window_edge` rows: a flare starting exactly at the grid time t_end + 24 h is inside "
        "the authors' closed window on TAI grid times but outside flarepipe's (t_end_UTC, "
        "t_end_UTC + 24 h]."
    )
    md = relabel_markdown(summary, table, notes)
    sa = None
    if samples is not None:
        sa = sample_agreement(select_samples(table), samples)
        md += "\n" + "\n".join(_sample_markdown(sa))
    return AuditResult(summary, reasons, evidence, sa, md)
