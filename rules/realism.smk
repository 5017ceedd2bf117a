# Stage 1b: how much the archive resembles the real one: keywords, pixels, regions, flares, samples
# against the real references (FLAREPIPE_REAL_DATA, default ../shared/data/real beside the repository).

import os

REAL_DATA = os.environ.get(
    "FLAREPIPE_REAL_DATA", os.path.join(workflow.basedir, "..", "shared", "data", "real")
)


rule realism:
    input:
        records=rules.archive.output.records,
        flares=rules.archive.output.flares,
        manifest=rules.archive.output.manifest,
        samples=rules.label.output.samples,
    output:
        table=report(
            f"{R}/realism/distances.csv",
            caption="../report/realism_table.rst",
            category="1. Archive",
        ),
        markdown=f"{R}/realism/realism.md",
        keywords=report(
            f"{R}/realism/keywords.png",
            caption="../report/realism_keywords.rst",
            category="1. Archive",
        ),
        pixels=report(
            f"{R}/realism/pixels.png",
            caption="../report/realism_pixels.rst",
            category="1. Archive",
        ),
        regions=report(
            f"{R}/realism/regions_flares.png",
            caption="../report/realism_regions.rst",
            category="1. Archive",
        ),
        patch=report(
            f"{R}/realism/patch_vs_real.png",
            caption="../report/realism_patch.rst",
            category="1. Archive",
        ),
    log:
        f"{R}/logs/realism.log",
    conda:
        "../envs/evaluate.yaml"
    resources:
        runtime=res("default", "runtime"),
        mem_mb=res("default", "mem_mb"),
    params:
        real=REAL_DATA,
        n_patches=300,
    script:
        "../workflow/scripts/realism.py"
