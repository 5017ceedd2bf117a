# Shared helpers: configuration validation (before any job runs), paths, experiment grid.
# Every name (dataset, network, baseline, ensemble) comes from the registries via the plan
# (flarepipe.config.experiments); none is written here.


from flarepipe.config import ConfigError, canonical, resource, validate_config, workflow_sources
from flarepipe.config.origin import export_sources
from flarepipe.archive.sources.jsoc.settings import move_email_to_env
from flarepipe.core.seeds import job_seed
from flarepipe.config.experiments import (
    ORACLE,
    criteria_plugins,
    dataset_plugins,
    experiment_plan,
    model_plugins,
    model_variants,
    task_plugins,
    wildcard_pattern,
)
from flarepipe.models.registry import network_names
from flarepipe.samples.registry import DATASETS as DATASET_SPECS, dataset_names
from flarepipe.training.registry import baseline_names

# Fill the schema defaults and check every field; errors name the config file that set the value.
CONFIG_SOURCES = workflow_sources(
    workflow.configfiles,
    workflow.config_settings.configfiles,
    workflow.config_settings.config,
    workflow.config_settings.replace_workflow_config,
)
try:
    validate_config(config, source=CONFIG_SOURCES)
except ConfigError as exc:
    raise WorkflowError(f"invalid configuration:\n{exc}")
# The jobs name the same files in their errors ($FLAREPIPE_CONFIGFILES; the environment, not
# params, which Snakemake stores and compares: another file list must not rerun anything).
export_sources(CONFIG_SOURCES)
# A JSOC e-mail of a config file travels to the jobs in the environment, never in params
# (Snakemake stores params in .snakemake/metadata).
move_email_to_env(config)
# Params are compared by their text: sort every mapping's keys so that an equal configuration
# with its keys in another order reruns nothing.
config.update(canonical(config))

R = config["results"]
EXP = config["experiments"]
PLAN = experiment_plan(config)
DATASETS = list(PLAN.datasets)
RUNS = list(PLAN.runs)
NEURAL = list(PLAN.networks)
SYNTHETIC = PLAN.oracle
CEILINGS = list(PLAN.ceilings)
STACK = list(PLAN.ensembles)
NETWORK_PATTERN = wildcard_pattern(network_names() + tuple(model_variants(config)))
# Image sides besides features.image_size that the image networks read (image size as an
# experiment axis): features_<size>px.h5 and shards/<dataset>/run<run>/<size>px/ per side.
EXTRA_SIZES = list(PLAN.extra_image_sizes)
SIZE_PATTERN = wildcard_pattern(str(s) for s in EXTRA_SIZES)
BASELINE_PATTERN = wildcard_pattern(baseline_names())


# The full-disk daily study (rules/fulldisk.smk, included only when fulldisk.enabled).
FD_CFG = config["fulldisk"]
FD = f"{R}/fulldisk"
FD_MODEL = FD_CFG["model"]
FD_RUNS = list(range(FD_CFG["runs"]))


ATTR = config.get("attribution", {})
ATTR_MODELS = (
    [m for m in NEURAL if ATTR.get("models") is None or m in ATTR["models"]]
    if ATTR.get("enabled", True)
    else []
)


wildcard_constraints:
    dataset=wildcard_pattern(dataset_names()),
    run=r"\d+",
    split="train|val|test",
    size=SIZE_PATTERN,


def own_size(model):
    """The image side of ``model`` when it is not features.image_size, else None."""
    size = PLAN.image_size_of(model)
    return size if size is not None and size != PLAN.image_size else None


def features_file(wc):
    """The feature store of the model's image side (rule features, or features_size)."""
    size = own_size(wc.model)
    return f"{R}/features/features_{size}px.h5" if size else f"{R}/features/features.h5"


def shard_file(split):
    """The ``split`` shard of (dataset, run) at the model's image side (rule shard or
    shard_size), as an input function of the model's jobs.
    """

    def shard(wc):
        size = own_size(wc.model)
        side = f"{size}px/" if size else ""
        return f"{R}/shards/{wc.dataset}/run{wc.run}/{side}{split}.h5"

    return shard


def res(group, key):
    """A resource of a rule group (the resources section; defaults in the schema)."""
    return resource(config, group, key)


def prediction_files():
    return expand(
        f"{R}/models/{{dataset}}/{{model}}/run{{run}}/predictions.csv",
        dataset=DATASETS,
        model=PLAN.prediction_models,
        run=RUNS,
    )


def split_files():
    return expand(f"{R}/splits/{{dataset}}/split_{{run}}.csv", dataset=DATASETS, run=RUNS)


def stack_summaries():
    """The ``summary.json`` (fitted alpha) of every ensemble, per dataset and run."""
    return expand(
        f"{R}/models/{{dataset}}/{{ensemble}}/run{{run}}/summary.json",
        dataset=DATASETS,
        ensemble=STACK,
        run=RUNS,
    )


def stack_inputs(wc):
    """Predictions of every model a stacking pair reads, by model name."""
    return {
        m: f"{R}/models/{wc.dataset}/{m}/run{wc.run}/predictions.csv" for m in PLAN.stack_models
    }


def attribution_runs(name):
    """One file of every run's attribution folder, for the summary of a (dataset, model)."""
    return expand(
        f"{R}/attribution/{{{{dataset}}}}/{{{{model}}}}/run{{run}}/{name}",
        run=RUNS,
    )


def final_outputs():
    out = [
        f"{R}/evaluation/metrics.csv",
        f"{R}/evaluation/metrics.md",
        f"{R}/labels/evolution_counts.csv",
    ]
    if SYNTHETIC:
        out.append(f"{R}/realism/distances.csv")
        out.append(f"{R}/figures/synthetic_region.png")
    out += attribution_outputs()
    out += recall_time_outputs()
    out += region_analyses_outputs()
    out += fulldisk_outputs()
    return out


RECALL_TIME = config["evaluation"]["recall_vs_time"]
REGION_ANALYSES = config["evaluation"]["region_analyses"]


def region_prediction_files(wc):
    """Every model's predictions.csv of every run of one dataset (rule region_analyses)."""
    return expand(
        f"{R}/models/{wc.dataset}/{{model}}/run{{run}}/predictions.csv",
        model=list(PLAN.networks + PLAN.baselines),
        run=RUNS,
    )


def region_metric_files(wc):
    """Every network's metrics.csv (loss per epoch) of every run of one dataset."""
    return expand(
        f"{R}/models/{wc.dataset}/{{model}}/run{{run}}/metrics.csv",
        model=list(PLAN.networks),
        run=RUNS,
    )


def region_analyses_outputs():
    """S2's Figs 6, 8, 13 and Table 1 per dataset (rule region_analyses), when enabled."""
    if not REGION_ANALYSES["enabled"]:
        return []
    return expand(f"{R}/evaluation/region_analyses/{{dataset}}/table1.md", dataset=DATASETS)


def recall_time_outputs():
    """Recall vs time to the nearest flare (S2 Fig 5, rule recall_time), when enabled."""
    if not RECALL_TIME["enabled"]:
        return []
    return expand(
        f"{R}/evaluation/recall_time/{{dataset}}_{{model}}.png",
        dataset=DATASETS,
        model=list(PLAN.networks + PLAN.baselines),
    )


def fulldisk_outputs():
    """Table 1 and its figure of the full-disk study (rules/fulldisk.smk), when enabled."""
    if not FD_CFG["enabled"]:
        return []
    return [
        f"{FD}/evaluation/metrics.csv",
        f"{FD}/evaluation/metrics.md",
        f"{FD}/figures/table1.png",
    ] + (
        expand(f"{FD}/attribution/run{{run}}/summary.json", run=FD_RUNS)
        if FD_CFG["attribute"] and FD_CFG["source"] == "synthetic"
        else []
    )


def attribution_outputs():
    """Attribution of every trained network (rules/attribute.smk): per run, and the summary."""
    return (
        expand(
            f"{R}/attribution/{{dataset}}/{{model}}/run{{run}}/summary.json",
            dataset=DATASETS,
            model=ATTR_MODELS,
            run=RUNS,
        )
        + expand(
            f"{R}/attribution/{{dataset}}/{{model}}/summary/summary.json",
            dataset=DATASETS,
            model=ATTR_MODELS,
        )
        + probe_dataset_outputs()
    )


def probe_dataset_outputs():
    """Each image model's probes across datasets (S2 Fig 11, by rule probe_datasets) with probes
    on and two or more datasets of which one transforms its images."""
    if not ATTR.get("probes", {}).get("enabled", True) or len(DATASETS) < 2:
        return []
    if not any(DATASET_SPECS[d].image_transform for d in DATASETS):
        return []
    return expand(f"{R}/attribution/datasets/{{model}}/probes.csv", model=ATTR_MODELS)
