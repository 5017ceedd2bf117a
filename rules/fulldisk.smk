# The daily full-disk forecast of Yi et al. 2021 (fulldisk section; included when
# fulldisk.enabled): archive -> daily samples -> chronological split -> daily shards ->
# yi_densenet per run and the daily baselines -> Table 1 beside the published row.


if FD_CFG["source"] != "jsoc":

    rule fulldisk_archive:
        output:
            directory(f"{FD}/archive"),
        log:
            f"{R}/logs/fulldisk/archive.log",
        conda:
            "../envs/process.yaml"
        threads: res("archive", "cpus")
        resources:
            runtime=res("archive", "runtime"),
            mem_mb=res("archive", "mem_mb"),
            cpus_per_task=res("archive", "cpus"),
        params:
            cfg=FD_CFG,
        script:
            "../workflow/scripts/fulldisk_archive.py"

else:
    # jsoc: one job per unit (chunk_days of one instrument) so a killed download reruns only
    # its unfinished units; units share the `jsoc_export` resource with the patch units (JSOC
    # allows one pending export per user: --resources jsoc_export=1).
    from flarepipe.archive.sources.jsoc.fulldisk import (
        FullDiskJsocSettings,
        plan_fulldisk_units,
    )

    FD_JSOC_UNITS = [
        u.unit_id for u in plan_fulldisk_units(FullDiskJsocSettings.from_section(FD_CFG))
    ]

    # compute nodes often have no internet: downloads run where snakemake itself runs
    localrules:
        fulldisk_jsoc_unit,

    rule fulldisk_jsoc_unit:
        output:
            f"{FD}/jsoc/units/{{unit}}/unit.json",
        log:
            f"{R}/logs/fulldisk/jsoc/{{unit}}.log",
        retries: 2
        conda:
            "../envs/archive.yaml"
        resources:
            jsoc_export=1,
            runtime=res("archive", "runtime"),
        params:
            # only what the unit reads: another fulldisk.input or split reruns no download
            cfg={
                "jsoc": FD_CFG["jsoc"],
                "daily": {k: FD_CFG["daily"][k] for k in ("quality_mask", "max_lag_h")},
            },
            jsoc=config["archive"]["jsoc"],
        script:
            "../workflow/scripts/fulldisk_jsoc_unit.py"

    rule fulldisk_archive:
        input:
            units=expand(f"{FD}/jsoc/units/{{unit}}/unit.json", unit=FD_JSOC_UNITS),
            flares=rules.catalogue.output.flares,
        output:
            directory(f"{FD}/archive"),
        log:
            f"{R}/logs/fulldisk/archive.log",
        conda:
            "../envs/archive.yaml"
        params:
            cfg=FD_CFG,
        script:
            "../workflow/scripts/fulldisk_jsoc_archive.py"


rule fulldisk_samples:
    input:
        archive=rules.fulldisk_archive.output[0],
    output:
        samples=f"{FD}/labels/samples.csv",
        frames=f"{FD}/labels/frames.csv",
        rejected=f"{FD}/labels/rejected_days.csv",
    log:
        f"{R}/logs/fulldisk/samples.log",
    conda:
        "../envs/process.yaml"
    threads: res("features", "cpus")
    resources:
        runtime=res("features", "runtime"),
        mem_mb=res("features", "mem_mb"),
        cpus_per_task=res("features", "cpus"),
    params:
        cfg=FD_CFG,
    script:
        "../workflow/scripts/fulldisk_samples.py"


rule fulldisk_split:
    input:
        samples=rules.fulldisk_samples.output.samples,
    output:
        f"{FD}/splits/split.csv",
    log:
        f"{R}/logs/fulldisk/split.log",
    conda:
        "../envs/process.yaml"
    params:
        cfg=FD_CFG,
    script:
        "../workflow/scripts/fulldisk_split.py"


rule fulldisk_shard:
    input:
        archive=rules.fulldisk_archive.output[0],
        samples=rules.fulldisk_samples.output.samples,
        split=rules.fulldisk_split.output[0],
    output:
        shard=f"{FD}/shards/{{split}}.h5",
        table=f"{FD}/shards/{{split}}.csv",
    log:
        f"{R}/logs/fulldisk/shard_{{split}}.log",
    conda:
        "../envs/process.yaml"
    threads: res("features", "cpus")
    resources:
        runtime=res("features", "runtime"),
        mem_mb=res("features", "mem_mb"),
        cpus_per_task=res("features", "cpus"),
    params:
        cfg=FD_CFG,
    script:
        "../workflow/scripts/fulldisk_shard.py"


rule fulldisk_train:
    input:
        train=f"{FD}/shards/train.h5",
        val=f"{FD}/shards/val.h5",
        test=f"{FD}/shards/test.h5",
    output:
        predictions=f"{FD}/models/{FD_MODEL}/run{{run}}/predictions.csv",
        checkpoint=f"{FD}/models/{FD_MODEL}/run{{run}}/model.ckpt",
    log:
        f"{R}/logs/fulldisk/train_{{run}}.log",
    conda:
        "../envs/train.yaml"
    threads: res("train", "cpus")
    resources:
        runtime=res("train", "runtime"),
        mem_mb=res("train", "mem_mb"),
        cpus_per_task=res("train", "cpus"),
        gpu=res("train", "gpu"),
    params:
        model=FD_MODEL,
        cfg=config["models"].get(FD_MODEL, {}),
        seed=lambda wc: job_seed("train", FD_CFG["seed"], int(wc.run)),
    script:
        "../workflow/scripts/fulldisk_train.py"


rule fulldisk_baselines:
    input:
        train=f"{FD}/shards/train.csv",
        test=f"{FD}/shards/test.csv",
    output:
        f"{FD}/models/baselines/predictions.csv",
    log:
        f"{R}/logs/fulldisk/baselines.log",
    conda:
        "../envs/train.yaml"
    script:
        "../workflow/scripts/fulldisk_baselines.py"


rule fulldisk_evaluate:
    input:
        predictions=expand(f"{FD}/models/{FD_MODEL}/run{{run}}/predictions.csv", run=FD_RUNS),
        baselines=rules.fulldisk_baselines.output[0],
    output:
        metrics=report(
            f"{FD}/evaluation/metrics.csv",
            caption="../report/fulldisk_table1.rst",
            category="6. Full-disk (Yi et al. 2021)",
        ),
        table=f"{FD}/evaluation/metrics.md",
    log:
        f"{R}/logs/fulldisk/evaluate.log",
    conda:
        "../envs/evaluate.yaml"
    params:
        cfg=FD_CFG,
    script:
        "../workflow/scripts/fulldisk_evaluate.py"


rule fulldisk_figure:
    input:
        metrics=rules.fulldisk_evaluate.output.metrics,
    output:
        report(
            f"{FD}/figures/table1.png",
            caption="../report/fulldisk_figure.rst",
            category="6. Full-disk (Yi et al. 2021)",
        ),
    log:
        f"{R}/logs/fulldisk/figure.log",
    conda:
        "../envs/evaluate.yaml"
    script:
        "../workflow/scripts/fulldisk_figure.py"


rule fulldisk_attribute:
    input:
        checkpoint=rules.fulldisk_train.output.checkpoint,
        predictions=rules.fulldisk_train.output.predictions,
        shard=f"{FD}/shards/test.h5",
        table=f"{FD}/shards/test.csv",
        archive=rules.fulldisk_archive.output[0],
    output:
        summary=f"{FD}/attribution/run{{run}}/summary.json",
        regions=f"{FD}/attribution/run{{run}}/regions.csv",
        figure=report(
            f"{FD}/attribution/run{{run}}/overlays.png",
            caption="../report/fulldisk_attribution.rst",
            category="6. Full-disk (Yi et al. 2021)",
        ),
        pil=f"{FD}/attribution/run{{run}}/pil_days.csv",
        table2=report(
            f"{FD}/attribution/run{{run}}/table2.md",
            caption="../report/fulldisk_pil.rst",
            category="6. Full-disk (Yi et al. 2021)",
        ),
        crops=report(
            f"{FD}/attribution/run{{run}}/region_crops.png",
            caption="../report/fulldisk_crops.rst",
            category="6. Full-disk (Yi et al. 2021)",
        ),
        scatter=report(
            f"{FD}/attribution/run{{run}}/region_maxima.png",
            caption="../report/fulldisk_scatter.rst",
            category="6. Full-disk (Yi et al. 2021)",
        ),
    log:
        f"{R}/logs/fulldisk/attribute_{{run}}.log",
    conda:
        "../envs/train.yaml"
    threads: res("train", "cpus")
    resources:
        runtime=res("train", "runtime"),
        mem_mb=res("train", "mem_mb"),
        cpus_per_task=res("train", "cpus"),
    params:
        cfg=FD_CFG,
        pil=ATTR.get("pil", {}),
    script:
        "../workflow/scripts/fulldisk_attribute.py"
