"""The one place for configuration defaults and bounds: load, merge, fill, validate."""

from flarepipe.config.load import SCHEMA_PATH, ConfigError, load_config, validate_config

__all__ = ["ConfigError", "validate_config", "load_config", "SCHEMA_PATH"]
