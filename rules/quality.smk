# Stage 2: per-record quality flags and reasons; nothing dropped silently.


rule quality:
    conda:
        "../envs/process.yaml"
    input:
        records=rules.archive.output.records,
    output:
        flagged=f"{R}/quality/records_flagged.csv",
        summary=report(
            f"{R}/quality/summary.csv",
            caption="../report/quality_summary.rst",
            category="2. Quality",
        ),
    params:
        cfg=config["quality"],
    threads: res("features", "cpus")
    resources:
        runtime=res("features", "runtime"),
        mem_mb=res("features", "mem_mb"),
        cpus_per_task=res("features", "cpus"),
    log:
        f"{R}/logs/quality.log",
    script:
        "../workflow/scripts/quality.py"
