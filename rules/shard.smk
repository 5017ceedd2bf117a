# Stage 5: model inputs per sample (read each FITS once), then standardised HDF5 shards per run.


rule features:
    input:
        records=rules.archive.output.records,
        samples=rules.label.output.samples,
    output:
        f"{R}/features/features.h5",
    log:
        f"{R}/logs/features.log",
    conda:
        "../envs/process.yaml"
    threads: res("features", "cpus")
    resources:
        runtime=res("features", "runtime"),
        mem_mb=res("features", "mem_mb"),
        cpus_per_task=res("features", "cpus"),
    params:
        cfg=config["features"],
    script:
        "../workflow/scripts/features.py"


rule shard:
    input:
        features=rules.features.output[0],
        split=rules.split.output[0],
    output:
        train=f"{R}/shards/{{dataset}}/run{{run}}/train.h5",
        val=f"{R}/shards/{{dataset}}/run{{run}}/val.h5",
        test=f"{R}/shards/{{dataset}}/run{{run}}/test.h5",
    log:
        f"{R}/logs/shard/{{dataset}}_{{run}}.log",
    conda:
        "../envs/process.yaml"
    params:
        cfg=config["shard"],
        plugins=lambda wc: dataset_plugins(wc.dataset),
    script:
        "../workflow/scripts/shard.py"
