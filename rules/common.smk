# Shared helpers: configuration validation (before any job runs), paths, experiment grid.


from flarepipe.config import ConfigError, validate_config

try:
    validate_config(config)
except ConfigError as exc:
    raise WorkflowError(f"invalid configuration:\n{exc}")

R = config["results"]
EXP = config["experiments"]
DATASETS = EXP["datasets"]
RUNS = list(range(EXP["runs"]))
NEURAL = [m for m in EXP["models"] if m in ("lstm", "cnn", "cnn2")]
SYNTHETIC = config["archive"].get("source", "synthetic") == "synthetic"
STACK = (
    [f"stack_{c}" for c in EXP.get("stacking", [])] + ["avg", "best_tss"]
    if {"lstm", "cnn"} <= set(EXP["models"]) and EXP.get("stacking")
    else []
)


ATTR = config.get("attribution", {})
ATTR_MODELS = (
    [m for m in NEURAL if ATTR.get("models") is None or m in ATTR["models"]]
    if ATTR.get("enabled", True)
    else []
)


wildcard_constraints:
    dataset="|".join(["SHARP_ONLY", "FUSED_SHARP", "SMARP_ONLY", "FUSED_SMARP"]),
    run=r"\d+",
    split="train|val|test",


def res(group, key, fallback):
    """A resource of a rule group from config.yaml's resources section."""
    table = config.get("resources", {})
    return table.get(group, {}).get(key, table.get("default", {}).get(key, fallback))


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
    out += attribution_outputs()
    return out


def attribution_outputs():
    """Attribution of every trained network (rules/attribute.smk): per run, and the summary."""
    return expand(
        f"{R}/attribution/{{dataset}}/{{model}}/run{{run}}/summary.json",
        dataset=DATASETS,
        model=ATTR_MODELS,
        run=RUNS,
    ) + expand(
        f"{R}/attribution/{{dataset}}/{{model}}/summary/summary.json",
        dataset=DATASETS,
        model=ATTR_MODELS,
    )
