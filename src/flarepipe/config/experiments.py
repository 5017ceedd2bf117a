"""The experiment expansion: the jobs a validated configuration asks for, read from the registries.

``experiments`` lists datasets, models (registered networks and baselines) and runs; stacking
pairs any two configured models; paired tests compare two (dataset, model) rows. The workflow's
rules (``rules/common.smk``) build their targets and wildcard constraints from
:func:`experiment_plan` and :func:`wildcard_pattern`; :func:`experiment_problems` is the part of
config validation that needs more than the schema (names that must agree across fields).

``experiments.stacking`` takes one entry ``{pair: [first, second], criteria: [...], prefix: "",
best: tss}``, a list of them, or the S1 shorthand: a list of criteria, which stacks ``lstm`` and
``cnn`` when both are configured (and nothing otherwise). ``experiments.paired_tests`` is a list
of ``{a: [dataset, model], b: [dataset, model], metric: TSS, split: test}``; when null, the
default set, for every metric of ``evaluation.paired_metrics`` (S1: ACC, AUC, TSS, BSS): for
every configured network, each dataset with extra instruments against the dataset of the same
primary instrument alone (S1: FUSED vs ONLY); per dataset, every network against every later one
(S1: LSTM vs CNN) and against every baseline reading the same input (lstm vs logreg); and each
ensemble of a stacking pair against the pair's ``best_`` ensemble (S1: stack vs BEST).

A model is a registered network or baseline by its name, or a *variant*: a ``models.<name>``
block with ``arch: <registered network>`` (:func:`model_variants`), trained like that network
with its own ``network`` and ``train`` settings, e.g. ``cnn2_256: {arch: cnn2, network:
{image_size: 256}}``. Every image network reads images of its own side,
``models.<name>.network.image_size`` (default ``features.image_size``): the features and shards
are made at each side the plan's image networks need (:attr:`ExperimentPlan.extra_image_sizes`),
so image size is an experiment axis of one run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flarepipe.core.registry import origins
from flarepipe.evaluation.ceilings import ceiling_names, view_of_input
from flarepipe.evaluation.criteria import CRITERIA, ensemble_names
from flarepipe.models.registry import NETWORKS
from flarepipe.samples.registry import DATASETS, TASKS
from flarepipe.training.registry import BASELINES

__all__ = [
    "LEGACY_STACK_PAIR",
    "ORACLE",
    "DEFAULT_PAIRED_METRICS",
    "ExperimentPlan",
    "StackPlan",
    "criteria_plugins",
    "dataset_plugins",
    "default_paired_tests",
    "experiment_plan",
    "experiment_problems",
    "model_image_size",
    "model_network",
    "model_plugins",
    "model_variants",
    "VARIANT_NAME",
    "task_plugins",
    "stacking_plans",
    "wildcard_pattern",
]

#: The pair a bare list of criteria stacks (S1: ``r = alpha * p_LSTM + (1 - alpha) * p_CNN``).
LEGACY_STACK_PAIR: tuple[str, str] = ("lstm", "cnn")
#: Model name of the planted-rate oracle (synthetic archives only).
ORACLE = "oracle"
#: Names a variant (``models.<name>: {arch: ...}``) may take: those of the registries.
VARIANT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def model_variants(config: Mapping[str, Any]) -> dict[str, str]:
    """The variants of ``config``: ``{name: arch}`` of every ``models.<name>`` block that names a
    registered network in ``arch`` (module docstring).

    A block whose name is registered itself, or is not a valid name (:data:`VARIANT_NAME`), is
    no variant (the schema then refuses it); its ``arch`` need not be registered (the schema
    names the ones that are).
    """
    out = {}
    for name, block in ((config or {}).get("models") or {}).items():
        if not isinstance(block, Mapping) or "arch" not in block:
            continue
        if name in NETWORKS or name in BASELINES or not VARIANT_NAME.match(str(name)):
            continue
        out[str(name)] = str(block["arch"])
    return out


def model_network(config: Mapping[str, Any], name: str) -> str | None:
    """The registered network model ``name`` trains: itself, or a variant's ``arch``; None for a
    baseline or an unknown name.
    """
    if name in NETWORKS:
        return name
    arch = model_variants(config).get(name)
    return arch if arch in NETWORKS else None


def model_image_size(config: Mapping[str, Any], name: str) -> int | None:
    """The image side model ``name`` reads: ``models.<name>.network.image_size``, else
    ``features.image_size``; None for a model that reads no image.
    """
    arch = model_network(config, name)
    if arch is None or NETWORKS[arch].input != "image":
        return None
    block = (((config.get("models") or {}).get(name) or {}).get("network")) or {}
    if block.get("image_size") is not None:
        return int(block["image_size"])
    return int((config.get("features") or {}).get("image_size", 32))


@dataclass(frozen=True)
class StackPlan:
    """One configured stacking pair and the ensembles made of it."""

    pair: tuple[str, str]
    criteria: tuple[str, ...]
    prefix: str = ""
    best: str = "tss"

    @property
    def names(self) -> list[str]:
        """Model names of its ensembles (:func:`flarepipe.evaluation.criteria.ensemble_names`)."""
        return ensemble_names(self.criteria, self.prefix, self.best)

    def as_dict(self) -> dict[str, Any]:
        """Plain form for job parameters (fixed key order)."""
        return {
            "pair": list(self.pair),
            "criteria": list(self.criteria),
            "prefix": self.prefix,
            "best": self.best,
        }


@dataclass(frozen=True)
class ExperimentPlan:
    """The jobs of a validated configuration."""

    datasets: tuple[str, ...]
    runs: tuple[int, ...]
    networks: tuple[str, ...]
    baselines: tuple[str, ...]
    stacking: tuple[StackPlan, ...]
    paired_tests: tuple[dict, ...]
    oracle: bool
    #: (model, registered network) of every network, variants included
    architectures: tuple[tuple[str, str], ...] = ()
    #: (model, image side) of every image network
    image_sizes: tuple[tuple[str, int], ...] = ()
    #: ``features.image_size``: the side of ``features.h5`` and the run's default shards
    image_size: int = 32

    def network_of(self, model: str) -> str:
        """The registered network of ``model`` (a network of the plan)."""
        return dict(self.architectures)[model]

    def image_size_of(self, model: str) -> int | None:
        """The image side ``model`` reads; None for a model without image input."""
        return dict(self.image_sizes).get(model)

    @property
    def extra_image_sizes(self) -> tuple[int, ...]:
        """Image sides the image networks need besides ``features.image_size``, ascending."""
        return tuple(sorted({s for _, s in self.image_sizes} - {self.image_size}))

    @property
    def ensembles(self) -> tuple[str, ...]:
        """Ensemble model names, in configuration order."""
        return tuple(n for s in self.stacking for n in s.names)

    @property
    def stack_models(self) -> tuple[str, ...]:
        """Distinct models the stacking pairs read, in order."""
        return tuple(dict.fromkeys(m for s in self.stacking for m in s.pair))

    @property
    def ceilings(self) -> tuple[str, ...]:
        """Model names of the view ceilings (:mod:`flarepipe.evaluation.ceilings`; synthetic
        archives only, written by the oracle's job).
        """
        return ceiling_names() if self.oracle else ()

    @property
    def prediction_models(self) -> tuple[str, ...]:
        """Every model name with a ``predictions.csv`` per (dataset, run)."""
        truth = (ORACLE, *self.ceilings) if self.oracle else ()
        return self.networks + self.baselines + self.ensembles + truth

    @property
    def ceiling_of(self) -> dict[str, str]:
        """The view ceiling of each configured network and baseline, by the input it reads
        (empty off synthetic archives).
        """
        if not self.oracle:
            return {}
        inputs = {m: NETWORKS[self.network_of(m)].input for m in self.networks}
        inputs.update({b: BASELINES[b].input for b in self.baselines})
        return {m: v for m, i in inputs.items() if (v := view_of_input(i)) is not None}


def wildcard_pattern(names: Iterable[str]) -> str:
    """A regular expression matching exactly one of ``names`` (for wildcard constraints)."""
    names = list(names)
    return "|".join(re.escape(n) for n in names) if names else "(?!)"


def stacking_plans(experiments: Mapping[str, Any]) -> list[StackPlan]:
    """The configured stacking pairs (see the module docstring for the accepted forms)."""
    value = experiments.get("stacking") or []
    models = list(experiments.get("models", []))
    if isinstance(value, Mapping):
        value = [value]
    if all(isinstance(v, str) for v in value):
        if value and set(LEGACY_STACK_PAIR) <= set(models):
            return [StackPlan(LEGACY_STACK_PAIR, tuple(value))]
        return []
    return [
        StackPlan(
            (str(v["pair"][0]), str(v["pair"][1])),
            tuple(v["criteria"]),
            str(v.get("prefix", "")),
            str(v.get("best", "tss")),
        )
        for v in value
    ]


def _alone(primary: str, datasets: Iterable[str]) -> str | None:
    for d in DATASETS.values():
        if d.primary == primary and not d.extra and d.name in datasets:
            return d.name
    return None


def _test(a: list[str], b: list[str], metric: str = "TSS", split: str = "test") -> dict:
    return {"a": list(a), "b": list(b), "metric": metric, "split": split}


#: Metrics of the default paired tests (S1 reports ACC, AUC, TSS and BSS); the schema's
#: ``evaluation.paired_metrics`` default.
DEFAULT_PAIRED_METRICS: tuple[str, ...] = ("ACC", "AUC", "TSS", "BSS")


def default_paired_tests(
    datasets: Iterable[str],
    models: Iterable[str],
    stacking: Iterable[StackPlan] = (),
    metrics: Iterable[str] = ("TSS",),
    architectures: Mapping[str, str] | None = None,
) -> list[dict]:
    """The default ``experiments.paired_tests`` (module docstring), in S1's order, per metric.

    For each metric: FUSED vs ONLY per network; per dataset, every network against every later
    network (S1: LSTM vs CNN) and against every baseline of the same input (lstm vs logreg); per
    dataset and stacking pair, each other ensemble against its ``best_`` one (S1: stack vs BEST).
    ``architectures`` maps variants to their registered network (:func:`model_variants`).
    """
    datasets, models = list(datasets), list(models)
    arch = dict(architectures or {})
    nets = [m for m in models if m in NETWORKS or m in arch]
    baselines = [m for m in models if m in BASELINES]
    tests = []
    for metric in metrics:
        for m in nets:
            for spec in DATASETS.values():
                alone = _alone(spec.primary, datasets)
                if spec.extra and spec.name in datasets and alone:
                    tests.append(_test([spec.name, m], [alone, m], metric))
        for d in datasets:
            for i, m in enumerate(nets):
                for m2 in nets[i + 1 :]:
                    tests.append(_test([d, m], [d, m2], metric))
        for d in datasets:
            for b in baselines:
                for m in nets:
                    if NETWORKS[arch.get(m, m)].input == BASELINES[b].input:
                        tests.append(_test([d, m], [d, b], metric))
        for plan in stacking:
            best = plan.names[-1]
            for d in datasets:
                for name in plan.names[:-1]:
                    tests.append(_test([d, name], [d, best], metric))
    return tests


def experiment_plan(config: Mapping[str, Any]) -> ExperimentPlan:
    """The jobs of a validated configuration (schema defaults filled)."""
    exp = config["experiments"]
    models = list(exp["models"])
    datasets = tuple(exp["datasets"])
    tests = exp.get("paired_tests")
    plans = tuple(stacking_plans(exp))
    arch = {m: model_network(config, m) for m in models}
    arch = {m: a for m, a in arch.items() if a is not None}
    if tests is None:
        metrics = config.get("evaluation", {}).get("paired_metrics", DEFAULT_PAIRED_METRICS)
        tests = default_paired_tests(datasets, models, plans, metrics, arch)
    sizes = {m: model_image_size(config, m) for m in arch}
    return ExperimentPlan(
        datasets=datasets,
        runs=tuple(range(int(exp["runs"]))),
        networks=tuple(m for m in models if m in arch),
        baselines=tuple(m for m in models if m in BASELINES),
        stacking=plans,
        paired_tests=tuple(
            _test(t["a"], t["b"], t.get("metric", "TSS"), t.get("split", "test")) for t in tests
        ),
        oracle=config.get("archive", {}).get("source", "synthetic") == "synthetic",
        architectures=tuple(arch.items()),
        image_sizes=tuple((m, s) for m, s in sizes.items() if s is not None),
        image_size=int(config.get("features", {}).get("image_size", 32)),
    )


def model_plugins(name: str, config: Mapping[str, Any] | None = None) -> list[str]:
    """The plug-in that registered model ``name`` (network or baseline; a variant of ``config``:
    that of its network), as configured; [] for built-ins. A job passes it on so that it imports
    exactly that plug-in.
    """
    name = (model_network(config, name) if config is not None else None) or name
    if name in NETWORKS:
        return origins(NETWORKS, [name])
    if name in BASELINES:
        return origins(BASELINES, [name])
    return []


def task_plugins(config: Mapping[str, Any]) -> list[str]:
    """The plug-in that registered ``labels.task``, as configured; [] for a built-in task. The
    label job imports it before applying the task.
    """
    task = config.get("labels", {}).get("task")
    return origins(TASKS, [task]) if task in TASKS else []


def dataset_plugins(name: str) -> list[str]:
    """The plug-in that registered dataset ``name``; [] for a built-in one. The split and shard
    jobs of that dataset import it.
    """
    return origins(DATASETS, [name]) if name in DATASETS else []


def criteria_plugins(plans: Iterable[StackPlan]) -> list[str]:
    """The plug-ins that registered the criteria of ``plans``."""
    return origins(CRITERIA, [c for p in plans for c in (*p.criteria, p.best)])


def experiment_problems(config: Mapping[str, Any]) -> list[str]:
    """Cross-field errors of a schema-valid configuration, each naming its field."""
    exp = config["experiments"]
    models = list(exp["models"])
    datasets = list(exp["datasets"])
    problems = []
    plans = stacking_plans(exp)
    raw = exp.get("stacking") or []
    indexed = not isinstance(raw, Mapping) and any(isinstance(v, Mapping) for v in raw)
    taken: dict[str, str] = {}
    registered = (
        set(NETWORKS) | set(BASELINES) | set(model_variants(config)) | {ORACLE, *ceiling_names()}
    )
    for i, plan in enumerate(plans):
        where = f"experiments.stacking[{i}]" if indexed else "experiments.stacking"
        for m in plan.pair:
            if m not in models:
                problems.append(f"{where}.pair: {m!r} is not in experiments.models {models}")
        if plan.pair[0] == plan.pair[1]:
            problems.append(f"{where}.pair: stacks {plan.pair[0]!r} with itself")
        for name in plan.names:
            if name in registered:
                problems.append(
                    f"{where}: ensemble name {name!r} is a registered model name; set a prefix"
                )
            elif name in taken:
                problems.append(
                    f"{where}: ensemble name {name!r} is also made by {taken[name]}; give the "
                    "entries distinct `prefix` values"
                )
            taken.setdefault(name, where)
    predicted = set(models) | set(taken) | {ORACLE, *ceiling_names()}
    metric_names = None
    for i, t in enumerate(exp.get("paired_tests") or []):
        for side in ("a", "b"):
            d, m = t[side]
            if d not in datasets:
                problems.append(
                    f"experiments.paired_tests[{i}].{side}: dataset {d!r} is not in "
                    f"experiments.datasets {datasets}"
                )
            if m not in predicted:
                problems.append(
                    f"experiments.paired_tests[{i}].{side}: model {m!r} is neither in "
                    f"experiments.models {models} nor an ensemble, the oracle or a view ceiling"
                )
        if t.get("metric", "TSS") != "TSS":
            if metric_names is None:
                from flarepipe.evaluation.metrics import METRIC_NAMES

                metric_names = METRIC_NAMES
            if t["metric"] not in metric_names:
                problems.append(
                    f"experiments.paired_tests[{i}].metric must be one of {list(metric_names)}, "
                    f"got {t['metric']!r}"
                )
    return problems
