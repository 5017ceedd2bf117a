"""Stage functions of rules/emergence.smk (Dhuri et al. 2020, S4); each takes its rule's files.

- :func:`build` (rule ``emergence_archive``): the synthetic emerging/control set, written in the
  ``local`` emergence layout (docs/SOURCES.md), so both sources are read by one reader;
- :func:`evaluate` (rule ``emergence_evaluate``, one job per lead time): the cross-validated
  forecasts of every method on the evaluation grid;
- :func:`report` (rule ``emergence_report``): TSS against lead time beside the published curve,
  as a table, a markdown page and a figure.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from flarepipe.io.atomic import atomic_path, write_csv, write_text

__all__ = [
    "build",
    "evaluate",
    "report",
    "run_emergence_archive",
    "run_emergence_evaluate",
    "run_emergence_report",
]


def build(em: Mapping[str, Any], regions_csv: str | os.PathLike) -> None:
    """Generate the synthetic set of ``em`` (the filled ``emergence`` section).

    It is written in the ``local`` emergence layout whose root is the folder of ``regions_csv``.
    """
    from flarepipe.archive.sources.synthetic.emergence import (
        generate_emergence,
        write_emergence_archive,
    )
    from flarepipe.studies.dhuri2020.settings import check_emergence

    params = check_emergence(em)
    if params is None:
        raise ValueError("emergence.source is local: there is no synthetic set to build")
    write_emergence_archive(generate_emergence(params), Path(regions_csv).parent)


def evaluate(
    em: Mapping[str, Any],
    regions_csv: str | os.PathLike,
    lead_h: float,
    out_csv: str | os.PathLike,
    out_occlusion: str | os.PathLike,
    out_probes: str | os.PathLike | None = None,
) -> None:
    """Forecasts of every configured method at ``lead_h`` on the set beside ``regions_csv``, and
    the occlusion maps (``<region>/occlusion``, ``<region>/field`` of the grid area) as ``.npz``.
    """
    import numpy as np

    from flarepipe.archive.sources.emergence_local import read_emergence_local
    from flarepipe.studies.dhuri2020.experiment import evaluate_lead, study_settings

    _, st = study_settings(em)
    es = read_emergence_local(
        Path(regions_csv).parent, em["lead_times_h"], em["lead_tolerance_h"], only=float(lead_h)
    )
    occ: dict = {}
    probes: list = []
    use = "network" in st.methods
    pred = evaluate_lead(
        es, float(lead_h), st, occlusion=occ if use else None, probes=probes if use else None
    )
    if out_probes is not None:
        table = pd.concat(probes, ignore_index=True) if probes else pd.DataFrame()
        if len(table):
            table.insert(0, "lead_h", float(lead_h))
        write_csv(table, out_probes)
    arrays = {}
    for reg, a in occ.items():
        m = es.maps[(reg, float(lead_h))]
        off = (m.shape[0] - a.shape[0]) // 2
        arrays[f"{reg}/occlusion"] = a
        arrays[f"{reg}/field"] = m[off : off + a.shape[0], off : off + a.shape[0]]
    with atomic_path(out_occlusion, suffix=".npz.part") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    write_csv(pred, out_csv)


def report(
    predictions: Sequence[str | os.PathLike],
    tss_csv: str | os.PathLike,
    report_md: str | os.PathLike,
    figure_png: str | os.PathLike,
    occlusion: Sequence[str | os.PathLike] = (),
    occlusion_png: str | os.PathLike | None = None,
    probes: Sequence[str | os.PathLike] = (),
    probes_png: str | os.PathLike | None = None,
    regions_csv: str | os.PathLike | None = None,
    em: Mapping[str, Any] | None = None,
    gallery_png: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """TSS by method and lead time (``tss.csv``), its page and its figure; returns the table.

    With ``occlusion_png``, the occlusion maps' figure (one row per lead file of ``occlusion``);
    with ``probes_png``, the circular-bipole probes' figure (the tables of ``probes``); with
    ``gallery_png``, segments of every network-output bin at the shortest lead time, cut from the
    set beside ``regions_csv`` (the paper's Figs 10-11).
    """
    from flarepipe.studies.dhuri2020.published import published_table
    from flarepipe.studies.dhuri2020.scores import mtot_correlations, output_bins, tss_table

    pred = pd.concat([pd.read_csv(p) for p in predictions], ignore_index=True)
    table = tss_table(pred).merge(published_table(), on=["method", "lead_h"], how="left")
    write_csv(table, tss_csv)
    _figure(table, figure_png)
    if occlusion_png is not None:
        _occlusion_figure(list(occlusion), occlusion_png)
    if gallery_png is not None:
        _gallery(pred, regions_csv, em, gallery_png)
    if probes_png is not None:
        frames = [pd.read_csv(p) for p in probes if os.path.getsize(p) > 1]
        _probe_figure(pd.concat(frames, ignore_index=True) if frames else None, probes_png)
    lines = [
        "# Dhuri et al. 2020: TSS against lead time",
        "",
        "Pooled TSS over the cross-validation folds on the 3x3 evaluation grid (17 NE : 1 PE per "
        "region pair), per-fold mean and sd, the sd of a TSS at chance (`null_sd`), and the "
        "published values (Dhuri et al. 2020: network 84.6 +- 6.4% at -3.2 h to 43.3% at -24.5 h; "
        "KDE on flux 65.8% at -3.2 h).",
        "",
        "| method | lead (h) | TSS | fold mean | fold sd | null sd | published |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        pub = "" if pd.isna(r.tss_published) else f"{r.tss_published:.3f}"
        if pub and not pd.isna(r.tss_published_sd):
            pub += f" ± {r.tss_published_sd:.3f}"
        lines.append(
            f"| {r.method} | −{r.lead_h:g} | {r.tss:.3f} | {r.tss_fold_mean:.3f} | "
            f"{r.tss_fold_sd:.3f} | {r.null_sd:.3f} | {pub} |"
        )
    bins = output_bins(pred)
    corr = mtot_correlations(pred)
    lines += [
        "",
        "## Network output against total unsigned flux",
        "",
        "Network-output bins (Figs 10-11 of the paper): segments, PE share and mean MTOT per bin.",
        "",
        "| lead (h) | p | segments | PE share | mean MTOT (Mx) |",
        "|---|---|---|---|---|",
    ]
    for r in bins.itertuples():
        lines.append(
            f"| −{r.lead_h:g} | {r.p_lo:.1f}–{r.p_hi:.1f} | {r.n} | {r.pe_share:.3f} | "
            f"{r.mean_mtot_mx:.3e} |"
        )
    lines += [
        "",
        "Spearman correlation with MTOT of the network output (`score`) and of the pruned "
        "network's kept filter contributions F_i = max(O_i) w_i (`contrib_<rank>`, largest "
        "S_net = S_TP − S_TN first).",
        "",
        "| method | lead (h) | quantity | Spearman ρ with MTOT |",
        "|---|---|---|---|",
    ]
    for r in corr.itertuples():
        lines.append(f"| {r.method} | −{r.lead_h:g} | {r.quantity} | {r.spearman_mtot:.3f} |")
    write_text("\n".join(lines) + "\n", report_md)
    return table


def _figure(table: pd.DataFrame, path: str | os.PathLike) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for method, g in table.groupby("method", sort=True):
        g = g.sort_values("lead_h")
        ax.errorbar(
            -g["lead_h"], g["tss"], yerr=g["tss_fold_sd"], marker="o", capsize=3, label=method
        )
    pub = table.dropna(subset=["tss_published"])
    for method, g in pub.groupby("method", sort=True):
        ax.plot(-g["lead_h"], g["tss_published"], "k*", ms=10, ls="none")
        for r in g.itertuples():
            ax.annotate(
                f"published {method}",
                (-r.lead_h, r.tss_published),
                fontsize=7,
                xytext=(4, 4),
                textcoords="offset points",
            )
    null = table.groupby("lead_h")["null_sd"].max().sort_index()
    ax.fill_between(
        -null.index.to_numpy(),
        -2 * null.to_numpy(),
        2 * null.to_numpy(),
        color="0.85",
        label="chance (±2 null sd)",
    )
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlabel("time of the maps relative to emergence t0 (h)")
    ax.set_ylabel("TSS")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path, suffix=".png.part") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _occlusion_figure(files: list, path: str | os.PathLike) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    data = [dict(np.load(f)) for f in files]
    regions = sorted({k.split("/")[0] for d in data for k in d})
    rows, cols = max(1, len(data)), max(1, len(regions))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for i, (f, d) in enumerate(zip(files, data, strict=True)):
        for j, reg in enumerate(regions):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            if f"{reg}/field" not in d:
                continue
            field, occ = d[f"{reg}/field"], d[f"{reg}/occlusion"]
            ax.imshow(field, cmap="gray", vmin=-50, vmax=50, origin="lower")
            lim = float(np.abs(occ).max()) or 1.0
            ax.imshow(occ, cmap="RdBu_r", vmin=-lim, vmax=lim, alpha=0.5, origin="lower")
            seg = field.shape[0] // 3
            for k in (1, 2):
                ax.axhline(k * seg - 0.5, color="k", lw=0.5)
                ax.axvline(k * seg - 0.5, color="k", lw=0.5)
            ax.set_title(f"{reg}  {Path(f).stem.replace('lead_', '−')} h", fontsize=8)
    fig.suptitle("occlusion: drop of the PE probability (red: evidence for PE)", fontsize=9)
    fig.tight_layout()
    with atomic_path(path, suffix=".png.part") as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def _probe_figure(t: pd.DataFrame | None, path: str | os.PathLike) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    if t is not None and len(t):
        lead = float(t["lead_h"].min())
        t = t[t["lead_h"] == lead]
        main = t[t["method"] == "network"]
        for b, g in main.groupby("field_g"):
            axes[0].plot(g["radius_deg"], g["prob"], marker="o", label=f"{b:g} G")
        axes[0].set_xlabel("disc radius (deg)")
        axes[0].set_ylabel(f"PE probability (network, −{lead:g} h)")
        axes[0].legend(fontsize=7)
        r_ref = sorted(main["radius_deg"].unique())[len(main["radius_deg"].unique()) // 2]
        ref = main[main["radius_deg"] == r_ref]
        for c in [c for c in ref.columns if c.startswith("contrib_")]:
            axes[1].plot(ref["field_g"], ref[c], marker="o", label=c)
        axes[1].set_xscale("log")
        axes[1].set_xlabel(f"disc field (G), radius {r_ref:g} deg")
        axes[1].set_ylabel("F_i = max(O_i) w_i")
        axes[1].legend(fontsize=7)
        for (_m, d), g in t[t["radius_deg"] == r_ref].groupby(["method", "depth"]):
            axes[2].plot(g["field_g"], g["prob"], marker="o", label=f"depth {d}")
        axes[2].set_xscale("log")
        axes[2].set_xlabel(f"disc field (G), radius {r_ref:g} deg")
        axes[2].set_ylabel("PE probability")
        axes[2].legend(fontsize=7)
    fig.suptitle("circular-bipole probes", fontsize=9)
    fig.tight_layout()
    with atomic_path(path, suffix=".png.part") as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def _gallery(pred, regions_csv, em, path, per_bin: int = 6) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from flarepipe.archive.sources.emergence_local import read_emergence_local

    net = pred[pred["method"] == "network"]
    edges = np.linspace(0, 1, 6)
    fig, axes = plt.subplots(5, per_bin, figsize=(1.6 * per_bin, 1.8 * 5), squeeze=False)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    if len(net):
        lead = float(net["lead_h"].min())
        net = net[net["lead_h"] == lead]
        es = read_emergence_local(
            Path(regions_csv).parent, em["lead_times_h"], em["lead_tolerance_h"], only=lead
        )
        seg = int(round(float(em["segment_deg"]) / es.cdelt_deg))
        rng = np.random.default_rng(0)
        b = np.clip(np.digitize(net["score"], edges[1:-1]), 0, 4)
        for i in range(5):
            rows = net[b == i]
            take = rows.iloc[np.sort(rng.permutation(len(rows))[:per_bin])]
            axes[4 - i][0].set_ylabel(f"p {edges[i]:.1f}-{edges[i + 1]:.1f}", fontsize=7)
            for j, r in enumerate(take.itertuples()):
                m = es.maps[(r.region, lead)][r.y0 : r.y0 + seg, r.x0 : r.x0 + seg]
                ax = axes[4 - i][j]
                ax.imshow(m, cmap="gray", vmin=-50, vmax=50, origin="lower")
                ax.set_title(f"{'PE' if r.label else 'NE'} {r.mtot_mx:.2e}", fontsize=6)
        fig.suptitle(f"network-output bins at −{lead:g} h (title: label, MTOT in Mx)", fontsize=8)
    fig.tight_layout()
    with atomic_path(path, suffix=".png.part") as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


# -- the rules' entry points: declared inputs by name, outputs as out_<name> ----------------------
def run_emergence_archive(*, em: Mapping[str, Any], out_regions: str | os.PathLike) -> None:
    """Rule ``emergence_archive`` (no inputs: the set is generated from ``em``): :func:`build`."""
    build(em, out_regions)


def run_emergence_evaluate(
    *,
    regions: str | os.PathLike,
    em: Mapping[str, Any],
    lead_h: float,
    out_predictions: str | os.PathLike,
    out_occlusion: str | os.PathLike,
    out_probes: str | os.PathLike | None = None,
) -> None:
    """Rule ``emergence_evaluate``: :func:`evaluate` at one lead time."""
    evaluate(em, regions, lead_h, out_predictions, out_occlusion, out_probes)


def run_emergence_report(
    *,
    predictions: Sequence[str | os.PathLike],
    occlusion: Sequence[str | os.PathLike],
    probes: Sequence[str | os.PathLike],
    regions: str | os.PathLike,
    em: Mapping[str, Any],
    out_tss: str | os.PathLike,
    out_report: str | os.PathLike,
    out_figure: str | os.PathLike,
    out_occlusion: str | os.PathLike,
    out_probes: str | os.PathLike,
    out_gallery: str | os.PathLike,
) -> pd.DataFrame:
    """Rule ``emergence_report``: :func:`report` with every figure."""
    return report(
        list(predictions),
        out_tss,
        out_report,
        out_figure,
        list(occlusion),
        out_occlusion,
        list(probes),
        out_probes,
        regions,
        em,
        out_gallery,
    )
