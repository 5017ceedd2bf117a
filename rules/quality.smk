# Stage 2: per-record quality flags and reasons; nothing dropped silently.


rule quality:
    input:
        records=rules.archive.output.records,
        # what the archive source measured of each file: quality reads only files not in it
        pixels=rules.archive.output.pixels,
    output:
        flagged=f"{R}/quality/records_flagged.csv",
        summary=report(
            f"{R}/quality/summary.csv",
            caption="../report/quality_summary.rst",
            category="2. Quality",
        ),
    log:
        f"{R}/logs/quality.log",
    conda:
        "../envs/process.yaml"
    threads: res("features", "cpus")
    resources:
        runtime=res("features", "runtime"),
        mem_mb=res("features", "mem_mb"),
        cpus_per_task=res("features", "cpus"),
    params:
        cfg=config["quality"],
    script:
        "../workflow/scripts/quality.py"
