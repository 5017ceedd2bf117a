# Audit: relabel every row of a tables archive with the workflow's rule and report the agreement
# with the tables' own labels (Sun et al. 2022 study; flarepipe.studies.sun2022.audit).
from flarepipe.studies.sun2022.audit import audit_inputs

AUDIT = config["archive"].get("source") == "tables" and config["audit"].get("relabel", True)
AUDIT_OUTPUTS = [f"{R}/audit/relabel_agreement.md"] if AUDIT else []

if AUDIT:
    try:
        AUDIT_INPUTS = audit_inputs(config)
    except ValueError as exc:
        raise WorkflowError(f"invalid configuration: {exc}")

    rule audit:
        input:
            **AUDIT_INPUTS,
            records=rules.archive.output.records,
            flares=rules.archive.output.flares,
            samples=rules.label.output.samples,
        output:
            agreement=f"{R}/audit/relabel_agreement.csv",
            disagreements=f"{R}/audit/relabel_disagreements.csv",
            report=report(
                f"{R}/audit/relabel_agreement.md",
                caption="../report/relabel_agreement.rst",
                category="3. Labels",
            ),
            derived=f"{R}/audit/tarp_noaa_derived.csv",
            samples=f"{R}/audit/sample_agreement.csv",
        log:
            f"{R}/logs/audit.log",
        conda:
            "../envs/archive.yaml"
        params:
            labels=config["labels"],
            column_map=config["archive"]["tables"].get("column_map", {}),
            derive_noaa=config["archive"]["tables"].get("derive_noaa", ["TARP"]),
            min_fraction=config["archive"]["tables"].get("noaa_min_fraction", 0.5),
            cross_check_format=config["audit"].get("cross_check_format", "auto"),
        script:
            "../workflow/scripts/audit.py"
