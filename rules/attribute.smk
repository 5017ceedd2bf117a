# Stage 8: attribution maps of every trained network (captum), synthetic probes, PIL and planted-
# truth analyses, region timelines; one job per (dataset, model, run), then a summary over runs.
# Only the attribution section is a param, so changing it reruns attribution jobs and nothing else.


ATTR_DIR = f"{R}/attribution/{{dataset}}/{{model}}"


rule attribute:
    input:
        checkpoint=f"{R}/models/{{dataset}}/{{model}}/run{{run}}/model.ckpt",
        predictions=f"{R}/models/{{dataset}}/{{model}}/run{{run}}/predictions.csv",
        shard=shard_file(ATTR["split"]),
        features=features_file,
        samples=rules.label.output.samples,
        records=rules.archive.output.records,
        flares=rules.archive.output.flares,
    output:
        maps=f"{ATTR_DIR}/run{{run}}/maps.npz",
        stats=f"{ATTR_DIR}/run{{run}}/stats.csv",
        probes=f"{ATTR_DIR}/run{{run}}/probes.csv",
        timeline=f"{ATTR_DIR}/run{{run}}/timeline.csv",
        timeline_maps=f"{ATTR_DIR}/run{{run}}/timeline.npz",
        summary=f"{ATTR_DIR}/run{{run}}/summary.json",
        figures=report(
            directory(f"{ATTR_DIR}/run{{run}}/figures"),
            patterns=["{figure}__{kind}.png", "{figure}__{kind}.gif"],
            caption="../report/attribution.rst",
            category="5. Attribution",
            subcategory="{dataset} {model} run {run}",
        ),
    log:
        f"{R}/logs/attribute/{{dataset}}_{{model}}_{{run}}.log",
    wildcard_constraints:
        model=NETWORK_PATTERN,
    conda:
        "../envs/train.yaml"
    threads: res("attribute", "cpus")
    resources:
        runtime=res("attribute", "runtime"),
        mem_mb=res("attribute", "mem_mb"),
        cpus_per_task=res("attribute", "cpus"),
        gpu=res("attribute", "gpu"),
    params:
        cfg=ATTR,
        synthetic=SYNTHETIC,
        plugins=lambda wc: model_plugins(wc.model, config),
    script:
        "../workflow/scripts/attribute.py"


rule attribution_summary:
    input:
        stats=attribution_runs("stats.csv"),
        probes=attribution_runs("probes.csv"),
    output:
        planted=f"{ATTR_DIR}/summary/planted_truth.csv",
        planted_md=f"{ATTR_DIR}/summary/planted_truth.md",
        pil=f"{ATTR_DIR}/summary/pil.csv",
        randomisation=report(
            f"{ATTR_DIR}/summary/randomisation.csv",
            caption="../report/attribution_randomisation.rst",
            category="5. Attribution",
            subcategory="{dataset} {model} summary",
        ),
        probes=f"{ATTR_DIR}/summary/probes.csv",
        summary=f"{ATTR_DIR}/summary/summary.json",
        figures=report(
            directory(f"{ATTR_DIR}/summary/figures"),
            patterns=["{figure}__{kind}.png"],
            caption="../report/attribution_summary.rst",
            category="5. Attribution",
            subcategory="{dataset} {model} summary",
        ),
    log:
        f"{R}/logs/attribute/{{dataset}}_{{model}}_summary.log",
    wildcard_constraints:
        model=NETWORK_PATTERN,
    conda:
        "../envs/train.yaml"
    params:
        cfg=ATTR,
    script:
        "../workflow/scripts/attribution_summary.py"


# One model's probe sweeps across the datasets it was trained on (S2 Fig 11: original,
# polarity-reversed and Hale/Joy-corrected images); with probes on and two or more datasets.
rule probe_datasets:
    input:
        unpack(
            lambda wc: {d: f"{R}/attribution/{d}/{wc.model}/summary/probes.csv" for d in DATASETS}
        ),
    output:
        table=f"{R}/attribution/datasets/{{model}}/probes.csv",
        figures=report(
            directory(f"{R}/attribution/datasets/{{model}}/figures"),
            patterns=["probes__{family}.png"],
            caption="../report/probe_datasets.rst",
            category="5. Attribution",
        ),
    log:
        f"{R}/logs/attribution/probe_datasets_{{model}}.log",
    conda:
        "../envs/train.yaml"
    script:
        "../workflow/scripts/probe_datasets.py"
