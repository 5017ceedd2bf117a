# Pre-emergence study of Dhuri et al. 2020 (SCIENCE.md S4; flarepipe.studies.dhuri2020):
# emerging/control maps -> per-lead cross-validated forecasts -> TSS against lead time.
# Off unless emergence.enabled; its target rule is emergence_all.
import re

from flarepipe.studies.dhuri2020.settings import check_emergence, lead_name

EM = config["emergence"]
EMERGENCE = bool(EM["enabled"])
EMERGENCE_OUTPUTS = []

if EMERGENCE:
    try:
        check_emergence(EM)
    except ValueError as exc:
        raise WorkflowError(f"invalid configuration: {exc}")
    EM_LEADS = {lead_name(x): float(x) for x in EM["lead_times_h"]}
    EM_ROOT = EM["local_root"] if EM["source"] == "local" else f"{R}/emergence/archive"
    EMERGENCE_OUTPUTS = [f"{R}/emergence/report.md"]

    if EM["source"] == "synthetic":

        rule emergence_archive:
            output:
                regions=f"{R}/emergence/archive/regions.csv",
                maps=f"{R}/emergence/archive/maps.csv",
            log:
                f"{R}/logs/emergence/archive.log",
            conda:
                "../envs/archive.yaml"
            params:
                emergence=EM,
            script:
                "../workflow/scripts/emergence_archive.py"

    rule emergence_evaluate:
        input:
            regions=f"{EM_ROOT}/regions.csv",
        output:
            predictions=f"{R}/emergence/predictions/lead_{{lead}}.csv",
            occlusion=f"{R}/emergence/occlusion/lead_{{lead}}.npz",
            probes=f"{R}/emergence/probes/lead_{{lead}}.csv",
        log:
            f"{R}/logs/emergence/evaluate_{{lead}}.log",
        wildcard_constraints:
            lead="|".join(re.escape(x) for x in EM_LEADS),
        conda:
            "../envs/train.yaml"
        params:
            emergence=EM,
            lead_h=lambda wc: EM_LEADS[wc.lead],
        script:
            "../workflow/scripts/emergence_evaluate.py"

    rule emergence_report:
        input:
            predictions=expand(f"{R}/emergence/predictions/lead_{{lead}}.csv", lead=list(EM_LEADS)),
            occlusion=expand(f"{R}/emergence/occlusion/lead_{{lead}}.npz", lead=list(EM_LEADS)),
            probes=expand(f"{R}/emergence/probes/lead_{{lead}}.csv", lead=list(EM_LEADS)),
            regions=f"{EM_ROOT}/regions.csv",
        output:
            tss=f"{R}/emergence/tss.csv",
            report=f"{R}/emergence/report.md",
            figure=f"{R}/emergence/tss_vs_lead.png",
            occlusion=f"{R}/emergence/occlusion.png",
            probes=f"{R}/emergence/probes.png",
            gallery=f"{R}/emergence/gallery.png",
        log:
            f"{R}/logs/emergence/report.log",
        conda:
            "../envs/evaluate.yaml"
        params:
            emergence=EM,
        script:
            "../workflow/scripts/emergence_report.py"

    rule emergence_all:
        input:
            EMERGENCE_OUTPUTS,
