"""The one place for configuration defaults and bounds: load, merge, fill, check, canonicalise."""

from flarepipe.config.load import (
    SCHEMA_PATH,
    SETTINGS,
    ConfigError,
    Source,
    canonical,
    load_config,
    resource,
    section,
    settings,
    train_settings,
    validate_config,
    workflow_sources,
)

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
