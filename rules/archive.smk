# Stage 1: the raw archive (records.csv, flares.csv, manifest.json, fits/).


rule archive:
    output:
        records=f"{R}/archive/records.csv",
        flares=f"{R}/archive/flares.csv",
        manifest=f"{R}/archive/manifest.json",
    params:
        cfg=config["archive"],
    threads: config["archive"].get("synthetic", {}).get("workers", 1)
    resources:
        runtime=res("archive", "runtime", 120),
        mem_mb=res("archive", "mem_mb", 8000),
        cpus_per_task=res("archive", "cpus", 2),
    log:
        f"{R}/logs/archive.log",
    script:
        "../workflow/scripts/archive.py"


rule synthetic_figure:
    input:
        records=rules.archive.output.records,
        flares=rules.archive.output.flares,
    output:
        report(
            f"{R}/figures/synthetic_region.png",
            caption="../report/synthetic_region.rst",
            category="1. Archive",
        ),
    log:
        f"{R}/logs/synthetic_figure.log",
    script:
        "../workflow/scripts/synthetic_figure.py"
