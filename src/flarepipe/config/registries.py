"""The registries as the configuration schema sees them: enums, per-model blocks, plug-ins.

``schema.yaml`` writes no registered name. A node ``{x-registry: <kind>}`` gets the enum of that
registry (:data:`KINDS`); the ``models`` section, marked ``x-registry-blocks: models``, gets one
property per registered network (``network``: its registered parameter schema, ``train``: the
shared training schema) and per baseline (its parameter schema). :func:`fill_schema` does both,
after :func:`load_config_plugins` imported the plug-ins the configuration lists.

The configuration's variants (``models.<name>: {arch: <network>, ...}``,
:func:`flarepipe.config.experiments.model_variants`) get the block of their network plus
``arch``, and join the ``models`` and ``networks`` enums (``experiments.models``,
``attribution.models``); ``registered_networks`` is the registry alone (``fulldisk.model``).
An image network's ``network`` block takes ``image_size`` (the side of the images the model
reads, default ``features.image_size``) whether or not its constructor does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from flarepipe.core.registry import load_plugins
from flarepipe.evaluation.criteria import CRITERIA
from flarepipe.models.registry import NETWORKS
from flarepipe.samples.registry import DATASETS, TASKS
from flarepipe.training.registry import BASELINES

__all__ = [
    "KINDS",
    "fill_schema",
    "load_config_plugins",
    "model_names",
    "network_train_schema",
    "registry_names",
    "registry_problems",
]


def model_names() -> tuple[str, ...]:
    """Everything ``experiments.models`` may list: registered networks, then baselines."""
    return NETWORKS.names() + BASELINES.names()


#: Registry kinds a schema node can name with ``x-registry``.
KINDS: dict[str, Callable[[], tuple[str, ...]]] = {
    "networks": NETWORKS.names,
    "registered_networks": NETWORKS.names,
    "baselines": BASELINES.names,
    "models": model_names,
    "datasets": DATASETS.names,
    "tasks": TASKS.names,
    "criteria": CRITERIA.names,
}


def registry_names(kind: str) -> tuple[str, ...]:
    """Registered names of ``kind`` (a key of :data:`KINDS`)."""
    try:
        return KINDS[kind]()
    except KeyError:
        raise ValueError(f"unknown registry kind {kind!r}; known: {sorted(KINDS)}") from None


def load_config_plugins(config: dict) -> list[str]:
    """Import the plug-ins of ``config["plugins"]``; return their names as configured.

    Raises
    ------
    flarepipe.core.registry.PluginError
        Naming ``plugins[i]`` when one is not found or fails to import.
    """
    plugins = config.get("plugins") or []
    if not isinstance(plugins, list):
        from flarepipe.core.registry import PluginError

        raise PluginError(f"plugins must be a list of module names or .py paths, got {plugins!r}")
    load_plugins(plugins, where="plugins")
    return list(plugins)


def network_train_schema(name: str, schema: dict) -> dict:
    """The ``models.<name>.train`` schema: ``$defs/train`` with the network's registered defaults.

    A network's ``train_defaults`` (:func:`flarepipe.models.register_network`) replace the shared
    defaults of the fields it names, so filling the block gives exactly the parameters its jobs
    train with.
    """
    train = copy.deepcopy(schema.get("$defs", {}).get("train", {}))
    for key, value in NETWORKS[name].train_defaults.items():
        if key in train.get("properties", {}):
            train["properties"][key]["default"] = copy.deepcopy(value)
    return train


#: ``models.<net>.network.image_size`` of an image network whose schema does not give one
IMAGE_SIZE_SCHEMA: dict[str, Any] = {
    "type": "integer",
    "minimum": 8,
    "maximum": 1024,
    "description": "side of the images this model reads (default features.image_size); the "
    "features and shards are made at every side the image networks need",
}


def _network_block(spec: Any, schema: dict) -> dict[str, Any]:
    network = copy.deepcopy(spec.params_schema)
    network.setdefault("default", {})
    props = network.get("properties")
    if spec.input == "image" and props is not None and "image_size" not in props:
        props["image_size"] = copy.deepcopy(IMAGE_SIZE_SCHEMA)
    return {
        "type": "object",
        "additionalProperties": False,
        "default": {},
        "description": f"network {spec.name}: {spec.description}".rstrip(": "),
        "properties": {
            "network": network,
            "train": network_train_schema(spec.name, schema),
        },
    }


def _model_blocks(schema: dict, variants: Mapping[str, str]) -> dict[str, Any]:
    blocks: dict[str, Any] = {}
    for spec in NETWORKS.values():
        blocks[spec.name] = _network_block(spec, schema)
    for spec in BASELINES.values():
        block = copy.deepcopy(spec.params_schema)
        block.setdefault("description", f"baseline {spec.name}: {spec.description}".rstrip(": "))
        blocks[spec.name] = block
    arch_enum = {"enum": list(NETWORKS.names()), "description": "the registered network"}
    for name, arch in variants.items():
        if arch in NETWORKS:
            block = _network_block(NETWORKS[arch], schema)
            block["description"] = f"variant {name} of network {arch}"
        else:  # the schema names the registered networks
            block = {"type": "object", "properties": {}}
        block["required"] = ["arch"]
        block["properties"] = {"arch": arch_enum, **block["properties"]}
        blocks[name] = block
    return blocks


def fill_schema(schema: dict, variants: Mapping[str, str] | None = None) -> dict:
    """A copy of ``schema`` with registry enums and the per-model blocks filled in.

    ``variants`` (``{name: arch}``, :func:`flarepipe.config.experiments.model_variants`) adds
    the configuration's variants to the ``models`` blocks and the model and network enums.
    """
    out = copy.deepcopy(schema)
    variants = dict(variants or {})
    extra = {"models": list(variants), "networks": list(variants)}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            kind = node.get("x-registry")
            if kind is not None:
                node["enum"] = list(registry_names(kind)) + extra.get(kind, [])
            if node.get("x-registry-blocks") == "models":
                node["properties"] = _model_blocks(schema, variants)
                node["propertyNames"] = {"enum": list(model_names()) + list(variants)}
            for value in list(node.values()):
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(out)
    return out


def registry_problems(schema: dict) -> list[str]:
    """What is wrong with the registrations themselves (checked at every validation).

    A name used by a network and a baseline; a registered parameter schema that is not a valid
    JSON schema; registered training defaults that the ``train`` schema rejects.
    """
    import jsonschema

    problems = []

    def by(registry: Any, name: str) -> str:
        origin = registry.origin(name)
        return f" (registered by plug-in {origin!r})" if origin else ""

    for name in sorted(set(NETWORKS) & set(BASELINES)):
        problems.append(f"{name!r} is registered both as a network and as a baseline")
    validator_cls = jsonschema.validators.validator_for(schema)
    specs = [("network", NETWORKS, s, s.params_schema) for s in NETWORKS.values()]
    specs += [("baseline", BASELINES, s, s.params_schema) for s in BASELINES.values()]
    for kind, registry, spec, params_schema in specs:
        try:
            validator_cls.check_schema(params_schema)
        except jsonschema.SchemaError as exc:
            problems.append(
                f"{kind} {spec.name!r}{by(registry, spec.name)}: its params_schema is not a "
                f"valid JSON schema: {exc.message}"
            )
    train_schema = {**schema.get("$defs", {}).get("train", {}), "$defs": schema.get("$defs", {})}
    for spec in NETWORKS.values():
        for err in validator_cls(train_schema).iter_errors(spec.train_defaults):
            where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
            problems.append(
                f"network {spec.name!r}{by(NETWORKS, spec.name)}: train_defaults {where}: "
                f"{err.message}"
            )
    return problems
