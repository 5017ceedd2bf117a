# Stage 5: model inputs per sample (read each FITS once), then standardised HDF5 shards per run.


rule features:
    conda:
        "../envs/process.yaml"
    input:
        records=rules.archive.output.records,
        samples=rules.label.output.samples,
    output:
        f"{R}/features/features.h5",
    params:
        cfg=config["features"],
    threads: res("features", "cpus")
    resources:
        runtime=res("features", "runtime"),
        mem_mb=res("features", "mem_mb"),
        cpus_per_task=res("features", "cpus"),
    log:
        f"{R}/logs/features.log",
    script:
        "../workflow/scripts/features.py"


rule shard:
    conda:
        "../envs/process.yaml"
    input:
        features=rules.features.output[0],
        split=rules.split.output[0],
    output:
        train=f"{R}/shards/{{dataset}}/run{{run}}/train.h5",
        val=f"{R}/shards/{{dataset}}/run{{run}}/val.h5",
        test=f"{R}/shards/{{dataset}}/run{{run}}/test.h5",
    params:
        cfg=config["shard"],
    log:
        f"{R}/logs/shard/{{dataset}}_{{run}}.log",
    script:
        "../workflow/scripts/shard.py"
