# Stage 3: sliding windows -> labelled samples; Stage 4: region-grouped splits.


rule label:
    conda:
        "../envs/process.yaml"
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
    params:
        cfg=config["labels"],
    log:
        f"{R}/logs/label.log",
    script:
        "../workflow/scripts/label.py"


rule split:
    conda:
        "../envs/process.yaml"
    input:
        samples=rules.label.output.samples,
        # the region -> NOAA map comes from the records when fused regions are checked for overlap
        **(
            {"records": rules.archive.output.records}
            if config["split"]["exclude_noaa_overlap"]
            else {}
        ),
    output:
        f"{R}/splits/{{dataset}}/split_{{run}}.csv",
    params:
        cfg=config["split"],
    log:
        f"{R}/logs/split/{{dataset}}_{{run}}.log",
    script:
        "../workflow/scripts/split.py"
