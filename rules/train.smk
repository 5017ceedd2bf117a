# Stage 6: one job per (dataset, model, run): `train` for registered networks, `baseline` for
# registered baselines. Only the model's own config section is a param, so changing one model's
# hyperparameters reruns only that model's jobs. An image network reads the shards of its image
# side (shard_file in common.smk). On synthetic archives `oracle` forecasts from the planted
# rates, and from the part of them each network input shows (the view ceilings).


rule train:
    input:
        train=shard_file("train"),
        val=shard_file("val"),
        test=shard_file("test"),
    output:
        predictions=f"{R}/models/{{dataset}}/{{model}}/run{{run}}/predictions.csv",
        checkpoint=f"{R}/models/{{dataset}}/{{model}}/run{{run}}/model.ckpt",
        metrics=f"{R}/models/{{dataset}}/{{model}}/run{{run}}/metrics.csv",
    log:
        f"{R}/logs/train/{{dataset}}_{{model}}_{{run}}.log",
    wildcard_constraints:
        model=NETWORK_PATTERN,
    conda:
        "../envs/train.yaml"
    threads: res("train", "cpus")
    resources:
        runtime=res("train", "runtime"),
        mem_mb=res("train", "mem_mb"),
        cpus_per_task=res("train", "cpus"),
        gpu=res("train", "gpu"),
    params:
        cfg=lambda wc: config["models"].get(wc.model, {}),
        seed=lambda wc: job_seed("train", config["split"]["seed"], int(wc.run)),
        plugins=lambda wc: model_plugins(wc.model, config),
    script:
        "../workflow/scripts/train.py"


rule baseline:
    input:
        train=rules.shard.output.train,
        val=rules.shard.output.val,
        test=rules.shard.output.test,
    output:
        predictions=f"{R}/models/{{dataset}}/{{model}}/run{{run}}/predictions.csv",
    log:
        f"{R}/logs/train/{{dataset}}_{{model}}_{{run}}.log",
    wildcard_constraints:
        model=BASELINE_PATTERN,
    conda:
        "../envs/train.yaml"
    params:
        cfg=lambda wc: config["models"].get(wc.model, {}),
        seed=lambda wc: job_seed("baseline", config["split"]["seed"], int(wc.run)),
        plugins=lambda wc: model_plugins(wc.model),
    script:
        "../workflow/scripts/baseline.py"


rule oracle:
    input:
        samples=rules.label.output.samples,
        split=rules.split.output[0],
        rates=f"{R}/archive/truth/rates.csv",
        # the planted coefficients, for the view ceilings
        manifest=f"{R}/archive/manifest.json",
    output:
        predictions=f"{R}/models/{{dataset}}/{ORACLE}/run{{run}}/predictions.csv",
        # the view ceilings (flarepipe.evaluation.ceilings): the oracle on what one input shows
        ceilings=expand(
            f"{R}/models/{{{{dataset}}}}/{{ceiling}}/run{{{{run}}}}/predictions.csv",
            ceiling=CEILINGS,
        ),
    log:
        f"{R}/logs/oracle/{{dataset}}_{{run}}.log",
    conda:
        "../envs/evaluate.yaml"
    script:
        "../workflow/scripts/oracle.py"
