# Stage 5: model inputs per sample (read each FITS once), then standardised HDF5 shards per run.
# features.h5 and the shards hold images at features.image_size; an image network of another
# side (models.<model>.network.image_size) reads features_<size>px.h5 and <size>px/ shards,
# resized from the original patches (rules features_size and shard_size; none by default).


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


# Another image side: the same jobs on the images of that side (resized from the patches).
use rule features as features_size with:
    output:
        f"{R}/features/features_{{size}}px.h5",
    log:
        f"{R}/logs/features_{{size}}px.log",
    params:
        cfg=lambda wc: {**config["features"], "image_size": int(wc.size)},


use rule shard as shard_size with:
    input:
        features=rules.features_size.output[0],
        split=rules.split.output[0],
    output:
        train=f"{R}/shards/{{dataset}}/run{{run}}/{{size}}px/train.h5",
        val=f"{R}/shards/{{dataset}}/run{{run}}/{{size}}px/val.h5",
        test=f"{R}/shards/{{dataset}}/run{{run}}/{{size}}px/test.h5",
    log:
        f"{R}/logs/shard/{{dataset}}_{{run}}_{{size}}px.log",
