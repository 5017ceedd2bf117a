"""The ``attribution`` configuration section, with the schema's defaults and bounds applied.

The defaults live in one place, ``src/flarepipe/config/schema.yaml`` (section ``attribution``);
:func:`resolve_settings` applies them to a partial section (tests, scripts) exactly as the
workflow's validation does, so a function called outside Snakemake sees the same settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flarepipe.attribution.errors import AttributionInputError

__all__ = ["resolve_settings"]


def resolve_settings(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``attribution`` section with the schema's defaults filled in and its bounds checked.

    The defaults live in one place, ``src/flarepipe/config/schema.yaml``; this applies them to a
    partial section (tests, scripts) the way the workflow's validation does.

    Raises
    ------
    AttributionInputError
        Naming every field that is out of bounds or unknown.
    """
    import copy

    import jsonschema
    import yaml

    from flarepipe.config.load import SCHEMA_PATH

    section = yaml.safe_load(SCHEMA_PATH.read_text())["properties"]["attribution"]
    validator_cls = jsonschema.validators.validator_for({})

    def fill(validator, properties, instance, schema):
        for prop, sub in properties.items():
            if isinstance(instance, dict) and "default" in sub and prop not in instance:
                instance[prop] = copy.deepcopy(sub["default"])
        yield from validator_cls.VALIDATORS["properties"](validator, properties, instance, schema)

    filled = copy.deepcopy(dict(cfg or {}))
    extended = jsonschema.validators.extend(validator_cls, {"properties": fill})
    errors = list(extended(section).iter_errors(filled))
    if errors:
        lines = [
            f"attribution.{'.'.join(str(p) for p in e.absolute_path) or '(section)'}: {e.message}"
            for e in errors
        ]
        raise AttributionInputError("\n".join(lines))
    return filled
