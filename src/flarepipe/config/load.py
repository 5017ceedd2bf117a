"""Load, merge, fill and validate the workflow configuration (``flarepipe/config/schema.yaml``).

The schema is the one place for defaults and bounds: :func:`validate_config` fills every missing
field with its schema default and checks every bound, then builds the typed settings of the
sections that have them (:data:`SETTINGS`), whose constructors check what a schema cannot say
(one field against another, e.g. ``labels.tolerance_minutes`` below half of
``labels.step_minutes``). Domain modules never see a config dict: stages hand them typed settings
(:func:`settings`) or plain keyword arguments taken from a filled section (:func:`section`).

Errors name the file that set the failing value, among the files actually given, so
``snakemake --configfile my.yaml`` reports ``my.yaml: models.cnn.train.lr must be > 0
(exclusiveMinimum 0), got -1`` and not ``config.yaml``. A rule over several fields names every
file that set one of them; a value no file set is reported against all the given files.

Snakemake compares a rule's params by their text (``repr``), so two equal configurations whose
keys come in another order would rerun every job; :func:`canonical` sorts mapping keys
recursively, and the workflow validates and then canonicalises its whole ``config`` before any
rule reads it.
"""

from __future__ import annotations

import copy
import functools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "SCHEMA_PATH",
    "SETTINGS",
    "ConfigError",
    "Source",
    "canonical",
    "load_config",
    "resource",
    "section",
    "settings",
    "train_settings",
    "validate_config",
    "workflow_sources",
]

SCHEMA_PATH = Path(__file__).resolve().with_name("schema.yaml")

#: section (a dotted path for a nested one) -> "module:Class" of its typed settings, whose
#: constructor checks the rules one field cannot state alone
SETTINGS: dict[str, str] = {
    "quality": "flarepipe.samples.quality:QualitySettings",
    "labels": "flarepipe.samples.labels:LabelSettings",
    "split": "flarepipe.samples.split:SplitSettings",
}

#: a configuration source: a YAML file, or a name and the mapping it contributed (``--config``)
Source = str | os.PathLike | tuple[str, Mapping]

_DEFAULT_SOURCE = "configuration"


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the file, the field and what is allowed."""


# ------------------------------------------------------------------------------------------------
# schema
# ------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _schema(path: str) -> dict:
    return yaml.safe_load(Path(path).read_text())


def _validator(schema: dict):
    """A JSON-schema validator that fills ``default`` values of missing properties as it goes."""
    import jsonschema

    base = jsonschema.validators.validator_for(schema)

    def fill_then_check(validator, properties, instance, subschema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub and prop not in instance:
                    instance[prop] = copy.deepcopy(sub["default"])
        yield from base.VALIDATORS["properties"](validator, properties, instance, subschema)

    return jsonschema.validators.extend(base, {"properties": fill_then_check})(schema)


def _describe(err) -> str:
    where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
    if err.validator in ("anyOf", "oneOf") and err.context:
        # the deepest error of the branches whose type fits the value, when it lies below this
        # field; else the field's own description of what it accepts (below)
        fits = [
            e
            for e in err.context
            if not any(
                o.relative_schema_path[0] == e.relative_schema_path[0]
                and o.validator == "type"
                and not o.relative_path
                for o in err.context
            )
        ]
        deepest = max(fits or err.context, key=lambda e: len(e.absolute_path))
        described = isinstance(err.schema, dict) and "description" in err.schema
        if not described or len(deepest.absolute_path) > len(err.absolute_path):
            return _describe(deepest)
    v = err.validator
    s = err.schema if isinstance(err.schema, dict) else {}
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[v]
        rng = [
            f"{k} {s[k]}"
            for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
            if k in s
        ]
        allowed = f"must be {op} {err.validator_value} ({', '.join(rng)})"
        return f"{where} {allowed}, got {err.instance!r}"
    if v == "enum":
        return f"{where} must be one of {err.validator_value}, got {err.instance!r}"
    if v == "type":
        return f"{where} must be of type {err.validator_value}, got {err.instance!r}"
    if v == "pattern":
        what = f" ({s['description']})" if "description" in s else ""
        return f"{where} must match {err.validator_value!r}{what}, got {err.instance!r}"
    if v in ("anyOf", "oneOf") and "description" in s:
        return f"{where} must be {s['description']}, got {err.instance!r}"
    if v == "additionalProperties":
        return f"{where}: {err.message} (check the spelling against {SCHEMA_PATH.name})"
    return f"{where}: {err.message}"


# ------------------------------------------------------------------------------------------------
# sources
# ------------------------------------------------------------------------------------------------
def _display(path: str | os.PathLike) -> str:
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def _read_sources(source: Source | Sequence[Source] | None) -> list[tuple[str, Any]]:
    """``(display name, data or None)`` per source, in merge order (later ones win)."""
    if source is None:
        return []
    if isinstance(source, (str, os.PathLike)) or (
        isinstance(source, tuple) and len(source) == 2 and isinstance(source[1], Mapping)
    ):
        source = [source]
    out = []
    for s in source:
        if isinstance(s, tuple):
            out.append((str(s[0]), s[1]))
            continue
        try:
            data = yaml.safe_load(Path(s).read_text())
        except (OSError, yaml.YAMLError):
            data = None  # a label rather than a file (or unreadable): never the origin of a key
        out.append((_display(s), data))
    return out


def _setter(path: Sequence, sources: list[tuple[str, Any]]) -> str | None:
    """The source that set ``path`` (the last one holding it), or ``None``."""
    for name, data in reversed(sources):
        node, found = data, bool(path)
        for key in path:
            if isinstance(node, Mapping) and key in node:
                node = node[key]
            else:
                found = False
                break
        if found:
            return name
    return None


def _origin(paths: Sequence[Sequence], sources: list[tuple[str, Any]]) -> str:
    """The sources that set any of ``paths`` (in merge order), else all sources."""
    setters = {_setter(p, sources) for p in paths} - {None}
    names = [n for n, _ in sources if n in setters] or [n for n, _ in sources]
    return ", ".join(dict.fromkeys(names)) or _DEFAULT_SOURCE


def workflow_sources(
    configfiles: Iterable[str | os.PathLike],
    cli_configfiles: Iterable[str | os.PathLike] = (),
    cli_config: Mapping | None = None,
    replace_workflow_config: bool = False,
) -> list[Source]:
    """The sources of a Snakemake run's ``config``, in the order Snakemake merged them.

    Parameters
    ----------
    configfiles
        ``workflow.configfiles``: the ``--configfile`` files, then those of ``configfile:``.
    cli_configfiles
        ``workflow.config_settings.configfiles`` (the ``--configfile`` files).
    cli_config
        ``workflow.config_settings.config`` (``--config key=value`` overrides).
    replace_workflow_config
        ``--replace-workflow-config``: the ``configfile:`` files were discarded.

    Returns
    -------
    list
        The ``configfile:`` files, then the ``--configfile`` files, then ``("--config", {...})``.
    """
    cli = [Path(p) for p in cli_configfiles]
    cli_abs = {p.absolute() for p in cli}
    directive = [Path(p) for p in configfiles if Path(p).absolute() not in cli_abs]
    out: list[Source] = [] if replace_workflow_config else list(directive)
    out += cli
    if cli_config:
        out.append(("--config", dict(cli_config)))
    return out


# ------------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------------
def _settings_class(name: str):
    import importlib

    module, cls = SETTINGS[name].split(":")
    return getattr(importlib.import_module(module), cls)


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: a problem: the config paths it is about, and its message
Problem = tuple[list[tuple], str]


def _settings_errors(config: Mapping, names: Iterable[str]) -> list[Problem]:
    """Build the typed settings of each section; a problem for each that refuses.

    A constructor's message starts with the field it is about and names the others it compares
    with; the problem's paths are all the section's fields the message names.
    """
    out = []
    for name in names:
        keys = tuple(name.split("."))
        node = _at(config, keys)
        if name not in SETTINGS or not isinstance(node, Mapping):
            continue
        try:
            _settings_class(name)(**node)
        except (TypeError, ValueError) as exc:
            msg = str(exc)
            fields = [w for w in dict.fromkeys(_WORD.findall(msg)) if w in node]
            out.append(([(*keys, f) for f in fields] or [keys], f"{name}.{msg}"))
    return out


def _at(tree: Any, keys: Sequence) -> Any:
    """``tree[k0][k1]...``, or ``None`` where a key is missing."""
    for k in keys:
        if not isinstance(tree, Mapping) or k not in tree:
            return None
        tree = tree[k]
    return tree


def _schema_errors(validator, instance) -> list[Problem]:
    """Fill defaults and check; a problem per schema violation, sorted by path."""
    errors = validator.iter_errors(instance)
    errors = sorted(errors, key=lambda e: [str(p) for p in e.absolute_path])
    return [([tuple(e.absolute_path)], _describe(e)) for e in errors]


def _raise(problems: list[Problem], sources: list[tuple[str, Any]]) -> None:
    if problems:
        raise ConfigError("\n".join(f"{_origin(p, sources)}: {m}" for p, m in problems))


def validate_config(
    config: dict,
    source: Source | Sequence[Source] | None = None,
    schema_path: str | os.PathLike = SCHEMA_PATH,
) -> dict:
    """Fill schema defaults into ``config`` in place, check it, and return it.

    The plug-ins of ``config["plugins"]`` are imported first; registered names fill the schema's
    enums and the ``models`` blocks (:mod:`flarepipe.config.registries`), and
    :mod:`flarepipe.config.experiments` checks the fields that must agree with each other.

    Parameters
    ----------
    config
        The merged configuration (modified in place: missing fields get their defaults).
    source
        Where it came from: a YAML path, a list of them in merge order, or ``(name, mapping)``
        items (see :func:`workflow_sources`). Errors name the source that set the bad value.
    schema_path
        The JSON schema (YAML); the package's ``schema.yaml`` by default.

    Returns
    -------
    dict
        ``config``, filled.

    Raises
    ------
    ConfigError
        Listing every problem, one line each: ``<file>: <field> <what is allowed>, got <value>``.
    """
    from flarepipe.config.checks import config_problems
    from flarepipe.config.experiments import experiment_problems, model_variants
    from flarepipe.config.registries import fill_schema, load_config_plugins, registry_problems
    from flarepipe.core.registry import PluginError

    sources = _read_sources(source)
    # plug-ins first: the names they register fill the schema's enums and the models blocks
    try:
        load_config_plugins(config)
    except PluginError as exc:
        raise ConfigError(f"{_origin([('plugins',)], sources)}: {exc}") from exc
    # the configuration's variants (models.<name>: {arch: ...}) join the registered names
    schema = fill_schema(_schema(str(Path(schema_path).resolve())), model_variants(config))
    # a broken registration first: its schema could not check anything
    _raise([([()], p) for p in registry_problems(schema)], sources)
    _raise(_schema_errors(_validator(schema), config), sources)
    _raise([([("experiments",)], p) for p in experiment_problems(config)], sources)
    _raise(_settings_errors(config, SETTINGS), sources)
    _raise(config_problems(config), sources)  # cross-field conflicts (flarepipe.config.checks)
    return config


def load_config(*paths: str | os.PathLike) -> dict:
    """Merge YAML files (later ones override, deeply), then validate the result against them."""
    merged: dict = {}
    for p in paths:
        data = yaml.safe_load(Path(p).read_text()) or {}
        _deep_update(merged, data)
    return validate_config(merged, source=list(paths))


def section(
    name: str, values: Mapping | None = None, source: Source | Sequence[Source] | None = None
) -> dict:
    """One section of the configuration, filled with its defaults and checked.

    Parameters
    ----------
    name
        A key of the schema (``quality``, ``labels``, ``split``, ``features``, ...), or a dotted
        path to a nested section (``archive.synthetic``).
    values
        The section as given (``None``: all defaults). Not modified.
    source
        As for :func:`validate_config`, with paths into the whole configuration.

    Returns
    -------
    dict
        A new dict: ``values`` plus the schema defaults of every missing field.

    Raises
    ------
    ConfigError
        On an unknown section, a value out of bounds, an unknown field, or a cross-field rule.
    """
    root = _schema(str(SCHEMA_PATH))
    keys = name.split(".")
    node = root
    for k in keys:
        props = node.get("properties", {}) if isinstance(node, dict) else {}
        if k not in props:
            raise ConfigError(
                f"unknown configuration section {name!r}; known at that level: {sorted(props)}"
            )
        node = props[k]
    # a schema holding only this section, on its path (no other required keys)
    sub: dict = copy.deepcopy(node)
    for k in reversed(keys[1:]):
        sub = {"type": "object", "properties": {k: sub}}
    sub = {
        **{k: v for k, v in root.items() if k in ("$schema", "$defs")},
        "type": "object",
        "properties": {keys[0]: sub},
    }
    instance: dict = {}
    leaf = instance
    for k in keys[:-1]:
        leaf = leaf.setdefault(k, {})
    leaf[keys[-1]] = copy.deepcopy(dict(values)) if values is not None else {}
    sources = _read_sources(source)
    _raise(_schema_errors(_validator(sub), instance), sources)
    _raise(_settings_errors(instance, [name]), sources)
    return leaf[keys[-1]]


def settings(
    name: str, values: Mapping | None = None, source: Source | Sequence[Source] | None = None
):
    """The typed settings of a section (:data:`SETTINGS`), from its values filled with defaults.

    E.g. ``settings("labels", {"max_bad_records": 0})`` is a
    :class:`flarepipe.samples.labels.LabelSettings` with every other field at its schema
    default. Raises :class:`ConfigError` as :func:`section` does.
    """
    if name not in SETTINGS:
        raise ConfigError(
            f"section {name!r} has no typed settings; use section() (typed: {sorted(SETTINGS)})"
        )
    return _settings_class(name)(**section(name, values, source))


def train_settings(
    model: str, values: Mapping | None = None, source: Source | Sequence[Source] | None = None
):
    """The training parameters of network ``model``, from ``values`` filled with its defaults.

    The defaults are the schema's ``$defs/train``, overlaid by the network's registered
    ``train_defaults``: exactly what a workflow job of that network trains with. E.g.
    ``train_settings("cnn", {"max_epochs": 3})`` is a
    :class:`flarepipe.training.settings.TrainSettings` with patience 10 (the S1 CNN's) and every
    other field at its schema default. Errors name ``models.<model>.train.<field>``.
    """
    from flarepipe.config.registries import network_train_schema
    from flarepipe.models.registry import NETWORKS
    from flarepipe.training.settings import TrainSettings

    NETWORKS[model]  # noqa: B018 -- an unknown network raises, listing the registered ones
    root = _schema(str(SCHEMA_PATH))
    sub = {
        **{k: v for k, v in root.items() if k in ("$schema", "$defs")},
        "type": "object",
        "properties": {
            "models": {
                "type": "object",
                "properties": {
                    model: {
                        "type": "object",
                        "properties": {"train": network_train_schema(model, root)},
                    }
                },
            }
        },
    }
    instance = {"models": {model: {"train": copy.deepcopy(dict(values or {}))}}}
    _raise(_schema_errors(_validator(sub), instance), _read_sources(source))
    return TrainSettings(**instance["models"][model]["train"])


def resource(config: Mapping, group: str, key: str) -> Any:
    """A cluster resource of a rule group: ``resources.<group>.<key>``, else ``resources.default``.

    ``config`` must be validated (the schema fills ``resources.default`` and the groups of the
    shipped rules).
    """
    table = config["resources"]
    return table.get(group, {}).get(key, table["default"][key])


def canonical(obj: Any) -> Any:
    """``obj`` with every mapping's keys sorted, recursively (lists keep their order).

    Snakemake compares params by their ``repr``; two equal configurations then give equal params
    whatever the order of their keys.
    """
    if isinstance(obj, Mapping):
        return {k: canonical(obj[k]) for k in sorted(obj, key=str)}
    if isinstance(obj, list):
        return [canonical(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(canonical(v) for v in obj)
    return obj


def _deep_update(base: dict, new: Mapping) -> dict:
    for k, v in new.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            _deep_update(base[k], v)
        else:
            base[k] = copy.deepcopy(v)
    return base
