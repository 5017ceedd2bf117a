# Stage 3: sliding windows -> labelled samples; Stage 4: region-grouped splits.


rule label:
    input:
        records=rules.archive.output.records,
        flares=rules.archive.output.flares,
        flagged=rules.quality.output.flagged,
    output:
        samples=f"{R}/labels/samples.csv",
        counts=report(
            f"{R}/labels/evolution_counts.csv",
            caption="../report/evolution_counts.rst",
            category="3. Labels",
        ),
        drops=f"{R}/labels/drop_counts.csv",
    log:
        f"{R}/logs/label.log",
    conda:
        "../envs/process.yaml"
    params:
        cfg=config["labels"],
        plugins=task_plugins(config),
    script:
        "../workflow/scripts/label.py"


rule split:
    input:
        **(
            {"records": rules.archive.output.records}
            if config["split"]["exclude_noaa_overlap"]
            else {}
        ),
        samples=rules.label.output.samples,
        # the region -> NOAA map comes from the records when fused regions are checked for overlap
    output:
        f"{R}/splits/{{dataset}}/split_{{run}}.csv",
    log:
        f"{R}/logs/split/{{dataset}}_{{run}}.log",
    conda:
        "../envs/process.yaml"
    params:
        cfg=config["split"],
        plugins=lambda wc: dataset_plugins(wc.dataset),
    script:
        "../workflow/scripts/split.py"
