# Shared helpers: configuration validation (before any job runs), paths, experiment grid.


from flarepipe.config import ConfigError, canonical, resource, validate_config, workflow_sources
from flarepipe.core.seeds import job_seed

# Fill the schema defaults and check every field; errors name the config file that set the value.
try:
    validate_config(
        config,
        source=workflow_sources(
            workflow.configfiles,
            workflow.config_settings.configfiles,
            workflow.config_settings.config,
            workflow.config_settings.replace_workflow_config,
        ),
    )
except ConfigError as exc:
    raise WorkflowError(f"invalid configuration:\n{exc}")
# Params are compared by their text: sort every mapping's keys so that an equal configuration
# with its keys in another order reruns nothing.
config.update(canonical(config))

R = config["results"]
EXP = config["experiments"]
DATASETS = EXP["datasets"]
RUNS = list(range(EXP["runs"]))
NEURAL = [m for m in EXP["models"] if m in ("lstm", "cnn", "cnn2")]
SYNTHETIC = config["archive"]["source"] == "synthetic"
STACK = (
    [f"stack_{c}" for c in EXP.get("stacking", [])] + ["avg", "best_tss"]
    if {"lstm", "cnn"} <= set(EXP["models"]) and EXP.get("stacking")
    else []
)


wildcard_constraints:
    dataset="|".join(["SHARP_ONLY", "FUSED_SHARP", "SMARP_ONLY", "FUSED_SMARP"]),
    run=r"\d+",
    split="train|val|test",


def res(group, key):
    """A resource of a rule group (the resources section; defaults in the schema)."""
    return resource(config, group, key)


def prediction_files():
    models = list(EXP["models"]) + STACK + (["oracle"] if SYNTHETIC else [])
    return expand(
        f"{R}/models/{{dataset}}/{{model}}/run{{run}}/predictions.csv",
        dataset=DATASETS,
        model=models,
        run=RUNS,
    )


def final_outputs():
    out = [f"{R}/evaluation/metrics.csv", f"{R}/evaluation/metrics.md", f"{R}/labels/evolution_counts.csv"]
    if SYNTHETIC:
        out.append(f"{R}/figures/synthetic_region.png")
    return out
