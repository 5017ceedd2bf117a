# Stage 1: the raw archive (records.csv, flares.csv, manifest.json, fits/).


from flarepipe.archive.build import catalogue_files, fits_listing, source_files

# the flare catalogue of the jsoc sources (patches, and full-disk frames with fulldisk.source jsoc)
if config["archive"]["source"] == "jsoc" or (
    config["fulldisk"]["enabled"] and config["fulldisk"]["source"] == "jsoc"
):

    localrules:
        catalogue,

    rule catalogue:
        input:
            sources=catalogue_files(config["archive"]["catalogue"]),
        output:
            flares=f"{R}/archive/catalogue/flares.csv",
            rejected=f"{R}/archive/catalogue/rejected_flares.csv",
            repaired=f"{R}/archive/catalogue/repaired_flares.csv",
        log:
            f"{R}/logs/catalogue.log",
        conda:
            "../envs/archive.yaml"
        params:
            cfg=config["archive"]["catalogue"],
        script:
            "../workflow/scripts/catalogue.py"


if config["archive"]["source"] != "jsoc":

    rule archive:
        input:
            # every local file the source reads: an edit reruns the archive and what follows
            sources=source_files(config["archive"]),
        output:
            **({"rates": f"{R}/archive/truth/rates.csv"} if SYNTHETIC else {}),
            records=f"{R}/archive/records.csv",
            flares=f"{R}/archive/flares.csv",
            manifest=f"{R}/archive/manifest.json",
            # each file's NaN pixels and shape as the source measured them (quality reads none)
            pixels=f"{R}/archive/pixels.csv",
            # the planted rates of the synthetic archive (read by the oracle and the figure)
        log:
            f"{R}/logs/archive.log",
        conda:
            "../envs/archive.yaml"
        threads: config["archive"].get("synthetic", {}).get("workers", 1)
        resources:
            runtime=res("archive", "runtime"),
            mem_mb=res("archive", "mem_mb"),
            cpus_per_task=res("archive", "cpus"),
        params:
            cfg=config["archive"],
            # the local FITS exports, too many to declare: their (path, size, mtime) digest
            fits_listing=fits_listing(config["archive"]),
        script:
            "../workflow/scripts/archive.py"

else:
    # jsoc: one job per unit (time range or region) so failed units rerun alone; JSOC allows one
    # pending export per user, so units share a `jsoc_export` resource (--resources jsoc_export=1).
    from flarepipe.archive.sources.jsoc import plan_units

    JSOC_UNITS = [u.unit_id for u in plan_units(config["archive"]["jsoc"])]

    # compute nodes often have no internet: downloads run where snakemake itself runs
    localrules:
        jsoc_unit,

    rule jsoc_unit:
        output:
            f"{R}/archive/units/{{unit}}/unit.json",
        log:
            f"{R}/logs/jsoc/{{unit}}.log",
        retries: 2
        conda:
            "../envs/archive.yaml"
        resources:
            jsoc_export=1,
            runtime=res("archive", "runtime"),
        params:
            cfg=config["archive"]["jsoc"],
            archive=f"{R}/archive",
        script:
            "../workflow/scripts/jsoc_unit.py"

    rule archive:
        input:
            units=expand(f"{R}/archive/units/{{unit}}/unit.json", unit=JSOC_UNITS),
            flares=rules.catalogue.output.flares,
            rejected=rules.catalogue.output.rejected,
        output:
            records=f"{R}/archive/records.csv",
            flares=f"{R}/archive/flares.csv",
            manifest=f"{R}/archive/manifest.json",
            pixels=f"{R}/archive/pixels.csv",
        log:
            f"{R}/logs/archive.log",
        conda:
            "../envs/archive.yaml"
        script:
            "../workflow/scripts/jsoc_merge.py"


rule synthetic_figure:
    input:
        records=rules.archive.output.records,
        flares=rules.archive.output.flares,
        rates=f"{R}/archive/truth/rates.csv",
    output:
        report(
            f"{R}/figures/synthetic_region.png",
            caption="../report/synthetic_region.rst",
            category="1. Archive",
        ),
    log:
        f"{R}/logs/synthetic_figure.log",
    conda:
        "../envs/evaluate.yaml"
    script:
        "../workflow/scripts/synthetic_figure.py"
