# Audit: relabel every row of a tables archive with the workflow's rule and report the agreement
# with the tables' own labels (Sun et al. 2022 study; flarepipe.studies.sun2022.audit).


def audit_inputs():
    """The keyword tables and the optional cross-check flare list of archive.tables / audit."""
    from flarepipe.archive.sources.tables import resolve_tables_config

    try:
        cfg = resolve_tables_config(config["archive"]["tables"])
    except ValueError as exc:
        raise WorkflowError(f"invalid configuration: {exc}")
    out = {"tables": [str(p) for p in cfg["keyword_tables"]]}
    check = config["audit"].get("cross_check_flares")
    if check:
        data_dir = config["archive"]["tables"].get("data_dir")
        path = os.path.join(os.path.expanduser(data_dir), check) if data_dir else check
        if not os.path.isfile(path):
            raise WorkflowError(f"invalid configuration: audit.cross_check_flares: no such file {path!r}")
        out["cross_check"] = path
    return out


AUDIT = (
    config["archive"].get("source") == "tables" and config.get("audit", {}).get("relabel", True)
)
AUDIT_OUTPUTS = [f"{R}/audit/relabel_agreement.md"] if AUDIT else []


if AUDIT:

    rule audit:
        conda:
            "../envs/process.yaml"
        input:
            **audit_inputs(),
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
        params:
            labels=config["labels"],
            column_map=config["archive"]["tables"].get("column_map", {}),
            derive_noaa=config["archive"]["tables"].get("derive_noaa", ["TARP"]),
            min_fraction=config["archive"]["tables"].get("noaa_min_fraction", 0.5),
            cross_check_format=config["audit"].get("cross_check_format", "auto"),
        log:
            f"{R}/logs/audit.log",
        script:
            "../workflow/scripts/audit.py"
