# flarepipe: JSOC SHARP/SMARP + GOES -> trained, evaluated flare-prediction models.
# A table of contents: validate the configuration, then one rule file per stage.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/archive.smk"
include: "rules/quality.smk"
include: "rules/label.smk"
include: "rules/realism.smk"
include: "rules/shard.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/audit.smk"
include: "rules/attribute.smk"
include: "rules/report.smk"
include: "rules/emergence.smk"
include: "rules/detection.smk"


if config["fulldisk"]["enabled"]:

    include: "rules/fulldisk.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
        AUDIT_OUTPUTS,
        EMERGENCE_OUTPUTS,
        DETECTION_OUTPUTS,
