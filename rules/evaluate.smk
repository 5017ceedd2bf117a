# Stage 7: stacking of the configured pairs (S1: lstm + cnn), skill scores, mean +- sd over runs,
# paired tests (experiments.paired_tests), verification plots.


rule stack:
    input:
        unpack(stack_inputs),
    output:
        expand(
            f"{R}/models/{{{{dataset}}}}/{{ensemble}}/run{{{{run}}}}/{{name}}",
            ensemble=STACK,
            name=["predictions.csv", "summary.json"],
        ),
    log:
        f"{R}/logs/stack/{{dataset}}_{{run}}.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        stacking=[s.as_dict() for s in PLAN.stacking],
        template=lambda wc: f"{R}/models/{wc.dataset}/{{ensemble}}/run{wc.run}",
        plugins=criteria_plugins(PLAN.stacking),
    script:
        "../workflow/scripts/stack.py"


rule evaluate:
    input:
        predictions=prediction_files(),
        samples=rules.label.output.samples,
        splits=split_files(),
        alphas=stack_summaries(),
    output:
        metrics=report(
            f"{R}/evaluation/metrics.csv",
            caption="../report/metrics.rst",
            category="4. Evaluation",
        ),
        table=f"{R}/evaluation/metrics.md",
        true_rate=report(
            f"{R}/evaluation/true_rate.csv",
            caption="../report/true_rate.rst",
            category="4. Evaluation",
        ),
        instruments=report(
            f"{R}/evaluation/instruments.csv",
            caption="../report/sample_counts.rst",
            category="4. Evaluation",
        ),
        splits=report(
            f"{R}/evaluation/splits.csv",
            caption="../report/sample_counts.rst",
            category="4. Evaluation",
        ),
        plots=report(
            directory(f"{R}/evaluation/plots"),
            patterns=["{name}.png"],
            caption="../report/plots.rst",
            category="4. Evaluation",
        ),
    log:
        f"{R}/logs/evaluate.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        tests=list(PLAN.paired_tests),
        split_cfg=config["split"],
        cfg=config["evaluation"],
        base_models=list(PLAN.networks + PLAN.baselines),
        meta_models=list(PLAN.ensembles),
        stacked=[f"{p.prefix}stack_{c}" for p in PLAN.stacking for c in p.criteria],
        overlays=list(PLAN.networks),
        plugins=sorted({p for d in DATASETS for p in dataset_plugins(d)}),
        ceilings=PLAN.ceiling_of,
        image_sizes=dict(PLAN.image_sizes),
        architectures=dict(PLAN.architectures),
    script:
        "../workflow/scripts/evaluate.py"


# Recall against the time to the nearest flare (S2 Fig 5), per (dataset, model); off by default
# (evaluation.recall_vs_time.enabled; targets: recall_time_outputs in common.smk).
rule recall_time:
    input:
        predictions=lambda wc: expand(
            f"{R}/models/{wc.dataset}/{wc.model}/run{{run}}/predictions.csv", run=RUNS
        ),
        samples=rules.label.output.samples,
        records=rules.archive.output.records,
        flares=rules.archive.output.flares,
    output:
        table=f"{R}/evaluation/recall_time/{{dataset}}_{{model}}.csv",
        pre_flare=f"{R}/evaluation/recall_time/{{dataset}}_{{model}}_24h_before.csv",
        figure=report(
            f"{R}/evaluation/recall_time/{{dataset}}_{{model}}.png",
            caption="../report/recall_time.rst",
            category="4. Evaluation",
        ),
    log:
        f"{R}/logs/recall_time/{{dataset}}_{{model}}.log",
    wildcard_constraints:
        model=f"{NETWORK_PATTERN}|{BASELINE_PATTERN}",
    conda:
        "../envs/evaluate.yaml"
    params:
        runs=RUNS,
        labels=config["labels"],
        cfg=RECALL_TIME,
        title=lambda wc: f"{wc.dataset} {wc.model}",
    script:
        "../workflow/scripts/recall_time.py"


# S2's region-level analyses per dataset: output histogram with flux per bin (Fig 6), image sizes
# before resizing (Fig 8), loss curves (Fig 13), Table 1; off by default
# (evaluation.region_analyses.enabled; targets: region_analyses_outputs in common.smk).
rule region_analyses:
    input:
        predictions=region_prediction_files,
        metrics=region_metric_files,
        samples=rules.label.output.samples,
        records=rules.archive.output.records,
        flares=rules.archive.output.flares,
        split=f"{R}/splits/{{dataset}}/split_0.csv",
    output:
        histogram=f"{R}/evaluation/region_analyses/{{dataset}}/output_histogram.csv",
        histogram_figure=report(
            f"{R}/evaluation/region_analyses/{{dataset}}/output_histogram.png",
            caption="../report/region_histogram.rst",
            category="4. Evaluation",
        ),
        resolution=f"{R}/evaluation/region_analyses/{{dataset}}/resolution.csv",
        resolution_figure=report(
            f"{R}/evaluation/region_analyses/{{dataset}}/resolution.png",
            caption="../report/region_resolution.rst",
            category="4. Evaluation",
        ),
        losses=f"{R}/evaluation/region_analyses/{{dataset}}/loss_curves.csv",
        losses_figure=report(
            f"{R}/evaluation/region_analyses/{{dataset}}/loss_curves.png",
            caption="../report/region_losses.rst",
            category="4. Evaluation",
        ),
        table1=f"{R}/evaluation/region_analyses/{{dataset}}/table1.csv",
        table1_md=report(
            f"{R}/evaluation/region_analyses/{{dataset}}/table1.md",
            caption="../report/region_table1.rst",
            category="4. Evaluation",
        ),
    log:
        f"{R}/logs/region_analyses/{{dataset}}.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        labels=config["labels"],
        cfg=REGION_ANALYSES,
        networks=list(PLAN.networks),
    script:
        "../workflow/scripts/region_analyses.py"
