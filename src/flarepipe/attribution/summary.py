"""Attribution tables and figures over the runs of one (dataset, model); no torch needed.

Writes into ``results/attribution/<dataset>/<model>/summary/``: ``planted_truth.csv`` and ``.md``
(the planted-truth table), ``pil.csv`` (Yi et al. Table 2 statistics), ``randomisation.csv``
(Adebayo et al. check per map), ``probes.csv`` (every run's probe sweeps) and ``figures/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flarepipe.attribution import analysis, figures
from flarepipe.attribution.settings import resolve_settings
from flarepipe.io.atomic import write_csv, write_json, write_text

__all__ = ["compare_probes", "planted_markdown", "summarise"]


def _per_run_mean(df: pd.DataFrame, by: Sequence[str], cols: Sequence[str]) -> pd.DataFrame:
    runs = df.groupby(["run", *by])[list(cols)].mean().reset_index()
    g = runs.groupby(list(by))
    out = g[list(cols)].mean()
    sd = g[list(cols)].std(ddof=1).add_suffix("_sd")
    n = df.groupby(list(by)).size().rename("n_samples")
    return pd.concat([out, sd, n, g.size().rename("n_runs")], axis=1).reset_index()


def summarise(
    stats_files: Sequence[str | os.PathLike],
    probe_files: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    dataset: str,
    model: str,
    cfg: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Tables and figures over the runs of one (dataset, model).

    Parameters
    ----------
    stats_files, probe_files
        ``stats.csv`` and ``probes.csv`` of every run (:func:`explain_run`).
    out_dir
        ``results/attribution/<dataset>/<model>/summary``.

    Writes ``planted_truth.csv`` / ``.md`` (image networks on synthetic archives), ``pil.csv``,
    ``randomisation.csv``, ``probes.csv``, ``summary.json`` and ``figures/`` (probe sweeps with
    their spread across runs, planted-truth enrichment) into ``out_dir``, each atomically.
    """
    s = resolve_settings(cfg)
    out_dir = Path(out_dir)
    stats = pd.concat(
        [pd.read_csv(f, dtype={"sample_id": str}) for f in stats_files], ignore_index=True
    )
    probes = [df for df in (pd.read_csv(f) for f in probe_files) if not df.empty]
    probes = (
        pd.concat(probes, ignore_index=True)
        if probes
        else pd.DataFrame(columns=["run", "family", "parameter", "value", "prob"])
    )
    work = out_dir / ".summary_tmp"
    if work.exists():
        shutil.rmtree(work)
    (work / "figures").mkdir(parents=True)
    where = f"{dataset}/{model}, {len(stats_files)} run(s)"

    planted = pd.DataFrame()
    if "enrichment" in stats and stats["enrichment"].notna().any():
        sub = stats[stats["enrichment"].notna()]
        planted = _per_run_mean(
            sub, ["map", "network"], ["mask_area", "mask_share", "enrichment", "pointing_hit"]
        )
        figures.planted_figure(
            work / "figures" / "planted_truth__enrichment.png", sub, f"planted causes: {where}"
        )
    write_csv(planted, work / "planted_truth.csv", float_format="%.4g")
    write_text(planted_markdown(planted, dataset, model), work / "planted_truth.md")

    pil = pd.DataFrame()
    if "pil_ratio" in stats:
        sub = stats.copy()
        sub["pil_iou_ok"] = (sub["pil_iou"] >= float(s["pil"]["iou_min"])).astype(float)
        sub.loc[sub["pil_iou"].isna(), "pil_iou_ok"] = np.nan
        pil = _per_run_mean(
            sub, ["map", "network"], ["pil_ratio", "pil_boundary_ratio", "pil_iou", "pil_iou_ok"]
        )
    write_csv(pil, work / "pil.csv", float_format="%.4g")

    rnd = pd.DataFrame()
    if "random_correlation" in stats and stats["random_correlation"].notna().any():
        sub = stats[(stats["network"] == "trained")]
        bound = float(s["randomised_check"]["max_correlation"])
        rnd = sub.groupby("map")["random_correlation"].agg(["mean", "std", "count"]).reset_index()
        rnd["passes"] = pd.Series(  # None: every map constant (correlation undefined)
            [
                analysis.randomisation_passes(sub.loc[sub["map"] == m, "random_correlation"], bound)
                if n
                else None
                for m, n in zip(rnd["map"], rnd["count"], strict=True)
            ],
            dtype=object,
        )
        rnd["max_correlation"] = bound
    write_csv(rnd, work / "randomisation.csv", float_format="%.4g")

    write_csv(probes, work / "probes.csv", float_format="%.6g")
    if not probes.empty:
        for fam in sorted(set(probes["family"])):
            figures.probe_figure(
                work / "figures" / f"probes__{fam}.png",
                probes,
                fam,
                f"{fam} probes, {dataset}/{model}",
            )
    summary = {
        "dataset": dataset,
        "model": model,
        "runs": len(stats_files),
        "planted_rows": int(len(planted)),
        "pil_rows": int(len(pil)),
        "randomisation": rnd.to_dict("records") if not rnd.empty else [],
    }
    write_json(summary, work / "summary.json")
    out_dir.mkdir(parents=True, exist_ok=True)
    if (out_dir / "figures").exists():
        shutil.rmtree(out_dir / "figures")
    os.replace(work / "figures", out_dir / "figures")
    for name in (
        "planted_truth.csv",
        "planted_truth.md",
        "pil.csv",
        "randomisation.csv",
        "probes.csv",
        "summary.json",
    ):
        os.replace(work / name, out_dir / name)
    shutil.rmtree(work, ignore_errors=True)
    return summary


def planted_markdown(planted: pd.DataFrame, dataset: str, model: str) -> str:
    """The planted-truth table of one (dataset, model) as markdown, or why there is none."""
    if planted.empty:
        return (
            f"No planted-truth scores for {dataset}/{model} (not an image network on a "
            "synthetic archive, or no selected sample had a planted cause).\n"
        )
    lines = [
        f"Planted causes, {dataset}/{model}: mean over runs (± sd across runs).",
        "",
        "| map | network | samples | mask area | share in mask | enrichment | pointing game |",
        "|---|---|---|---|---|---|---|",
    ]

    def pm(r, c):
        sd = r.get(f"{c}_sd")
        return f"{r[c]:.2f}" + (f" ± {sd:.2f}" if pd.notna(sd) else "")

    for r in planted.sort_values(["map", "network"]).to_dict("records"):
        lines.append(
            f"| {r['map']} | {r['network']} | {int(r['n_samples'])} | "
            f"{r['mask_area']:.3f} | {pm(r, 'mask_share')} | {pm(r, 'enrichment')} | "
            f"{pm(r, 'pointing_hit')} |"
        )
    return "\n".join(lines) + "\n"


def compare_probes(
    probe_files: Mapping[str, str | os.PathLike], out_csv: str | os.PathLike, out_dir, model: str
) -> pd.DataFrame:
    """One model's probe sweeps across datasets (S2 Fig 11: trained on original,
    polarity-reversed and Hale/Joy-corrected images), from each dataset's ``summary/probes.csv``.

    Writes ``out_csv`` (every run's probes with a ``dataset`` column) and one figure per probe
    family into ``out_dir`` (``probes__<family>.png``: one line per dataset, spread over runs);
    returns the table.
    """
    frames = []
    for dataset, path in probe_files.items():
        df = pd.read_csv(path)
        if not df.empty:
            frames.append(df.assign(dataset=dataset))
    if not frames:
        raise ValueError(
            f"{model}: no probes in {sorted(map(str, probe_files.values()))} "
            "(attribution.probes.enabled is off, or the model takes no probe)"
        )
    table = pd.concat(frames, ignore_index=True)
    write_csv(table, out_csv, float_format="%.6g")
    out_dir = Path(out_dir)
    work = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for fam in sorted(set(table["family"])):
        figures.probe_figure(
            work / f"probes__{fam}.png",
            table,
            fam,
            f"{fam} probes of {model} by training dataset",
            hue="dataset",
        )
    shutil.rmtree(out_dir, ignore_errors=True)
    work.rename(out_dir)  # the folder appears complete or not at all
    return table
