"""Load and validate the workflow configuration against ``src/flarepipe/config/schema.yaml``.

Validation happens before any job runs; an error names the field, the value and what is allowed:
``config.yaml: models.cnn.lr must be > 0 (exclusiveMinimum 0), got -1``.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

__all__ = ["ConfigError", "validate_config", "load_config", "SCHEMA_PATH"]

SCHEMA_PATH = Path(__file__).resolve().with_name("schema.yaml")


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the field."""


def _describe(err) -> str:
    where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
    if err.validator in ("anyOf", "oneOf") and err.context:
        # describe the deepest error of the branches whose type fits the value
        fits = [e for e in err.context if not any(
            o.relative_schema_path[0] == e.relative_schema_path[0] and o.validator == "type"
            and not o.relative_path for o in err.context)]
        return _describe(max(fits or err.context, key=lambda e: len(e.absolute_path)))
    v = err.validator
    s = err.schema if isinstance(err.schema, dict) else {}
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[v]
        allowed = f"must be {op} {err.validator_value}"
        rng = [f"{k} {s[k]}" for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") if k in s]
        return f"{where} {allowed} ({', '.join(rng)}), got {err.instance!r}"
    if v == "enum":
        return f"{where} must be one of {err.validator_value}, got {err.instance!r}"
    if v == "type":
        return f"{where} must be of type {err.validator_value}, got {err.instance!r}"
    if v == "additionalProperties":
        return f"{where}: {err.message} (check the spelling against src/flarepipe/config/schema.yaml)"
    return f"{where}: {err.message}"


def validate_config(config: dict, schema_path: str | os.PathLike = SCHEMA_PATH, source: str = "config.yaml") -> dict:
    """Validate ``config`` in place (filling schema defaults); raise :class:`ConfigError` listing every problem.

    The plug-ins of ``config["plugins"]`` are imported first; registered names fill the schema's
    enums and the ``models`` blocks (:mod:`flarepipe.config.registries`), and
    :mod:`flarepipe.config.experiments` checks the fields that must agree with each other.
    """
    import jsonschema

    from flarepipe.config.experiments import experiment_problems
    from flarepipe.config.registries import fill_schema, load_config_plugins, registry_problems
    from flarepipe.core.registry import PluginError

    try:
        load_config_plugins(config)
    except PluginError as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    schema = fill_schema(yaml.safe_load(Path(schema_path).read_text()))
    validator_cls = jsonschema.validators.validator_for(schema)

    def set_defaults(validator, properties, instance, schema):
        for prop, sub in properties.items():
            if isinstance(instance, dict) and "default" in sub and prop not in instance:
                instance[prop] = sub["default"]
        yield from validator_cls.VALIDATORS["properties"](validator, properties, instance, schema)

    extended = jsonschema.validators.extend(validator_cls, {"properties": set_defaults})
    errors = sorted(extended(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    problems = [_describe(e) for e in errors]
    problems = problems or registry_problems(schema) or experiment_problems(config)
    if problems:
        raise ConfigError("\n".join(f"{source}: {p}" for p in problems))
    return config


def load_config(*paths: str | os.PathLike) -> dict:
    """Merge YAML files (later ones override, deeply) and validate the result."""
    merged: dict = {}
    for p in paths:
        data = yaml.safe_load(Path(p).read_text()) or {}
        _deep_update(merged, data)
    return validate_config(merged, source=", ".join(str(p) for p in paths))


def _deep_update(base: dict, new: dict) -> dict:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _deep_update(base[k], v)
        else:
            base[k] = v
    return base
