"""The stack and evaluate rules (``rules/evaluate.smk``): ensembles, skill scores, tests, plots."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from flarepipe.io.atomic import record_table, write_csv, write_json

__all__ = [
    "run_stack",
    "parse_prediction_path",
    "run_evaluate",
    "run_recall_time",
    "run_region_analyses",
]


def run_stack(
    stacking: list,
    template: str,
    out: list,
    plugins: list | tuple = (),
    /,
    **predictions: str | os.PathLike,
) -> dict:
    """Rule ``stack``: ensembles of configured pairs; one predictions.csv (and summary.json) each.

    ``predictions`` (keywords: the rule's inputs) maps model name to its ``predictions.csv``;
    each entry of ``stacking`` is
    ``{"pair": [first, second], "criteria": [...], "prefix": "", "best": "tss"}``
    (:meth:`flarepipe.config.experiments.StackPlan.as_dict`); ``template`` is the ensemble folder
    with ``{ensemble}`` for its name; ``out`` the rule's outputs, ``predictions.csv`` and
    ``summary.json`` of each ensemble (checked against the ensembles).
    ``plugins`` (those that registered the criteria) are imported first.
    """
    from flarepipe.core.registry import load_plugins
    from flarepipe.evaluation.evaluate import ensembles, read_predictions

    load_plugins(plugins)
    frames = {m: read_predictions(p) for m, p in predictions.items()}
    results = {}
    for entry in stacking:
        first, second = entry["pair"]
        res = ensembles(
            frames[first],
            frames[second],
            criteria=tuple(entry["criteria"]),
            best_criterion=entry.get("best", "tss"),
            prefix=entry.get("prefix", ""),
        )
        results.update({name: (r, first, second) for name, r in res.items()})
    planned = {
        Path(template.format(ensemble=name)) / f
        for name in results
        for f in ("predictions.csv", "summary.json")
    }
    if planned != {Path(p) for p in out}:
        raise ValueError(
            f"stack: ensembles {sorted(results)} do not match the rule's outputs "
            f"{sorted(map(str, out))}"
        )
    alphas = {}
    for name, (r, first, second) in results.items():
        folder = Path(template.format(ensemble=name))
        write_csv(r.predictions, folder / "predictions.csv")
        record_table(folder / "predictions.csv")
        alphas[name] = r.alpha
        write_json(
            {"alpha": r.alpha, "criterion": r.criterion, "pair": [first, second]},
            folder / "summary.json",
        )
    return alphas


def parse_prediction_path(path: str | os.PathLike) -> tuple[str, str, int]:
    """``.../models/<dataset>/<model>/run<k>/predictions.csv`` → (dataset, model, k)."""
    p = Path(path)
    return p.parts[-4], p.parts[-3], int(p.parts[-2].removeprefix("run"))


def _split_path_key(path: str | os.PathLike) -> tuple[str, int]:
    """``.../splits/<dataset>/split_<run>.csv`` → (dataset, run)."""
    p = Path(path)
    return p.parent.name, int(p.stem.removeprefix("split_"))


def _alpha_path_key(path: str | os.PathLike) -> tuple[str, str, int]:
    """``.../models/<dataset>/<ensemble>/run<k>/summary.json`` → (dataset, ensemble, k)."""
    p = Path(path)
    return p.parts[-4], p.parts[-3], int(p.parts[-2].removeprefix("run"))


def run_evaluate(
    predictions: list,
    out_metrics,
    out_table,
    out_plots,
    tests: list | None = None,
    published: Mapping | None = None,
    samples=None,
    splits: list | None = None,
    alphas: list | None = None,
    split_cfg: Mapping | None = None,
    cfg: Mapping | None = None,
    out_true_rate=None,
    out_instruments=None,
    out_splits=None,
    base_models: list | tuple = (),
    meta_models: list | tuple = (),
    stacked: list | tuple = (),
    overlays: list | tuple | None = None,
    plugins: list | tuple = (),
    image_sizes: Mapping[str, int] | None = None,
    architectures: Mapping[str, str] | None = None,
    ceilings: Mapping | None = None,
) -> None:
    """Rule ``evaluate``: skill scores per run, mean ± sd table, paired tests, verification plots.

    ``predictions`` are the ``.../models/<dataset>/<model>/run<k>/predictions.csv`` files;
    ``tests`` are ``experiments.paired_tests`` entries (``{"a": [dataset, model], "b": ...}``);
    ``published`` (``{(dataset, model): (mean, sd)}``, default Sun et al. 2022's test TSS,
    :data:`flarepipe.studies.sun2022.published.PUBLISHED_TSS`) fills the table's published column.

    With ``samples`` (``samples.csv``) and ``splits`` (every ``split_<run>.csv``) it also writes
    S1 Tables 3 and 5 (``out_instruments``, ``out_splits``) and, when ``evaluation.true_rate`` is
    on (``cfg``, the ``evaluation`` section; ``split_cfg`` the ``split`` section), the test scores
    at the true event rate, raw and prior-shift corrected (``out_true_rate``,
    :mod:`flarepipe.evaluation.rates`). ``alphas`` are the stacking ensembles' ``summary.json``
    of which those of the ``stacked`` ensembles (``stack_<criterion>``) are plotted (S1 Fig.
    10); ``base_models`` and ``meta_models`` the boxes of the TSS box plot (Fig. 9);
    ``overlays`` the models drawn FUSED against ONLY (default: every model). Plots show the
    mean ± sd over runs. ``plugins`` (those that registered the datasets) are imported first.
    ``evaluation.published`` (``cfg``) names the study whose published values sit beside the
    measured ones (``bhattacharjee2020`` adds its CV/test comparison for every CNN-2 model at its
    image side: ``image_sizes`` maps each image network to its side, ``architectures`` each
    network, variants included, to its registered one). ``ceilings`` (model -> its view ceiling,
    synthetic archives) adds the ratios of each model's test TSS to its ceiling and to the oracle
    (:func:`flarepipe.evaluation.ceilings.ratios_markdown`).
    """
    import json

    import pandas as pd

    from flarepipe.config import section, settings
    from flarepipe.core.registry import load_plugins
    from flarepipe.evaluation.evaluate import (
        evaluate_runs,
        paired_tests_markdown,
        read_predictions,
        write_evaluation,
    )
    from flarepipe.evaluation.plots import (
        alpha_plot,
        box_plot,
        metrics_bar,
        spread_plots,
        stacking_plot,
    )
    from flarepipe.evaluation.rates import (
        TRUE_RATE_COLUMNS,
        counts_markdown,
        instrument_table,
        split_rates,
        split_table,
        true_rate_frame,
        true_rate_markdown,
        true_rate_scores,
        with_labels,
    )
    from flarepipe.samples.labels import read_samples
    from flarepipe.samples.split import full_split, read_split
    from flarepipe.studies.sun2022.published import PUBLISHED_TSS

    load_plugins(plugins)
    ev = section("evaluation", cfg)
    entries = [(*parse_prediction_path(p), str(p)) for p in predictions]
    tidy = evaluate_runs(entries)
    frames = {(d, m, k): read_predictions(p) for d, m, k, p in entries}
    sections = paired_tests_markdown(tidy, tests or [])
    if ceilings:
        from flarepipe.evaluation.ceilings import ratios_markdown

        sections += ratios_markdown(tidy, ceilings)

    rates: dict = {}
    if samples is not None and splits:
        all_samples = read_samples(samples)
        split_frames = {
            _split_path_key(p): (
                str(p),
                with_labels(read_split(p), all_samples, str(p)),
            )
            for p in splits
        }
        instruments = instrument_table(all_samples)
        per_split = split_table([(d, k, df) for (d, k), (_, df) in sorted(split_frames.items())])
        if out_instruments is not None:
            write_csv(instruments, out_instruments)
        if out_splits is not None:
            write_csv(per_split, out_splits)
        rows = []
        if ev["true_rate"]:
            s = settings("split", split_cfg)
            for (d, k), (where, kept) in split_frames.items():
                full = with_labels(full_split(all_samples, d, s, k), all_samples, where)
                rates[(d, k)] = split_rates(kept, full, where)
            for (d, m, k), pred in frames.items():
                if (d, k) not in rates:
                    raise ValueError(f"evaluate: no split file for dataset {d!r} run {k}")
                for kind, scores in true_rate_scores(pred, rates[(d, k)]).items():
                    rows += [(d, m, k, kind, metric, v) for metric, v in scores.items()]
        true_rate = pd.DataFrame(rows, columns=list(TRUE_RATE_COLUMNS))
        if out_true_rate is not None:  # header only when evaluation.true_rate is off
            write_csv(true_rate, out_true_rate)
        sections += true_rate_markdown(true_rate)
        sections += counts_markdown(instruments, per_split)

    if ev["published"] == "bhattacharjee2020":
        from flarepipe.studies.bhattacharjee2020 import published as s2

        if published is None:
            published = s2.PUBLISHED_TEST_TSS
        sections += s2.comparison_markdown(tidy, image_sizes or {}, architectures)
    summary = write_evaluation(
        tidy,
        out_metrics,
        out_table,
        published=PUBLISHED_TSS if published is None else published,
        sections=sections,
    )
    plot_dir = Path(out_plots)
    plot_dir.mkdir(parents=True, exist_ok=True)
    datasets = list(dict.fromkeys(e[0] for e in entries))
    models = list(dict.fromkeys(e[1] for e in entries))

    def runs_of(d: str, m: str) -> list:
        return [frames[key] for key in sorted(k for k in frames if k[:2] == (d, m))]

    bins = int(ev["reliability_bins"])
    for d in datasets:
        spread_plots({m: runs_of(d, m) for m in models if runs_of(d, m)}, plot_dir, d, d, bins)
        shifted = {}
        for m in models:
            keys = sorted(k for k in frames if k[:2] == (d, m) and (d, k[2]) in rates)
            got = [true_rate_frame(frames[k], rates[(d, k[2])]) for k in keys]
            if got and all(g is not None for g in got):
                shifted[m] = got
        if shifted:
            spread_plots(
                shifted,
                plot_dir,
                f"{d}_true_rate",
                f"{d} at the true event rate, prior-shift corrected",
                bins,
                figures=("reliability",),
            )
    from flarepipe.samples.registry import DATASETS

    for spec in DATASETS.values():
        alone = next(
            (o.name for o in DATASETS.values() if o.primary == spec.primary and not o.extra),
            None,
        )
        if not spec.extra or spec.name not in datasets or alone not in datasets:
            continue
        for m in models if overlays is None else [m for m in overlays if m in models]:
            pair = {f"{spec.name} {m}": runs_of(spec.name, m), f"{alone} {m}": runs_of(alone, m)}
            if all(pair.values()):
                spread_plots(pair, plot_dir, f"{spec.name}_vs_{alone}_{m}", f"{m}", bins)
    metrics_bar(summary, plot_dir / "tss_bar.png", title="Test TSS, mean ± sd over runs")
    boxes = [m for m in (*base_models, *meta_models) if m in models] or models
    box_plot(
        tidy,
        plot_dir / "tss_box.png",
        boxes,
        title="Test TSS over runs: base (left of the dashed line) and meta learners",
        n_base=sum(1 for m in base_models if m in models) if base_models else None,
    )
    if alphas:
        rows = []
        for p in alphas:
            d, e, k = _alpha_path_key(p)
            if e not in stacked:
                continue
            info = json.loads(Path(p).read_text())
            rows.append((d, e, k, float(info["alpha"]), tuple(info["pair"])))
        table = pd.DataFrame(rows, columns=["dataset", "ensemble", "run", "alpha", "pair"])
        if not table.empty:
            alpha_plot(table, plot_dir / "stack_alpha.png")
        for (d, pair), g in table.groupby(["dataset", "pair"], sort=False):
            first, second = runs_of(d, pair[0]), runs_of(d, pair[1])
            if not first or len(first) != len(second):
                continue
            run0 = g[g["run"] == g["run"].min()]
            stacking_plot(
                first,
                second,
                pair,
                dict(zip(run0["ensemble"], run0["alpha"], strict=True)),
                plot_dir / f"{d}_stacking_{pair[0]}_{pair[1]}.png",
                title=d,
            )


def run_recall_time(
    predictions: Sequence[str | os.PathLike],
    runs: Sequence[int],
    samples: str | os.PathLike,
    records: str | os.PathLike,
    flares: str | os.PathLike,
    labels: Mapping,
    cfg: Mapping,
    title: str,
    out_table: str | os.PathLike,
    out_figure: str | os.PathLike,
    out_pre_flare: str | os.PathLike | None = None,
) -> None:
    """Rule ``recall_time``: per-run recall per offset bin of one (dataset, model); a figure.

    ``predictions`` are the model's ``predictions.csv`` of the ``runs``; ``samples``, ``records``
    and ``flares`` the label stage's samples and the archive (the regions' NOAA numbers and
    flares); ``labels`` the ``labels`` section (``strong_class``), ``cfg`` the
    ``evaluation.recall_vs_time`` section. The table has one row per (run, bin); the figure the
    mean ± sd over runs (:mod:`flarepipe.evaluation.recall_time`). ``out_pre_flare``: per run
    recall and TSS on the samples of the 24 h before a flare (S2 Table 4).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from flarepipe.archive.layout import read_flares, read_records
    from flarepipe.core.flareclass import class_to_flux
    from flarepipe.evaluation.plots import save_figure
    from flarepipe.evaluation.recall_time import (
        flare_offsets,
        pre_flare_scores,
        recall_by_offset,
        region_flare_times,
    )
    from flarepipe.io.atomic import write_csv
    from flarepipe.samples.labels import read_samples
    from flarepipe.samples.quality import region_noaa

    w, b = float(cfg["window_hours"]), float(cfg["bin_hours"])
    times = region_flare_times(
        read_flares(flares),
        region_noaa(read_records(records)),
        class_to_flux(labels["strong_class"]),
    )
    offsets = flare_offsets(read_samples(samples), times, w)
    frames, pre = [], []
    predictions = (
        [predictions] if isinstance(predictions, (str, os.PathLike)) else list(predictions)
    )
    if len(runs) != len(predictions):
        raise ValueError(f"recall_time: {len(predictions)} prediction files for runs {list(runs)}")
    for run, path in zip(runs, predictions, strict=True):
        pred = pd.read_csv(path, dtype={"sample_id": str})
        pred = pred[pred["split"] == cfg["split"]]
        r = recall_by_offset(pred, offsets, b, w, float(cfg["threshold"]))
        r.insert(0, "run", int(run))
        frames.append(r)
        pre.append({"run": int(run), **pre_flare_scores(pred, offsets, 24.0, cfg["threshold"])})
    table = pd.concat(frames, ignore_index=True)
    write_csv(table, out_table)
    if out_pre_flare is not None:
        write_csv(pd.DataFrame(pre), out_pre_flare)
    wide = table.pivot(index="run", columns="bin_centre", values="recall")
    mean, sd = wide.mean(axis=0), wide.std(axis=0).fillna(0.0)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = wide.columns.to_numpy(dtype=float)
    ax.plot(x, mean.to_numpy(), marker="o")
    ax.fill_between(x, (mean - sd).to_numpy(), (mean + sd).to_numpy(), alpha=0.2)
    ax.axvline(0, color="k", lw=0.8, ls="--")
    ax.set_xlabel("time from the nearest flare (h; negative: before)")
    ax.set_ylabel("recall TP/(TP+FN)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(-w, w)
    n = int(table.groupby("run")["n_pos"].sum().mean()) if len(table) else 0
    ax.set_title(f"{title}: {len(wide)} run(s), {n} positive samples per run, {cfg['split']}")
    if not np.isfinite(mean.to_numpy()).any():
        ax.text(0.5, 0.5, "no positive sample near a flare", transform=ax.transAxes, ha="center")
    save_figure(fig, out_figure)


def run_region_analyses(
    predictions: Sequence[str | os.PathLike],
    metrics: Sequence[str | os.PathLike],
    samples: str | os.PathLike,
    records: str | os.PathLike,
    flares: str | os.PathLike,
    split: str | os.PathLike,
    labels: Mapping,
    cfg: Mapping,
    networks: Sequence[str],
    out_histogram: str | os.PathLike,
    out_histogram_figure: str | os.PathLike,
    out_resolution: str | os.PathLike,
    out_resolution_figure: str | os.PathLike,
    out_losses: str | os.PathLike,
    out_losses_figure: str | os.PathLike,
    out_table1: str | os.PathLike,
    out_table1_md: str | os.PathLike,
) -> None:
    """Rule ``region_analyses``: S2's Figs 6, 8, 13 and Table 1 for one dataset.

    ``predictions`` are every model's ``predictions.csv`` of every run (model and run read from
    the path), ``metrics`` the networks' ``metrics.csv``; ``split`` is run 0's split (the periods
    of Table 1); ``labels`` the ``labels`` section (``strong_class``), ``cfg`` the
    ``evaluation.region_analyses`` section. Fig 6 pools each network's ``cfg["split"]``
    predictions over runs; Table 1's recalls are mean ± sd over runs
    (:mod:`flarepipe.evaluation.region_analyses`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from flarepipe.archive.layout import read_flares, read_records
    from flarepipe.core.flareclass import class_to_flux
    from flarepipe.evaluation import region_analyses as ra
    from flarepipe.evaluation.plots import save_figure
    from flarepipe.evaluation.recall_time import region_flare_times
    from flarepipe.io.atomic import write_text
    from flarepipe.io.markdown import pipe_table
    from flarepipe.samples.labels import read_samples
    from flarepipe.samples.quality import region_noaa
    from flarepipe.samples.split import read_split

    recs = read_records(records)
    smp = read_samples(samples)
    per_sample = ra.sample_records(smp, recs)
    preds: dict[str, dict[int, pd.DataFrame]] = {}
    for path in predictions:
        _, model, run = parse_prediction_path(path)
        preds.setdefault(model, {})[run] = pd.read_csv(path, dtype={"sample_id": str})
    part = cfg["split"]

    # Fig 6: output histogram with the mean flux per bin, one panel per network
    hist = []
    for net in networks:
        pooled = pd.concat(p[p["split"] == part] for p in preds[net].values())
        h = ra.output_histogram(pooled, per_sample, cfg["flux_column"], int(cfg["bins"]))
        hist.append(h.assign(model=net))
    hist_t = pd.concat(hist, ignore_index=True) if hist else pd.DataFrame()
    write_csv(hist_t, out_histogram)
    fig, axes = plt.subplots(1, max(len(networks), 1), figsize=(4.2 * max(len(networks), 1), 3.4))
    for ax, net in zip(np.atleast_1d(axes), networks, strict=False):
        h = hist_t[hist_t["model"] == net]
        centre = (h["bin_lo"] + h["bin_hi"]) / 2
        ax.bar(centre, h["n"], width=h["bin_hi"] - h["bin_lo"], alpha=0.5, label="samples")
        ax.bar(centre, h["n_positive"], width=(h["bin_hi"] - h["bin_lo"]) / 2, label="positive")
        ax.set_yscale("log") if (h["n"] > 0).any() else None
        ax.set_xlabel(f"{net} output ({part}, all runs)")
        ax.set_ylabel("samples")
        ax.legend(fontsize=7, loc="upper center")
        tw = ax.twinx()
        tw.plot(centre, h["mean_flux"], "k.-")
        tw.set_ylabel(f"mean {cfg['flux_column']}")
    save_figure(fig, out_histogram_figure)

    # Fig 8: image sizes before the resize
    res = ra.resolution_counts(per_sample)
    write_csv(res, out_resolution)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for ax, axis in zip(axes, ("x", "y"), strict=True):
        r = res[res["axis"] == axis]
        ax.bar(r["px"], r["n"], width=max(1.0, float(np.ptp(r["px"])) / 50 if len(r) else 1.0))
        ax.set_xlabel(f"{axis} size before resizing, px")
        ax.set_ylabel("samples")
    save_figure(fig, out_resolution_figure)

    # Fig 13: loss curves, mean ± sd over runs, one panel per network
    logs = {}
    for path in metrics:
        _, model, run = parse_prediction_path(path)
        logs.setdefault(model, {})[run] = pd.read_csv(path)
    losses = pd.concat(
        [ra.loss_curves(logs.get(net, {})).assign(model=net) for net in networks],
        ignore_index=True,
    )
    write_csv(losses, out_losses)
    fig, axes = plt.subplots(1, max(len(networks), 1), figsize=(4.2 * max(len(networks), 1), 3.2))
    for ax, net in zip(np.atleast_1d(axes), networks, strict=False):
        sub = losses[losses["model"] == net]
        for col in ("train_loss", "val_loss"):
            g = sub.groupby("epoch")[col]
            m, s = g.mean(), g.std().fillna(0.0)
            ax.plot(m.index, m.to_numpy(), marker=".", label=col.replace("_", " "))
            ax.fill_between(m.index, (m - s).to_numpy(), (m + s).to_numpy(), alpha=0.2)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.set_title(f"{net}: {sub['run'].nunique()} run(s)", fontsize=9)
        ax.legend(fontsize=7)
    save_figure(fig, out_losses_figure)

    # Table 1: regions and flares per period; each class's recall beside TSS
    times = region_flare_times(
        read_flares(flares), region_noaa(recs), class_to_flux(labels["strong_class"])
    )
    periods = ra.period_table(smp, read_split(split), times)
    scores = []
    for model, runs in preds.items():
        r = ra.class_recalls(runs, part, float(cfg["threshold"]))
        scores.append(
            {
                "model": model,
                "runs": len(r),
                **{c: ra.mean_sd(r[c]) for c in ("recall_flaring", "recall_non_flaring", "TSS")},
            }
        )
    scores_t = pd.DataFrame(scores)
    write_csv(
        pd.concat([periods.assign(table="periods"), scores_t.assign(table="scores")]),
        out_table1,
    )
    write_text(
        f"# Table 1 (S2): regions and flares per period, each class's recall ({part})\n\n"
        f"Flares: >= {labels['strong_class']} of the period's regions, started within it.\n\n"
        + pipe_table(periods)
        + "\n\n"
        + pipe_table(scores_t)
        + "\n",
        out_table1_md,
    )
